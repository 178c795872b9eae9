// Anthropic Messages through the official `@anthropic-ai/sdk` npm package.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { startFakeLLM } from "@fakellm/node";

const CONFIG = `
rules:
  - name: weather_call
    when: {tools_include: get_weather, turn: 1}
    respond:
      content: "Let me check."
      tool_calls: [{name: get_weather, arguments: {city: Paris}}]
  - name: weather_answer
    when: {tool_result_contains: "20 degrees"}
    respond: {content: "It is 20 degrees in Paris."}
  - name: story
    when: {messages_contain: story}
    respond: {content: "Once upon a time there was a small mock server."}
`;

const TOOLS = [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }];

let server;
let client;
before(async () => {
  server = await startFakeLLM({ config: CONFIG });
  client = new Anthropic({ baseURL: server.url, apiKey: "sk-ant-test", maxRetries: 0 });
});
after(() => server?.stop());

test("messages.create", async () => {
  const message = await client.messages.create({
    model: "claude-sonnet-4-5",
    max_tokens: 256,
    messages: [{ role: "user", content: "tell me a story" }],
  });
  assert.equal(message.type, "message");
  assert.equal(message.content[0].type, "text");
  assert.equal(message.content[0].text, "Once upon a time there was a small mock server.");
  assert.equal(message.stop_reason, "end_turn");
  assert.ok(message.usage.input_tokens > 0 && message.usage.output_tokens > 0);
});

test("tool_use, then the tool_result", async () => {
  const messages = [{ role: "user", content: "weather in Paris?" }];
  const first = await client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 256, messages, tools: TOOLS });
  assert.equal(first.stop_reason, "tool_use");
  const toolUse = first.content.find((block) => block.type === "tool_use");
  assert.equal(toolUse.name, "get_weather");
  assert.deepEqual(toolUse.input, { city: "Paris" });

  messages.push(
    { role: "assistant", content: first.content },
    { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "20 degrees and sunny" }] },
  );
  const second = await client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 256, messages, tools: TOOLS });
  assert.equal(second.content[0].text, "It is 20 degrees in Paris.");
});

test("messages.stream() and finalMessage()", async () => {
  const stream = client.messages.stream({
    model: "claude-sonnet-4-5",
    max_tokens: 256,
    messages: [{ role: "user", content: "tell me a story" }],
  });
  const deltas = [];
  stream.on("text", (delta) => deltas.push(delta));
  const final = await stream.finalMessage();
  assert.ok(deltas.length > 1);
  assert.equal(deltas.join(""), "Once upon a time there was a small mock server.");
  assert.equal(final.content[0].text, "Once upon a time there was a small mock server.");
  assert.equal(final.stop_reason, "end_turn");
  assert.ok(final.usage.output_tokens > 0);
});

test("streamed tool_use through the stream helper", async () => {
  const stream = client.messages.stream({
    model: "claude-sonnet-4-5",
    max_tokens: 256,
    messages: [{ role: "user", content: "weather?" }],
    tools: TOOLS,
  });
  const final = await stream.finalMessage();
  assert.deepEqual(final.content.map((block) => block.type), ["text", "tool_use"]);
  assert.deepEqual(final.content[1].input, { city: "Paris" });
  assert.equal(final.stop_reason, "tool_use");
});
