// validate.mjs checks OpenAPI documents as a strict consumer would.
//
// Usage:
//
//	node validate.mjs SOURCE...
//
// Each SOURCE is a file or an http(s) URL. @readme/openapi-parser (a maintained fork of
// swagger-parser; swagger-parser itself now needs Node.js 22.19) validates each document against
// the OpenAPI 3.1 specification's schema and its own rules, all as errors: resolvable $refs,
// unique operationIds, component names, path parameters matching the path templates, required
// path parameters, no duplicate parameters, arrays with items. The specification's schema does not
// look inside Schema Objects, so every schema in the document is also compiled with Ajv's JSON
// Schema 2020-12 validator in strict mode with ajv-formats (the document's jsonSchemaDialect), as
// the MCP client test compiles the tools' schemas.
//
// It prints one JSON line, {documents: [{source, openapi, operations, schemas, errors}],
// failures}, and exits 1 when there is any failure, 2 on bad usage.
import { readFile } from 'node:fs/promises';

import { compileErrors, validate } from '@readme/openapi-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';
const DOC_ID = 'urn:agentbridge:openapi';

async function load(source) {
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source);
    if (!res.ok) throw new Error(`GET ${source}: ${res.status}`);
    return JSON.parse(await res.text());
  }
  return JSON.parse(await readFile(source, 'utf8'));
}

// absoluteRefs copies a schema with "#/components/schemas/X" references pointed at the
// components registered with Ajv under DOC_ID.
function absoluteRefs(v) {
  if (Array.isArray(v)) return v.map(absoluteRefs);
  if (!v || typeof v !== 'object') return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === '$ref' && typeof x === 'string' && x.startsWith('#/components/schemas/')) {
      out[k] = `${DOC_ID}#/$defs/${x.slice('#/components/schemas/'.length)}`;
    } else {
      out[k] = absoluteRefs(x);
    }
  }
  return out;
}

// operationSchemas lists the Schema Objects of the operations: parameters, bodies, responses.
function operationSchemas(doc) {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [verb, op] of Object.entries(item)) {
      const at = `paths/${path}/${verb}`;
      for (const [i, p] of (op.parameters ?? []).entries()) if (p.schema) out.push([`${at}/parameters/${i} (${p.name})`, p.schema]);
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) if (media.schema) out.push([`${at}/requestBody/${type}`, media.schema]);
      for (const [code, res] of Object.entries(op.responses ?? {})) {
        for (const [type, media] of Object.entries(res.content ?? {})) if (media.schema) out.push([`${at}/responses/${code}/${type}`, media.schema]);
      }
    }
  }
  return out;
}

async function check(source) {
  const result = { source, openapi: null, operations: 0, schemas: 0, errors: [] };
  let doc;
  try {
    doc = await load(source);
  } catch (err) {
    result.errors.push(`load: ${err.message}`);
    return result;
  }
  result.openapi = doc.openapi ?? null;
  if (typeof doc.openapi !== 'string' || !doc.openapi.startsWith('3.1.')) result.errors.push(`openapi is ${JSON.stringify(doc.openapi)}, want 3.1.x`);
  if (doc.jsonSchemaDialect !== undefined && doc.jsonSchemaDialect !== DIALECT) result.errors.push(`jsonSchemaDialect is ${doc.jsonSchemaDialect}, want ${DIALECT}`);
  result.operations = Object.values(doc.paths ?? {}).reduce((n, item) => n + Object.keys(item).length, 0);

  // The parser dereferences what it is given; it gets its own copy.
  const parsed = await validate(structuredClone(doc));
  if (!parsed.valid) result.errors.push(compileErrors(parsed));
  for (const w of parsed.warnings ?? []) result.errors.push(`warning: ${w.message ?? JSON.stringify(w)}`);

  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  const components = doc.components?.schemas ?? {};
  try {
    ajv.addSchema({ $id: DOC_ID, $defs: absoluteRefs(components) });
  } catch (err) {
    result.errors.push(`components/schemas: ${err.message}`);
    return result;
  }
  const schemas = [
    ...Object.keys(components).map((name) => [`components/schemas/${name}`, { $ref: `${DOC_ID}#/$defs/${name}` }]),
    ...operationSchemas(doc).map(([at, s]) => [at, absoluteRefs(s)]),
  ];
  for (const [at, schema] of schemas) {
    try {
      ajv.compile(schema);
      result.schemas++;
    } catch (err) {
      result.errors.push(`${at}: does not compile with Ajv (draft 2020-12, strict): ${err.message}`);
    }
  }
  return result;
}

async function main() {
  const sources = process.argv.slice(2);
  if (sources.length === 0) {
    console.error('usage: node validate.mjs SOURCE...');
    process.exit(2);
  }
  const summary = { documents: [], failures: [] };
  for (const source of sources) {
    const r = await check(source);
    summary.documents.push(r);
    for (const e of r.errors) summary.failures.push(`${source}: ${e}`);
  }
  process.stdout.write(JSON.stringify(summary) + '\n', () => process.exit(summary.failures.length ? 1 : 0));
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ documents: [], failures: [`validate.mjs crashed: ${err?.stack || err}`] }) + '\n', () => process.exit(1));
});
