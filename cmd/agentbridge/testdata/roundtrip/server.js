#!/usr/bin/env node
// SOAP peer for the WSDL importer's round trips (cmd/agentbridge/roundtrip_test.go): one
// node-soap (npm "soap" 1.13.0) server per corpus WSDL, each on its own loopback port, every
// WSDL read in place from the shared corpus. Each operation computes its answer from its
// input (so a test can assert the values that came back) and records what it received.
//
// Usage: node server.js <absolute path of the corpus wsdl folder>
//
// On success, prints one line of JSON to stdout, {name: endpoint URL}, then keeps running:
//   {"calculator":"http://127.0.0.1:P/calculator","choice":"...","stockquote":"...",
//    "xsdinclude":"...","greeter12":"...","numbers":"...","numbers12":"...","headers":"...",
//    "rpcexample":"...","fault":"...","cybersource":"..."}
// Nothing else goes to stdout; errors go to stderr and exit with status 1. Each endpoint
// serves its WSDL at URL?wsdl (node-soap's rendering of it; imported and included schemas are
// not served, so importers should read the corpus file).
//
// Each server also answers GET /_received (a JSON array of {service, operation, args, xml}
// for every operation a handler ran, oldest first, shared by all servers; xml is the request
// envelope exactly as it arrived) and DELETE /_received (clears it), GET /_urls, and
// POST /_reset?service=NAME, which clears the state a service keeps between calls (the
// rpcexample stores), so the same calls made again get the same answers.
//
// It exits with status 0 on SIGTERM or SIGINT, or when stdin reaches EOF if stdin is a pipe
// or socket (so a parent that dies takes the peer with it).
//
// What each service answers (the test asserts these):
//   calculator  add/subtract/multiply/divide: intA op intB (xs:int); divide truncates toward
//               zero; divide by 0 is a soap:Client fault "division by zero" (the WSDL declares
//               no fault).
//   choice      inputOperation: value = 2*int1.
//   stockquote  GetLastTradePrice: price = 1.25*len(tickerSymbol), + account.id when an
//               account is sent, + 0.5 when the (qualified, element@ref) country's code is
//               "NL". tickerSymbol "FAULT1"/"FAULT2" raise the declared faults fault1/fault2,
//               detail Fault1/Fault2 {message: "bad ticker FAULTn"}.
//               GetLastTradePriceNoOutput (one-way): see stockquotePort.
//   xsdinclude  Dummy: Result = "<ID>:<Name>".
//   greeter12   SOAP 1.2. sayHi: responseType "Bonjour from node-soap"; pingMe: always the
//               declared fault, a SOAP 1.2 Sender fault, detail faultDetail {minor 1, major 2}.
//   numbers     NumberConversion's SOAP 1.1 port; numbers12 the same operations on its SOAP
//               1.2 port. NumberToWords: ubiNum (xs:unsignedLong, up to 2^64-1) in English
//               words, "zero", "one hundred twenty-three", ...; NumberToDollars: dNum
//               (xs:decimal, exact) as "<words> dollars and <nn> cents" (cents rounded half
//               up from the exact decimal; "one dollar", "one cent" singular).
//   headers     rpc/literal with soap:header parts. inHeader: out.responseType =
//               "<requestType>/<header.originator>/<header.message>" (the header arrives in
//               soap:Header); outHeader: out.responseType = requestType and a soap:Header
//               header {originator "node-soap", message "out:<requestType>"}; inoutHeader:
//               out.responseType = requestType, header {originator: the request header's
//               originator, message: its message upper-cased}; pingMe: faultType "none"
//               answers an empty pingMeResponse, anything else the declared pingMeFault,
//               detail faultDetail {minor: len(faultType), major 7}.
//   rpcexample  rpc/encoded on SOAP 1.2, a small in-memory file and key store (see
//               rpcExamplePort).
//   fault       testDocLitFault: BareDocument (a bare xs:string) → BareDocumentResponse
//               {company: upper-cased input, @id: its length}; "fault" raises the declared
//               myfault, detail x1:int 42; "nil" the same fault with x1:int xsi:nil="true".
//   cybersource runTransaction, see cybersourcePort.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const soap = require('soap');

const STARTUP_TIMEOUT_MS = 30000;
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const XSD_NS = 'http://www.w3.org/2001/XMLSchema';
const SOAP12_ENC_NS = 'http://www.w3.org/2003/05/soap-encoding';

// node-soap 1.13 converts request text by the schema type's local name (int with parseInt,
// decimal with Number, boolean to a boolean, dateTime to a Date), which would lose precision
// (unsignedLong 18446744073709551615, decimal 0.1000000000000000000001) and hide the lexical
// form that arrived. These identity deserializers keep every argument the string received;
// the handlers convert what they compute with.
const keepText = (text) => text;
const CUSTOM_DESERIALIZER = {};
for (const t of ['int', 'integer', 'short', 'long', 'unsignedLong', 'double', 'float', 'decimal', 'bool', 'boolean', 'date', 'dateTime']) {
  CUSTOM_DESERIALIZER[t] = keepText;
}

