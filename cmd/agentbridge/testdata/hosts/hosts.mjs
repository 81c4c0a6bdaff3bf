// hosts.mjs runs the MCP client code of agent hosts against MCP servers, as those hosts would:
// each library connects, lists the tools, turns them into tool definitions for its model API
// the way it does in production, and sends them to that API, which here is a local capture
// server that records the request and answers as the real API would. The capture server asks
// for one tool call, so each library also calls a tool through its own call path.
//
// Usage:
//
//	node hosts.mjs TARGETS_FILE
//
// TARGETS_FILE is a JSON array of targets:
//
//	{"label": "demo/default", "url": "http://127.0.0.1:PORT/mcp",
//	 "call": {"name": TOOL, "arguments": {...}}}
//
// For every target it runs these hosts, one after the other:
//
//   - mcp-sdk: the official TypeScript SDK's Client lists every tool (following nextCursor),
//     compiles each inputSchema and outputSchema with Ajv's JSON Schema 2020-12 validator in strict
//     mode, and calls the tool with client.callTool.
//   - openai-agents: the OpenAI Agents SDK's MCPServerStreamableHttp on an Agent with
//     mcpConfig.convertSchemasToStrict (mcpToFunctionTool with strict conversion), run by the
//     SDK's Runner against the OpenAI Responses API at the capture server; the model's
//     function_call is carried out by the SDK.
//   - google-genai: @google/genai's mcpToTool on an SDK Client, passed to
//     models.generateContent against the Gemini API at the capture server; the model's
//     functionCall is carried out by the library's automatic function calling.
//   - langchain: @langchain/mcp-adapters' MultiServerMCPClient tools bound to
//     @langchain/anthropic's ChatAnthropic (Anthropic Messages API at the capture server), and
//     the tool called with tool.invoke.
//   - vercel-ai: @ai-sdk/mcp's createMCPClient tools passed to the AI SDK's generateText with
//     @ai-sdk/anthropic (Anthropic Messages API at the capture server); the model's tool_use is
//     carried out by generateText.
//
// It prints one JSON line to stdout:
//
//	{"targets": [{"label", "url", "hosts": {HOST: {"library", "api", "toolCount", "tools",
//	  "sent", "requests", "call", "returned", "error", "ms"}}}], "failures": [...]}
//
// where tools (mcp-sdk only) is tools/list as the client got it with each tool's Ajv errors,
// sent is the tools array of the first request the library sent to its model API, exactly as
// sent, and call is {name, arguments, ok, text, error}: text is what the library handed back as
// the tool's result. returned is that result as the library sent it back to the model API in its
// next request (openai-agents and google-genai, whose agent loops go on). Schema rules are
// checked by the Go test that reads this line. Every request that leaves for a host other than
// loopback is refused and reported as a failure: the run is offline.
// It exits 1 on failures, 2 on bad usage.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

// First, so that no library keeps the global fetch from before it is wrapped.
import { refused } from './offline.mjs';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { Agent, MCPServerStreamableHttp, Runner, setDefaultOpenAIClient, setTracingDisabled, setOpenAIAPI } from '@openai/agents';
import OpenAI from 'openai';
import { GoogleGenAI, mcpToTool } from '@google/genai';
import { MultiServerMCPClient } from '@langchain/mcp-adapters';
import { ChatAnthropic } from '@langchain/anthropic';
import { createMCPClient } from '@ai-sdk/mcp';
import { generateText } from 'ai';
import { createAnthropic } from '@ai-sdk/anthropic';

const HOST_TIMEOUT_MS = Number(process.env.HOSTS_HOST_TIMEOUT_MS || 60_000);

function version(pkg) {
  return JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), 'utf8')).version;
}

const failures = [];

// The capture server: /HOST/... is that host's model API. It records each request and answers
// the first one with a call of the target's tool, the next ones with text.
const capture = {
  requests: {},
  call: null,
  reset(call) {
    this.requests = {};
    this.call = call;
  },
};

