#!/usr/bin/env node
// SOAP peer for the SOAP adapter tests: five node-soap (npm "soap" 1.13.0)
// servers on loopback, three built from WSDLs in the shared corpus, which are
// read in place, and two written for these tests: catalog, a list-returning
// operation for streaming bindings (../catalog.wsdl), and vat, a VIES-style
// VAT number check that faults as VIES does, for fault rules (../vat.wsdl).
//
// Usage: node server.js <absolute path of the corpus wsdl folder>
//
// On success, prints one line of JSON to stdout with the five endpoint URLs,
// then keeps running:
//   {"calculator":"http://127.0.0.1:P/calculator","numbers":"...","greeter":"...","catalog":"...","vat":"..."}
// Nothing else goes to stdout; errors go to stderr and exit with status 1.
//
// Each server also answers GET /_received (a JSON array of
// {service, operation, args} for every operation the handlers ran, oldest
// first, shared by all five servers, with auth when the calculator got
// credentials; see checkCredentials) and DELETE /_received (clears it).
//
// It exits with status 0 on SIGTERM or SIGINT, or when stdin reaches EOF if
// stdin is a pipe or socket (so a parent that dies takes the peer with it).
// A parent that gives it /dev/null as stdin has to stop it with a signal.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const soap = require('soap');

const SOAP12_RPC_NS = 'http://www.w3.org/2003/05/soap-rpc';
const GREETER_TYPES_NS = 'http://apache.org/hello_world_soap12_http/types';
const STARTUP_TIMEOUT_MS = 30000;

// node-soap 1.13 converts request text by the schema type's local name:
// int/integer/short/long with parseInt, double/float/decimal with Number,
// bool/boolean to a boolean, date/dateTime to a Date. That would lose precision
// (decimal 0.1000000000000000000001, long 9223372036854775807) and hide the
// lexical form that arrived (007, 12.3450). These identity deserializers keep
// every argument the exact (whitespace-trimmed) string node-soap received.
const keepText = (text) => text;
const CUSTOM_DESERIALIZER = {};
for (const t of ['int', 'integer', 'short', 'long', 'double', 'float', 'decimal', 'bool', 'boolean', 'date', 'dateTime']) {
  CUSTOM_DESERIALIZER[t] = keepText;
}

function fail(err) {
  process.stderr.write('nodesoap server: ' + (err && err.stack ? err.stack : String(err)) + '\n');
  process.exit(1);
}

const received = [];

function record(service, operation, args, req) {
  // Copy what node-soap parsed, so that later changes can't alter the record.
  // Undefined args (an empty request element) are stored as null.
  const entry = {
    service: service,
    operation: operation,
    args: args === undefined ? null : JSON.parse(JSON.stringify(args)),
  };
  // What the calculator's authenticate hook found (see checkCredentials), only
  // for requests that carried credentials, so other records stay as they were.
  if (req && req.agentbridgeAuth) {
    entry.auth = req.agentbridgeAuth;
  }
  received.push(entry);
}

// The credentials the calculator accepts: HTTP Basic and a WS-Security
// UsernameToken (PasswordText, or PasswordDigest checked here by the Username
// Token Profile's formula, Base64(SHA-1(nonce + created + password))).
const PEER_USER = 'bridge';
const PEER_PASSWORD = 'peer-pa55-w0rd';

function textOf(v) {
  return v !== null && typeof v === 'object' ? v.$value : v;
}

function typeOf(v) {
  return v !== null && typeof v === 'object' && v.attributes ? v.attributes.Type || '' : '';
}

// checkCredentials is the calculator's node-soap authenticate hook. It lets
// requests without credentials through (the other tests send none), refuses
// wrong ones with node-soap's AuthenticationFailure fault, and notes on req
// what it checked, for the handler's record.
function checkCredentials(security, callback, req) {
  const authz = req.headers.authorization || '';
  if (!security && !authz) {
    return true;
  }
  const auth = {};
  let ok = true;
  if (authz) {
    const expect = 'Basic ' + Buffer.from(PEER_USER + ':' + PEER_PASSWORD).toString('base64');
    auth.basic = authz === expect;
    ok = ok && auth.basic;
  }
  if (security) {
    const tok = security.UsernameToken || {};
    const pw = tok.Password;
    const type = typeOf(pw);
    let valid;
    if (type.endsWith('#PasswordDigest')) {
      const nonce = Buffer.from(String(textOf(tok.Nonce) || ''), 'base64');
      const created = String(textOf(tok.Created) || '');
      const digest = crypto.createHash('sha1')
        .update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(PEER_PASSWORD)]))
        .digest('base64');
      valid = nonce.length > 0 && created !== '' && textOf(pw) === digest;
    } else {
      valid = textOf(pw) === PEER_PASSWORD;
    }
    const ts = security.Timestamp;
    auth.wsse = {
      username: textOf(tok.Username),
      passwordType: type.slice(type.indexOf('#') + 1),
      valid: valid && textOf(tok.Username) === PEER_USER,
      timestamp: Boolean(ts && textOf(ts.Created) && textOf(ts.Expires)),
    };
    ok = ok && auth.wsse.valid;
  }
  req.agentbridgeAuth = auth;
  return ok;
}

