// Responses API, embeddings, model listings, Azure, and Anthropic count_tokens/thinking
// through the official `openai` and `@anthropic-ai/sdk` npm packages.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI, { AzureOpenAI } from "openai";
import { startFakeLLM } from "@fakellm/node";

const CONFIG = `
models:
  - gpt-4o
  - {id: claude-opus-4-1, display_name: "Claude Opus 4.1"}
  - {id: tiny-embedder, dimensions: 4}
rules:
  - name: weather_call
    when: {api: openai.responses, tools_include: get_weather, turn: 1}
    respond: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
  - name: weather_answer
    when: {api: openai.responses, turn: 2, tool_result_contains: "20C"}
    respond: {content: "It is 20C in Paris."}
  - name: fixed_vector
    when: {api: openai.embeddings, messages_contain: "fixed"}
    respond: {embedding: [0.5, -1.0, 0.25]}
  - name: deep
    when: {api: anthropic, messages_contain: ponder}
    respond: {thinking: "Consider both sides before answering.", content: "The answer is 42."}
  - name: snow_call
    when: {api: anthropic, messages_contain: "snow in Oslo", turn: 1}
    respond:
      thinking: "I should check the forecast."
      tool_calls: [{name: get_forecast, arguments: {city: Oslo}}]
  - name: snow_answer
    when: {api: anthropic, tool_result_contains: "heavy snow"}
    respond: {thinking: "The forecast says heavy snow.", content: "Yes, heavy snow."}
  - name: azure_prod
    when: {model_matches: "prod-*"}
    respond: {content: "Hello from the prod deployment."}
  - name: greet
    respond: {content: "Hello from fakellm."}
`;

const TOOLS = [{ type: "function", name: "get_weather", parameters: { type: "object", properties: {} }, strict: false }];

let server;
let openai;
let anthropic;
before(async () => {
  server = await startFakeLLM({ config: CONFIG });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sk-test", maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: server.url, apiKey: "sk-ant-test", maxRetries: 0 });
});
after(() => server?.stop());

const norm = (vector) => Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));

test("responses.create: output_text and usage", async () => {
  const response = await openai.responses.create({ model: "gpt-4o", input: "hi" });
  assert.equal(response.output_text, "Hello from fakellm.");
  assert.equal(response.status, "completed");
  assert.ok(response.usage.total_tokens > 0);
});

test("responses.stream: events in order and finalResponse()", async () => {
  const stream = openai.responses.stream({ model: "gpt-4o", input: "hello" });
  const deltas = [];
  const numbers = [];
  stream.on("response.output_text.delta", (event) => deltas.push(event.delta));
  stream.on("event", (event) => numbers.push(event.sequence_number));
  const final = await stream.finalResponse();
  assert.equal(deltas.join(""), "Hello from fakellm.");
  assert.equal(final.output_text, "Hello from fakellm.");
  assert.deepEqual(numbers, numbers.map((_, i) => i));
});

test("responses.stream with a function call, then previous_response_id", async () => {
  const final = await openai.responses.stream({ model: "gpt-4o", input: "weather?", tools: TOOLS }).finalResponse();
  const call = final.output.find((item) => item.type === "function_call");
  assert.equal(call.name, "get_weather");
  assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
  const next = await openai.responses.create({
    model: "gpt-4o",
    previous_response_id: final.id,
    tools: TOOLS,
    input: [{ type: "function_call_output", call_id: call.call_id, output: "20C" }],
  });
  assert.equal(next.output_text, "It is 20C in Paris.");
  assert.equal((await openai.responses.retrieve(next.id)).output_text, "It is 20C in Paris.");
});

test("responses: unknown ids are NotFoundError", async () => {
  await assert.rejects(openai.responses.retrieve("resp_missing"), OpenAI.NotFoundError);
  await assert.rejects(
    openai.responses.create({ model: "gpt-4o", input: "hi", previous_response_id: "resp_missing" }),
    (error) => error instanceof OpenAI.NotFoundError && error.param === "previous_response_id",
  );
});

test("embeddings: base64 by default, decoded by the SDK", async () => {
  const result = await openai.embeddings.create({ model: "text-embedding-3-small", input: ["alpha", "beta", "alpha"] });
  const [a, b, a2] = result.data.map((d) => d.embedding);
  assert.equal(a.length, 1536);
  assert.ok(Math.abs(norm(a) - 1) < 1e-5);
  assert.deepEqual(a, a2);
  assert.notDeepEqual(a, b);
  const floats = await openai.embeddings.create({ model: "text-embedding-3-small", input: "alpha",
                                                  encoding_format: "float" });
  assert.deepEqual(floats.data[0].embedding, a);
});

test("embeddings: dimensions, configured sizes and a rule's fixed vector", async () => {
  const short = await openai.embeddings.create({ model: "text-embedding-3-small", input: "x", dimensions: 64 });
  assert.equal(short.data[0].embedding.length, 64);
  const tiny = await openai.embeddings.create({ model: "tiny-embedder", input: "x" });
  assert.equal(tiny.data[0].embedding.length, 4);
  const fixed = await openai.embeddings.create({ model: "m", input: "fixed please" });
  assert.deepEqual(fixed.data[0].embedding, [0.5, -1.0, 0.25]);
  await assert.rejects(openai.embeddings.create({ model: "tiny-embedder", input: "x", dimensions: 5 }),
                       OpenAI.BadRequestError);
});

