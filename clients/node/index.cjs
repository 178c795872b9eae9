"use strict";
// Start and stop `fakellm serve` from JavaScript tests (node:test, Vitest, Jest).
//
//   const fake = await startFakeLLM({ rules: [{ respond: { content: "hi" } }] });
//   new OpenAI({ baseURL: fake.openaiBaseURL, apiKey: "x" });
//   ... (await fake.requests())[0].rule ...
//   await fake.stop();
//
// The server is a child process, `python -m fakellm serve --port 0`, bound to 127.0.0.1: it picks
// a free port itself and names it in its "fakellm ready on <url>" line, so two test files never
// race for one. It is stopped by its PID. CommonJS so that Jest can require it; index.js re-exports it.

const { spawn } = require("node:child_process");
const { mkdtempSync, rmSync, writeFileSync } = require("node:fs");
const http = require("node:http");
const { tmpdir } = require("node:os");
const { join, resolve } = require("node:path");

const READY = /fakellm ready on (http:\/\/\S+)/;
const OPTIONS = ["rules", "config", "configFile", "strict", "env", "python", "cwd", "timeoutMs"];
const OUTPUT_KEPT = 64 * 1024; // characters of the server's output kept once it is ready
const STOP_GRACE_MS = 5_000; // SIGTERM, then SIGKILL after this long
const JOURNAL_PAGE = 1_000; // the admin API's largest page

/** Something went wrong starting or talking to fakellm; `output` is what the server printed. */
class FakeLLMError extends Error {
  constructor(message, { output = "", exitCode = null, status = null, body = null } = {}) {
    super(output ? `${message}\n--- fakellm output ---\n${output.trimEnd()}` : message);
    this.name = "FakeLLMError";
    this.output = output;
    this.exitCode = exitCode;
    this.status = status;
    this.body = body;
  }
}

// Servers still running, killed if the test process exits without stopping them.
const running = new Set();
let exitHookInstalled = false;

function killLeftovers() {
  for (const server of running) {
    try {
      process.kill(server.pid, "SIGKILL");
    } catch {
      // already gone
    }
    rmSync(server.dir, { recursive: true, force: true });
  }
}

/**
 * Start a fakellm server and resolve once it is ready.
 * Options: `rules` (a list of rule objects) or `config` (a config object, or YAML text) or
 * `configFile` (a path); `strict` (answer requests no rule matched with a 404); `env` (extra
 * environment variables); `python` (the interpreter that has fakellm installed; default
 * $FAKELLM_PYTHON, else python3); `cwd`; `timeoutMs` (default 20 s).
 */