function arg(args, name) {
  return args && Object.prototype.hasOwnProperty.call(args, name) ? args[name] : undefined;
}

// The xsd:int arguments arrive as strings (see CUSTOM_DESERIALIZER); Number()
// turns them into numbers.
function intArgs(args) {
  return { a: Number(arg(args, 'intA')), b: Number(arg(args, 'intB')) };
}

function calculatorPort() {
  return {
    add(args, cb, headers, req) {
      record('calculator', 'add', args, req);
      const { a, b } = intArgs(args);
      return { value: a + b };
    },
    subtract(args) {
      record('calculator', 'subtract', args);
      const { a, b } = intArgs(args);
      return { value: a - b };
    },
    divide(args) {
      record('calculator', 'divide', args);
      const { a, b } = intArgs(args);
      if (b === 0) {
        // SOAP 1.1 fault. No statusCode, so node-soap replies with HTTP 200.
        throw {
          Fault: {
            faultcode: 'soap:Client',
            faultstring: 'division by zero',
            detail: { DivideFault: { dividend: String(arg(args, 'intA')) } },
          },
        };
      }
      return { value: Math.trunc(a / b) };
    },
    // multiply is deliberately not implemented.
  };
}

function numbersPort() {
  return {
    // The arguments are echoed exactly as received (strings), so that tests can
    // check values such as 18446744073709551615 or 12.345 arrive intact.
    NumberToWords(args) {
      record('numbers', 'NumberToWords', args);
      return { NumberToWordsResult: 'words for ' + arg(args, 'ubiNum') };
    },
    NumberToDollars(args) {
      record('numbers', 'NumberToDollars', args);
      return { NumberToDollarsResult: 'dollars for ' + arg(args, 'dNum') };
    },
  };
}

function greeterPort() {
  return {
    sayHi(args) {
      record('greeter', 'sayHi', args);
      return { responseType: 'Bonjour from node-soap' };
    },
    pingMe(args) {
      record('greeter', 'pingMe', args);
      // SOAP 1.2 fault. node-soap 1.13 serialises a fault object without a
      // 'faultcode' key as SOAP 1.2, putting the envelope prefix ('soap') on
      // every element it writes (Fault, Code, Value, Subcode, Reason, Text,
      // Detail). The Subcode QName's prefix is declared where it is used, Text
      // gets the xml:lang the SOAP 1.2 spec requires, and the Detail entry is
      // written as raw XML ($xml) so it is in the WSDL's types namespace rather
      // than the envelope's.
      throw {
        Fault: {
          Code: {
            Value: 'soap:Sender',
            Subcode: {
              attributes: { 'xmlns:rpc': SOAP12_RPC_NS },
              Value: 'rpc:BadArguments',
            },
          },
          Reason: { Text: { attributes: { 'xml:lang': 'en' }, $value: 'ping refused' } },
          statusCode: 500,
          Detail: {
            $xml:
              '<x1:faultDetail xmlns:x1="' + GREETER_TYPES_NS + '">' +
              '<x1:minor>1</x1:minor><x1:major>2</x1:major>' +
              '</x1:faultDetail>',
          },
        },
      };
    },
  };
}

// A product as the catalog's ListProducts returns it: every field depends on n,
// so the bridge's tests can tell which product arrived where. A spoiled
// product's quantity is not an xsd:int, which the bridge must refuse.
function catalogProduct(n, spoiled) {
  return {
    attributes: { sku: 'P-' + n },
    name: 'Product ' + n,
    status: 'retired',
    tag: ['a', 'b'],
    labels: { entry: [{ key: 'size', value: String(n) }, { key: 'color', value: 'red' }] },
    prices: {
      price: [
        { market: 'eu', money: { attributes: { currency: 'EUR' }, $value: n + '.50' } },
        { market: 'ch', money: { attributes: { currency: 'CHF' }, $value: n + '.00' } },
      ],
    },
    size: { width: 1.5, height: n },
    quantity: spoiled ? 'lots' : n,
  };
}

