#!/usr/bin/env node
// SOAP peer for the SOAP adapter tests: eight node-soap (npm "soap" 1.13.0)
// servers on loopback, five built from WSDLs in the shared corpus, which are
// read in place, and three written for these tests: catalog, a list-returning
// operation for streaming bindings (../catalog.wsdl), vat, a VIES-style VAT
// number check that faults as VIES does, for fault rules (../vat.wsdl), and
// reservation, a WSDL 1.1 rendition of the corpus's WSDL 2.0 GreatH
// reservation example (../reservation.wsdl), for xsd:date values and a
// nillable element. ec2 serves DescribeSpotPriceHistory of the corpus's EC2
// WSDL, for dateTime values and optional lists; dummy serves the corpus's
// node-soap sample of xsi:nil in imported schemas
// (soap-messages/s09-xsi-nil-imported-schemas). rpcencoded serves execFile and
// listFiles of the corpus's rpc/encoded node-soap example
// (nodesoap-rpcexample-encoded.wsdl, SOAP 1.2 encoding).
//
// Usage: node server.js <absolute path of the corpus wsdl folder>
//
// On success, prints one line of JSON to stdout with the five endpoint URLs,
// then keeps running:
//   {"calculator":"http://127.0.0.1:P/calculator","numbers":"...","greeter":"...","catalog":"...","vat":"...","ec2":"...","reservation":"...","dummy":"...","rpcencoded":"..."}
// Nothing else goes to stdout; errors go to stderr and exit with status 1.
//
// Each server also answers GET /_received (a JSON array of
// {service, operation, args} for every operation the handlers ran, oldest
// first, shared by all servers; ec2, reservation, dummy and rpcencoded add xml, the request
// envelope exactly as it arrived; the calculator adds auth when it got
// credentials, see checkCredentials) and DELETE /_received (clears it), and
// GET /_urls (the line of endpoint URLs printed at start-up).
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
  // node-soap's parsed args cannot show everything: an empty complex element
  // and (with handleNilAsNull) a nil one both become null, and its own
  // deserializers trim text. Servers that log the raw request (rawLog) keep it
  // with the record, so tests can check the bytes that arrived.
  if (req && req[RAW_XML] !== undefined) {
    entry.xml = req[RAW_XML];
  }
  // What the calculator's authenticate hook found (see checkCredentials), only
  // for requests that carried credentials, so other records stay as they were.
  if (req && req.agentbridgeAuth) {
    entry.auth = req.agentbridgeAuth;
  }
  received.push(entry);
}

// The request property rawLog stores the received envelope under.
const RAW_XML = Symbol('agentbridge raw request xml');