function responsesReply(call, requestBody) {
  const base = {
    id: 'resp_capture', object: 'response', created_at: 1767225600, status: 'completed', model: requestBody.model || 'gpt-4.1',
    error: null, incomplete_details: null, instructions: null, metadata: {}, parallel_tool_calls: true,
    temperature: 1, top_p: 1, tool_choice: 'auto', tools: [],
    usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } },
  };
  if (call) {
    return { ...base, output: [{ type: 'function_call', id: 'fc_capture', call_id: 'call_capture', name: call.name, arguments: JSON.stringify(call.arguments), status: 'completed' }] };
  }
  return { ...base, output: [{ type: 'message', id: 'msg_capture', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'done', annotations: [] }] }] };
}

function geminiReply(call) {
  const parts = call ? [{ functionCall: { name: call.name, args: call.arguments } }] : [{ text: 'done' }];
  return {
    candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 },
    modelVersion: 'gemini-2.5-flash',
  };
}

function anthropicReply(call, requestBody) {
  const base = { id: 'msg_capture', type: 'message', role: 'assistant', model: requestBody.model || 'claude-sonnet-4-5', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } };
  if (call) {
    return { ...base, content: [{ type: 'tool_use', id: 'toolu_capture', name: call.name, input: call.arguments }], stop_reason: 'tool_use' };
  }
  return { ...base, content: [{ type: 'text', text: 'done' }], stop_reason: 'end_turn' };
}

// What each host's model API is asked for its first request: a tool call, or (for langchain,
// which has no agent loop of its own here) text.
const callsTool = { 'openai-agents': true, 'google-genai': true, 'vercel-ai': true, langchain: false };

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const host = req.url.split('/')[1];
    let body = null;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
    } catch (err) {
      failures.push(`capture: ${host} sent a body that is not JSON: ${err.message}`);
    }
    const seen = (capture.requests[host] ||= []);
    seen.push({ method: req.method, path: req.url, body });
    const call = callsTool[host] && seen.length === 1 ? fitCall(host, capture.call, body) : null;
    let reply;
    if (host === 'openai-agents') reply = responsesReply(call, body || {});
    else if (host === 'google-genai') reply = geminiReply(call);
    else if (host === 'langchain' || host === 'vercel-ai') reply = anthropicReply(call, body || {});
    else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"unknown host"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
  });
});

// fitCall is the call a model would make with the tool definition it was sent: in OpenAI's strict
// mode every property is required, so a model sends null for those it leaves unset.
function fitCall(host, call, body) {
  if (host !== 'openai-agents' || !body) return call;
  const def = (body.tools || []).find((t) => t.name === call.name);
  if (!def?.strict || !Array.isArray(def.parameters?.required)) return call;
  const args = { ...call.arguments };
  for (const p of def.parameters.required) if (!(p in args)) args[p] = null;
  return { ...call, arguments: args };
}

// returned is the tool result a library sent its model API in the request after the call.
function returned(host, body) {
  if (host === 'openai-agents') {
    const item = (body?.input || []).find((i) => i.type === 'function_call_output');
    return item ? text(item.output) : undefined;
  }
  if (host === 'google-genai') {
    const part = (body?.contents || []).flatMap((c) => c.parts || []).find((p) => p.functionResponse);
    return part ? text(part.functionResponse.response) : undefined;
  }
  return undefined;
}

function errMessage(err) {
  if (err instanceof Error) return err.cause ? `${err.message} (${errMessage(err.cause)})` : err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}

