// toolkit.mjs lets an OpenAPI agent toolkit loose on the bridge's REST surface, as an agent host
// would: it starts @ivotoby/openapi-mcp-server, an MCP server that turns every operation of an
// OpenAPI document into a tool and calls the API over HTTP, and drives it over stdio with the
// official MCP TypeScript SDK client. The toolkit reads only the document and the base URL; the
// bridge's own MCP surface plays no part.
//
// Usage:
//
//	node toolkit.mjs --calls FILE BASE_URL
//
// The toolkit loads BASE_URL/openapi.json and sends its calls to BASE_URL. The calls file is a
// JSON array of {"operationId": ID, "arguments": {...}, "expectError": bool}. The toolkit names
// each tool after the operationId (InventoryService_GetItem becomes inventory-service-get-item
// with abbreviation off), so a call finds its tool by the operationId's letters and digits.
//
// It prints one JSON line, {tools: [{name, description, inputSchema}], callResults: [{operationId,
// tool, isError, text, json}], failures}, to stdout and exits 1 when there is any failure, 2 on bad
// usage. The toolkit's log goes to stderr.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const REQUEST_TIMEOUT_MS = 20_000;
const OVERALL_TIMEOUT_MS = Number(process.env.OPENAPI_TOOLKIT_TIMEOUT_MS || 90_000);
const SERVER_BIN = fileURLToPath(new URL('./node_modules/@ivotoby/openapi-mcp-server/bin/mcp-server.js', import.meta.url));

const letters = (s) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

function parseArgs(argv) {
  if (argv.length === 3 && argv[0] === '--calls') return { callsFile: argv[1], base: argv[2].replace(/\/$/, '') };
  throw new Error(`bad arguments: ${JSON.stringify(argv)}\nusage: node toolkit.mjs --calls FILE BASE_URL`);
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  const calls = JSON.parse(readFileSync(opts.callsFile, 'utf8'));
  const summary = { tools: [], callResults: [], failures: [] };
  const fail = (msg) => summary.failures.push(msg);
  let finished = false;
  const finish = (code) => {
    if (finished) return;
    finished = true;
    if (summary.failures.length > 0 && code === 0) code = 1;
    process.stdout.write(JSON.stringify(summary) + '\n', () => process.exit(code));
  };
  setTimeout(() => {
    fail(`timed out after ${OVERALL_TIMEOUT_MS}ms`);
    finish(1);
  }, OVERALL_TIMEOUT_MS).unref();

  // The toolkit as an MCP host starts it: its CLI over stdio, configured by flags.
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [SERVER_BIN, '--api-base-url', opts.base, '--openapi-spec', `${opts.base}/openapi.json`,
      '--transport', 'stdio', '--disable-abbreviation', 'true', '--name', 'agentbridge-openapi'],
    stderr: 'inherit',
  });
  const client = new Client({ name: 'agentbridge-openapi-toolkit-test', version: '1.0.0' }, { capabilities: {} });
  client.onerror = (err) => fail(`client error: ${err?.message ?? err}`);
  const reqOpts = { timeout: REQUEST_TIMEOUT_MS };
  try {
    await client.connect(transport, reqOpts);
    const tools = [];
    let cursor;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor }, reqOpts);
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    summary.tools = tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema }));
    if (tools.length === 0) fail('the toolkit made no tools from the document');

    for (const call of calls) {
      const result = { operationId: call.operationId, expectError: !!call.expectError };
      summary.callResults.push(result);
      const tool = tools.find((t) => letters(t.name) === letters(call.operationId));
      if (!tool) {
        fail(`no tool for operation ${call.operationId} among ${tools.map((t) => t.name).join(', ')}`);
        continue;
      }
      result.tool = tool.name;
      let res;
      try {
        res = await client.callTool({ name: tool.name, arguments: call.arguments ?? {} }, undefined, reqOpts);
      } catch (err) {
        fail(`call ${tool.name} ${JSON.stringify(call.arguments ?? {})}: ${err?.message ?? err}`);
        continue;
      }
      result.isError = res.isError === true;
      result.text = (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
      if (result.isError !== result.expectError) {
        fail(`call ${tool.name} ${JSON.stringify(call.arguments ?? {})}: isError ${result.isError}, want ${result.expectError}: ${result.text}`);
        continue;
      }
      if (!result.isError) {
        try {
          result.json = JSON.parse(result.text);
        } catch (err) {
          fail(`call ${tool.name}: the result is not the API's JSON (${err.message}): ${result.text}`);
        }
      }
    }
  } catch (err) {
    fail(err?.message ?? String(err));
  }
  try {
    await client.close();
  } catch (err) {
    fail(`close: ${err?.message ?? err}`);
  }
  finish(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ tools: [], callResults: [], failures: [`toolkit.mjs crashed: ${err?.stack || err}`] }) + '\n', () => process.exit(1));
});
