// client.mjs drives an MCP server with the official TypeScript SDK's Client, as an MCP host
// would, and checks what it gets against the MCP spec and the server's own schemas.
//
// Usage:
//
//	node client.mjs [--calls FILE] [--client-name NAME] http URL
//	node client.mjs [--calls FILE] [--client-name NAME] stdio COMMAND [ARG...]
//
// --client-name is the name the client announces in initialize's clientInfo (default
// agentbridge-mcp-test-client), as a host does; agentbridge picks a tool schema profile by it.
// The calls file (or the file named by $MCP_CALLS) is a JSON array of
// {"name": TOOL, "arguments": {...}, "expectError": bool}. The client lists every tool
// (following nextCursor), compiles each tool's inputSchema and outputSchema with Ajv's JSON
// Schema 2020-12 validator in strict mode (a schema Ajv rejects is a failure), checks that
// every tool and every input property is described, then makes each call: a successful result
// must carry structuredContent valid against the tool's outputSchema and a text content that
// parses to the same JSON; an expectError call must come back as an isError result.
//
// It prints one JSON line, {tools, inputSchemas, schemaErrors, callResults, failures, ...}, to stdout and
// exits 1 when there is any failure, 2 on bad usage. Server logs (stdio) go to stderr.
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const REQUEST_TIMEOUT_MS = 20_000;
const OVERALL_TIMEOUT_MS = Number(process.env.MCP_CLIENT_TIMEOUT_MS || 90_000);

const usage = `usage:
  node client.mjs [--calls FILE] [--client-name NAME] http URL
  node client.mjs [--calls FILE] [--client-name NAME] stdio COMMAND [ARG...]
(the calls file may also be named by $MCP_CALLS)`;

function parseArgs(argv) {
  const args = [...argv];
  let callsFile = process.env.MCP_CALLS || '';
  let clientName = 'agentbridge-mcp-test-client';
  for (;;) {
    if (args[0] === '--calls' || args[0] === '--client-name') {
      if (args.length < 2) throw new Error(`${args[0]} needs a value`);
      if (args[0] === '--calls') callsFile = args[1];
      else clientName = args[1];
      args.splice(0, 2);
    } else if (args[0]?.startsWith('--calls=')) {
      callsFile = args[0].slice('--calls='.length);
      args.shift();
    } else {
      break;
    }
  }
  const [mode, ...rest] = args;
  if (mode === 'http' && rest.length === 1) return { mode, url: rest[0], callsFile, clientName };
  if (mode === 'stdio' && rest.length >= 1) return { mode, command: rest[0], commandArgs: rest.slice(1), callsFile, clientName };
  throw new Error(`bad arguments: ${JSON.stringify(argv)}`);
}

function loadCalls(file) {
  if (!file) return [];
  const calls = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(calls)) throw new Error(`${file}: want a JSON array of calls`);
  for (const [i, c] of calls.entries()) {
    if (typeof c?.name !== 'string' || c.name === '') throw new Error(`${file}: call ${i} has no name`);
    if (c.arguments !== undefined && (typeof c.arguments !== 'object' || c.arguments === null || Array.isArray(c.arguments))) {
      throw new Error(`${file}: call ${i} (${c.name}): arguments must be an object`);
    }
  }
  return calls;
}

// newAjv returns a fresh validator per schema, so $id or $defs of one tool never meet another's.
function newAjv() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv;
}

