// events.mjs drives agentbridge's event sources over MCP with the official TypeScript SDK's
// Client, as an agent would: it lists the resources, subscribes to a source, posts an event
// to the source's webhook, waits for notifications/resources/updated, reads the resource, then
// fetches and acknowledges with the events_fetch tool.
//
// Usage: node events.mjs MCP_URL WEBHOOK_URL TOKEN SOURCE
//
// It prints one JSON line, {resources, updated, read, fetched, afterAck, failures}, and exits 1
// when there is any failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const [mcpURL, hookURL, token, source] = process.argv.slice(2);
const uri = `agentbridge://events/${source}`;
const out = { resources: [], updated: [], read: null, fetched: null, afterAck: null, failures: [] };
const fail = (msg) => out.failures.push(msg);

const timer = setTimeout(() => {
  fail('timed out');
  console.log(JSON.stringify(out));
  process.exit(1);
}, 60_000);

const client = new Client({ name: 'agentbridge-events-test', version: '0.0.0' });
let heard;
const updated = new Promise((resolve) => { heard = resolve; });
client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
  out.updated.push(n.params.uri);
  heard();
});
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpURL)));
  out.resources = (await client.listResources()).resources.map((r) => r.uri);
  if (!out.resources.includes(uri)) fail(`resources/list lacks ${uri}`);
  await client.subscribeResource({ uri });
  const resp = await fetch(hookURL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Webhook-Token': token },
    body: JSON.stringify({ eventId: 'mcp-1', sku: 'A-100', quantity: 7 }),
  });
  if (resp.status >= 300) fail(`webhook answered ${resp.status}`);
  await updated;
  const read = await client.readResource({ uri });
  out.read = JSON.parse(read.contents[0].text);
  const fetched = await client.callTool({ name: 'events_fetch', arguments: { source, subscriber: 'ts-agent', wait: '0s' } });
  if (fetched.isError) fail(`events_fetch: ${JSON.stringify(fetched.content)}`);
  out.fetched = fetched.structuredContent;
  const acked = await client.callTool({ name: 'events_fetch', arguments: { source, subscriber: 'ts-agent', wait: '0s', ack: out.fetched?.nextCursor } });
  if (acked.isError) fail(`events_fetch with ack: ${JSON.stringify(acked.content)}`);
  out.afterAck = acked.structuredContent;
  await client.unsubscribeResource({ uri });
  await client.close();
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
clearTimeout(timer);
console.log(JSON.stringify(out));
process.exit(out.failures.length ? 1 : 0);