function fail(err) {
  process.stderr.write('roundtrip server: ' + (err && err.stack ? err.stack : String(err)) + '\n');
  process.exit(1);
}

const received = [];

// The state a service keeps between calls, by service name, cleared by POST /_reset?service=NAME
// so a test can make the same calls again (over another surface) and get the same answers.
const resets = {};
const RAW_XML = Symbol('agentbridge raw request xml');

function record(service, operation, args, req) {
  received.push({
    service: service,
    operation: operation,
    args: args === undefined ? null : JSON.parse(JSON.stringify(args)),
    xml: req && req[RAW_XML] !== undefined ? req[RAW_XML] : null,
  });
}

// node-soap logs 'received' with the request before it runs the handler, which gets the same
// request object: keep the raw envelope there for record.
function rawLog(type, data, req) {
  if (type === 'received' && req) {
    req[RAW_XML] = String(data);
  }
}

function arg(args, name) {
  return args !== null && typeof args === 'object' && Object.prototype.hasOwnProperty.call(args, name) ? args[name] : undefined;
}

// textOf is an element's text whether node-soap gave it as a string or as {$value, attributes}.
function textOf(v) {
  return v !== null && typeof v === 'object' ? v.$value : v;
}

function xmlEscape(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// soap11Fault is a SOAP 1.1 fault (node-soap writes it for an object with faultcode), sent
// with HTTP 500 as SOAP 1.1 requires. detailXML is written as is: node-soap would put every
// detail element in the envelope's namespace.
function soap11Fault(code, message, detailXML) {
  const fault = { faultcode: code, faultstring: message, statusCode: 500 };
  if (detailXML !== undefined) {
    fault.detail = { $xml: detailXML };
  }
  return { Fault: fault };
}

// soap12Fault is a SOAP 1.2 fault. node-soap 1.13 writes a fault object without faultcode as
// SOAP 1.2 with the envelope prefix on every element; Text gets the xml:lang SOAP 1.2
// requires, and Detail is raw XML so its entries keep the WSDL's namespace.
function soap12Fault(code, message, detailXML) {
  const fault = {
    Fault: {
      Code: { Value: 'soap:' + code },
      Reason: { Text: { attributes: { 'xml:lang': 'en' }, $value: message } },
      statusCode: code === 'Sender' ? 400 : 500,
    },
  };
  if (detailXML) {
    fault.Fault.Detail = { $xml: detailXML };
  }
  return fault;
}

// ---- calculator (wso2-calculator/calculator.wsdl, doc/literal, types in an imported XSD)

function calculatorPort() {
  const op = (name, f) => (args, _cb, _headers, req) => {
    record('calculator', name, args, req);
    const a = Number(arg(args, 'intA'));
    const b = Number(arg(args, 'intB'));
    return { value: f(a, b) };
  };
  return {
    add: op('add', (a, b) => a + b),
    subtract: op('subtract', (a, b) => a - b),
    multiply: op('multiply', (a, b) => a * b),
    divide: op('divide', (a, b) => {
      if (b === 0) {
        throw soap11Fault('soap:Client', 'division by zero');
      }
      return Math.trunc(a / b);
    }),
  };
}

// ---- choice (wso2-choice/choice.wsdl)

function choicePort() {
  return {
    inputOperation(args, _cb, _headers, req) {
      record('choice', 'inputOperation', args, req);
      return { value: 2 * Number(arg(args, 'int1')) };
    },
  };
}

// ---- stockquote (zeep-soap.wsdl)

const STOCK_XSD_NS = 'http://example.com/stockquote.xsd';

function stockquotePort() {
  return {
    // GetLastTradePriceNoOutput has the same soapAction and the same input element as
    // GetLastTradePrice, so node-soap (which picks the operation by soapAction first, then by
    // the body's element) runs this handler for both: nothing in the request tells them
    // apart, for any server. A one-way call therefore gets a TradePrice reply; its record
    // says GetLastTradePrice, with the request's tickerSymbol.
    GetLastTradePrice(args, _cb, _headers, req) {
      record('stockquote', 'GetLastTradePrice', args, req);
      const ticker = String(textOf(arg(args, 'tickerSymbol')) || '');
      if (ticker === 'FAULT1' || ticker === 'FAULT2') {
        const el = ticker === 'FAULT1' ? 'Fault1' : 'Fault2';
        // The schema has no elementFormDefault: Fault1 is global (qualified), message local
        // (unqualified).
        throw soap11Fault('soap:Server', 'fault ' + el, '<x:' + el + ' xmlns:x="' + STOCK_XSD_NS + '"><message>bad ticker ' + ticker + '</message></x:' + el + '>');
      }
      let price = 1.25 * ticker.length;
      const account = arg(args, 'account');
      if (account !== undefined && account !== null) {
        price += Number(arg(account, 'id'));
      }
      const country = arg(args, 'country');
      if (country && arg(country, 'code') === 'NL') {
        price += 0.5;
      }
      return { price: price };
    },
  };
}

// fixStockquoteReply names GetLastTradePrice's reply element. node-soap indexes a binding's
// operations by input element (binding.topElements) to find the reply's element name; both
// operations take TradePriceRequest, so GetLastTradePriceNoOutput, which comes second and has
// no output, overwrites the entry with an empty outputName and node-soap writes the reply as
// <xsd1: xmlns:xsd1="...">...</xsd1:>, which is not XML. The reply is TradePrice.
function fixStockquoteReply(xml) {
  return String(xml).replace(/<xsd1: /g, '<xsd1:TradePrice ').replace(/<\/xsd1:>/g, '</xsd1:TradePrice>');
}

// ---- xsdinclude (nodesoap-xsdinclude/xsd_include.wsdl)

function xsdIncludePort() {
  return {
    // DummyResponse's Result is of type dummy:DummyList, which neither the WSDL nor the
    // included types.xsd defines; the reply carries it as text. The binding's DummySave has
    // no portType operation and is not served.
    Dummy(args, _cb, _headers, req) {
      record('xsdinclude', 'Dummy', args, req);
      return { Result: textOf(arg(args, 'ID')) + ':' + textOf(arg(args, 'Name')) };
    },
  };
}

// ---- greeter12 (cxf-hello_world_soap12.wsdl, SOAP 1.2 only)

const GREETER_TYPES_NS = 'http://apache.org/hello_world_soap12_http/types';

function greeterPort() {
  return {
    sayHi(args, _cb, _headers, req) {
      record('greeter12', 'sayHi', args, req);
      return { responseType: 'Bonjour from node-soap' };
    },
    pingMe(args, _cb, _headers, req) {
      record('greeter12', 'pingMe', args, req);
      throw soap12Fault('Sender', 'ping refused',
        '<x1:faultDetail xmlns:x1="' + GREETER_TYPES_NS + '"><x1:minor>1</x1:minor><x1:major>2</x1:major></x1:faultDetail>');
    },
  };
}

// ---- numbers (postman-numberConversion.wsdl, SOAP 1.1 and 1.2 ports)

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
  'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const SCALES = ['', 'thousand', 'million', 'billion', 'trillion', 'quadrillion', 'quintillion'];

function under1000(n) {
  const words = [];
  if (n >= 100) {
    words.push(ONES[Math.floor(n / 100)], 'hundred');
    n %= 100;
  }
  if (n >= 20) {
    words.push(TENS[Math.floor(n / 10)] + (n % 10 ? '-' + ONES[n % 10] : ''));
  } else if (n > 0) {
    words.push(ONES[n]);
  }
  return words.join(' ');
}

// spell writes a non-negative integer (a BigInt) in English words: 123 is
// "one hundred twenty-three", 2^64-1 "eighteen quintillion four hundred forty-six ...".
function spell(n) {
  if (n === 0n) {
    return 'zero';
  }
  const groups = [];
  for (let scale = 0; n > 0n; scale++, n /= 1000n) {
    const g = Number(n % 1000n);
    if (g) {
      groups.unshift(under1000(g) + (SCALES[scale] ? ' ' + SCALES[scale] : ''));
    }
  }
  return groups.join(' ');
}

function numbersPort(service) {
  return {
    NumberToWords(args, _cb, _headers, req) {
      record(service, 'NumberToWords', args, req);
      const text = String(textOf(arg(args, 'ubiNum'))).trim();
      if (!/^\+?[0-9]+$/.test(text)) {
        throw soap11Or12(service, 'not an unsignedLong: ' + text);
      }
      return { NumberToWordsResult: spell(BigInt(text.replace('+', ''))) };
    },
    NumberToDollars(args, _cb, _headers, req) {
      record(service, 'NumberToDollars', args, req);
      const text = String(textOf(arg(args, 'dNum'))).trim();
      const m = /^\+?([0-9]*)(?:\.([0-9]*))?$/.exec(text);
      if (!m || (m[1] === '' && (m[2] || '') === '')) {
        throw soap11Or12(service, 'not a non-negative decimal: ' + text);
      }
      // Exact: dollars and cents from the digits, cents rounded half up.
      const frac = (m[2] || '') + '000';
      let dollars = BigInt(m[1] || '0');
      let cents = Number(frac.slice(0, 2)) + (Number(frac[2]) >= 5 ? 1 : 0);
      if (cents === 100) {
        dollars += 1n;
        cents = 0;
      }
      const d = spell(dollars) + (dollars === 1n ? ' dollar' : ' dollars');
      const c = spell(BigInt(cents)) + (cents === 1 ? ' cent' : ' cents');
      return { NumberToDollarsResult: d + ' and ' + c };
    },
  };
}

function soap11Or12(service, message) {
  return service === 'numbers12' ? soap12Fault('Sender', message, '') : soap11Fault('soap:Client', message);
}

// ---- headers (cxf-header-rpc-lit/header_rpc_lit.wsdl, rpc/literal with soap:header parts)

const HEADER_TYPES_NS = 'http://apache.org/headers/coloc/types';

// rpcLiteral writes an rpc/literal reply's part accessors as raw XML: node-soap's
// objectToRpcXML puts the WSDL's target-namespace prefix on each part accessor, but rpc/literal
// parts are unqualified, and the part's type's own elements (elementFormDefault qualified) are
// in header.xsd's namespace, not the WSDL's.
function rpcLiteral(parts) {
  let xml = '';
  for (const [name, fields] of Object.entries(parts)) {
    xml += '<' + name + ' xmlns:h="' + HEADER_TYPES_NS + '">';
    for (const [k, v] of Object.entries(fields)) {
      xml += '<h:' + k + '>' + xmlEscape(v) + '</h:' + k + '>';
    }
    xml += '</' + name + '>';
  }
  return { $xml: xml };
}

function headerOf(headers) {
  const h = arg(headers, 'header') || {};
  return { originator: textOf(arg(h, 'originator')), message: textOf(arg(h, 'message')) };
}

function requestTypeOf(args) {
  return textOf(arg(arg(args, 'in'), 'requestType'));
}

// headersSoapHeader is the reply's soap:Header for outHeader and inoutHeader (a node-soap
// server header function, called with the request before the handler runs).
function headersSoapHeader(methodName, args, headers) {
  let h;
  if (methodName === 'outHeader') {
    h = { originator: 'node-soap', message: 'out:' + requestTypeOf(args) };
  } else if (methodName === 'inoutHeader') {
    const got = headerOf(headers);
    h = { originator: got.originator, message: String(got.message).toUpperCase() };
  } else {
    return '';
  }
  return '<h:header xmlns:h="' + HEADER_TYPES_NS + '"><h:originator>' + xmlEscape(h.originator) +
    '</h:originator><h:message>' + xmlEscape(h.message) + '</h:message></h:header>';
}

function headersPort() {
  return {
    inHeader(args, _cb, headers, req) {
      record('headers', 'inHeader', { args: args, headers: headers || null }, req);
      const h = headerOf(headers);
      return rpcLiteral({ out: { responseType: requestTypeOf(args) + '/' + h.originator + '/' + h.message } });
    },
    outHeader(args, _cb, headers, req) {
      record('headers', 'outHeader', { args: args, headers: headers || null }, req);
      return rpcLiteral({ out: { responseType: requestTypeOf(args) } });
    },
    inoutHeader(args, _cb, headers, req) {
      record('headers', 'inoutHeader', { args: args, headers: headers || null }, req);
      return rpcLiteral({ out: { responseType: requestTypeOf(args) } });
    },
    pingMe(args, _cb, headers, req) {
      record('headers', 'pingMe', { args: args, headers: headers || null }, req);
      const faultType = String(textOf(arg(arg(args, 'in'), 'faultType')));
      if (faultType === 'none') {
        return rpcLiteral({ out: {} });
      }
      // The fault part is typed (type="x1:faultDetailT"), not an element, so the detail entry
      // is named for the part, unqualified like an rpc part accessor, and its children are
      // qualified in header.xsd's namespace.
      throw soap11Fault('soap:Server', 'pingMe fault ' + faultType,
        '<faultDetail xmlns:h="' + HEADER_TYPES_NS + '"><h:minor>' + faultType.length + '</h:minor><h:major>7</h:major></faultDetail>');
    },
  };
}

// ---- rpcexample (nodesoap-rpcexample-encoded.wsdl, rpc/encoded on SOAP 1.2)

// encoded writes an rpc/encoded reply's parts as raw XML, each with its xsi:type, as SOAP
// encoding senders do (node-soap writes no xsi:type). items is a list of [name, xsdType, value]
// or [name, 'array', [values]] or [name, 'struct', [[name, xsdType, value]...]].
function encoded(items) {
  const decls = ' xmlns:xsi="' + XSI_NS + '" xmlns:xsd="' + XSD_NS + '" xmlns:enc="' + SOAP12_ENC_NS + '" xmlns:RpcExample="urn:RpcExample"';
  const one = ([name, type, value], top) => {
    const ns = top ? decls : '';
    if (type === 'array') {
      // A SOAP 1.2 encoding array of xsd:string whose members are named as the WSDL's
      // restriction sequence names them (files, keys).
      return '<result' + ns + ' xsi:type="enc:Array" enc:itemType="xsd:string" enc:arraySize="' + value.members.length + '">' +
        value.members.map((v) => '<' + value.member + ' xsi:type="xsd:string">' + xmlEscape(v) + '</' + value.member + '>').join('') + '</result>';
    }
    if (type === 'struct') {
      return '<' + name + ns + ' xsi:type="RpcExample:' + value.type + '">' + value.fields.map((f) => one(f, false)).join('') + '</' + name + '>';
    }
    return '<' + name + ns + ' xsi:type="xsd:' + type + '">' + xmlEscape(value) + '</' + name + '>';
  };
  return { $xml: items.map((it) => one(it, true)).join('') };
}

function rpcExamplePort() {
  const files = new Map(); // fileName → {blob, mode}
  const keys = new Map(); // module + '\0' + key → base64 variant
  resets.rpcexample = () => {
    files.clear();
    keys.clear();
  };
  const params = (args) => arg(args, 'params') || {};
  const str = (v) => (v === undefined || v === null ? '' : String(textOf(v)));
  const bool = (v) => str(v).trim() === 'true' || str(v).trim() === '1';
  // list reads a repeated string argument sent either as repeated elements (as the WSDL's
  // sequence declares it) or as a SOAP-encoded array, one element whose children (whatever
  // their name, item by convention) are the members.
  const list = (v) => {
    const out = [];
    for (const e of v === undefined || v === null ? [] : [].concat(v)) {
      if (e !== null && typeof e === 'object' && e.$value === undefined) {
        for (const [k, m] of Object.entries(e)) {
          if (k !== 'attributes') {
            out.push(...[].concat(m).map(str));
          }
        }
      } else {
        out.push(str(e));
      }
    }
    return out;
  };
  const rec = (name, args, req) => record('rpcexample', name, args, req);
  return {
    // putFile stores the blob under fileName unless the file exists and forceOverwrite is
    // false; result is whether it stored it.
    putFile(args, _cb, _h, req) {
      rec('putFile', args, req);
      const p = params(args);
      const name = str(p.fileName);
      const stored = !files.has(name) || bool(p.forceOverwrite);
      if (stored) {
        files.set(name, { blob: str(p.base64EncodedBlob), mode: Number(str(p.fileMode)) });
      }
      return encoded([['result', 'boolean', String(stored)]]);
    },
    // pullFile "downloads" url: the stored blob is base64 of "<url> as <username>"; result as
    // for putFile.
    pullFile(args, _cb, _h, req) {
      rec('pullFile', args, req);
      const p = params(args);
      const name = str(p.fileName);
      const stored = !files.has(name) || bool(p.forceOverwrite);
      if (stored) {
        files.set(name, { blob: Buffer.from(str(p.url) + ' as ' + str(p.username)).toString('base64'), mode: Number(str(p.fileMode)) });
      }
      return encoded([['result', 'boolean', String(stored)]]);
    },
    // getFile returns the stored blob, or a soap:Sender fault for an unknown file.
    getFile(args, _cb, _h, req) {
      rec('getFile', args, req);
      const name = str(params(args).fileName);
      if (!files.has(name)) {
        throw soap12Fault('Sender', 'no such file: ' + name, '');
      }
      return encoded([['base64EncodedBlobResult', 'string', files.get(name).blob]]);
    },
    // listFiles returns the stored file names, sorted.
    listFiles(args, _cb, _h, req) {
      rec('listFiles', args, req);
      return encoded([['result', 'array', { member: 'files', members: [...files.keys()].sort() }]]);
    },
    // execFile "runs" fileName: stdout is base64 of "<fileName> <arguments joined by spaces>",
    // stderr base64 of the decoded stdin, exitCode the number of arguments (0 when detached).
    execFile(args, _cb, _h, req) {
      rec('execFile', args, req);
      const p = params(args);
      const argv = list(p.arguments);
      const stdin = Buffer.from(str(p.base64EncodedStdIn), 'base64').toString();
      return encoded([['result', 'struct', {
        type: 'execFileResult',
        fields: [
          ['base64EncodedStdOut', 'string', Buffer.from([str(p.fileName), ...argv].join(' ')).toString('base64')],
          ['base64EncodedStdError', 'string', Buffer.from(stdin).toString('base64')],
          ['exitCode', 'int', String(bool(p.startDetached) ? 0 : argv.length)],
        ],
      }]]);
    },
    setKey(args, _cb, _h, req) {
      rec('setKey', args, req);
      const p = params(args);
      keys.set(str(p.module) + '\0' + str(p.key), str(p.base64EncodedVariant));
      return encoded([['result', 'boolean', 'true']]);
    },
    // getKey returns the stored variant, or "" for an unknown key.
    getKey(args, _cb, _h, req) {
      rec('getKey', args, req);
      const p = params(args);
      const v = keys.get(str(p.module) + '\0' + str(p.key));
      return encoded([['base64EncodedVariantResult', 'string', v === undefined ? '' : v]]);
    },
    // clearKey removes the key; result is whether it was there.
    clearKey(args, _cb, _h, req) {
      rec('clearKey', args, req);
      const p = params(args);
      return encoded([['result', 'boolean', String(keys.delete(str(p.module) + '\0' + str(p.key)))]]);
    },
    // listKeys returns the module's keys that start with base, sorted.
    listKeys(args, _cb, _h, req) {
      rec('listKeys', args, req);
      const p = params(args);
      const prefix = str(p.module) + '\0';
      const out = [...keys.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length))
        .filter((k) => k.startsWith(str(p.base))).sort();
      return encoded([['result', 'array', { member: 'keys', members: out }]]);
    },
    // execAction returns base64 of "<module>.<action>(<arguments joined by commas>)".
    execAction(args, _cb, _h, req) {
      rec('execAction', args, req);
      const p = params(args);
      return encoded([['base64EncodedVariantResult', 'string',
        Buffer.from(str(p.module) + '.' + str(p.action) + '(' + list(p.arguments).join(',') + ')').toString('base64')]]);
    },
    // The one-way operations are only recorded.
    heartbeat(args, _cb, _h, req) {
      rec('heartbeat', args, req);
    },
    legacyHeartbeat(args, _cb, _h, req) {
      rec('legacyHeartbeat', args, req);
    },
    message(args, _cb, _h, req) {
      rec('message', args, req);
    },
  };
}

