// schemas.mjs checks tools/list results as an MCP host's client code would: each result must
// parse with the official TypeScript SDK's ListToolsResultSchema (what Client.listTools
// applies), and every tool's inputSchema and outputSchema must compile with Ajv's JSON Schema
// 2020-12 validator in strict mode, with ajv-formats.
//
// Usage:
//
//	node schemas.mjs FILE
//
// FILE holds a JSON object {"LABEL": <tools/list result>, ...}, such as one per schema profile
// and service. It prints one JSON line, {lists, tools, failures}, and exits 1 when there is any
// failure, 2 on bad usage.
import { readFileSync } from 'node:fs';

import { ListToolsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

function newAjv() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv;
}

function main() {
  const [file] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node schemas.mjs FILE');
    process.exit(2);
  }
  const lists = JSON.parse(readFileSync(file, 'utf8'));
  const summary = { lists: 0, tools: 0, failures: [] };
  for (const [label, result] of Object.entries(lists)) {
    summary.lists++;
    const parsed = ListToolsResultSchema.safeParse(result);
    if (!parsed.success) {
      summary.failures.push(`${label}: the SDK's ListToolsResultSchema refuses the result: ${parsed.error.message}`);
      continue;
    }
    for (const tool of parsed.data.tools) {
      summary.tools++;
      for (const kind of ['inputSchema', 'outputSchema']) {
        const schema = tool[kind];
        if (schema === undefined) continue;
        try {
          newAjv().compile(schema);
        } catch (err) {
          summary.failures.push(`${label}: ${tool.name} ${kind} does not compile with Ajv (2020-12, strict): ${err.message}`);
        }
      }
    }
  }
  process.stdout.write(JSON.stringify(summary) + '\n', () => process.exit(summary.failures.length > 0 ? 1 : 0));
}

main();