function text(v) {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

async function withTimeout(what, p) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${HOST_TIMEOUT_MS} ms`)), HOST_TIMEOUT_MS);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function ajvErrors(errors) {
  return (errors || []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}

// One validator for every schema: the bridge's schemas carry no $id, so nothing one compiles is
// kept for another.
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);

function compile(schema) {
  try {
    ajv.compile(schema);
    return null;
  } catch (err) {
    return errMessage(err) + (ajv.errors ? ` ${ajvErrors(ajv.errors)}` : '');
  }
}

async function sdkClient(url, name) {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

// mcp-sdk: tools/list as the SDK client gets it, each schema compiled by Ajv strict, one call.
async function runSDK(target, out) {
  out.library = `@modelcontextprotocol/sdk ${version('@modelcontextprotocol/sdk')}`;
  out.api = 'none (tools/list as listed; Ajv 2020-12 strict)';
  const client = await sdkClient(target.url, 'agentbridge-hosts-sdk');
  try {
    const tools = [];
    let cursor;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    out.toolCount = tools.length;
    out.tools = tools.map((t) => ({
      name: t.name,
      title: t.title,
      inputSchema: t.inputSchema,
      outputSchema: t.outputSchema,
      inputError: compile(t.inputSchema),
      outputError: t.outputSchema ? compile(t.outputSchema) : null,
    }));
    const r = await client.callTool({ name: target.call.name, arguments: target.call.arguments });
    out.call.ok = r.isError !== true;
    out.call.text = r.structuredContent ? text(r.structuredContent) : text(r.content);
  } finally {
    await client.close();
  }
}

// openai-agents: the Agents SDK turns each MCP tool into a strict function tool and runs the
// agent loop against the Responses API.
async function runOpenAIAgents(target, out, base) {
  out.library = `@openai/agents ${version('@openai/agents')} (openai ${version('openai')})`;
  out.api = 'OpenAI Responses API, strict function tools';
  setTracingDisabled(true);
  setOpenAIAPI('responses');
  setDefaultOpenAIClient(new OpenAI({ apiKey: 'sk-capture', baseURL: `${base}/openai-agents/v1`, maxRetries: 0 }));
  const mcpServer = new MCPServerStreamableHttp({ url: target.url, name: 'agentbridge', cacheToolsList: false });
  await mcpServer.connect();
  try {
    const agent = new Agent({
      name: 'hosts',
      instructions: 'Call the tool you are asked to call.',
      model: 'gpt-4.1',
      mcpServers: [mcpServer],
      mcpConfig: { convertSchemasToStrict: true },
    });
    const runner = new Runner({ tracingDisabled: true });
    const result = await runner.run(agent, `Call ${target.call.name}.`, { maxTurns: 3 });
    const item = result.newItems.find((i) => i.type === 'tool_call_output_item');
    if (!item) throw new Error(`the agent run made no tool call (final output ${text(result.finalOutput)})`);
    out.call.ok = true;
    out.call.text = text(item.output);
    out.call.arguments = fitCall('openai-agents', target.call, capture.requests['openai-agents']?.[0]?.body).arguments;
  } finally {
    await mcpServer.close();
  }
}

// google-genai: mcpToTool turns the MCP client's tools into function declarations, and
// generateContent's automatic function calling calls them.
async function runGenAI(target, out, base) {
  out.library = `@google/genai ${version('@google/genai')}`;
  out.api = 'Gemini API generateContent, function declarations';
  const client = await sdkClient(target.url, 'agentbridge-hosts-genai');
  try {
    const ai = new GoogleGenAI({ apiKey: 'capture', httpOptions: { baseUrl: `${base}/google-genai` } });
    const resp = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: `Call ${target.call.name}.`,
      config: { tools: [mcpToTool(client)] },
    });
    const history = resp.automaticFunctionCallingHistory || [];
    const part = history.flatMap((c) => c.parts || []).find((p) => p.functionResponse);
    if (!part) throw new Error(`automatic function calling made no call (response text ${text(resp.text)})`);
    const r = part.functionResponse.response;
    out.call.ok = !r.error;
    out.call.text = r.error ? text(r.error) : r.structuredContent ? text(r.structuredContent) : text(r.content);
  } finally {
    await client.close();
  }
}

// langchain: the adapters make a LangChain tool of each MCP tool; ChatAnthropic.bindTools turns
// them into Anthropic tool definitions.
async function runLangChain(target, out, base) {
  out.library = `@langchain/mcp-adapters ${version('@langchain/mcp-adapters')} (@langchain/core ${version('@langchain/core')}, @langchain/anthropic ${version('@langchain/anthropic')})`;
  out.api = 'Anthropic Messages API';
  const client = new MultiServerMCPClient({
    mcpServers: { agentbridge: { transport: 'http', url: target.url } },
    prefixToolNameWithServerName: false,
    throwOnLoadError: true,
    onConnectionError: 'throw',
  });
  try {
    const tools = await client.getTools();
    out.toolCount = tools.length;
    const model = new ChatAnthropic({ model: 'claude-sonnet-4-5', apiKey: 'capture', anthropicApiUrl: `${base}/langchain`, maxRetries: 0 });
    await model.bindTools(tools).invoke(`Call ${target.call.name}.`);
    const tool = tools.find((t) => t.name === target.call.name);
    if (!tool) throw new Error(`no LangChain tool named ${target.call.name}`);
    const r = await tool.invoke(target.call.arguments);
    out.call.ok = true;
    out.call.text = text(r);
  } finally {
    await client.close();
  }
}

// vercel-ai: @ai-sdk/mcp's tools, passed to generateText with the Anthropic provider, which
// carries out the model's tool_use.
async function runVercel(target, out, base) {
  out.library = `ai ${version('ai')} (@ai-sdk/mcp ${version('@ai-sdk/mcp')}, @ai-sdk/anthropic ${version('@ai-sdk/anthropic')})`;
  out.api = 'Anthropic Messages API';
  // No name: the client announces itself with the library's default clientInfo, as most apps do.
  const client = await createMCPClient({ transport: { type: 'http', url: target.url } });
  try {
    const tools = await client.tools();
    out.toolCount = Object.keys(tools).length;
    const anthropic = createAnthropic({ apiKey: 'capture', baseURL: `${base}/vercel-ai/v1` });
    const result = await generateText({ model: anthropic('claude-sonnet-4-5'), tools, prompt: `Call ${target.call.name}.`, maxRetries: 0 });
    const errors = result.content.filter((p) => p.type === 'tool-error');
    if (errors.length) throw new Error(`tool error: ${errMessage(errors[0].error)}`);
    const r = result.toolResults[0];
    if (!r) throw new Error(`generateText made no tool call (text ${text(result.text)})`);
    out.call.ok = r.output?.isError !== true;
    out.call.text = r.output?.structuredContent ? text(r.output.structuredContent) : text(r.output?.content ?? r.output);
  } finally {
    await client.close();
  }
}

const hosts = {
  'mcp-sdk': runSDK,
  'openai-agents': runOpenAIAgents,
  'google-genai': runGenAI,
  langchain: runLangChain,
  'vercel-ai': runVercel,
};

async function main() {
  const [file] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node hosts.mjs TARGETS_FILE');
    process.exit(2);
  }
  const targets = JSON.parse(readFileSync(file, 'utf8'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const summary = { capture: base, targets: [], failures };
  for (const target of targets) {
    const t = { label: target.label, url: target.url, hosts: {} };
    summary.targets.push(t);
    for (const [name, runHost] of Object.entries(hosts)) {
      if (target.hosts && !target.hosts.includes(name)) continue;
      capture.reset(target.call);
      const out = { call: { name: target.call.name, arguments: target.call.arguments, ok: false } };
      t.hosts[name] = out;
      const started = performance.now();
      try {
        await withTimeout(`${target.label} ${name}`, runHost(target, out, base));
      } catch (err) {
        out.error = errMessage(err);
        out.call.error ||= out.error;
      }
      out.ms = Math.round(performance.now() - started);
      const requests = capture.requests[name] || [];
      out.requests = requests.map((r) => ({ method: r.method, path: r.path }));
      const first = requests[0]?.body;
      if (first) {
        out.sent = name === 'google-genai' ? first.tools : first.tools || [];
        out.model = first.model;
      }
      // What the library sent back to the model after the call: proof the result reached it.
      if (requests.length > 1) out.returned = returned(name, requests[requests.length - 1].body);
    }
  }
  server.close();
  for (const origin of refused) failures.push(`refused a request to ${origin} (the run is offline)`);
  // A pipe takes large writes asynchronously: exit once the line is out.
  process.stdout.write(JSON.stringify(summary) + '\n', () => process.exit(failures.length ? 1 : 0));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