// ---- fault (cxf-hello_world_fault.wsdl)

const INTFAULT_TYPES_NS = 'http://apache.org/intfault/types';

function faultPort() {
  return {
    testDocLitFault(args, _cb, _headers, req) {
      record('fault', 'testDocLitFault', args, req);
      const text = String(textOf(args));
      if (text === 'fault' || text === 'nil') {
        const detail = text === 'nil'
          ? '<x1:int xmlns:x1="' + INTFAULT_TYPES_NS + '" xmlns:xsi="' + XSI_NS + '" xsi:nil="true"/>'
          : '<x1:int xmlns:x1="' + INTFAULT_TYPES_NS + '">42</x1:int>';
        throw soap11Fault('soap:Server', 'bad record ' + text, detail);
      }
      return { attributes: { id: String(text.length) }, company: text.toUpperCase() };
    },
  };
}

// ---- cybersource (nodesoap-cybersource/CyberSourceTransaction_1.26.wsdl)

// cybersourcePort answers runTransaction from the request's billTo, item list,
// purchaseTotals, card, ccAuthService, ccCaptureService and taxService:
//   merchantReferenceCode  echoed; requestID "req-<merchantReferenceCode>";
//   requestToken           "tok-<card.accountNumber's last 4 digits>";
//   missingField           each of billTo firstName/lastName/email/country that is absent
//                          (in that order); decision REJECT and reasonCode 101 when any is
//                          missing, else ACCEPT and 100; card.expirationYear < 2026 gives
//                          REJECT 202 (expired card) instead;
//   purchaseTotals         currency echoed, grandTotalAmount = the sum of unitPrice*quantity
//                          over the items (exact, 2 decimals; quantity absent counts 1);
//   ccAuthReply            when ccAuthService run="true": reasonCode as above, amount the
//                          grand total, authorizationCode "AUTH-<grand total without the
//                          point>", authorizedDateTime "2026-11-29T10:00:00Z", avsCode "Y"
//                          when billTo.postalCode is sent else "N";
//   ccCaptureReply         when ccCaptureService run="true": reasonCode 100, amount the grand
//                          total, requestDateTime = billTo.dateOfBirth + "T00:00:00Z" when
//                          sent (a date echoed into a dateTime), reconciliationID
//                          ccCaptureService.reconciliationID;
//   taxReply               when taxService run="true": reasonCode 100, totalTaxAmount 10% of
//                          the grand total (2 decimals), one item per request item {@id the
//                          item's id (else its 0-based position), totalTaxAmount 10% of its
//                          line}. Unit prices are rounded half up to cents before multiplying.
// merchantReferenceCode "FAULT" raises a soap:Server fault with detail faultDetails
// {requestID "req-FAULT"}.
const CYBS_NS = 'urn:schemas-cybersource-com:transaction-data-1.26';

