// OpenAI Chat Completions through the official `openai` npm package.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { startFakeLLM } from "@fakellm/node";

const CONFIG = `
rules:
  - name: weather_call
    when: {tools_include: get_weather, turn: 1}
    respond:
      tool_calls: [{name: get_weather, arguments: {city: Paris}}]
  - name: weather_answer
    when: {tool_result_contains: "20 degrees"}
    respond: {content: "It is 20 degrees in Paris."}
  - name: story
    when: {messages_contain: story}
    respond: {content: "Once upon a time there was a small mock server."}
`;

const TOOLS = [{
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
}];

let server;
let client;
before(async () => {
  server = await startFakeLLM({ config: CONFIG });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sk-test", maxRetries: 0 });
});
after(() => server?.stop());

test("chat completion", async () => {
  const completion = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "tell me a story" }],
  });
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.choices[0].message.content, "Once upon a time there was a small mock server.");
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.ok(completion.usage.prompt_tokens > 0);
  assert.ok(completion._request_id);
});

test("tool call, then the tool result", async () => {
  const messages = [{ role: "user", content: "weather in Paris?" }];
  const first = await client.chat.completions.create({ model: "gpt-4o-mini", messages, tools: TOOLS });
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  const [call] = choice.message.tool_calls;
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });

  messages.push(choice.message, { role: "tool", tool_call_id: call.id, content: "20 degrees and sunny" });
  const second = await client.chat.completions.create({ model: "gpt-4o-mini", messages, tools: TOOLS });
  assert.equal(second.choices[0].message.content, "It is 20 degrees in Paris.");
});

test("chat.completions.stream() and finalChatCompletion()", async () => {
  const stream = client.chat.completions.stream({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "tell me a story" }],
    stream_options: { include_usage: true },
  });
  const deltas = [];
  stream.on("content.delta", ({ delta }) => deltas.push(delta));
  const final = await stream.finalChatCompletion();
  assert.ok(deltas.length > 1);
  assert.equal(deltas.join(""), "Once upon a time there was a small mock server.");
  assert.equal(final.choices[0].message.content, "Once upon a time there was a small mock server.");
  assert.equal(final.choices[0].finish_reason, "stop");
  assert.ok(final.usage.completion_tokens > 0);
});

test("streamed tool call through the stream helper", async () => {
  const stream = client.chat.completions.stream({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "weather?" }],
    tools: TOOLS,
  });
  const final = await stream.finalChatCompletion();
  const [call] = final.choices[0].message.tool_calls;
  assert.equal(call.type, "function");
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
  assert.equal(final.choices[0].finish_reason, "tool_calls");
});
