import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import OpenAI from "openai";
import { startFakeLLM, type FakeLLM } from "@fakellm/node";
import { triage, TriageError } from "../src/triage.js";

let fake: FakeLLM;
let client: OpenAI;

before(async () => {
  // strict: a request no rule matches is a 404, so a test cannot pass on the fallback answer.
  fake = await startFakeLLM({ strict: true });
  client = new OpenAI({ baseURL: fake.openaiBaseURL, apiKey: "sk-test", maxRetries: 0 });
});
after(() => fake.stop());
beforeEach(() => fake.reset());

test("a billing ticket is triaged as billing, high priority", async () => {
  await fake.setRules([{
    name: "billing",
    when: { last_message_contains: "charged twice" },
    respond: { json: { category: "billing", priority: "high", summary: "Double charge." } },
  }]);

  const result = await triage(client, "I was charged twice this month!");

  assert.deepEqual(result, { category: "billing", priority: "high", summary: "Double charge." });
  const [request] = await fake.requests();
  assert.equal(request.rule, "billing");
  const body = request.request as { response_format: { json_schema: { name: string } } };
  assert.equal(body.response_format.json_schema.name, "triage");
});

test("without a fixed answer, fakellm makes one that fits the schema", async () => {
  await fake.setRules([{ name: "any", respond: {} }]);
  const result = await triage(client, "The app crashes when I upload a photo.");
  assert.ok(["billing", "bug", "other"].includes(result.category));
  assert.ok(["low", "high"].includes(result.priority));
  assert.equal(typeof result.summary, "string");
});

test("a reply cut short by max tokens is a TriageError", async () => {
  await fake.setRules([{ respond: { content: "{\"category\": \"bu", finish_reason: "length" } }]);
  await assert.rejects(triage(client, "Something broke."), TriageError);
});

test("a rate limit reaches the caller as the SDK's RateLimitError", async () => {
  await fake.setRules([{ respond: { status: 429, error: "Rate limit reached", headers: { "retry-after": "1" } } }]);
  await assert.rejects(triage(client, "Hello"), (error) => {
    assert.ok(error instanceof OpenAI.RateLimitError);
    assert.equal(error.status, 429);
    return true;
  });
});
