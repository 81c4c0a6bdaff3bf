#!/usr/bin/env node
// The Acme order system: a node-soap (npm "soap" 1.13.0) server for orders.wsdl, with orders
// kept in memory, for the end-to-end test of a contract agentbridge loads at run time.
//
// Usage: NODE_PATH=<node_modules with soap> node server.js
//
// Prints one line of JSON to stdout once listening on a free loopback port,
//   {"endpoint":"http://127.0.0.1:P/orders"}
// then serves until SIGTERM or SIGINT, or until stdin closes when it is a pipe (so a parent
// test that dies takes the peer with it). Errors go to stderr with exit status 1.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const soap = require('soap');

function fail(err) {
  process.stderr.write('orders server: ' + (err && err.stack ? err.stack : String(err)) + '\n');
  process.exit(1);
}

// Keep every value as the text that arrived (node-soap would turn xsd:long into a JS number,
// losing precision above 2^53).
const keepText = (text) => text;
const CUSTOM_DESERIALIZER = {};
for (const t of ['int', 'long', 'decimal']) {
  CUSTOM_DESERIALIZER[t] = keepText;
}

const orders = new Map();
function seed(order) {
  orders.set(order.id, order);
}
seed({
  id: 'O-1001',
  customer: { name: 'Ada Lovelace', address: { street: '12 St James Sq', city: 'London', country: 'GB' } },
  status: 'Shipped',
  lines: [
    { sku: 'A-100', quantity: '2', unitPrice: '89.90' },
    { sku: 'G-100', quantity: '1', unitPrice: '24.95' },
  ],
  labels: { entry: [{ key: 'channel', value: 'web' }, { key: 'priority', value: 'high' }] },
  card: { brand: 'VISA', last4: '4242' },
  totalCents: '9007199254740993',
});
seed({
  id: 'O-1002',
  customer: { name: 'Grace Hopper', address: { street: '1 Navy Yard', city: 'Arlington', country: 'US' } },
  status: 'Open',
  lines: [{ sku: 'A-200', quantity: '10', unitPrice: '14.50' }],
  invoiceRef: 'INV-77',
  totalCents: '14500',
});
let nextId = 2001;

// node-soap parses one repeated element as an object and several as an array.
function list(v) {
  if (v === undefined || v === null) {
    return [];
  }
  return Array.isArray(v) ? v : [v];
}

function clientFault(text) {
  return { Fault: { faultcode: 'soap:Client', faultstring: text, statusCode: 500 } };
}

const port = {
  GetOrder(args) {
    const order = orders.get(args.id);
    if (!order) {
      throw clientFault('no order ' + args.id);
    }
    return { order };
  },
  CreateOrder(args) {
    const o = args.order || {};
    const order = {
      id: 'O-' + nextId++,
      customer: o.customer,
      status: 'Open',
      lines: list(o.lines),
      labels: { entry: list(o.labels && o.labels.entry) },
    };
    if (o.card) {
      order.card = o.card;
    } else {
      order.invoiceRef = o.invoiceRef;
    }
    let total = 0n;
    for (const l of order.lines) {
      const [units, cents = '00'] = String(l.unitPrice).split('.');
      total += BigInt(l.quantity) * (BigInt(units) * 100n + BigInt((cents + '00').slice(0, 2)));
    }
    order.totalCents = total.toString();
    orders.set(order.id, order);
    return { order };
  },
  ListOrders(args) {
    const all = [...orders.values()].filter((o) => !args || !args.status || o.status === args.status);
    return { order: all };
  },
  CancelOrder(args) {
    const order = orders.get(args.id);
    if (!order) {
      throw clientFault('no order ' + args.id);
    }
    if (order.status !== 'Open') {
      throw clientFault('order ' + args.id + ' is ' + order.status + ' and cannot be cancelled');
    }
    order.status = 'Cancelled';
    order.labels = { entry: [...list(order.labels && order.labels.entry), { key: 'cancelReason', value: args.reason }] };
    return { order };
  },
};

let server;
function stop() {
  if (server) {
    server.close();
    server.closeAllConnections();
  }
  process.exit(0);
}

function main() {
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.on('data', () => {});
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
  const wsdlPath = path.join(__dirname, 'orders.wsdl');
  server = http.createServer((req, res) => {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  });
  server.on('error', fail);
  soap.listen(server, {
    path: '/orders',
    services: { OrdersService: { OrdersPort: port } },
    xml: fs.readFileSync(wsdlPath, 'utf8'),
    uri: wsdlPath,
    customDeserializer: CUSTOM_DESERIALIZER,
    callback: (err) => {
      if (err) {
        fail(err);
        return;
      }
      server.listen(0, '127.0.0.1', () => {
        process.stdout.write(JSON.stringify({ endpoint: 'http://127.0.0.1:' + server.address().port + '/orders' }) + '\n');
      });
    },
  });
}

process.on('uncaughtException', fail);
main();