function catalogPort() {
  return {
    // Returns count products in one reply; the bridge streams them. A negative
    // count is a SOAP 1.1 Client fault (sent with HTTP 500); spoil names the
    // 1-based position of a product whose quantity is not a number.
    ListProducts(args) {
      record('catalog', 'ListProducts', args);
      const count = Number(arg(args, 'count'));
      const spoil = Number(arg(args, 'spoil') || 0);
      if (!(count >= 0)) {
        throw {
          Fault: {
            faultcode: 'soap:Client',
            faultstring: 'count must not be negative',
            statusCode: 500,
          },
        };
      }
      const product = [];
      for (let n = 1; n <= count; n++) {
        product.push(catalogProduct(n, n === spoil));
      }
      return { product: product };
    },
  };
}

// The member state whose VAT service is down, as VIES reports it.
const VAT_DOWN_COUNTRY = 'EL';

function vatPort() {
  return {
    // Like VIES, the caller's mistakes (a country code that is not two capital
    // letters, a number with characters VIES does not allow, such as spaces)
    // are soap:Server faults with the code INVALID_INPUT as faultstring, sent
    // with HTTP 500; so is a member state that cannot answer (MS_UNAVAILABLE).
    // A number of digits only is valid.
    checkVat(args) {
      record('vat', 'checkVat', args);
      const country = String(arg(args, 'countryCode') || '');
      const number = String(arg(args, 'vatNumber') || '');
      const fault = (code) => ({
        Fault: { faultcode: 'soap:Server', faultstring: code, statusCode: 500 },
      });
      if (!/^[A-Z]{2}$/.test(country) || !/^[0-9A-Za-z+*.]{2,12}$/.test(number)) {
        throw fault('INVALID_INPUT');
      }
      if (country === VAT_DOWN_COUNTRY) {
        throw fault('MS_UNAVAILABLE');
      }
      const valid = /^[0-9]+$/.test(number);
      return {
        countryCode: country,
        vatNumber: number,
        valid: valid,
        name: valid ? 'Firma ' + number : '---',
      };
    },
  };
}

