// @fakellm/node as a TypeScript suite uses it: one server per file, rules per test with setRules(),
// reset() between tests, and the journal read back after calls made through the official SDKs.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { startFakeLLM } from "@fakellm/node";

let server;
before(async () => {
  server = await startFakeLLM({ strict: true });
});
after(() => server?.stop());
beforeEach(() => server.reset());

const TOOLS = [{ type: "function", function: { name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } } } } }];

test("setRules() per test; the journal shows the tool call the SDK received", async () => {
  await server.setRules([{ name: "lookup_call", when: { tools_include: "lookup" }, respond: { tool_calls: [{ name: "lookup", arguments: { q: "fakellm" } }] } }]);
  const openai = new OpenAI({ baseURL: server.openaiBaseURL, apiKey: "sk-test", maxRetries: 0 });
  const completion = await openai.chat.completions.create({
    model: "gpt-4o-mini", messages: [{ role: "user", content: "look it up" }], tools: TOOLS,
  });
  const [call] = completion.choices[0].message.tool_calls;
  assert.deepEqual(JSON.parse(call.function.arguments), { q: "fakellm" });

  const [entry] = await server.requests();
  assert.equal(entry.rule, "lookup_call");
  assert.equal(entry.reply.tool_calls[0].id, call.id);
  assert.deepEqual(JSON.parse(entry.reply.tool_calls[0].arguments), { q: "fakellm" });
});

test("strict: a request no rule matched is the SDK's NotFoundError, and the journal says why", async () => {
  await server.setRules([{ name: "greeting", when: { messages_contain: "hello" }, respond: { content: "Hi." } }]);
  const anthropic = new Anthropic({ baseURL: server.anthropicBaseURL, apiKey: "sk-ant-test", maxRetries: 0 });
  await assert.rejects(
    anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 32, messages: [{ role: "user", content: "bye" }] }),
    Anthropic.NotFoundError,
  );
  const misses = await server.requests({ rule: "none" });
  assert.equal(misses.length, 1);
  assert.match(misses[0].explanation.summary, /closest rule "greeting"/);
  const message = await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 32, messages: [{ role: "user", content: "hello" }] });
  assert.equal(message.content[0].text, "Hi.");
});

test("reset() between tests: this test sees only its own requests", async () => {
  assert.deepEqual(await server.requests(), []);
  await server.setRules([{ respond: { content: "Gemini here." } }]);
  const ai = new GoogleGenAI({ apiKey: "gemini-test", httpOptions: { baseUrl: server.geminiBaseURL } });
  const response = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
  assert.equal(response.text, "Gemini here.");
  assert.deepEqual((await server.requests()).map((e) => e.api), ["gemini.generate"]);
});

test("env(): a client built without arguments reaches the server", async () => {
  await server.setRules([{ respond: { content: "From the environment." } }]);
  const saved = { ...process.env };
  Object.assign(process.env, server.env());
  try {
    const completion = await new OpenAI({ maxRetries: 0 }).chat.completions.create({
      model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(completion.choices[0].message.content, "From the environment.");
  } finally {
    for (const name of Object.keys(server.env())) {
      if (name in saved) process.env[name] = saved[name];
      else delete process.env[name];
    }
  }
});
