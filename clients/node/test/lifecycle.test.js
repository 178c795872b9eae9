// Starting, serving and stopping: the handle's URLs, the process it owns, and what happens when a
// test forgets to stop it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import { promisify } from "node:util";
import { startFakeLLM } from "@fakellm/node";
import { alive, chat } from "./chat.js";

const run = promisify(execFile);

test("serves the rules on 127.0.0.1 and a free port, and stop() ends the process", async () => {
  const server = await startFakeLLM({ rules: [{ name: "hello", respond: { content: "Hello from fakellm." } }] });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(server.url, "http://127.0.0.1:0");
    const { status, content } = await chat(server, "hi");
    assert.equal(status, 200);
    assert.equal(content, "Hello from fakellm.");
    assert.ok(alive(server.pid));
  } finally {
    await server.stop();
  }
  assert.ok(!alive(server.pid), "the server process is gone");
  await server.stop(); // a second stop is harmless
  await assert.rejects(fetch(server.url), "nothing listens any more");
});

test("two servers at once get two ports", async () => {
  const [a, b] = await Promise.all([
    startFakeLLM({ rules: [{ respond: { content: "A" } }] }),
    startFakeLLM({ rules: [{ respond: { content: "B" } }] }),
  ]);
  try {
    assert.notEqual(a.url, b.url);
    assert.equal((await chat(a, "x")).content, "A");
    assert.equal((await chat(b, "x")).content, "B");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test("the base URLs are the ones the server announces for each SDK", async () => {
  const server = await startFakeLLM();
  try {
    const announced = Object.fromEntries(
      [...server.output().matchAll(/^ {2}(.+?):\s+(http\S+)$/gm)].map(([, label, url]) => [label, url]));
    assert.equal(announced["OpenAI base URL"], server.openaiBaseURL);
    assert.equal(announced["Anthropic base URL"], server.anthropicBaseURL);
    assert.equal(announced["Gemini base URL"], server.geminiBaseURL);
    assert.equal(announced["Ollama host"], server.ollamaHost);
  } finally {
    await server.stop();
  }
});

test("env() agrees with the variables fakellm's Python API sets for the SDKs", async () => {
  const server = await startFakeLLM();
  try {
    const python = process.env.FAKELLM_PYTHON || "python3";
    const { stdout } = await run(python, ["-c",
      "import json, sys; from fakellm.providers import registry; print(json.dumps(registry.sdk_environ(sys.argv[1])))",
      server.url]);
    const expected = JSON.parse(stdout);
    assert.ok(Object.keys(expected).length >= 6);
    const env = server.env();
    for (const [name, value] of Object.entries(expected)) assert.equal(env[name], value, name);
  } finally {
    await server.stop();
  }
});

test("Symbol.asyncDispose stops it (for `await using` where the runtime has it)", async () => {
  const server = await startFakeLLM();
  assert.equal((await chat(server, "ping")).status, 200);
  await server[Symbol.asyncDispose]();
  assert.ok(!alive(server.pid));
});

test("CommonJS (Jest) and ESM get the same implementation", () => {
  const require = createRequire(import.meta.url);
  const cjs = require("@fakellm/node");
  assert.equal(cjs.startFakeLLM, startFakeLLM);
  assert.equal(typeof cjs.FakeLLMError, "function");
});

test("a test file that never calls stop() still exits, and takes its server with it", async () => {
  const script = `
    import { startFakeLLM } from "@fakellm/node";
    const server = await startFakeLLM();
    console.log(server.pid);
  `;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script],
    { cwd: new URL("..", import.meta.url), timeout: 30_000 });
  const pid = Number(stdout.trim());
  assert.ok(pid > 0);
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(!alive(pid), "the forgotten server was ended when its test process exited");
});

test("its temp config is removed when it stops", async () => {
  const server = await startFakeLLM({ rules: [] });
  const [, configPath] = server.output().match(/from (\S+fakellm\.json)/);
  assert.ok(existsSync(configPath));
  await server.stop();
  assert.ok(!existsSync(configPath));
});