async function startFakeLLM(options = {}) {
  const unknown = Object.keys(options).filter((key) => !OPTIONS.includes(key));
  if (unknown.length) {
    throw new TypeError(`startFakeLLM: unknown option(s) ${unknown.join(", ")}; the options are ${OPTIONS.join(", ")}`);
  }
  const { rules, config, configFile, strict, env = {}, cwd = process.cwd(), timeoutMs = 20_000 } = options;
  const given = [rules, config, configFile].filter((value) => value !== undefined && value !== null);
  if (given.length > 1) throw new TypeError("startFakeLLM: pass one of rules, config or configFile");
  if (rules != null && !Array.isArray(rules)) throw new TypeError("startFakeLLM: rules must be an array of rule objects");
  if (strict != null && typeof strict !== "boolean") throw new TypeError("startFakeLLM: strict must be true or false");

  const python = options.python || process.env.FAKELLM_PYTHON || (process.platform === "win32" ? "python" : "python3");
  const childEnv = { ...process.env, ...env };
  const dir = mkdtempSync(join(tmpdir(), "fakellm-node-"));
  let configPath;
  let strictLater = false; // YAML text and files are not ours to rewrite: strict is set once serving
  if (configFile != null) {
    configPath = resolve(cwd, configFile);
    strictLater = strict != null;
  } else if (typeof config === "string") {
    configPath = join(dir, "fakellm.yaml");
    writeFileSync(configPath, config);
    strictLater = strict != null;
  } else {
    const data = config != null ? { ...config } : { rules: rules ?? [] };
    if (strict != null) data.defaults = { ...data.defaults, fallback: strict ? "error" : "deterministic_echo" };
    configPath = join(dir, "fakellm.json"); // JSON is YAML: fakellm reads it as any config file
    writeFileSync(configPath, JSON.stringify(data, null, 2));
  }

  const args = ["-m", "fakellm", "serve", "--host", "127.0.0.1", "--port", "0", "--config", configPath];
  const child = spawn(python, args, { cwd, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  const server = { pid: child.pid, dir };
  let output = "";
  const exited = new Promise((done) => child.once("exit", (code, signal) => done({ code, signal })));

  let url;
  try {
    url = await new Promise((ready, fail) => {
      const timer = setTimeout(() => fail(new FakeLLMError(`fakellm did not say it was ready within ${timeoutMs} ms`, { output })), timeoutMs);
      const onOutput = (chunk) => {
        output += chunk;
        if (output.length > OUTPUT_KEPT && url !== undefined) output = output.slice(-OUTPUT_KEPT);
        const match = url === undefined && READY.exec(output);
        if (match) {
          clearTimeout(timer);
          ready(match[1]);
        }
      };
      child.stdout.setEncoding("utf8").on("data", onOutput);
      child.stderr.setEncoding("utf8").on("data", onOutput);
      child.once("error", (error) => {
        clearTimeout(timer);
        fail(new FakeLLMError(`cannot run ${JSON.stringify(python)} (${error.code || error.message}): install fakellm ` +
          "for a Python interpreter and pass its path as {python: ...} or in FAKELLM_PYTHON"));
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        const hint = /No module named fakellm/.test(output)
          ? ` (${python} has no fakellm: pip install fakellm, or pass {python: ...} for the interpreter that has it)` : "";
        fail(new FakeLLMError(`fakellm serve exited before it was ready (code ${code}, signal ${signal})${hint}`,
          { output, exitCode: code }));
      });
    });
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, "SIGKILL");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  running.add(server);
  if (!exitHookInstalled) {
    process.once("exit", killLeftovers);
    exitHookInstalled = true;
  }
  // A test file that forgets stop() still exits (and the exit hook ends the server).
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();

  const adminToken = childEnv.FAKELLM_ADMIN_TOKEN || null;
  const admin = (method, path, body) => adminCall(url, method, path, body, adminToken);
  let stopping = null;

  const handle = {
    url,
    openaiBaseURL: `${url}/v1`,
    anthropicBaseURL: url,
    geminiBaseURL: url,
    ollamaHost: url,
    pid: child.pid,
    /** What the server printed (the newest 64 KiB). */
    output: () => output,
    /** Environment variables that point SDK clients built without arguments at this server. */
    env: () => ({
      OPENAI_BASE_URL: `${url}/v1`,
      OPENAI_API_KEY: "sk-fakellm",
      ANTHROPIC_BASE_URL: url,
      ANTHROPIC_API_KEY: "sk-ant-fakellm",
      GOOGLE_VERTEX_BASE_URL: url,
      ANTHROPIC_VERTEX_BASE_URL: `${url}/v1`,
      GOOGLE_GEMINI_BASE_URL: url,
      GEMINI_API_KEY: "fakellm",
      OLLAMA_HOST: url,
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: url,
      ANTHROPIC_BEDROCK_BASE_URL: url,
      AWS_ACCESS_KEY_ID: "AKIDFAKELLM",
      AWS_SECRET_ACCESS_KEY: "fakellm",
      AWS_REGION: "us-east-1",
    }),
    /** The request journal, oldest first; `filter` narrows it by rule ("none": misses), conversation or api. */
    async requests(filter = {}) {
      const entries = [];
      let after = 0;
      for (;;) {
        const query = new URLSearchParams({ ...filter, after: String(after), limit: String(JOURNAL_PAGE) });
        const page = await admin("GET", `/_fakellm/requests?${query}`);
        entries.push(...page.requests);
        if (!page.has_more) return entries;
        after = page.next_after;
      }
    },
    /** Forget conversations (turns, sequences, `times`) and empty the journal, as between two tests. */
    async reset() {
      await admin("POST", "/_fakellm/reset");
      await admin("DELETE", "/_fakellm/requests");
    },
    /** Replace the rules; the rest of the config (defaults, models, ...) stays. */
    async setRules(newRules) {
      if (!Array.isArray(newRules)) throw new TypeError("setRules: rules must be an array of rule objects");
      const current = await admin("GET", "/_fakellm/config");
      await admin("PUT", "/_fakellm/config", { ...current.config, rules: newRules });
    },
    /** Stop the server (SIGTERM, SIGKILL after 5 s), wait for it to exit, remove its temp files. */
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.ref(); // keep this process alive until the server has gone
          process.kill(child.pid, "SIGTERM");
          const killer = setTimeout(() => child.exitCode === null && process.kill(child.pid, "SIGKILL"), STOP_GRACE_MS);
          await exited;
          clearTimeout(killer);
        }
        running.delete(server);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  if (Symbol.asyncDispose) handle[Symbol.asyncDispose] = handle.stop; // `await using` (Node 22+, TypeScript 5.2+)

  if (strictLater) {
    try {
      const current = await admin("GET", "/_fakellm/config");
      const defaults = { ...current.config.defaults, fallback: strict ? "error" : "deterministic_echo" };
      await admin("PUT", "/_fakellm/config", { ...current.config, defaults });
    } catch (error) {
      await handle.stop();
      throw error;
    }
  }
  return handle;
}

/** One admin API call; resolves with the parsed JSON answer, rejects with FakeLLMError on a non-2xx. */
function adminCall(base, method, path, body, token) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { accept: "application/json" };
  if (payload !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((done, fail) => {
    // agent: false, a connection per call: a kept-alive socket the server has since closed would fail the call.
    const request = http.request(new URL(path, base), { method, headers, agent: false }, (response) => {
      let text = "";
      response.setEncoding("utf8").on("data", (chunk) => (text += chunk)).on("end", () => {
        let parsed = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text for the error
        }
        if (response.statusCode >= 200 && response.statusCode < 300) return done(parsed);
        fail(new FakeLLMError(`fakellm: ${method} ${path} answered ${response.statusCode}: ${describe(parsed)}`,
          { status: response.statusCode, body: parsed }));
      });
    });
    request.on("error", (error) => fail(new FakeLLMError(`fakellm: ${method} ${path} failed: ${error.message}`)));
    request.end(payload);
  });
}

/** An admin error body as one readable string: its message and each config problem. */
function describe(body) {
  if (!body || typeof body !== "object") return String(body);
  const error = body.error ?? body;
  const message = typeof error === "string" ? error : error.message ?? JSON.stringify(body);
  const problems = body.problems ?? error.problems ?? [];
  // A problem's line and column point into the JSON sent, not at anything the caller wrote; its message names the key.
  return [message, ...problems.map((p) => `  ${p.message ?? JSON.stringify(p)}`)].join("\n");
}

module.exports = { FakeLLMError, startFakeLLM };