// Exact decimal arithmetic on amounts in cents (BigInt), rounded half up to 2 places.
function toCents(text) {
  const m = /^(-?)([0-9]*)(?:\.([0-9]*))?$/.exec(String(text).trim());
  if (!m) {
    throw soap11Fault('soap:Client', 'not an amount: ' + text);
  }
  const frac = ((m[3] || '') + '000');
  let c = BigInt(m[2] || '0') * 100n + BigInt(frac.slice(0, 2)) + (Number(frac[2]) >= 5 ? 1n : 0n);
  return m[1] ? -c : c;
}

function fromCents(c) {
  const neg = c < 0n;
  if (neg) {
    c = -c;
  }
  return (neg ? '-' : '') + (c / 100n).toString() + '.' + (c % 100n).toString().padStart(2, '0');
}

// tenth is 10% of cents, rounded half up.
function tenth(c) {
  return (c + 5n) / 10n;
}

function cybersourcePort() {
  return {
    runTransaction(args, _cb, _headers, req) {
      record('cybersource', 'runTransaction', args, req);
      const t = (v) => (v === undefined || v === null ? undefined : String(textOf(v)));
      const ref = t(arg(args, 'merchantReferenceCode')) || '';
      if (ref === 'FAULT') {
        throw soap11Fault('soap:Server', 'transaction fault',
          '<c:faultDetails xmlns:c="' + CYBS_NS + '"><c:requestID>req-FAULT</c:requestID></c:faultDetails>');
      }
      const billTo = arg(args, 'billTo') || {};
      const card = arg(args, 'card') || {};
      const items = [].concat(arg(args, 'item') === undefined ? [] : arg(args, 'item'));
      const totals = arg(args, 'purchaseTotals') || {};

      const missing = ['firstName', 'lastName', 'email', 'country'].filter((f) => t(arg(billTo, f)) === undefined);
      let decision = 'ACCEPT';
      let reasonCode = 100;
      if (missing.length > 0) {
        decision = 'REJECT';
        reasonCode = 101;
      }
      const year = t(arg(card, 'expirationYear'));
      if (year !== undefined && Number(year) < 2026) {
        decision = 'REJECT';
        reasonCode = 202;
      }
      let grand = 0n;
      const lines = items.map((it) => {
        const q = t(arg(it, 'quantity'));
        const line = toCents(t(arg(it, 'unitPrice')) || '0') * BigInt(q === undefined ? 1 : Number(q));
        grand += line;
        return { id: it && it.attributes ? it.attributes.id : undefined, line: line };
      });
      const acct = t(arg(card, 'accountNumber')) || '';
      const reply = {
        merchantReferenceCode: ref,
        requestID: 'req-' + ref,
        decision: decision,
        reasonCode: String(reasonCode),
      };
      if (missing.length > 0) {
        reply.missingField = missing;
      }
      reply.requestToken = 'tok-' + acct.slice(-4);
      reply.purchaseTotals = {};
      if (t(arg(totals, 'currency')) !== undefined) {
        reply.purchaseTotals.currency = t(arg(totals, 'currency'));
      }
      reply.purchaseTotals.grandTotalAmount = fromCents(grand);
      const runs = (svc) => {
        const s = arg(args, svc);
        return s !== undefined && s !== null && s.attributes && s.attributes.run === 'true';
      };
      if (runs('ccAuthService')) {
        reply.ccAuthReply = {
          reasonCode: String(reasonCode),
          amount: fromCents(grand),
          authorizationCode: 'AUTH-' + fromCents(grand).replace('.', ''),
          avsCode: t(arg(billTo, 'postalCode')) === undefined ? 'N' : 'Y',
          authorizedDateTime: '2026-11-29T10:00:00Z',
        };
      }
      if (runs('ccCaptureService')) {
        const capture = { reasonCode: '100' };
        const dob = t(arg(billTo, 'dateOfBirth'));
        if (dob !== undefined) {
          capture.requestDateTime = dob + 'T00:00:00Z';
        }
        capture.amount = fromCents(grand);
        const rec = t(arg(arg(args, 'ccCaptureService'), 'reconciliationID'));
        if (rec !== undefined) {
          capture.reconciliationID = rec;
        }
        reply.ccCaptureReply = capture;
      }
      if (runs('taxService')) {
        reply.taxReply = {
          reasonCode: '100',
          totalTaxAmount: fromCents(tenth(grand)),
          // TaxReplyItem's id is required: the request item's id, else its position.
          item: lines.map((l, i) => ({
            attributes: { id: l.id === undefined ? String(i) : l.id },
            totalTaxAmount: fromCents(tenth(l.line)),
          })),
        };
      }
      return reply;
    },
  };
}