// Serves /_received. node-soap's listen() takes the server's existing
// 'request' listeners, removes them, and installs one listener that handles
// its own path and passes every other request to the old listeners. So this
// handler, passed to createServer, gets every request that is not for the SOAP
// path.
function fallbackHandler(req, res) {
  const pathname = new URL(req.url, 'http://127.0.0.1').pathname.replace(/\/+$/, '');
  if (pathname === '/_received') {
    if (req.method === 'GET') {
      const body = JSON.stringify(received);
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    if (req.method === 'DELETE') {
      received.length = 0;
      res.writeHead(204);
      res.end();
      return;
    }
    res.writeHead(405, { Allow: 'GET, DELETE' });
    res.end();
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
}

// Starts one server and resolves with its URL once node-soap has loaded the
// WSDL (and its imports) and the server is listening.
function startServer(def) {
  return new Promise((resolve, reject) => {
    const wsdlText = fs.readFileSync(def.wsdlPath, 'utf8');
    const server = http.createServer(fallbackHandler);
    servers.push(server);
    server.on('error', reject);
    soap.listen(server, {
      path: def.path,
      services: def.services,
      xml: wsdlText,
      uri: def.wsdlPath,
      forceSoap12Headers: def.soap12,
      customDeserializer: CUSTOM_DESERIALIZER,
      callback: (err, soapServer) => {
        if (err) {
          reject(new Error(def.name + ': loading ' + def.wsdlPath + ': ' + (err.stack || err)));
          return;
        }
        if (def.authenticate) {
          soapServer.authenticate = def.authenticate;
        }
        try {
          checkWsdl(def, soapServer.wsdl);
        } catch (e) {
          reject(e);
          return;
        }
        server.listen(0, '127.0.0.1', () => {
          const port = server.address().port;
          resolve('http://127.0.0.1:' + port + def.path);
        });
      },
    });
  });
}

// Checks the WSDL loaded as expected: the service and port exist, and each
// implemented operation is in the port's binding with its input and output
// element resolved (an xsd:import that failed to load would leave them
// unresolved).
function checkWsdl(def, wsdl) {
  const services = wsdl.definitions.services || {};
  for (const serviceName of Object.keys(def.services)) {
    const service = services[serviceName];
    if (!service) {
      throw new Error(def.name + ': WSDL has no service ' + serviceName);
    }
    for (const portName of Object.keys(def.services[serviceName])) {
      const port = service.ports[portName];
      if (!port || !port.binding) {
        throw new Error(def.name + ': WSDL service ' + serviceName + ' has no port ' + portName);
      }
      for (const op of Object.keys(def.services[serviceName][portName])) {
        const method = port.binding.methods[op];
        if (!method) {
          throw new Error(def.name + ': binding of ' + portName + ' has no operation ' + op);
        }
        for (const dir of ['input', 'output']) {
          if (!method[dir] || !method[dir].$name) {
            throw new Error(def.name + ': operation ' + op + ' has no resolved ' + dir + ' element');
          }
        }
      }
    }
  }
  if (def.requiredElement) {
    const [ns, name] = def.requiredElement;
    const schema = wsdl.definitions.schemas[ns];
    if (!schema || !schema.elements || !schema.elements[name]) {
      throw new Error(def.name + ': element {' + ns + '}' + name + ' not loaded (xsd:import failed?)');
    }
  }
}

const servers = [];
let stopping = false;

function stop() {
  if (stopping) {
    return;
  }
  stopping = true;
  for (const server of servers) {
    try {
      server.close();
      server.closeAllConnections();
    } catch {
      // Not listening yet, or already closed.
    }
  }
  process.exit(0);
}

function main() {
  if (process.argv.length !== 3 || !path.isAbsolute(process.argv[2])) {
    fail(new Error('usage: node server.js <absolute path of the corpus wsdl folder>'));
  }
  const corpus = process.argv[2];

  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  watchStdin();

  const numbers = numbersPort();
  const defs = [
    {
      name: 'calculator',
      wsdlPath: path.join(corpus, 'wso2-calculator', 'calculator.wsdl'),
      path: '/calculator',
      soap12: false,
      services: { CalculatorService: { CalculatorPort: calculatorPort() } },
      requiredElement: ['http://example.com/', 'add'],
      authenticate: checkCredentials,
    },
    {
      name: 'numbers',
      wsdlPath: path.join(corpus, 'postman-numberConversion.wsdl'),
      path: '/numbers',
      soap12: true,
      // No port address matches /numbers, so node-soap 1.13 falls back: it
      // takes the binding of the first port (NumberConversionSoap, the SOAP
      // 1.1 binding, same operations) but looks the handler up under the last
      // port it looped over (NumberConversionSoap12). The handlers are
      // registered under both ports so a request reaches them either way. The
      // reply envelope is SOAP 1.2 (forceSoap12Headers).
      services: { NumberConversion: { NumberConversionSoap12: numbers, NumberConversionSoap: numbers } },
    },
    {
      name: 'greeter',
      wsdlPath: path.join(corpus, 'cxf-hello_world_soap12.wsdl'),
      path: '/greeter',
      soap12: true,
      services: { SOAPService: { SoapPort: greeterPort() } },
    },
    {
      name: 'catalog',
      wsdlPath: path.join(__dirname, '..', 'catalog.wsdl'),
      path: '/catalog',
      soap12: false,
      services: { CatalogService: { CatalogPort: catalogPort() } },
      requiredElement: ['urn:acme:catalog', 'ListProductsResponse'],
    },
    {
      name: 'vat',
      wsdlPath: path.join(__dirname, '..', 'vat.wsdl'),
      path: '/vat',
      soap12: false,
      services: { checkVatService: { checkVatPort: vatPort() } },
      requiredElement: ['urn:agentbridge:testing:vat', 'checkVatResponse'],
    },
  ];

  const timer = setTimeout(() => fail(new Error('servers not ready after ' + STARTUP_TIMEOUT_MS + 'ms')), STARTUP_TIMEOUT_MS);
  Promise.all(defs.map(startServer)).then((urls) => {
    clearTimeout(timer);
    const out = {};
    defs.forEach((def, i) => {
      out[def.name] = urls[i];
    });
    process.stdout.write(JSON.stringify(out) + '\n');
  }, fail);
}

// Exits when stdin closes, if stdin is a pipe or socket (the parent test holds
// the other end). /dev/null or a terminal is not watched: /dev/null would end
// at once.
function watchStdin() {
  let st;
  try {
    st = fs.fstatSync(0);
  } catch {
    return;
  }
  if (!st.isFIFO() && !st.isSocket()) {
    return;
  }
  process.stdin.on('data', () => {});
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

main();