function ajvErrors(errors) {
  return (errors || []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''} (schema ${e.schemaPath})`).join('; ');
}

// keywordPaths lists the JSON pointers at which a schema uses keyword, for Ajv messages (such
// as strict mode's unknown keyword) that do not say where.
function keywordPaths(schema, keyword, path = '#') {
  const out = [];
  if (!schema || typeof schema !== 'object') return out;
  if (Array.isArray(schema)) {
    schema.forEach((s, i) => out.push(...keywordPaths(s, keyword, `${path}/${i}`)));
    return out;
  }
  for (const [key, value] of Object.entries(schema)) {
    if (key === keyword) out.push(path);
    if (['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'].includes(key) && value && typeof value === 'object') {
      for (const [name, sub] of Object.entries(value)) out.push(...keywordPaths(sub, keyword, `${path}/${key}/${name}`));
    } else if (!['enum', 'const', 'default', 'examples'].includes(key)) {
      out.push(...keywordPaths(value, keyword, `${path}/${key}`));
    }
  }
  return out;
}

function errMessage(err) {
  if (err instanceof Error) return err.message;
  return String(err);
}

// undescribed lists the JSON pointers of input properties without a description, in the
// schema's properties and in its $defs (nested messages), recursively.
function undescribed(schema, path = '') {
  const out = [];
  if (!schema || typeof schema !== 'object') return out;
  if (Array.isArray(schema)) {
    schema.forEach((s, i) => out.push(...undescribed(s, `${path}/${i}`)));
    return out;
  }
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties' && value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [prop, sub] of Object.entries(value)) {
        const p = `${path}/properties/${prop}`;
        if (typeof sub?.description !== 'string' || sub.description.trim() === '') out.push(p);
        out.push(...undescribed(sub, p));
      }
    } else if (key === 'enum' || key === 'const' || key === 'default' || key === 'examples') {
      // Values, not schemas.
    } else if (value && typeof value === 'object') {
      out.push(...undescribed(value, `${path}/${key}`));
    }
  }
  return out;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`${errMessage(err)}\n${usage}`);
    process.exit(2);
  }
  const calls = loadCalls(opts.callsFile);

  const summary = {
    transport: opts.mode,
    clientName: opts.clientName,
    server: null,
    protocolVersion: null,
    tools: [],
    schemaErrors: [],
    callResults: [],
    failures: [],
  };
  const fail = (msg) => summary.failures.push(msg);

  let finished = false;
  const finish = (code) => {
    if (finished) return;
    finished = true;
    if (summary.failures.length > 0 && code === 0) code = 1;
    process.stdout.write(JSON.stringify(summary) + '\n', () => process.exit(code));
  };
  const timer = setTimeout(() => {
    fail(`timed out after ${OVERALL_TIMEOUT_MS}ms`);
    finish(1);
  }, OVERALL_TIMEOUT_MS);
  timer.unref();

  const transport = opts.mode === 'http'
    ? new StreamableHTTPClientTransport(new URL(opts.url))
    : new StdioClientTransport({ command: opts.command, args: opts.commandArgs, stderr: 'inherit' });
  const client = new Client({ name: opts.clientName, version: '1.0.0' }, { capabilities: {} });
  client.onerror = (err) => fail(`client error: ${errMessage(err)}`);
  const reqOpts = { timeout: REQUEST_TIMEOUT_MS };

  try {
    await client.connect(transport, reqOpts);
  } catch (err) {
    fail(`connect: ${errMessage(err)}`);
    await transport.close().catch(() => {});
    finish(1);
    return;
  }
  summary.server = client.getServerVersion() ?? null;
  summary.protocolVersion = transport.protocolVersion ?? null;
  if (!client.getServerCapabilities()?.tools) fail('the server does not declare the tools capability');

  try {
    // List every tool, following pagination.
    const tools = [];
    const cursors = new Set();
    let cursor;
    for (;;) {
      let page;
      try {
        page = await client.listTools(cursor === undefined ? {} : { cursor }, reqOpts);
      } catch (err) {
        // Also what the SDK client says when its own (draft-07, non-strict) Ajv cannot compile
        // an outputSchema, which it does for every listed tool.
        throw new Error(`tools/list${cursor === undefined ? '' : ` (cursor ${JSON.stringify(cursor)})`}: ${errMessage(err)}`);
      }
      tools.push(...page.tools);
      if (!page.nextCursor) break;
      if (cursors.has(page.nextCursor)) {
        fail(`tools/list repeats cursor ${JSON.stringify(page.nextCursor)}`);
        break;
      }
      cursors.add(page.nextCursor);
      cursor = page.nextCursor;
    }
    // The SDK client keeps output validators only for the last page it listed; the checks
    // below validate every result against its own tool's outputSchema either way.
    summary.tools = tools.map((t) => t.name);
    summary.inputSchemas = Object.fromEntries(tools.map((t) => [t.name, t.inputSchema]));
    if (tools.length === 0) fail('tools/list returned no tools');

    const byName = new Map();
    for (const tool of tools) {
      if (byName.has(tool.name)) fail(`tool ${tool.name} is listed twice`);
      byName.set(tool.name, { tool, output: null });
      const entry = byName.get(tool.name);
      if (typeof tool.description !== 'string' || tool.description.trim() === '') {
        fail(`tool ${tool.name} has no description`);
      }
      for (const [kind, schema] of [['inputSchema', tool.inputSchema], ['outputSchema', tool.outputSchema]]) {
        if (schema === undefined) {
          if (kind === 'outputSchema') fail(`tool ${tool.name} has no outputSchema`);
          continue;
        }
        if (schema?.type !== 'object') fail(`tool ${tool.name}: ${kind} must have type "object", has ${JSON.stringify(schema?.type)}`);
        try {
          const validate = newAjv().compile(schema);
          if (kind === 'outputSchema') entry.output = validate;
        } catch (err) {
          const e = { tool: tool.name, schema: kind, message: errMessage(err) };
          const unknown = /unknown keyword: "([^"]+)"/.exec(e.message);
          if (unknown) e.at = keywordPaths(schema, unknown[1]);
          summary.schemaErrors.push(e);
          fail(`tool ${tool.name}: ${kind} does not compile with Ajv (draft 2020-12, strict): ${e.message}${e.at ? ` at ${e.at.join(', ')}` : ''}`);
        }
      }
      for (const p of undescribed(tool.inputSchema)) fail(`tool ${tool.name}: input property ${p} has no description`);
    }

    for (const call of calls) {
      const result = { name: call.name, expectError: !!call.expectError };
      summary.callResults.push(result);
      const entry = byName.get(call.name);
      if (!entry) {
        result.ok = false;
        fail(`call ${call.name}: no such tool in tools/list`);
        continue;
      }
      let res;
      try {
        res = await client.callTool({ name: call.name, arguments: call.arguments ?? {} }, undefined, reqOpts);
      } catch (err) {
        // A protocol error, or the SDK's own structuredContent check against the outputSchema.
        result.ok = false;
        result.error = errMessage(err);
        fail(`call ${call.name} ${JSON.stringify(call.arguments ?? {})}: ${result.error}`);
        continue;
      }
      result.isError = res.isError === true;
      const texts = (res.content || []).filter((c) => c.type === 'text').map((c) => c.text);
      if (call.expectError) {
        result.text = texts.join('\n');
        result.ok = result.isError;
        if (!result.isError) fail(`call ${call.name} ${JSON.stringify(call.arguments ?? {})}: want an isError result, got ${JSON.stringify(res)}`);
        else if (result.text.trim() === '') fail(`call ${call.name}: the isError result has no text saying what went wrong`);
        continue;
      }
      result.structuredContent = res.structuredContent;
      if (result.isError) {
        result.ok = false;
        result.text = texts.join('\n');
        fail(`call ${call.name} ${JSON.stringify(call.arguments ?? {})}: isError result: ${result.text}`);
        continue;
      }
      const problems = [];
      if (res.structuredContent === undefined || res.structuredContent === null || typeof res.structuredContent !== 'object' || Array.isArray(res.structuredContent)) {
        problems.push(`structuredContent is not an object: ${JSON.stringify(res.structuredContent)}`);
      } else if (entry.output && !entry.output(res.structuredContent)) {
        problems.push(`structuredContent does not match the outputSchema: ${ajvErrors(entry.output.errors)}`);
      }
      if (texts.length === 0) {
        problems.push('no text content');
      } else {
        let parsed;
        try {
          parsed = JSON.parse(texts[0]);
        } catch (err) {
          problems.push(`text content is not JSON (${errMessage(err)}): ${texts[0]}`);
        }
        if (parsed !== undefined && !isDeepStrictEqual(parsed, res.structuredContent)) {
          problems.push(`text content ${texts[0]} is not the structuredContent ${JSON.stringify(res.structuredContent)}`);
        }
      }
      result.ok = problems.length === 0;
      for (const p of problems) fail(`call ${call.name} ${JSON.stringify(call.arguments ?? {})}: ${p}`);
    }
  } catch (err) {
    fail(`${errMessage(err)}`);
  }

  try {
    if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession();
  } catch (err) {
    fail(`terminating the session: ${errMessage(err)}`);
  }
  try {
    await client.close();
  } catch (err) {
    fail(`close: ${errMessage(err)}`);
  }
  finish(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ tools: [], schemaErrors: [], callResults: [], failures: [`client.mjs crashed: ${err?.stack || err}`] }) + '\n', () => process.exit(1));
});