// ---- the servers

// Serves /_received and /_urls. node-soap's listen() takes the server's existing 'request'
// listeners, removes them, and installs one listener that handles its own path and passes
// every other request to the old listeners; so this handler, passed to createServer, gets
// every request that is not for the SOAP path.
function fallbackHandler(req, res) {
  const pathname = new URL(req.url, 'http://127.0.0.1').pathname.replace(/\/+$/, '');
  const json = (value) => {
    const body = JSON.stringify(value);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (pathname === '/_urls' && req.method === 'GET' && urls !== null) {
    json(urls);
    return;
  }
  if (pathname === '/_reset' && req.method === 'POST') {
    const service = new URL(req.url, 'http://127.0.0.1').searchParams.get('service') || '';
    if (resets[service]) {
      resets[service]();
    }
    res.writeHead(204);
    res.end();
    return;
  }
  if (pathname === '/_received') {
    if (req.method === 'GET') {
      json(received);
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

// Starts one server and resolves with its URL once node-soap has loaded the WSDL (and its
// imports) and the server is listening.
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
      handleNilAsNull: true,
      ...def.options,
      callback: (err, soapServer) => {
        if (err) {
          reject(new Error(def.name + ': loading ' + def.wsdlPath + ': ' + (err.stack || err)));
          return;
        }
        soapServer.log = rawLog;
        if (def.fixReply) {
          // node-soap emits 'response' with the reply envelope before it sends it; a listener
          // may replace it.
          soapServer.on('response', (response, methodName) => {
            response.result = def.fixReply(response.result, methodName);
          });
        }
        if (def.soapHeader) {
          soapServer.addSoapHeader(def.soapHeader);
        }
        try {
          checkWsdl(def, soapServer.wsdl);
        } catch (e) {
          reject(e);
          return;
        }
        server.listen(0, '127.0.0.1', () => {
          resolve('http://127.0.0.1:' + server.address().port + def.path);
        });
      },
    });
  });
}

