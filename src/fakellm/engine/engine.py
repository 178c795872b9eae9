"""The provider-neutral engine: conversation, turn, first matching rule, Reply.

It sees only `Request` and `Reply`; providers parse and render at the edges. All it
remembers is in the store it is given; timing, faults and rate limits come in as a
`Traffic` made for each config by the layer above.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from ..config.schema import Config, RespondSpec
from ..model import LENGTH, STOP, STOP_SEQUENCE, TOOL_CALLS, ErrorInfo, Refusal, Reply, Request, ToolCall, Usage
from ..store.base import Bounds, JournalEntry, Store, headers_size, journal_headers
from . import tokens
from .answers import FALLBACK, Answer
from .catalog import Catalog
from .conversation import CONVERSATION_HEADER, conversation_id_for
from .limits import LimitWording, find_overrun
from .rules import CompiledRule, MatchContext, MissExplanation, compile_rules, explain_miss
from .shaping import ShapeError, needs_shaping, shape

__all__ = ["CONVERSATION_HEADER", "NO_MATCH_CODE", "Compiled", "Engine", "Traffic", "deterministic_echo", "input_tokens",
           "resolve_stored"]

NO_MATCH_CODE = "fakellm_no_match"
TEMPLATE_ERROR_CODE = "fakellm_template_error"
# A reply the request's schemas rule out (a strict schema that respond.json does not match, ...).
SHAPE_ERROR_CODE = "fakellm_schema_error"

# The stream flag does not change what a request asks, so it does not change the echo.
_ECHO_IGNORED_KEYS = ("stream", "stream_options")


class Traffic(Protocol):
    """Rate limits and delivery plans for one config (traffic/ builds it)."""

    active: bool  # False: no limits, no timing, no faults; the engine skips all of it

    async def admit(self, request: Request, rule_index: int | None) -> Reply | None:
        """None, or the 429 to send instead of the answer."""

    async def settle(self, request: Request, reply: Reply, rule_index: int | None) -> None: ...

    def plan(self, spec: RespondSpec | None) -> Any:
        """How the reply to a `respond` item goes on the wire (None: all at once)."""


def bounds_of(config: Config) -> Bounds:
    d = config.defaults
    return Bounds(d.max_conversations, d.max_tool_results, d.journal_size, d.max_responses, d.journal_bytes)


def deterministic_echo(body: dict[str, Any], model: str | None = None) -> str:
    """fakellm 0.3.5's stable reply for requests no rule answers.

    `model` names the model when the body does not (Gemini and Azure put it in the path).
    """
    if any(k in body for k in _ECHO_IGNORED_KEYS):
        body = {k: v for k, v in body.items() if k not in _ECHO_IGNORED_KEYS}
    serialized = json.dumps(body, sort_keys=True, default=str)
    seed = hashlib.sha256(serialized.encode()).hexdigest()[:8]
    return f"[mock response for {model or body.get('model', 'unknown')}, fingerprint {seed}]"


def input_tokens(request: Request, count: Callable[[str], int] | None = None) -> int:
    """Prompt size, counted the same way for every provider and stream mode."""
    if count is None:
        count = tokens.counter(request.api)
    total = 0
    if count is tokens.count:
        # The approximation (tokens.count) inlined: a long history has hundreds of texts to count.
        for m in request.messages:
            if m.text:
                total += len(m.text) // 4 or 1
            if m.tool_results:
                for result in m.tool_results:
                    if result:
                        total += len(result) // 4 or 1
            if m.tool_calls:
                for call in m.tool_calls:
                    if call.name:
                        total += len(call.name) // 4 or 1
                    if call.arguments:
                        total += len(call.arguments) // 4 or 1
        return total
    for m in request.messages:
        total += count(m.text)
        if m.tool_results:
            for result in m.tool_results:
                total += count(result)
        if m.tool_calls:
            for call in m.tool_calls:
                total += count(call.name) + count(call.arguments)
    return total


def _reply_parts(request: Request, answer: Answer, count: Callable[[str], int], n: int, content: str | None,
                 calls: list[ToolCall] | None) -> tuple[Any, ...]:
    """What an answer's reply to this body is, apart from ids and state: (content, thinking,
    finish reason, stop sequence, input tokens, output tokens). `content` is the answer's text
    (fixed, or rendered from its template); `calls` are the tool calls when the request's schemas
    shaped them (engine/shaping.py), None for the answer's own."""
    thinking = answer.thinking if request.thinking else None
    if content is None and not (answer.tool_calls if calls is None else calls) and request.generates_text:
        content = deterministic_echo(request.body, request.model)
    finish, stop_sequence = (answer.finish_reason if calls is None else TOOL_CALLS if calls else STOP), None
    if content and (request.stop or request.max_tokens is not None):
        content, finish, stop_sequence = _apply_limits(request, content, finish, count)
    if answer.finish_override is not None:
        finish = answer.finish_override
    out_tokens = count(content) if content else 0
    if calls is not None:
        out_tokens += sum(count(c.name) + count(c.arguments) for c in calls)
        if thinking is not None:
            out_tokens += count(thinking)
    elif answer.tool_calls or thinking is not None:
        out_tokens += answer.fixed_tokens(count, thinking is not None)
    # With `n > 1` every choice is generated, so (as the real API) each one counts.
    return content, thinking, finish, stop_sequence, input_tokens(request, count), out_tokens * n


