"""fakellm inside a test process: `FakeLLM` runs the real server in a background thread.

    from fakellm import FakeLLM

    with FakeLLM(rules=[{"name": "hi", "respond": {"content": "hello"}}]) as llm:
        client = OpenAI(base_url=llm.openai_base_url, api_key="x")
        ...
        assert llm.requests[-1].rule == "hi"

The server is the same ASGI app `fakellm serve` runs, under uvicorn, bound to
127.0.0.1 and a free port. State is touched only on the server's event loop
(the test thread hands its calls over), so a journal read never races a request.
`llm.app` is that ASGI app, for fully in-process use without a socket.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Coroutine, Iterable, Mapping, TypeVar

import uvicorn

from ..app import build_app
from ..config.schema import Config, ConfigError, Problem, config_from_data, load_config
from ..providers import registry
from ..serving import WEBSOCKETS, http_protocol
from ..store.base import JournalEntry, redact

__all__ = ["FakeLLM", "RecordedRequest", "RecordedToolCall", "RecordedError", "Explanation", "ConditionCheck",
           "ConfigError"]

T = TypeVar("T")


# --------------------------------------------------------------------------- journal entries, typed


@dataclass(frozen=True, slots=True)
class RecordedToolCall:
    """A tool call fakellm answered with (the model asking the app to run a tool)."""

    name: str
    arguments: Any  # the arguments, parsed from JSON (usually a dict)
    id: str
    arguments_json: str  # exactly as sent on the wire

    def __str__(self) -> str:
        return f"{self.name}({self.arguments_json})"


@dataclass(frozen=True, slots=True)
class RecordedError:
    message: str
    type: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    """One condition of the closest rule: did it hold, and what did the request have instead."""

    condition: str
    held: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why no rule fired. `str(explanation)` is the one-line summary."""

    closest_rule: str | None
    conditions: tuple[ConditionCheck, ...]
    note: str
    summary: str

    def __str__(self) -> str:
        return self.summary

    def __contains__(self, text: str) -> bool:
        return text in self.summary


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One LLM request from the journal, as fakellm saw and answered it."""

    id: int
    time: float
    api: str
    path: str
    model: str
    stream: bool
    conversation_id: str
    turn: int
    rule: str | None  # the rule that answered, None when no rule matched
    request: dict[str, Any]  # the request body as sent
    headers: dict[str, str]  # secrets redacted
    status: int
    content: str | None
    tool_calls: tuple[RecordedToolCall, ...]
    error: RecordedError | None
    explanation: Explanation | None  # only for a request no rule matched
    # What fakellm changed in a rule's answer to keep a promise of the API (a forced tool call, ...).
    notes: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return self.rule is not None

    @classmethod
    def from_entry(cls, entry: JournalEntry, redacted: frozenset[str] = frozenset()) -> RecordedRequest:
        return cls(
            id=entry.id,
            time=entry.time,
            api=entry.api,
            path=entry.path,
            model=entry.model,
            stream=entry.stream,
            conversation_id=entry.conversation_id,
            turn=entry.turn,
            rule=entry.rule,
            request=entry.request,
            headers=redact(entry.headers, redacted),
            status=entry.status,
            content=entry.content,
            tool_calls=tuple(_tool_call(call_id, name, arguments) for call_id, name, arguments in entry.tool_calls),
            error=RecordedError(*entry.error) if entry.error else None,
            explanation=_explanation(entry.explanation) if entry.explanation else None,
            notes=entry.notes,
        )

    def describe(self) -> str:
        """One line for failure messages: what came in and what it got."""
        head = f"#{self.id} {self.api} {self.model or '?'} turn {self.turn}"
        last = _last_text(self.request)
        if last:
            head += f", last message {_clip(last)}"
        if self.rule is None:
            outcome = f"no rule matched ({self.status}): {self.explanation}"
        else:
            outcome = f"rule {json.dumps(self.rule)} ({self.status})"
            if self.error is not None:
                outcome += f": error {_clip(self.error.message)}"
            elif self.tool_calls:
                outcome += ": tool calls " + ", ".join(str(c) for c in self.tool_calls)
            elif self.content is not None:
                outcome += f": {_clip(self.content)}"
        return f"{head} -> {outcome}"


def _tool_call(call_id: str, name: str, text: str) -> RecordedToolCall:
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        parsed = text
    return RecordedToolCall(name=name, arguments=parsed, id=call_id or "", arguments_json=text)


def _run_here(step: Coroutine[Any, Any, T]) -> T:
    """Run a store step in this thread: the memory store's steps finish without waiting, so they
    run even inside a running loop; a store that waits on I/O needs the running server."""
    try:
        step.send(None)
    except StopIteration as done:
        return done.value
    step.close()
    raise RuntimeError("this store step waits on I/O: start the server (FakeLLM.start) to use it")


def _explanation(raw: Mapping[str, Any]) -> Explanation:
    return Explanation(
        closest_rule=raw.get("closest_rule"),
        conditions=tuple(ConditionCheck(c["condition"], c["held"], c["detail"]) for c in raw.get("conditions", ())),
        note=raw.get("note", ""),
        summary=raw.get("summary", ""),
    )


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return json.dumps(text if len(text) <= limit else text[: limit - 1] + "…", ensure_ascii=False)


def _last_text(body: Mapping[str, Any]) -> str:
    """Best effort: the newest message's text, whatever the provider's shape."""
    for key in ("messages", "contents", "input"):
        items = body.get(key)
        if isinstance(items, str):
            return items
        if isinstance(items, list) and items:
            return _text_of(items[-1])
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) else ""


def _text_of(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, list):
        return " ".join(t for t in (_text_of(x) for x in item) if t)
    if isinstance(item, dict):
        for key in ("content", "parts", "text", "output"):
            if key in item:
                return _text_of(item[key])
    return ""


# --------------------------------------------------------------------------- config from what the user gave


def build_config(config: Any = None, *, rules: Iterable[Mapping[str, Any]] | None = None,
                 strict: bool | None = None, base: Config | None = None, source: str = "FakeLLM") -> Config:
    """A validated Config from a path, a dict, a Config or a list of rules.

    `rules` alone keeps the defaults of `base` (the active config). `strict`
    sets `defaults.fallback` to `error` (True) or back to the echo (False).
    Raises ConfigError with every problem.
    """
    if config is not None and rules is not None:
        raise TypeError("pass either a config or rules, not both")
    if isinstance(config, Config):
        cfg = config
    elif isinstance(config, (str, Path)):
        cfg = load_config(config)
    elif config is not None:
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a path, a mapping or a Config, not {type(config).__name__}")
        cfg = config_from_data(dict(config), source)
    else:
        # Everything but the rules (defaults, ...) carries over from the active config.
        data: dict[str, Any] = base.spec.model_dump(exclude={"rules"}, exclude_defaults=True) if base else {}
        if rules is not None:
            if isinstance(rules, (str, bytes, Mapping)):
                raise ConfigError([Problem(source, None, None, "rules must be a list of rule mappings")])
            data["rules"] = list(rules)
        cfg = config_from_data(data, source)
    if strict is not None:
        fallback = "error" if strict else "deterministic_echo"
        if cfg.defaults.fallback != fallback:
            spec = cfg.spec.model_copy(update={"defaults": cfg.defaults.model_copy(update={"fallback": fallback})})
            cfg = Config(spec=spec, source=cfg.source, text=None)
    return cfg


# --------------------------------------------------------------------------- the server handle


class _ThreadServer(uvicorn.Server):
    """uvicorn that reports its event loop and readiness to the thread that started it."""

    def __init__(self, config: uvicorn.Config):
        super().__init__(config)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets)
        self.ready.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.config.app.deliveries.stop()  # timed replies still being sent finish at once, not cancelled
        await super().shutdown(sockets)


class FakeLLM:
    """A fakellm server for one test, test module or session.

    `FakeLLM(rules=[...])`, `FakeLLM("fakellm.yaml")` or `FakeLLM(config={...})`;
    `strict=True` answers unmatched requests with a 404 (`defaults.fallback: error`).
    Use it as a context manager (`with` or `async with`), or call `start()` / `stop()`.
    Without starting it, `app` still serves requests in-process (no socket).
    `admin_token` makes the admin API over HTTP (`/_fakellm/*`, `/metrics`) require
    `Authorization: Bearer <admin_token>` (`admin_headers` gives that header); this object's
    own methods reach the server in-process and need no token.
    `state="redis://host:port/0"` keeps the state in Redis, shared with every fakellm process on it
    (they serve one config: this one, from when it starts); the default is this process's memory.
    """

    def __init__(self, config: Any = None, *, rules: Iterable[Mapping[str, Any]] | None = None,
                 strict: bool | None = None, host: str = "127.0.0.1", port: int = 0,
                 admin_token: str | None = None, state: str | None = None):
        cfg = build_config(config, rules=rules, strict=strict)
        path = Path(config) if isinstance(config, (str, Path)) else None
        self.app = build_app(cfg, path, admin_token=admin_token, state=state)
        self._admin_token = admin_token
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: _ThreadServer | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    # -- lifecycle

    def start(self, timeout: float = 10.0) -> FakeLLM:
        """Serve on `host` and a free port (or `port`) in a background thread; return when ready."""
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        if self._requested_port:  # a fixed port can be reused right after a previous server closed it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as e:
            sock.close()
            raise RuntimeError(f"fakellm cannot listen on {self.host}:{self._requested_port}: {e}") from None
        server = _ThreadServer(uvicorn.Config(
            self.app, lifespan="on", access_log=False, log_level="warning", log_config=None,
            timeout_graceful_shutdown=1, ws=WEBSOCKETS, http=http_protocol(),
        ))
        self._failure = None

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as e:  # SystemExit included: uvicorn exits on start-up errors
                self._failure = e
            finally:
                sock.close()

        thread = threading.Thread(target=run, name="fakellm-server", daemon=True)
        thread.start()
        deadline = timeout
        while not server.ready.wait(0.01):
            deadline -= 0.01
            if not thread.is_alive() or deadline <= 0:
                server.should_exit = True
                thread.join(2)
                raise RuntimeError(f"fakellm did not start: {self._failure!r}")
        self._server, self._thread = server, thread
        self._port = sock.getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to finish. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(10)
        self._server = self._thread = None
        self._port = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeLLM:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        where = self.url if self.running else "not running"
        return f"<FakeLLM {where}, {len(self.app.config.rules)} rule(s)>"

    # -- where to point the SDKs

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, the server's root."""
        if self._port is None:
            raise RuntimeError("FakeLLM is not running: use `with FakeLLM(...) as llm:` or call start(); "
                               "`llm.app` serves in-process without starting")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def openai_base_url(self) -> str:
        """For `OpenAI(base_url=...)`: the root plus `/v1`."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """For `Anthropic(base_url=...)`: the root (the SDK adds `/v1/messages`)."""
        return self.url

    @property
    def gemini_base_url(self) -> str:
        """For google-genai's `HttpOptions(base_url=...)`: the root (the SDK adds `/v1beta/...`)."""
        return self.url

    @property
    def ollama_host(self) -> str:
        """For `ollama.Client(host=...)`: the root (the client adds `/api/...`)."""
        return self.url

    @property
    def admin_headers(self) -> dict[str, str]:
        """The headers an HTTP call to the admin API needs: the bearer token, or none without one."""
        return {"Authorization": f"Bearer {self._admin_token}"} if self._admin_token is not None else {}

    def environ(self) -> dict[str, str]:
        """Environment variables that point SDK clients built without arguments at this server."""
        return registry.sdk_environ(self.url)

    # -- state, always touched on the server's loop

    def _on_server(self, step: Callable[[], Awaitable[T]]) -> T:
        """Run an async step on the server's loop (its state is touched only there) and wait for it;
        without a running server, here."""
        server, thread = self._server, self._thread
        loop = server.loop if server is not None else None
        if loop is not None and thread is not None and thread.is_alive() and threading.current_thread() is not thread:
            try:
                return asyncio.run_coroutine_threadsafe(step(), loop).result(timeout=30)
            except RuntimeError:  # the loop has just closed
                pass
        return _run_here(step())

    @property
    def config(self) -> Config:
        """The active config."""
        return self.app.config

    def set_rules(self, rules: Iterable[Mapping[str, Any]]) -> None:
        """Replace the rules (a list of rule mappings, as in YAML); the defaults stay."""
        self._use(build_config(rules=rules, base=self.app.config, source="set_rules"), None)

    def set_config(self, config: Any, *, strict: bool | None = None) -> None:
        """Replace the whole config: a path to a YAML file, a mapping, or a Config."""
        cfg = build_config(config, strict=strict)
        self._use(cfg, Path(config) if isinstance(config, (str, Path)) else None)

    def _use(self, cfg: Config, path: Path | None) -> None:
        async def swap() -> None:
            await self.app.use_config(cfg)
            self.app.config_path = path

        self._on_server(swap)

    def reset(self) -> None:
        """Forget conversations (turns, sequence and `times` counters, tool results) and empty the journal."""
        async def clear() -> None:
            await self.app.store.reset()
            await self.app.store.clear_journal()

        self._on_server(clear)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The journal, oldest first, as typed entries."""
        entries = self._on_server(self.app.store.journal)
        redacted = self.app.store.redacted_headers
        return [RecordedRequest.from_entry(e, redacted) for e in entries]

    @property
    def unmatched(self) -> list[RecordedRequest]:
        """Requests no rule matched."""
        return [r for r in self.requests if r.rule is None]

    def journal_text(self, requests: list[RecordedRequest] | None = None) -> str:
        """The journal as readable lines (what a failing test's report shows)."""
        requests = self.requests if requests is None else requests
        if not requests:
            return "no LLM requests were made"
        return "\n".join(r.describe() for r in requests)

    # -- assertions

    def assert_called(self, rule: str | None = None, times: int | None = None) -> list[RecordedRequest]:
        """Assert that `rule` answered (exactly `times` times, if given); without a rule, that any request came.

        Returns the requests it answered.
        """
        __tracebackhide__ = True
        everything = self.requests
        hits = everything if rule is None else [r for r in everything if r.rule == rule]
        if (times is None and hits) or (times is not None and len(hits) == times):
            return hits
        what = "any request" if rule is None else f"rule {json.dumps(rule)}"
        expected = f"exactly {_count(times, 'time')}" if times is not None else "at least once"
        message = [f"fakellm: expected {what} to be called {expected}, it was called {_count(len(hits), 'time')}."]
        names = [r.name if r.name is not None else f"rule-{i}" for i, r in enumerate(self.app.config.rules)]
        if rule is not None and rule not in names:
            message.append(f"No rule is named {json.dumps(rule)}; the rules are: "
                           + (", ".join(names) if names else "(none)") + ".")
        message.append(f"Requests ({len(everything)}):")
        message.append(_indent(self.journal_text(everything)))
        raise AssertionError("\n".join(message))

    def assert_tool_called(self, name: str, arguments: Mapping[str, Any] | None = None,
                           times: int | None = None) -> RecordedToolCall:
        """Assert that fakellm answered with a call to tool `name`.

        `arguments` match as a subset: every key given must be there with an equal
        value (nested mappings likewise), other keys are ignored. With `times`, the
        number of such calls must be exactly that. Returns the first such call.
        """
        __tracebackhide__ = True
        everything = self.requests
        calls = [(r, c) for r in everything for c in r.tool_calls]
        found = [c for _, c in calls if c.name == name and (arguments is None or _subset(arguments, c.arguments))]
        if found and (times is None or len(found) == times):
            return found[0]
        wanted = f"tool {json.dumps(name)}"
        if arguments is not None:
            wanted += f" with arguments including {json.dumps(arguments, sort_keys=True, default=str)}"
        if times is not None:
            head = f"fakellm: expected {_count(times, 'call')} to {wanted}, found {len(found)}."
        else:
            head = f"fakellm: no call to {wanted}."
        lines = [head]
        if calls:
            lines.append(f"Tool calls made ({len(calls)}):")
            lines.extend(f"  {c} (request #{r.id}, rule {json.dumps(r.rule)})" for r, c in calls)
        else:
            lines.append(f"No tool calls were made ({_count(len(everything), 'request')}).")
        lines.append("Requests:")
        lines.append(_indent(self.journal_text(everything)))
        raise AssertionError("\n".join(lines))

    def assert_no_unmatched(self) -> None:
        """Assert that every request matched a rule; the message explains each miss."""
        __tracebackhide__ = True
        misses = self.unmatched
        if not misses:
            return
        lines = [f"fakellm: {_count(len(misses), 'request')} matched no rule:"]
        for miss in misses:
            lines.append(f"  #{miss.id} {miss.api} {miss.model or '?'} turn {miss.turn}: {miss.explanation}")
        raise AssertionError("\n".join(lines))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(k in actual and _subset(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)
