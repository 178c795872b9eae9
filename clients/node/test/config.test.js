// What a server serves: rules, a config object, YAML text or a file, strict or not; and bad
// options and bad configs, which fail with the problem before a test runs.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { FakeLLMError, startFakeLLM } from "@fakellm/node";
import { chat } from "./chat.js";

const YAML = `
rules:
  - name: greeting
    when: {messages_contain: hello}
    respond: {content: "Hi there."}
`;

let dir;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "fakellm-node-test-"));
  await writeFile(join(dir, "fakellm.yaml"), YAML);
});
after(() => rm(dir, { recursive: true, force: true }));

async function serving(options, check) {
  const server = await startFakeLLM(options);
  try {
    await check(server);
  } finally {
    await server.stop();
  }
}

for (const [label, options] of [
  ["rules", { rules: [{ name: "greeting", when: { messages_contain: "hello" }, respond: { content: "Hi there." } }] }],
  ["a config object", { config: { rules: [{ name: "greeting", when: { messages_contain: "hello" }, respond: { content: "Hi there." } }] } }],
  ["YAML text", { config: YAML }],
  ["a config file relative to cwd", { configFile: "fakellm.yaml", cwd: "<dir>" }],
]) {
  test(`${label}: the rule answers, an unmatched request gets the echo, and strict makes it a 404`, async () => {
    const resolved = { ...options, ...(options.cwd ? { cwd: dir } : {}) };
    await serving(resolved, async (server) => {
      assert.equal((await chat(server, "hello")).content, "Hi there.");
      const echo = await chat(server, "something else");
      assert.equal(echo.status, 200);
      assert.match(echo.content, /^\[mock response for gpt-4o-mini/);
    });
    await serving({ ...resolved, strict: true }, async (server) => {
      assert.equal((await chat(server, "hello")).content, "Hi there.");
      const miss = await chat(server, "something else");
      assert.equal(miss.status, 404);
      assert.equal(miss.body.error.code, "fakellm_no_match");
      assert.match(miss.body.error.message, /closest rule "greeting"/);
    });
  });
}

test("strict: false turns a config's error fallback back into the echo", async () => {
  await serving({ config: { defaults: { fallback: "error" }, rules: [] }, strict: false }, async (server) => {
    assert.equal((await chat(server, "anything")).status, 200);
  });
});

test("no rules at all: every request gets the deterministic echo", async () => {
  await serving({}, async (server) => {
    const { status, content } = await chat(server, "ping");
    assert.equal(status, 200);
    assert.match(content, /^\[mock response for gpt-4o-mini/);
  });
});

test("a bad config fails to start with each problem, its line and the exit code", async () => {
  await assert.rejects(startFakeLLM({ config: "rules:\n  - whenn: {}\n    respond: {content: x}\n" }), (error) => {
    assert.ok(error instanceof FakeLLMError);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /exited before it was ready/);
    assert.match(error.output, /whenn/);
    assert.match(error.output, /:2:/);
    return true;
  });
  await assert.rejects(startFakeLLM({ rules: [{ respond: { content: "x", bogus: 1 } }] }), /bogus/);
  await assert.rejects(startFakeLLM({ configFile: "missing.yaml", cwd: dir }), /config file .*missing\.yaml not found/);
});

test("bad options are a TypeError that names the options", async () => {
  await assert.rejects(startFakeLLM({ rule: [] }), (error) => {
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /unknown option\(s\) rule; the options are rules, config/);
    return true;
  });
  await assert.rejects(startFakeLLM({ rules: [], config: {} }), /pass one of rules, config or configFile/);
  await assert.rejects(startFakeLLM({ rules: { name: "x" } }), /rules must be an array/);
  await assert.rejects(startFakeLLM({ strict: "yes" }), /strict must be true or false/);
});

test("a Python that cannot be run, or has no fakellm, is named in the error", async () => {
  await assert.rejects(startFakeLLM({ python: join(dir, "no-such-python") }), (error) => {
    assert.ok(error instanceof FakeLLMError);
    assert.match(error.message, /cannot run ".*no-such-python" \(ENOENT\): install fakellm/);
    return true;
  });
  // A stand-in interpreter that fails the way a Python without fakellm does.
  const fake = join(dir, "python-without-fakellm");
  await writeFile(fake, "#!/bin/sh\necho '/usr/bin/python3: No module named fakellm' >&2\nexit 1\n", { mode: 0o755 });
  await assert.rejects(startFakeLLM({ python: fake }), (error) => {
    assert.equal(error.exitCode, 1);
    assert.match(error.message, /has no fakellm: pip install fakellm/);
    return true;
  });
});

test("a server that never says it is ready is killed after timeoutMs", async () => {
  const silent = join(dir, "silent-python");
  await writeFile(silent, "#!/bin/sh\necho starting\nexec sleep 30\n", { mode: 0o755 });
  const started = Date.now();
  await assert.rejects(startFakeLLM({ python: silent, timeoutMs: 500 }), (error) => {
    assert.match(error.message, /did not say it was ready within 500 ms/);
    assert.match(error.output, /starting/);
    return true;
  });
  assert.ok(Date.now() - started < 5_000);
});