def _apply_limits(request: Request, text: str, finish: str,
                  count: Callable[[str], int]) -> tuple[str, str, str | None]:
    """Stop sequences cut the reply; a max_tokens smaller than it truncates it.

    Returns the text, the finish reason and the stop sequence that cut it (if one did).
    """
    stop_sequence = None
    if request.stop:
        cut = len(text)
        for seq in request.stop:
            if seq:
                at = text.find(seq)
                if 0 <= at < cut:
                    cut, stop_sequence = at, seq
        if stop_sequence is not None:
            text = text[:cut]
            finish = STOP_SEQUENCE
    if request.max_tokens is not None and count(text) > request.max_tokens:
        text = tokens.truncate(text, request.max_tokens, count)
        finish, stop_sequence = LENGTH, None
    return text, finish, stop_sequence


async def resolve_stored(store: Store, request: Request) -> None:
    """Put what the request names from the store into its messages: the chain its `continues`
    names, and the answers of items it gives by id alone. Raises `Refusal` (404) for an unknown one."""
    inserts: list[tuple[int, int, list[Any]]] = []  # (position, order, messages)
    if request.continues is not None:
        found = await store.response_history(request.continues)
        if found is None:
            raise Refusal(404, ErrorInfo(f"Previous response with id '{request.continues}' not found.",
                                         param="previous_response_id", code="previous_response_not_found"))
        stored, history = found
        request.conversation_id = stored.conversation_id
        request.history_len = len(history)
        inserts.append((request.history_at, 0, history))
    brought: set[str] = set()
    for order, (position, item_id, brings_answer) in enumerate(request.item_refs, 1):
        owner = await store.owner_of_item(item_id)
        if owner is None:
            raise Refusal(404, ErrorInfo(
                f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to false. "
                f"Try again with `store` set to true, or remove this item from your input.", param="input"))
        if brings_answer and owner.id not in brought:
            brought.add(owner.id)
            inserts.append((position, order, [owner.messages[-1]]))
    # Last position first, so earlier positions stay valid; at one position the history goes first.
    for position, _, messages in sorted(inserts, key=lambda x: (-x[0], -x[1])):
        request.messages[position:position] = messages


@dataclass(frozen=True)
class Compiled:
    """Everything the engine derives from one config, built before it is served (off the event
    loop, for a big config) and swapped in whole."""

    config: Config
    rules: list[CompiledRule]
    catalog: Catalog
    traffic: Traffic | None


