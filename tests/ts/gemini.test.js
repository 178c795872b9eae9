// Gemini through the official `@google/genai` npm package (API version v1beta, its default, and v1).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FinishReason, GoogleGenAI } from "@google/genai";
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
    respond: {content: "Once upon a time there was a small mock server that answered every call."}
`;
const STORY = "Once upon a time there was a small mock server that answered every call.";
const MODEL = "gemini-2.5-flash";
const TOOLS = [{
  functionDeclarations: [{ name: "get_weather", parameters: { type: "OBJECT", properties: { city: { type: "STRING" } } } }],
}];

let server;
let ai;
before(async () => {
  server = await startFakeLLM({ config: CONFIG });
  ai = new GoogleGenAI({ apiKey: "gemini-test", httpOptions: { baseUrl: server.url } });
});
after(() => server?.stop());

test("generateContent", async () => {
  const response = await ai.models.generateContent({ model: MODEL, contents: "tell me a story" });
  assert.equal(response.text, STORY);
  assert.equal(response.candidates[0].finishReason, FinishReason.STOP);
  assert.ok(response.usageMetadata.promptTokenCount > 0);
  assert.equal(response.modelVersion, MODEL);
});

test("generateContent with api version v1", async () => {
  const v1 = new GoogleGenAI({ apiKey: "gemini-test", httpOptions: { baseUrl: server.url, apiVersion: "v1" } });
  const response = await v1.models.generateContent({ model: MODEL, contents: "tell me a story" });
  assert.equal(response.text, STORY);
});

test("generateContentStream", async () => {
  const chunks = [];
  for await (const chunk of await ai.models.generateContentStream({ model: MODEL, contents: "tell me a story" })) {
    chunks.push(chunk);
  }
  assert.ok(chunks.length > 2);
  assert.equal(chunks.map((c) => c.text).join(""), STORY);
  assert.equal(chunks.at(-1).candidates[0].finishReason, FinishReason.STOP);
  assert.ok(chunks.at(-1).usageMetadata.candidatesTokenCount > 0);
});

test("function call, then the function response", async () => {
  const first = await ai.models.generateContent({
    model: MODEL, contents: "weather in Paris?", config: { tools: TOOLS },
  });
  assert.deepEqual(first.functionCalls.map((c) => [c.name, c.args]), [["get_weather", { city: "Paris" }]]);
  const second = await ai.models.generateContent({
    model: MODEL,
    config: { tools: TOOLS },
    contents: [
      { role: "user", parts: [{ text: "weather in Paris?" }] },
      first.candidates[0].content,
      { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { result: "20 degrees" } } }] },
    ],
  });
  assert.equal(second.text, "It is 20 degrees in Paris.");
});

test("maxOutputTokens gives MAX_TOKENS", async () => {
  const response = await ai.models.generateContent({
    model: MODEL, contents: "a story", config: { maxOutputTokens: 3 },
  });
  assert.equal(response.candidates[0].finishReason, FinishReason.MAX_TOKENS);
  assert.equal(response.text, "Once upon a");
});

test("countTokens and embedContent", async () => {
  const counted = await ai.models.countTokens({ model: MODEL, contents: "hello there, how are you?" });
  assert.ok(counted.totalTokens > 0);
  const embedded = await ai.models.embedContent({
    model: "gemini-embedding-001", contents: ["alpha", "beta"], config: { outputDimensionality: 8 },
  });
  assert.deepEqual(embedded.embeddings.map((e) => e.values.length), [8, 8]);
  const norm = Math.hypot(...embedded.embeddings[0].values);
  assert.ok(Math.abs(norm - 1) < 1e-5);
});