// Checks the WSDL loaded as expected: the service and port exist, and each implemented
// operation is in the port's binding with its input resolved (an xsd:import or include that
// failed to load would leave it unresolved).
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
        if (!method.input) {
          throw new Error(def.name + ': operation ' + op + ' has no resolved input');
        }
      }
    }
  }
  for (const [ns, name] of def.requiredElements || []) {
    const schema = wsdl.definitions.schemas[ns];
    if (!schema || !schema.elements || !schema.elements[name]) {
      throw new Error(def.name + ': element {' + ns + '}' + name + ' not loaded (xsd:import failed?)');
    }
  }
}

const servers = [];
let stopping = false;
let urls = null;

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

  const numbers = numbersPort('numbers');
  const numbers12 = numbersPort('numbers12');
  const defs = [
    {
      name: 'calculator',
      wsdlPath: path.join(corpus, 'wso2-calculator', 'calculator.wsdl'),
      path: '/calculator',
      services: { CalculatorService: { CalculatorPort: calculatorPort() } },
      requiredElements: [['http://example.com/', 'add']],
    },
    {
      name: 'choice',
      wsdlPath: path.join(corpus, 'wso2-choice', 'choice.wsdl'),
      path: '/choice',
      services: { choiceSampleService: { choiceSamplePort: choicePort() } },
      requiredElements: [['http://example.com/', 'inputModel']],
    },
    {
      name: 'stockquote',
      wsdlPath: path.join(corpus, 'zeep-soap.wsdl'),
      path: '/stockquote',
      services: { StockQuoteService: { StockQuotePort: stockquotePort() } },
      fixReply: fixStockquoteReply,
    },
    {
      name: 'xsdinclude',
      wsdlPath: path.join(corpus, 'nodesoap-xsdinclude', 'xsd_include.wsdl'),
      path: '/xsdinclude',
      services: { DummyService: { DummyPortType: xsdIncludePort() } },
    },
    {
      name: 'greeter12',
      wsdlPath: path.join(corpus, 'cxf-hello_world_soap12.wsdl'),
      path: '/greeter12',
      soap12: true,
      services: { SOAPService: { SoapPort: greeterPort() } },
    },
    {
      // The SOAP 1.1 port. Both ports of the WSDL have the same address, so whatever path
      // node-soap serves, it binds the first port's binding (NumberConversionSoap, SOAP 1.1;
      // the operations are the same) but looks the handler up under the last port it looped
      // over (NumberConversionSoap12) when no address matched: the handlers are registered
      // under both ports so a request reaches them either way.
      name: 'numbers',
      wsdlPath: path.join(corpus, 'postman-numberConversion.wsdl'),
      path: '/numbers',
      services: { NumberConversion: { NumberConversionSoap: numbers, NumberConversionSoap12: numbers } },
    },
    {
      // The SOAP 1.2 port: the same WSDL served by a second node-soap server whose replies
      // and faults are SOAP 1.2 envelopes (node-soap picks the envelope version per server,
      // forceSoap12Headers, not per port or per request).
      name: 'numbers12',
      wsdlPath: path.join(corpus, 'postman-numberConversion.wsdl'),
      path: '/numbers12',
      soap12: true,
      services: { NumberConversion: { NumberConversionSoap: numbers12, NumberConversionSoap12: numbers12 } },
    },
    {
      name: 'headers',
      wsdlPath: path.join(corpus, 'cxf-header-rpc-lit', 'header_rpc_lit.wsdl'),
      path: '/headers',
      // The WSDL's first service, XMLHeaderService, has only the CXF XML binding's port
      // (http:address), which node-soap does not load; SOAPHeaderService's SoapPort is the
      // only port it serves.
      services: { SOAPHeaderService: { SoapPort: headersPort() } },
      soapHeader: headersSoapHeader,
      requiredElements: [[HEADER_TYPES_NS, 'header']],
    },
    {
      name: 'rpcexample',
      wsdlPath: path.join(corpus, 'nodesoap-rpcexample-encoded.wsdl'),
      path: '/rpcexample',
      soap12: true,
      services: { RpcExample: { RpcExample: rpcExamplePort() } },
    },
    {
      name: 'fault',
      wsdlPath: path.join(corpus, 'cxf-hello_world_fault.wsdl'),
      path: '/fault',
      services: { SOAPService: { SoapPort: faultPort() } },
    },
    {
      name: 'cybersource',
      wsdlPath: path.join(corpus, 'nodesoap-cybersource', 'CyberSourceTransaction_1.26.wsdl'),
      path: '/cybersource',
      services: { TransactionProcessor: { portXML: cybersourcePort() } },
      requiredElements: [[CYBS_NS, 'replyMessage']],
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

// Exits when stdin closes, if stdin is a pipe or socket (the parent test holds the other
// end). /dev/null or a terminal is not watched: /dev/null would end at once.
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