// A node-soap server log function that keeps the raw request XML on the
// request, where record finds it: node-soap logs 'received' with the request
// before it runs the handler, which gets the same request object.
function rawLog(type, data, req) {
  if (type === 'received' && req) {
    req[RAW_XML] = String(data);
  }
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

const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

// An element with xsi:nil="true" as node-soap should write it. node-soap 1.13
// writes a null property as <name xsi:nil="true"> but never declares the xsi
// prefix: its envelope leaves out every http://www.w3.org/ namespace of the
// WSDL (wsdl/index.js _xmlnsMap). So the nil is written as attributes, the
// prefix declared on the element itself.
const NIL = { attributes: { 'xmlns:xsi': XSI_NS, 'xsi:nil': 'true' } };

// A value that node-soap received for an element, as the reply should carry
// it again: undefined (absent) stays absent, null (nil, with handleNilAsNull)
// is written nil.
function echoNillable(v) {
  return v === null ? NIL : v;
}

function ec2Port() {
  return {
    // DescribeSpotPriceHistory (gowsdl-aws-ec2-2013-10-15.wsdl) answers from
    // the request, so a test decides every reply value: one price history item
    // per requested instance type, its timestamp the request's startTime as
    // received (endTime for the second type, so both are checked) and its
    // availabilityZone the request's, or none. No instanceTypeSet gives no
    // spotPriceHistorySet, an empty one an empty set; the XSD requires the set
    // (and an item in a request's set), which lets the tests tell absent and
    // empty lists apart in both directions. nextToken is echoed when sent.
    DescribeSpotPriceHistory(args, _cb, _headers, req) {
      record('ec2', 'DescribeSpotPriceHistory', args, req);
      const reply = { requestId: 'spot-' + (arg(args, 'nextToken') === undefined ? 'first' : arg(args, 'nextToken')) };
      const set = arg(args, 'instanceTypeSet');
      if (set !== undefined) {
        // node-soap reads an empty element as null and one item as an object.
        const items = set === null || set.item === undefined ? [] : [].concat(set.item);
        reply.spotPriceHistorySet = {};
        if (items.length > 0) {
          reply.spotPriceHistorySet.item = items.map((it, i) => {
            const item = {
              instanceType: it.instanceType,
              productDescription: 'Linux/UNIX',
              spotPrice: '0.012300',
              timestamp: i % 2 === 0 ? arg(args, 'startTime') : arg(args, 'endTime'),
            };
            if (arg(args, 'availabilityZone') !== undefined) {
              item.availabilityZone = arg(args, 'availabilityZone');
            }
            return item;
          });
        }
      }
      if (arg(args, 'nextToken') !== undefined) {
        reply.nextToken = arg(args, 'nextToken');
      }
      return reply;
    },
  };
}

function reservationPort() {
  return {
    // checkAvailability echoes the stay as received (dates byte for byte,
    // checkOutDate nil when it came nil, arrivalTime and guestNote absent when
    // they were). roomType "node-null" makes checkOutDate a plain null, which
    // node-soap itself writes as xsi:nil with an undeclared prefix.
    checkAvailability(args, _cb, _headers, req) {
      record('reservation', 'checkAvailability', args, req);
      const reply = {
        checkInDate: arg(args, 'checkInDate'),
        checkOutDate: echoNillable(arg(args, 'checkOutDate')),
        roomType: arg(args, 'roomType'),
      };
      if (reply.roomType === 'node-null') {
        reply.checkOutDate = null;
      }
      for (const name of ['arrivalTime', 'guestNote']) {
        if (arg(args, name) !== undefined) {
          reply[name] = echoNillable(arg(args, name));
        }
      }
      return reply;
    },
  };
}

function dummyPort() {
  return {
    // Dummy (s09's soap.wsdl, whose types come from two imported schemas)
    // replies by DummyField1: "corpus-sample" gives the corpus's own
    // response.xml, a DummyList whose one DummyElement is nil; "no-list" a
    // DummyResult without its optional DummyList; anything else a list of
    // DummyField1 (with language "en") and DummyStringFilter, or "none".
    Dummy(args, _cb, _headers, req) {
      record('dummy', 'Dummy', args, req);
      const field1 = arg(args, 'DummyField1');
      if (field1 === 'corpus-sample') {
        return { DummyResult: { DummyList: { DummyElement: [NIL] } } };
      }
      const result = { attributes: { code: 'ok' } };
      if (field1 !== 'no-list') {
        const filter = arg(args, 'DummyFilter');
        const second = filter && filter.DummyStringFilter !== undefined ? filter.DummyStringFilter : 'none';
        result.DummyList = {
          DummyElement: [{ attributes: { language: 'en' }, $value: field1 }, second],
        };
      }
      return { DummyResult: result };
    },
  };
}

// encodedText is the text of an argument of an encoded request: node-soap keeps
// an element with attributes (xsi:type) as {attributes, $value}.
function encodedText(v) {
  return v && typeof v === 'object' && !Array.isArray(v) ? v.$value : v;
}

function rpcExamplePort() {
  return {
    // execFile (rpc/encoded) answers with the file name as its output, the
    // number of arguments as its exit code, and startDetached as its error
    // text, so a test sees each argument arrive.
    execFile(args, _cb, _headers, req) {
      record('rpcencoded', 'execFile', args, req);
      const params = arg(args, 'params') || {};
      const argv = arg(params, 'arguments');
      const count = argv === undefined ? 0 : Array.isArray(argv) ? argv.length : 1;
      return {
        result: {
          base64EncodedStdOut: String(encodedText(arg(params, 'fileName'))),
          base64EncodedStdError: String(encodedText(arg(params, 'startDetached'))),
          exitCode: count,
        },
      };
    },
    // listFiles answers with two files, as an array of files elements.
    listFiles(args, _cb, _headers, req) {
      record('rpcencoded', 'listFiles', args, req);
      return { result: { files: ['a.txt', 'b & c.txt'] } };
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
  if (pathname === '/_urls' && req.method === 'GET' && urls !== null) {
    const body = JSON.stringify(urls);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
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
      ...def.options,
      callback: (err, soapServer) => {
        if (err) {
          reject(new Error(def.name + ': loading ' + def.wsdlPath + ': ' + (err.stack || err)));
          return;
        }
        if (def.rawLog) {
          soapServer.log = rawLog;
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
let urls = null; // the endpoint URLs, once every server listens

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
    {
      name: 'ec2',
      wsdlPath: path.join(corpus, 'gowsdl-aws-ec2-2013-10-15.wsdl'),
      path: '/ec2',
      soap12: false,
      services: { AmazonEC2: { AmazonEC2Port: ec2Port() } },
      requiredElement: ['http://ec2.amazonaws.com/doc/2013-10-15/', 'DescribeSpotPriceHistoryResponse'],
      rawLog: true,
    },
    {
      name: 'reservation',
      wsdlPath: path.join(__dirname, '..', 'reservation.wsdl'),
      path: '/reservation',
      soap12: false,
      services: { reservationService: { reservationPort: reservationPort() } },
      requiredElement: ['http://greath.example.com/2004/schemas/resSvc', 'checkAvailabilityResponse'],
      rawLog: true,
      // A nil element reaches the handler as null rather than being dropped,
      // so the record tells nil from absent.
      options: { handleNilAsNull: true },
    },
    {
      name: 'dummy',
      wsdlPath: path.join(corpus, '..', 'soap-messages', 's09-xsi-nil-imported-schemas', 'soap.wsdl'),
      path: '/dummy',
      soap12: false,
      services: { DummyService: { DummyPortType: dummyPort() } },
      requiredElement: ['http://www.Dummy.com/Name/Types', 'DummyResponse'],
      rawLog: true,
    },
    {
      name: 'rpcencoded',
      wsdlPath: path.join(corpus, 'nodesoap-rpcexample-encoded.wsdl'),
      path: '/rpcencoded',
      soap12: true,
      services: { RpcExample: { RpcExample: rpcExamplePort() } },
      rawLog: true,
    },
  ];

  const timer = setTimeout(() => fail(new Error('servers not ready after ' + STARTUP_TIMEOUT_MS + 'ms')), STARTUP_TIMEOUT_MS);
  Promise.all(defs.map(startServer)).then((list) => {
    clearTimeout(timer);
    const out = {};
    defs.forEach((def, i) => {
      out[def.name] = list[i];
    });
    urls = out;
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
