"""The provider-neutral engine: conversation, turn, first matching rule, Reply.

It sees only `Request` and `Reply`; providers parse and render at the edges.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import random
import time
from typing import Any, Callable

from . import tokens
from .answers import FALLBACK, Answer
from .catalog import Catalog
from ..config.schema import Config, RespondSpec
from ..traffic.delivery import Plans
from ..model import LENGTH, STOP_SEQUENCE, ErrorInfo, Reply, Request, ToolCall, Usage
from .rules import CompiledRule, MatchContext, MissExplanation, compile_rules, explain_miss
from ..traffic.ratelimit import Limits
from ..store.memory import JournalEntry, MemoryState

CONVERSATION_HEADER = "x-fakellm-conversation-id"
NO_MATCH_CODE = "fakellm_no_match"

# The stream flag does not change what a request asks, so it does not change the echo.
_ECHO_IGNORED_KEYS = ("stream", "stream_options")


def conversation_id_for(request: Request) -> str:
    """The 0.3.5 rule: explicit header, else the first user message, else the body."""
    explicit = request.headers.get(CONVERSATION_HEADER)
    if explicit:
        return explicit
    if request.conversation_id:
        return request.conversation_id
    return _conversation_id_of_body(request)


def _conversation_id_of_body(request: Request) -> str:
    for message in request.messages:
        # A user message, not one made only of tool results (Message.is_tool_result, inlined).
        if message.role == "user" and (message.text or not message.tool_results):
            text = message.text
            # Memoize short texts only, so the cache stays small in bytes too.
            return _conversation_id_of_text(text) if len(text) <= 4096 else _hash_id(text)
    serialized = json.dumps(request.body, sort_keys=True, default=str)
    return "anon-" + hashlib.sha256(serialized.encode()).hexdigest()[:12]


def _hash_id(text: str) -> str:
    return "conv-" + hashlib.sha256(text.encode()).hexdigest()[:12]


# An agent's turns and a suite's repeated tests send the same first message again and again.
_conversation_id_of_text = functools.lru_cache(maxsize=4096)(_hash_id)


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
    for m in request.messages:
        total += count(m.text)
        if m.tool_results:
            for result in m.tool_results:
                total += count(result)
        if m.tool_calls:
            for call in m.tool_calls:
                total += count(call.name) + count(call.arguments)
    return total


def _reply_parts(request: Request, answer: Answer, count: Callable[[str], int], n: int) -> tuple[Any, ...]:
    """What an answer's reply to this body is, apart from ids and state: (content, thinking,
    finish reason, stop sequence, input tokens, output tokens)."""
    content = answer.content
    thinking = answer.thinking if request.thinking else None
    if content is None and not answer.tool_calls and request.generates_text:
        content = deterministic_echo(request.body, request.model)
    finish, stop_sequence = answer.finish_reason, None
    if content and (request.stop or request.max_tokens is not None):
        content, finish, stop_sequence = _apply_limits(request, content, finish, count)
    if answer.finish_override is not None:
        finish = answer.finish_override
    out_tokens = count(content) if content else 0
    if answer.tool_calls or thinking is not None:
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


class Engine:
    """Matches requests against the active config and keeps conversation state."""

    def __init__(self, config: Config, state: MemoryState | None = None):
        d = config.defaults
        self.state = state or MemoryState(d.max_conversations, d.max_tool_results, d.journal_size, d.max_responses)
        self.config = config
        self.defaults = d
        self.rules: list[CompiledRule] = compile_rules(config)
        self.catalog = Catalog(config.spec.models)
        self._turns_by_request = d.turns == "requests"
        self._strict = d.fallback == "error"
        self._use_traffic(config)
        # Ids: a per-process random prefix and a counter, unique and cheap.
        self._id_prefix = os.urandom(5).hex()
        self._ids = itertools.count(1)

    def use_config(self, config: Config) -> None:
        """Swap in a new config; conversations and the journal survive, rule counters restart.

        Sequence and `times` counters are kept by rule position, so the new rules
        must not inherit the old rules' counts.
        """
        d = config.defaults
        rules = compile_rules(config)
        self.state.resize(d.max_conversations, d.max_tool_results, d.journal_size, d.max_responses)
        self.state.clear_rule_counters()
        self.config, self.rules, self.defaults = config, rules, d
        self.catalog = Catalog(config.spec.models)
        self._turns_by_request = d.turns == "requests"
        self._strict = d.fallback == "error"
        self.state.rate_buckets.clear()
        self._use_traffic(config)

    def _use_traffic(self, config: Config) -> None:
        """Delivery plans (timing, faults), rate limits and the `probability` dice of a config."""
        seed = config.defaults.seed
        self.plans = Plans(config)
        self.limits = Limits(config, self.state.rate_buckets, input_tokens)
        self._chance = random.Random(None if seed is None else f"fakellm-probability-{seed}")
        # Without timing, faults or limits in the config, the request path skips all of it.
        self._traffic = self.plans.any or self.limits.active

    def next_id(self) -> str:
        """A short unique id for response, call and request ids."""
        return f"{self._id_prefix}{next(self._ids):08x}"

    def handle(self, request: Request, raw_body: bytes | None = None) -> tuple[Reply, JournalEntry]:
        """Answer one request; `raw_body` (the bytes as received) is what the journal keeps."""
        now = time.time()
        conv_id = conversation_id_for(request)
        conv = self.state.conversation(conv_id, now)
        assistant_messages = 0
        for message in request.messages:
            if message.tool_results:
                conv.add_tool_results(message.tool_results)
            elif message.role == "assistant":
                assistant_messages += 1
        conv.requests += 1
        turn = conv.requests if self._turns_by_request else 1 + assistant_messages
        conv.last_turn = turn

        ctx = MatchContext(request, turn)
        matched: CompiledRule | None = None
        exhausted: dict[int, int] | None = None  # rules that matched but used up their `times`
        limited: Reply | None = None  # a rate limit's 429, instead of the answer
        for rule in self.rules:
            if not rule.matches(ctx):
                continue
            if rule.probability is not None and self._chance.random() >= rule.probability:
                continue
            hits = conv.rule_hits.get(rule.index, 0)
            if rule.times is not None and hits >= rule.times:
                if exhausted is None:
                    exhausted = {}
                exhausted[rule.index] = rule.times
                continue
            limited = self.limits.admit(request, rule.index) if self._traffic else None
            if limited is None:  # a rate-limited request does not use up the rule
                conv.rule_hits[rule.index] = hits + 1
            matched = rule
            break
        else:
            limited = self.limits.admit(request, None) if self._traffic else None

        explanation: MissExplanation | None = None
        spec: RespondSpec | None = None
        if limited is not None:
            reply = limited
            reply.rule = matched.name if matched is not None else None
        elif matched is not None:
            answer = matched.respond_for(hits)
            spec = answer.spec
            reply = self._reply(request, answer, matched.name)
        else:
            explanation = explain_miss(self.rules, ctx, exhausted or {})
            if self._strict:
                reply = Reply(
                    status=404,
                    error=ErrorInfo(
                        message=f"fakellm: no rule matched this request: {explanation}",
                        type="invalid_request_error",
                        code=NO_MATCH_CODE,
                    ),
                    # A 404 is not retried anyway; this says so to SDKs that honour the header.
                    headers={"x-should-retry": "false"},
                )
            else:
                reply = self._reply(request, FALLBACK, None)
        if limited is None and self._traffic:
            reply.delivery = self.plans.get(spec)
            self.limits.settle(request, reply, matched.index if matched is not None else None)
        reply.conversation_id = conv_id
        reply.turn = turn

        entry = self.state.record(request, reply, explanation, raw_body, now)
        return reply, entry

    def _reply(self, request: Request, answer: Answer, rule_name: str | None) -> Reply:
        n = request.n if request.n > 1 else 1
        if answer.error is not None:
            return Reply(answer.status, error=answer.error, rule=rule_name, n=n,
                         headers=dict(answer.headers) if answer.headers else {})
        count = tokens.counter(request.api)
        content, thinking, finish, stop_sequence, in_tokens, out_tokens = _reply_parts(request, answer, count, n)
        tool_calls = ([ToolCall(name, arguments, call_id) for name, arguments, call_id in answer.tool_calls]
                      if answer.tool_calls else [])
        usage = Usage(in_tokens, out_tokens)
        if answer.usage:
            for key, value in answer.usage:
                setattr(usage, key, value)
        return Reply(answer.status, content, tool_calls, thinking, finish, stop_sequence, usage, None,
                     dict(answer.headers) if answer.headers else {}, "", 1, rule_name, n, answer.embedding)