class Engine:
    """Matches requests against the active config; remembers what it must in `store`."""

    def __init__(self, config: Config, store: Store, traffic: Callable[[Config], Traffic] | None = None):
        self.store = store
        self._make_traffic = traffic
        self._swap(self.compile(config))
        # Ids: a per-process random prefix and a counter, unique and cheap.
        self._id_prefix = os.urandom(5).hex()
        self._ids = itertools.count(1)
        self._headers_memo: tuple[Any, Any, int] = (None, None, 0)  # (request headers, kept, their size)

    def compile(self, config: Config) -> Compiled:
        """Compile a config without serving it: touches no state, so it may run in another thread."""
        traffic = self._make_traffic(config) if self._make_traffic is not None else None
        return Compiled(config, compile_rules(config), Catalog(config.spec.models), traffic)

    def _swap(self, compiled: Compiled) -> None:
        # No await in here: a request sees the old config or the new one, never parts of both.
        config = compiled.config
        d = config.defaults
        self.config, self.defaults = config, d
        self.rules = compiled.rules
        self.catalog = compiled.catalog
        self.traffic = compiled.traffic
        self._turns_by_request = d.turns == "requests"
        self._strict = d.fallback == "error"
        self._chance = random.Random(None if d.seed is None else f"fakellm-probability-{d.seed}")

    async def use(self, compiled: Compiled, *, restart_counters: bool = True) -> None:
        """Serve a compiled config from now on; conversations and the journal survive, rule counters
        and rate-limit buckets restart (counters are kept by rule position, so new rules must not
        inherit them), unless `restart_counters` is False (another process sharing the store
        restarted them). The store takes the new bounds first: if it refuses them, nothing changed."""
        await self.store.resize(bounds_of(compiled.config))
        self._swap(compiled)
        if restart_counters:
            await self.store.clear_rule_counters()
            await self.store.clear_buckets()

    def next_id(self) -> str:
        """A short unique id for response, call and request ids."""
        return f"{self._id_prefix}{next(self._ids):08x}"

    async def handle(self, request: Request, raw_body: bytes | None = None,
                     wording: LimitWording | None = None) -> tuple[Reply, JournalEntry]:
        """Answer one request. Returns the reply and its journal entry, not yet recorded: `finish`
        records it once the reply is rendered (and its tool call ids known). Raises `Refusal` for a
        request the API would refuse before answering (a stored item it names does not exist).

        `wording` (the adapter) words the provider's 400 for a request over its model's context
        window; without it, or for an adapter without `token_limit_error`, no limit is enforced."""
        now = time.time()
        if request.continues is not None or request.item_refs:
            await resolve_stored(self.store, request)
        if self.catalog.limits and wording is not None:
            refused = self._over_limits(request, wording, now, raw_body)
            if refused is not None:
                return refused
        store = self.store
        conv_id = conversation_id_for(request)
        tool_results: list[str] = []
        assistant_messages = 0
        for message in request.messages:
            if message.tool_results:
                tool_results.extend(message.tool_results)
            elif message.role == "assistant":
                assistant_messages += 1
        turn, hits = await store.open_turn(conv_id, now, None if self._turns_by_request else 1 + assistant_messages,
                                           tool_results)

        ctx = MatchContext(request, turn)
        traffic = self.traffic if self.traffic is not None and self.traffic.active else None
        matched: CompiledRule | None = None
        hit = 0
        exhausted: dict[int, int] | None = None  # rules that matched but used up their `times`
        limited: Reply | None = None  # a rate limit's 429, instead of the answer
        for rule in self.rules:
            if not rule.matches(ctx):
                continue
            if rule.probability is not None and self._chance.random() >= rule.probability:
                continue
            hit = hits.get(rule.index, 0)
            if rule.times is not None and hit >= rule.times:
                (exhausted := exhausted or {})[rule.index] = rule.times
                continue
            limited = await traffic.admit(request, rule.index) if traffic is not None else None
            if limited is None and rule.counted:  # a rate-limited request does not use up the rule
                counted = await store.count_hit(conv_id, rule.index, rule.times)
                if counted is None:  # used up meanwhile (another worker)
                    (exhausted := exhausted or {})[rule.index] = rule.times or 0
                    continue
                hit = counted
            matched = rule
            break
        else:
            limited = await traffic.admit(request, None) if traffic is not None else None

        explanation: MissExplanation | None = None
        spec: RespondSpec | None = None
        if limited is not None:
            reply = limited
            reply.rule = matched.name if matched is not None else None
        elif matched is not None:
            answer = matched.respond_for(hit)
            spec = answer.spec
            if answer.template is not None and answer.error is None and request.generates_text:
                reply = self._templated_reply(request, answer, matched.name, turn, conv_id, tool_results)
            else:
                reply = self._reply(request, answer, matched.name)
        else:
            explanation = explain_miss(self.rules, ctx, exhausted or {})
            reply = self._no_match(explanation) if self._strict else self._reply(request, FALLBACK, None)
            reply.missed = True
        if limited is None and traffic is not None:
            reply.delivery = traffic.plan(spec)
            await traffic.settle(request, reply, matched.index if matched is not None else None)
        reply.conversation_id = conv_id
        reply.turn = turn
        kept_headers, header_bytes = self._journal_headers(request)
        entry = JournalEntry(now, request.api, request.path, request.model, request.stream, conv_id, turn,
                             reply.rule, reply.status, reply.content, (), None,
                             raw_body if raw_body is not None else request.body, kept_headers,
                             explanation.as_dict() if explanation is not None else None, header_bytes=header_bytes)
        if reply.error is not None:
            entry.error = (reply.error.message, reply.error.type, reply.error.code)
        if reply.notes:
            entry.notes = reply.notes
        return reply, entry

    async def finish(self, reply: Reply, entry: JournalEntry) -> JournalEntry:
        """After the reply is rendered: record its journal entry (with the tool call ids the client
        got) and keep what the store keeps of it (a stored Responses response)."""
        if reply.tool_calls:
            entry.tool_calls = tuple((c.id, c.name, c.arguments) for c in reply.tool_calls)
        entry = await self.store.record(entry)
        if reply.stored is not None:
            await self.store.put_response(reply.stored)
        return entry

    def _journal_headers(self, request: Request) -> tuple[Any, int]:
        """What the journal keeps of the request's headers, and its size. Clients send the same headers
        request after request (the server shares one dict for them): worked out once per dict."""
        memo = self._headers_memo
        if memo[0] is not request.headers:
            kept = journal_headers(request.headers)
            memo = self._headers_memo = (request.headers, kept, headers_size(kept))
        return memo[1], memo[2]

    def _over_limits(self, request: Request, wording: LimitWording, now: float,
                     raw_body: bytes | None) -> tuple[Reply, JournalEntry] | None:
        """The provider's 400 and its journal entry for a request over its model's declared limits, or
        None. Checked before any rule, as the real APIs refuse before generating: the request opens no
        turn, uses up no rule and no rate limit, so the app's retry after trimming is the same turn."""
        limits = self.catalog.limits.get(request.model)
        words = getattr(wording, "token_limit_error", None)
        if limits is None or words is None or not request.generates_text:
            return None
        overrun = find_overrun(request.model, input_tokens(request), request.max_tokens, limits)
        error = words(request, overrun) if overrun is not None else None
        if error is None:
            return None
        reply = Reply(400, error=error)
        reply.conversation_id = conv_id = conversation_id_for(request)
        reply.turn = turn = 1 + sum(1 for m in request.messages if m.role == "assistant")
        kept_headers, header_bytes = self._journal_headers(request)
        # The journal says why in fakellm's words, where it explains any request no rule answered.
        why = MissExplanation(None, [], str(overrun))
        entry = JournalEntry(now, request.api, request.path, request.model, request.stream, conv_id, turn, None, 400,
                             None, (), (error.message, error.type, error.code),
                             raw_body if raw_body is not None else request.body, kept_headers, why.as_dict(),
                             header_bytes=header_bytes)
        return reply, entry

    def _no_match(self, explanation: MissExplanation) -> Reply:
        return Reply(
            status=404,
            error=ErrorInfo(message=f"fakellm: no rule matched this request: {explanation}",
                            type="invalid_request_error", code=NO_MATCH_CODE),
            # A 404 is not retried anyway; this says so to SDKs that honour the header.
            headers={"x-should-retry": "false"},
        )

    def _templated_reply(self, request: Request, answer: Answer, rule_name: str, turn: int, conv_id: str,
                         tool_results: list[str]) -> Reply:
        """The reply with the answer's template rendered as its content; a template that fails gives
        a 500 in the provider's shape naming the rule and the reason (and the journal records it)."""
        from .templates import TemplateFailed, render, template_data  # Jinja2 only for configs with templates

        try:
            content = render(answer.template, template_data(request, turn, conv_id, tool_results))
        except TemplateFailed as e:
            return Reply(500, error=ErrorInfo(f"fakellm: template of rule {rule_name!r} failed: {e}",
                                              code=TEMPLATE_ERROR_CODE),
                         # The same request fails the same way: retrying it only slows the test down.
                         rule=rule_name, headers={"x-should-retry": "false"})
        return self._reply(request, answer, rule_name, content)

    def _reply(self, request: Request, answer: Answer, rule_name: str | None, content: str | None = None) -> Reply:
        n = request.n if request.n > 1 else 1
        if answer.error is not None:
            return Reply(answer.status, error=answer.error, rule=rule_name, n=n,
                         headers=dict(answer.headers) if answer.headers else {})
        count = tokens.counter(request.api)
        if content is None:
            content = answer.content
        shaped = None
        if needs_shaping(request, answer):
            try:
                shaped = shape(request, answer, content, rule_name,
                               lambda: deterministic_echo(request.body, request.model))
            except ShapeError as e:
                return Reply(500, error=ErrorInfo(f"fakellm: {e}", type="server_error", code=SHAPE_ERROR_CODE),
                             # The same request fails the same way: retrying it only slows the test down.
                             rule=rule_name, n=n, headers={"x-should-retry": "false"})
        content, thinking, finish, stop_sequence, in_tokens, out_tokens = _reply_parts(
            request, answer, count, n, content if shaped is None else shaped.content,
            None if shaped is None else shaped.calls)
        if shaped is not None:
            tool_calls = shaped.calls
        else:
            tool_calls = ([ToolCall(name, arguments, call_id) for name, arguments, call_id in answer.tool_calls]
                          if answer.tool_calls else [])
        usage = Usage(in_tokens, out_tokens)
        if answer.usage:
            for key, value in answer.usage:
                setattr(usage, key, value)
        reply = Reply(answer.status, content, tool_calls, thinking, finish, stop_sequence, usage, None,
                      dict(answer.headers) if answer.headers else {}, "", 1, rule_name, n, answer.embedding)
        if shaped is not None and shaped.notes:
            reply.notes = shaped.notes
        return reply