test("models: OpenAI and Anthropic shapes from one list", async () => {
  const openaiIds = [];
  for await (const model of openai.models.list()) openaiIds.push(model.id);
  assert.deepEqual(openaiIds, ["gpt-4o", "claude-opus-4-1", "tiny-embedder"]);
  const names = [];
  for await (const model of anthropic.models.list({ limit: 2 })) names.push(model.display_name);
  assert.deepEqual(names, ["GPT 4o", "Claude Opus 4.1", "Tiny Embedder"]);
  await assert.rejects(anthropic.models.retrieve("claude-1"), Anthropic.NotFoundError);
});

test("completions (legacy)", async () => {
  const completion = await openai.completions.create({ model: "gpt-3.5-turbo-instruct", prompt: "hi" });
  assert.equal(completion.choices[0].text, "Hello from fakellm.");
});

test("AzureOpenAI: the deployment is the model", async () => {
  const azure = new AzureOpenAI({ endpoint: server.url, apiKey: "azure-key", apiVersion: "2025-04-01-preview",
                                  deployment: "prod-eastus", maxRetries: 0 });
  const reply = await azure.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
  assert.equal(reply.choices[0].message.content, "Hello from the prod deployment.");
  assert.equal(reply.model, "prod-eastus");
});

test("anthropic: messages.stream(...).finalMessage() with thinking", async () => {
  const thinking = [];
  const stream = anthropic.messages.stream({
    model: "claude-sonnet-4-6",
    max_tokens: 4096,
    thinking: { type: "enabled", budget_tokens: 2048 },
    messages: [{ role: "user", content: "ponder this" }],
  });
  stream.on("thinking", (delta) => thinking.push(delta));
  const message = await stream.finalMessage();
  assert.deepEqual(message.content.map((block) => block.type), ["thinking", "text"]);
  assert.equal(thinking.join(""), "Consider both sides before answering.");
  assert.ok(message.content[0].signature);
  assert.equal(message.content[1].text, "The answer is 42.");
});

test("anthropic: thinking stream events in order, and the thinking block sent back with the tool result", async () => {
  const thinking = { type: "enabled", budget_tokens: 2048 };
  const tools = [{ name: "get_forecast", input_schema: { type: "object", properties: { city: { type: "string" } } } }];
  const question = { role: "user", content: "Will it snow in Oslo?" };
  const shape = [];
  const stream = anthropic.messages.stream({ model: "claude-sonnet-4-6", max_tokens: 4096, thinking, tools,
                                            messages: [question] });
  stream.on("streamEvent", (event) => {
    if (event.type === "content_block_start") shape.push(`start ${event.content_block.type}`);
    else if (event.type === "content_block_delta" && shape.at(-1) !== event.delta.type) shape.push(event.delta.type);
    else if (event.type === "content_block_stop") shape.push("stop");
  });
  const first = await stream.finalMessage();
  assert.deepEqual(shape, ["start thinking", "thinking_delta", "signature_delta", "stop",
                           "start tool_use", "input_json_delta", "stop"]);
  assert.deepEqual(first.content.map((block) => block.type), ["thinking", "tool_use"]);
  assert.equal(first.content[0].thinking, "I should check the forecast.");
  assert.ok(first.content[0].signature);
  // As Anthropic requires with thinking and tools: the assistant turn goes back whole, thinking block first.
  const second = await anthropic.messages.stream({
    model: "claude-sonnet-4-6", max_tokens: 4096, thinking, tools,
    messages: [question, { role: "assistant", content: first.content },
               { role: "user", content: [{ type: "tool_result", tool_use_id: first.content[1].id, content: "heavy snow" }] }],
  }).finalMessage();
  assert.deepEqual(second.content.map((block) => block.type), ["thinking", "text"]);
  assert.equal(second.content[1].text, "Yes, heavy snow.");
  // A thinking block changed after it was signed is refused, as the real API does.
  const tampered = { ...first.content[0], thinking: "Something else." };
  await assert.rejects(anthropic.messages.create({
    model: "claude-sonnet-4-6", max_tokens: 4096, thinking, tools,
    messages: [question, { role: "assistant", content: [tampered, first.content[1]] },
               { role: "user", content: [{ type: "tool_result", tool_use_id: first.content[1].id, content: "heavy snow" }] }],
  }), Anthropic.BadRequestError);
});

test("anthropic: countTokens equals the usage of the call", async () => {
  const body = { model: "claude-sonnet-4-6", system: "Be brief.",
                 messages: [{ role: "user", content: "How many tokens is this question, roughly?" }] };
  const { input_tokens } = await anthropic.messages.countTokens(body);
  const message = await anthropic.messages.create({ ...body, max_tokens: 256 });
  assert.equal(input_tokens, message.usage.input_tokens);
  await assert.rejects(anthropic.messages.countTokens({ model: "claude-sonnet-4-6" }), Anthropic.BadRequestError);
});
