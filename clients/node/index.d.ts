// Types of @fakellm/node: start and stop a fakellm server from JavaScript tests.

/** One rule, as in fakellm.yaml (`name`, `when`, `respond`, ...). */
export type Rule = Record<string, unknown>;

/** A whole config, as in fakellm.yaml (`rules`, `defaults`, `models`, ...). */
export interface Config {
  rules?: Rule[];
  defaults?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface StartOptions {
  /** The rules to serve (the config's other sections keep their defaults). */
  rules?: Rule[];
  /** A whole config: an object, or YAML text. */
  config?: Config | string;
  /** A config file to serve, relative to `cwd`. */
  configFile?: string;
  /** true: a request no rule matched gets a 404 (`defaults.fallback: error`); false: the echo. */
  strict?: boolean;
  /** Extra environment variables for the server (FAKELLM_ADMIN_TOKEN here is also used by requests(), reset(), ...). */
  env?: Record<string, string>;
  /** The Python interpreter that has fakellm installed (default: $FAKELLM_PYTHON, else python3). */
  python?: string;
  /** The server's working directory (default: process.cwd()). */
  cwd?: string;
  /** How long to wait for "fakellm ready on" (default 20000). */
  timeoutMs?: number;
}

/** A tool call fakellm answered with. `arguments` is the JSON text sent on the wire. */
export interface JournalToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** One entry of the request journal (GET /_fakellm/requests). */
export interface JournalEntry {
  id: number;
  time: number;
  api: string;
  path: string;
  model: string;
  stream: boolean;
  conversation_id: string;
  turn: number;
  /** The rule that answered; null when none matched. */
  rule: string | null;
  /** The request body as sent. */
  request: Record<string, unknown>;
  /** The request headers, secrets redacted. */
  headers: Record<string, string>;
  reply: {
    status: number;
    content: string | null;
    tool_calls: JournalToolCall[];
    error: { message: string; type: string | null; code: string | null } | null;
  };
  /** Why no rule matched (only for a request no rule matched). */
  explanation?: { closest_rule: string | null; summary: string; note: string; conditions: unknown[] };
  notes?: string[];
}

export interface JournalFilter {
  /** A rule name, or "none" for requests no rule matched. */
  rule?: string;
  conversation?: string;
  /** An API name such as "openai.chat" or a family such as "anthropic". */
  api?: string;
}

// It also has [Symbol.asyncDispose] (stop) where the runtime defines that symbol, for `await using`.
export interface FakeLLM {
  /** `http://127.0.0.1:PORT`, the server's root. */
  readonly url: string;
  /** For `new OpenAI({ baseURL })`: the root plus `/v1`. */
  readonly openaiBaseURL: string;
  /** For `new Anthropic({ baseURL })`: the root. */
  readonly anthropicBaseURL: string;
  /** For `new GoogleGenAI({ httpOptions: { baseUrl } })`: the root. */
  readonly geminiBaseURL: string;
  /** For `new Ollama({ host })`: the root. */
  readonly ollamaHost: string;
  /** The server process's id. */
  readonly pid: number;
  /** What the server printed (the newest 64 KiB). */
  output(): string;
  /** Environment variables that point SDK clients built without arguments at this server. */
  env(): Record<string, string>;
  /** The request journal, oldest first. */
  requests(filter?: JournalFilter): Promise<JournalEntry[]>;
  /** Forget conversations (turns, sequences, `times`) and empty the journal. */
  reset(): Promise<void>;
  /** Replace the rules; the rest of the config stays. Rejects with the config's problems when invalid. */
  setRules(rules: Rule[]): Promise<void>;
  /** Stop the server and wait for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

/** Start `fakellm serve` on 127.0.0.1 and a free port; resolves once it is ready. */
export function startFakeLLM(options?: StartOptions): Promise<FakeLLM>;

/** Starting or talking to fakellm failed. `output` is what the server printed. */
export class FakeLLMError extends Error {
  readonly output: string;
  readonly exitCode: number | null;
  /** The admin API's HTTP status, for a failed call. */
  readonly status: number | null;
  /** The admin API's answer, for a failed call. */
  readonly body: unknown;
}
