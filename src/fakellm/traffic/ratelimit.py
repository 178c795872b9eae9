"""Rate limits: token buckets per API key (or global), answered with the providers' 429s and headers.

`defaults.rate_limit` applies to every LLM request; a rule's `rate_limit` to the
requests that rule answers (both, when both are set). A limit has a request bucket
and/or a token bucket, each holding `burst_s` seconds' worth of its per-minute quota
(a whole minute by default) and refilling continuously.

A request is admitted when every bucket it draws on has room for one request and
for its input tokens; its output tokens are taken once the reply is known, so a
long answer can push the token bucket below zero and make later requests wait. A
request over a limit gets the provider's 429 with `retry-after` (whole seconds,
rounded up) and `retry-after-ms`: exactly how long until it would pass. Every
response under a limit carries the provider's rate-limit headers.

The header names are part of each provider's wire format; they live here, by API
family, so that every endpoint of a family (chat, responses, ...) gets them alike.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Callable

from ..config.schema import Config, RateLimitSpec
from ..model import ErrorInfo, Reply, Request
from ..store.memory import BucketStore


class Limit:
    """One configured `rate_limit`: its rates, bucket sizes and name."""

    __slots__ = ("name", "spec", "req_rate", "req_cap", "tok_rate", "tok_cap", "per_key")

    def __init__(self, name: str, spec: RateLimitSpec):
        self.name = name
        self.spec = spec
        rpm, tpm, burst = spec.requests_per_minute, spec.tokens_per_minute, spec.burst_s
        self.req_rate = rpm / 60 if rpm else 0.0
        # At least one request fits, or a small rpm with a short burst could never pass.
        self.req_cap = max(1.0, rpm * burst / 60) if rpm else 0.0
        self.tok_rate = tpm / 60 if tpm else 0.0
        self.tok_cap = tpm * burst / 60 if tpm else 0.0
        self.per_key = spec.per == "api_key"

    def bucket(self, store: BucketStore, key: str, now: float) -> list[float]:
        """[requests left, tokens left, when] for this API key, refilled up to `now`."""
        entry = store.get((self.name, key if self.per_key else ""))
        if entry is None:
            entry = [self.req_cap, self.tok_cap, now]
            store.put((self.name, key if self.per_key else ""), entry)
            return entry
        elapsed = now - entry[2]
        if elapsed > 0:
            entry[0] = min(self.req_cap, entry[0] + elapsed * self.req_rate)
            entry[1] = min(self.tok_cap, entry[1] + elapsed * self.tok_rate)
            entry[2] = now
        return entry


class Limits:
    """Every rate limit of a config. Buckets live in the state's bounded `BucketStore`."""

    def __init__(self, config: Config, store: BucketStore, count_input: Callable[[Request], int]):
        d = config.defaults
        self.default = Limit("defaults", d.rate_limit) if d.rate_limit is not None else None
        self.by_rule = {i: Limit(f"rule {i}", rule.rate_limit)
                        for i, rule in enumerate(config.rules) if rule.rate_limit is not None}
        self.active = self.default is not None or bool(self.by_rule)
        self.store = store
        self._count_input = count_input

    def _applying(self, rule_index: int | None) -> list[Limit]:
        rule_limit = self.by_rule.get(rule_index) if rule_index is not None else None
        return [lim for lim in (self.default, rule_limit) if lim is not None]

    def admit(self, request: Request, rule_index: int | None) -> Reply | None:
        """Take one request and its input tokens from the buckets; or, over a limit, the 429 to send."""
        if not self.active:
            return None
        limits = self._applying(rule_index)
        if not limits:
            return None
        now = time.monotonic()
        key = api_key(request)
        need = self._count_input(request) if any(lim.tok_rate for lim in limits) else 0
        entries = [lim.bucket(self.store, key, now) for lim in limits]
        wait, reason = 0.0, ""
        for lim, entry in zip(limits, entries, strict=True):
            if lim.req_rate and entry[0] < 1:
                w = (1 - entry[0]) / lim.req_rate
                if w > wait:
                    wait, reason = w, _reached(request, "requests", lim.spec.requests_per_minute, 1, w)
            if lim.tok_rate:
                if need > lim.tok_cap:
                    return _too_large(request, lim, entry, need)
                if entry[1] < need:
                    w = (need - entry[1]) / lim.tok_rate
                    if w > wait:
                        wait, reason = w, _reached(request, "tokens", lim.spec.tokens_per_minute, need, w)
        if wait > 0:
            reply = Reply(status=429, error=ErrorInfo(message=reason))
            reply.headers = headers_for(request, limits[-1], entries[-1])
            ms = math.ceil(wait * 1000)
            reply.headers["retry-after-ms"] = str(ms)
            reply.headers["retry-after"] = str(math.ceil(ms / 1000))
            return reply
        for lim, entry in zip(limits, entries, strict=True):
            if lim.req_rate:
                entry[0] -= 1
            if lim.tok_rate:
                entry[1] -= need
        return None

    def settle(self, request: Request, reply: Reply, rule_index: int | None) -> None:
        """Take the reply's output tokens and add the rate-limit headers of the most specific limit."""
        if not self.active:
            return
        limits = self._applying(rule_index)
        if not limits:
            return
        now = time.monotonic()
        key = api_key(request)
        entry = None
        for lim in limits:
            entry = lim.bucket(self.store, key, now)
            if lim.tok_rate:
                entry[1] -= reply.usage.output_tokens
        assert entry is not None
        for name, value in headers_for(request, limits[-1], entry).items():
            reply.headers.setdefault(name, value)


