// requests(), reset() and setRules(): the admin API as a test uses it, with and without an admin token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FakeLLMError, startFakeLLM } from "@fakellm/node";
import { chat } from "./chat.js";

const RULES = [
  { name: "steps", when: { messages_contain: "step" }, respond: [{ content: "first" }, { content: "second" }] },
  { name: "greeting", when: { messages_contain: "hello" }, respond: { content: "Hi there." } },
];

let server;
before(async () => {
  server = await startFakeLLM({ rules: RULES });
});
after(() => server?.stop());

test("requests() lists what came in, oldest first, and filters by rule", async () => {
  await server.reset();
  await chat(server, "hello");
  await chat(server, "nothing matches this");
  const entries = await server.requests();
  assert.deepEqual(entries.map((e) => e.rule), ["greeting", null]);
  assert.equal(entries[0].api, "openai.chat");
  assert.equal(entries[0].reply.content, "Hi there.");
  assert.equal(entries[0].request.messages[0].content, "hello");
  assert.match(entries[1].explanation.summary, /closest rule/);
  assert.deepEqual((await server.requests({ rule: "none" })).map((e) => e.request.messages[0].content),
    ["nothing matches this"]);
});

test("requests() reads past one page of the journal", async () => {
  const busy = await startFakeLLM({ config: { defaults: { journal_size: 1_200 }, rules: RULES } });
  try {
    for (let i = 0; i < 1_005; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, 1_005 - i) }, (_, j) => chat(busy, `hello ${i + j}`)));
    }
    const entries = await busy.requests();
    assert.equal(entries.length, 1_005);
    assert.deepEqual(entries.map((e) => e.id), Array.from({ length: 1_005 }, (_, i) => i + 1));
  } finally {
    await busy.stop();
  }
});

test("reset() restarts sequences and empties the journal", async () => {
  await server.reset();
  assert.equal((await chat(server, "step")).content, "first");
  assert.equal((await chat(server, "step")).content, "second");
  await server.reset();
  assert.deepEqual(await server.requests(), []);
  assert.equal((await chat(server, "step")).content, "first");
});

test("setRules() replaces the rules; invalid rules are refused with the problem and change nothing", async () => {
  await server.setRules([{ name: "other", respond: { content: "Other rules now." } }]);
  assert.equal((await chat(server, "hello")).content, "Other rules now.");
  await assert.rejects(server.setRules([{ name: "bad", when: { turnn: 1 }, respond: { content: "x" } }]), (error) => {
    assert.ok(error instanceof FakeLLMError);
    assert.equal(error.status, 400);
    assert.match(error.message, /PUT \/_fakellm\/config answered 400: invalid config; still serving the previous one/);
    assert.match(error.message, /rules\[0\] \(bad\)\.when: unknown key 'turnn' in when \(did you mean 'turn'\?\)/);
    return true;
  });
  await assert.rejects(server.setRules("rules: []"), TypeError);
  assert.equal((await chat(server, "hello")).content, "Other rules now.");
  await server.setRules(RULES);
});

test("setRules() keeps strict mode and the rest of the config", async () => {
  const strict = await startFakeLLM({ config: { defaults: { journal_size: 5 }, rules: [] }, strict: true });
  try {
    await strict.setRules([{ name: "only", when: { messages_contain: "yes" }, respond: { content: "ok" } }]);
    assert.equal((await chat(strict, "yes")).content, "ok");
    assert.equal((await chat(strict, "no")).status, 404);
    for (let i = 0; i < 8; i++) await chat(strict, "yes");
    assert.equal((await strict.requests()).length, 5);
  } finally {
    await strict.stop();
  }
});

test("with FAKELLM_ADMIN_TOKEN in env, the admin calls send it and others are refused", async () => {
  const token = "test-admin-token-0123456789abcdef";
  const guarded = await startFakeLLM({ rules: RULES, env: { FAKELLM_ADMIN_TOKEN: token } });
  try {
    await chat(guarded, "hello");
    assert.equal((await guarded.requests()).length, 1);
    const anonymous = await fetch(`${guarded.url}/_fakellm/requests`);
    assert.equal(anonymous.status, 401);
    await guarded.reset();
    assert.equal((await guarded.requests()).length, 0);
  } finally {
    await guarded.stop();
  }
});

test("an admin call to a stopped server rejects with what failed", async () => {
  const gone = await startFakeLLM();
  await gone.stop();
  await assert.rejects(gone.requests(), (error) => {
    assert.ok(error instanceof FakeLLMError);
    assert.match(error.message, /GET \/_fakellm\/requests\?.* failed: .*ECONNREFUSED/);
    return true;
  });
});
