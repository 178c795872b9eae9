// A rule's error status reaches each TypeScript SDK as its own error class.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { ApiError, GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { startFakeLLM } from "@fakellm/node";

const CONFIG = `
rules:
  - name: rate_limited
    when: {messages_contain: "slow down"}
    respond: {status: 429, error: "Rate limit reached", headers: {retry-after: "0"}}
  - name: overloaded
    when: {messages_contain: "overloaded"}
    respond: {status: 529, error: "Overloaded"}
`;

let server;
before(async () => {
  server = await startFakeLLM({ config: CONFIG });
});
after(() => server?.stop());

test("OpenAI: a 429 rule raises RateLimitError", async () => {
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sk-test", maxRetries: 0 });
  await assert.rejects(
    client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "slow down" }] }),
    (error) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.status, 429);
      assert.equal(error.error.message, "Rate limit reached");
      return true;
    },
  );
});

test("Anthropic: 429 and 529 raise RateLimitError and an overloaded APIError", async () => {
  const client = new Anthropic({ baseURL: server.url, apiKey: "sk-ant-test", maxRetries: 0 });
  const ask = (text) => client.messages.create({
    model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: text }],
  });
  await assert.rejects(ask("slow down"), (error) => {
    assert.ok(error instanceof Anthropic.RateLimitError);
    assert.equal(error.status, 429);
    return true;
  });
  await assert.rejects(ask("overloaded"), (error) => {
    assert.ok(error instanceof Anthropic.APIError);
    assert.equal(error.status, 529);
    assert.equal(error.error.error.type, "overloaded_error");
    return true;
  });
});

test("Gemini: a 429 rule raises ApiError with status 429 and RESOURCE_EXHAUSTED", async () => {
  const ai = new GoogleGenAI({ apiKey: "gemini-test", httpOptions: { baseUrl: server.url } });
  await assert.rejects(ai.models.generateContent({ model: "gemini-2.5-flash", contents: "slow down" }), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 429);
    assert.match(error.message, /RESOURCE_EXHAUSTED/);
    return true;
  });
});

test("bad input is a provider-shaped 400 and the server keeps serving", async () => {
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sk-test", maxRetries: 0 });
  await assert.rejects(
    client.chat.completions.create({ model: "gpt-4o", messages: [] }),
    (error) => error instanceof OpenAI.BadRequestError && error.status === 400,
  );
  const ok = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
  assert.ok(ok.choices[0].message.content.startsWith("[mock response for gpt-4o"));
});
