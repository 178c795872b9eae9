// Faults mid-stream, as the TypeScript SDKs see them: an error event after some chunks
// raises while the stream is being read; a hang hits the client's timeout.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { startFakeLLM } from "@fakellm/node";

const TEXT = "one two three four five six";

const CONFIG = `
defaults: {hang_limit_s: 10}
rules:
  - when: {messages_contain: "error_event"}
    respond:
      content: "${TEXT}"
      ttft_ms: 20
      chunk_delay_ms: 10
      fault: {type: error_event, after_chunks: 2}
  - when: {messages_contain: "custom_error"}
    respond:
      content: "${TEXT}"
      fault: {type: error_event, after_chunks: 3, status: 500, error: {message: "The model crashed", type: api_error}}
  - when: {messages_contain: "hang"}
    respond: {content: "${TEXT}", fault: hang}
  - respond: {content: "all good"}
`;

let server;
before(async () => {
  server = await startFakeLLM({ config: CONFIG });
});
after(() => server?.stop());

const openai = () => new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sk-test", maxRetries: 0 });
const anthropic = () => new Anthropic({ baseURL: server.url, apiKey: "sk-ant-test", maxRetries: 0 });
const user = (content) => [{ role: "user", content }];

test("OpenAI: an error event mid-stream raises APIError after the chunks before it", async () => {
  const stream = await openai().chat.completions.create({ model: "gpt-4o", messages: user("error_event"), stream: true });
  const got = [];
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta?.content;
        if (text) got.push(text);
      }
    })(),
    (error) => {
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, undefined); // the stream had already started with a 200
      assert.equal(error.message, "Overloaded");
      return true;
    },
  );
  assert.deepEqual(got, ["one", " two"]);

  const reply = await openai().chat.completions.create({ model: "gpt-4o", messages: user("afterwards") });
  assert.equal(reply.choices[0].message.content, "all good");
});

test("Anthropic: event: error mid-stream raises APIError with the error's type", async () => {
  const got = [];
  const stream = anthropic().messages.stream({ model: "claude-sonnet-4-5", max_tokens: 64, messages: user("error_event") });
  stream.on("text", (text) => got.push(text));
  await assert.rejects(stream.finalMessage(), (error) => {
    assert.ok(error instanceof Anthropic.APIError);
    assert.equal(error.error.error.type, "overloaded_error");
    assert.equal(error.error.error.message, "Overloaded");
    return true;
  });
  assert.deepEqual(got, ["one", " two"]);

  await assert.rejects(
    (async () => {
      const raw = await anthropic().messages.create({
        model: "claude-sonnet-4-5", max_tokens: 64, messages: user("custom_error"), stream: true,
      });
      for await (const _event of raw) {
        // read until the error
      }
    })(),
    (error) => {
      assert.ok(error instanceof Anthropic.APIError);
      assert.equal(error.error.error.type, "api_error");
      assert.equal(error.error.error.message, "The model crashed");
      return true;
    },
  );
});

test("OpenAI: a server that hangs hits the client's timeout", async () => {
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sk-test", maxRetries: 0, timeout: 500 });
  const started = Date.now();
  await assert.rejects(
    client.chat.completions.create({ model: "gpt-4o", messages: user("hang"), stream: true }),
    (error) => {
      assert.ok(error instanceof OpenAI.APIConnectionTimeoutError);
      return true;
    },
  );
  assert.ok(Date.now() - started < 5_000);
  const reply = await openai().chat.completions.create({ model: "gpt-4o", messages: user("afterwards") });
  assert.equal(reply.choices[0].message.content, "all good");
});
