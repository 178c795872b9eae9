// Start and stop `fakellm serve` for the TypeScript SDK tests.
//
//   import { startFakellm } from "./fakellm.js";
//   const server = await startFakellm(`rules: [...]`);   // YAML text (or null: no rules)
//   new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x" });
//   await server.stop();
//
// The server is a subprocess (`python3 -m fakellm serve --port N --config <temp file>`)
// on 127.0.0.1 and a free port; it is ready when it prints "fakellm ready on <url>",
// and it is stopped by its PID. FAKELLM_PYTHON overrides the Python interpreter.

import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const READY = /fakellm ready on (http:\/\/\S+)/;

/** A TCP port nobody is listening on right now, on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * Run `fakellm serve` with `config` (YAML text) until `stop()`.
 * Resolves once the server says it is ready; rejects with its output if it exits or
 * stays silent for `timeoutMs`.
 */
export async function startFakellm(config = null, { timeoutMs = 20_000 } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "fakellm-ts-"));
  const configPath = join(dir, "fakellm.yaml");
  await writeFile(configPath, config ?? "rules: []\n");
  const port = await freePort();
  const python = process.env.FAKELLM_PYTHON || "python3";
  const child = spawn(python, ["-m", "fakellm", "serve", "--port", String(port), "--config", configPath], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise((resolveExit) => child.once("exit", (code, signal) => resolveExit({ code, signal })));

  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => fail(new Error(`fakellm serve did not start in ${timeoutMs} ms`)), timeoutMs);
    function fail(error) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${error.message}\n--- fakellm output ---\n${output}`));
    }
    function onData(chunk) {
      output += chunk;
      const match = READY.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    }
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", (chunk) => (output += chunk));
    child.once("error", fail);
    exited.then(({ code, signal }) => fail(new Error(`fakellm serve exited (code ${code}, signal ${signal})`)));
  });

  return {
    url,
    port,
    pid: child.pid,
    output: () => output,
    /** Stop the server (SIGTERM, then SIGKILL after 5 s) and remove its temp config. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, "SIGTERM");
        const killer = setTimeout(() => child.exitCode === null && process.kill(child.pid, "SIGKILL"), 5_000);
        await exited;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