def api_key(request: Request) -> str:
    """The caller's API key, however its SDK sends it ("" without one)."""
    h = request.headers
    auth = h.get("authorization")
    if auth:
        return auth[7:] if auth[:7].lower() == "bearer " else auth
    return h.get("x-api-key") or h.get("x-goog-api-key") or h.get("api-key") or ""


def headers_for(request: Request, lim: Limit, entry: list[float]) -> dict[str, str]:
    """The provider's rate-limit headers for a limit's bucket state."""
    family = request.api.split(".", 1)[0]
    out: dict[str, str] = {}
    req_left = max(0, math.floor(entry[0])) if lim.req_rate else 0
    tok_left = max(0, math.floor(entry[1])) if lim.tok_rate else 0
    req_reset = (lim.req_cap - entry[0]) / lim.req_rate if lim.req_rate else 0.0
    tok_reset = (lim.tok_cap - entry[1]) / lim.tok_rate if lim.tok_rate else 0.0
    if family == "openai":
        if lim.req_rate:
            out["x-ratelimit-limit-requests"] = str(lim.spec.requests_per_minute)
            out["x-ratelimit-remaining-requests"] = str(req_left)
            out["x-ratelimit-reset-requests"] = go_duration(req_reset)
        if lim.tok_rate:
            out["x-ratelimit-limit-tokens"] = str(lim.spec.tokens_per_minute)
            out["x-ratelimit-remaining-tokens"] = str(tok_left)
            out["x-ratelimit-reset-tokens"] = go_duration(tok_reset)
    elif family == "anthropic":
        if lim.req_rate:
            out["anthropic-ratelimit-requests-limit"] = str(lim.spec.requests_per_minute)
            out["anthropic-ratelimit-requests-remaining"] = str(req_left)
            out["anthropic-ratelimit-requests-reset"] = rfc3339_after(req_reset)
        if lim.tok_rate:
            # One bucket for input and output: the tokens-* headers report it, as the
            # most restrictive of Anthropic's input and output limits.
            out["anthropic-ratelimit-tokens-limit"] = str(lim.spec.tokens_per_minute)
            out["anthropic-ratelimit-tokens-remaining"] = str(tok_left)
            out["anthropic-ratelimit-tokens-reset"] = rfc3339_after(tok_reset)
    return out


def go_duration(seconds: float) -> str:
    """OpenAI's reset format (Go durations): "0s", "17ms", "1.5s", "6m0s", "1h2m3s"."""
    if seconds <= 0:
        return "0s"
    ms = math.ceil(seconds * 1000)
    if ms < 1000:
        return f"{ms}ms"
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs = f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


def rfc3339_after(seconds: float) -> str:
    """Anthropic's reset format: the UTC time the bucket is full again, to the second (rounded up)."""
    at = math.ceil(time.time() + max(0.0, seconds))
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reached(request: Request, what: str, limit: int | None, requested: int, wait: float) -> str:
    return (f"Rate limit reached for {request.model} on {what} per min: Limit {limit}, Requested {requested}. "
            f"Please try again in {go_duration(wait)}.")


def _too_large(request: Request, lim: Limit, entry: list[float], need: int) -> Reply:
    """A request whose input alone exceeds the token bucket can never pass: 429, and no retry."""
    reply = Reply(status=429, error=ErrorInfo(message=(
        f"Request too large for {request.model} on tokens per min: Limit {lim.spec.tokens_per_minute}, "
        f"Requested {need}. The input or output tokens must be reduced in order to run successfully.")))
    reply.headers = headers_for(request, lim, entry)
    reply.headers["x-should-retry"] = "false"
    return reply
