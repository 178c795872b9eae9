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

The header names are part of each provider's wire format: the provider family formats
them (`Family.rate_limit_headers`), so every endpoint of a family gets them alike.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Sequence

from ..config.schema import Config, RateLimitSpec
from ..model import ErrorInfo, Reply, Request
from ..store.base import Store, sigv4_access_key
from ..store.buckets import BucketLimit, BucketReport

# The provider's rate-limit headers for a request's api, from a bucket's state (None: the provider has none).
HeaderFormat = Callable[[str], Callable[[BucketReport], dict[str, str]] | None]


class Limit:
    """One configured `rate_limit`: its buckets' rates and sizes."""

    __slots__ = ("spec", "buckets")

    def __init__(self, name: str, spec: RateLimitSpec):
        self.spec = spec
        rpm, tpm, burst = spec.requests_per_minute, spec.tokens_per_minute, spec.burst_s
        self.buckets = BucketLimit(
            name=name,
            req_rate=rpm / 60 if rpm else 0.0,
            # At least one request fits, or a small rpm with a short burst could never pass.
            req_cap=max(1.0, rpm * burst / 60) if rpm else 0.0,
            tok_rate=tpm / 60 if tpm else 0.0,
            tok_cap=tpm * burst / 60 if tpm else 0.0,
            per_key=spec.per == "api_key",
        )


class Limits:
    """Every rate limit of a config; the buckets themselves live in the store."""

    def __init__(self, config: Config, store: Store, count_input: Callable[[Request], int],
                 header_format: HeaderFormat, auth_headers: Sequence[str]):
        d = config.defaults
        self.default = Limit("defaults", d.rate_limit) if d.rate_limit is not None else None
        self.by_rule = {i: Limit(f"rule {i}", rule.rate_limit)
                        for i, rule in enumerate(config.rules) if rule.rate_limit is not None}
        self.active = self.default is not None or bool(self.by_rule)
        self.store = store
        self._count_input = count_input
        self._header_format = header_format
        self._auth_headers = tuple(h for h in auth_headers if h != "authorization")

    def _applying(self, rule_index: int | None) -> list[Limit]:
        rule_limit = self.by_rule.get(rule_index) if rule_index is not None else None
        return [lim for lim in (self.default, rule_limit) if lim is not None]

    async def admit(self, request: Request, rule_index: int | None) -> Reply | None:
        """Take one request and its input tokens from the buckets; or, over a limit, the 429 to send."""
        limits = self._applying(rule_index)
        if not limits:
            return None
        need = self._count_input(request) if any(lim.buckets.tok_rate for lim in limits) else 0
        admission = await self.store.admit([lim.buckets for lim in limits], self.api_key(request), need,
                                           time.monotonic())
        if admission.wait_s == 0:
            return None
        lim = limits[admission.limit_index]
        entry = admission.entries[admission.limit_index]
        if admission.bucket == "too_large":
            # The input alone exceeds the token bucket: it can never pass, so no retry.
            reply = Reply(status=429, error=ErrorInfo(message=(
                f"Request too large for {request.model} on tokens per min: Limit {lim.spec.tokens_per_minute}, "
                f"Requested {need}. The input or output tokens must be reduced in order to run successfully.")))
            reply.headers = self._headers(request, lim, entry)
            reply.headers["x-should-retry"] = "false"
            return reply
        if admission.bucket == "requests":
            reason = _reached(request, "requests", lim.spec.requests_per_minute, 1, admission.wait_s)
        else:
            reason = _reached(request, "tokens", lim.spec.tokens_per_minute, need, admission.wait_s)
        reply = Reply(status=429, error=ErrorInfo(message=reason))
        reply.headers = self._headers(request, limits[-1], admission.entries[-1])
        ms = math.ceil(admission.wait_s * 1000)
        reply.headers["retry-after-ms"] = str(ms)
        reply.headers["retry-after"] = str(math.ceil(ms / 1000))
        return reply

    async def settle(self, request: Request, reply: Reply, rule_index: int | None) -> None:
        """Take the reply's output tokens and add the rate-limit headers of the most specific limit."""
        limits = self._applying(rule_index)
        if not limits:
            return
        entry = await self.store.settle([lim.buckets for lim in limits], self.api_key(request),
                                        reply.usage.output_tokens, time.monotonic())
        for name, value in self._headers(request, limits[-1], entry).items():
            reply.headers.setdefault(name, value)

    def api_key(self, request: Request) -> str:
        """The caller's API key, however its SDK sends it ("" without one)."""
        h = request.headers
        auth = h.get("authorization")
        if auth:
            if auth[:7].lower() == "bearer ":
                return auth[7:]
            # SigV4 signs every request anew: the key is the access key id the signature names.
            return sigv4_access_key(auth) or auth
        for name in self._auth_headers:
            value = h.get(name)
            if value:
                return value
        return ""

    def _headers(self, request: Request, lim: Limit, entry: Sequence[float]) -> dict[str, str]:
        """The provider's rate-limit headers for a limit's bucket state."""
        render = self._header_format(request.api)
        if render is None:
            return {}
        b = lim.buckets
        return render(BucketReport(
            requests_limit=lim.spec.requests_per_minute if b.req_rate else None,
            requests_left=max(0, math.floor(entry[0])) if b.req_rate else 0,
            requests_reset_s=(b.req_cap - entry[0]) / b.req_rate if b.req_rate else 0.0,
            tokens_limit=lim.spec.tokens_per_minute if b.tok_rate else None,
            tokens_left=max(0, math.floor(entry[1])) if b.tok_rate else 0,
            tokens_reset_s=(b.tok_cap - entry[1]) / b.tok_rate if b.tok_rate else 0.0,
        ))


def go_duration(seconds: float) -> str:
    """A wait as OpenAI writes it (Go durations): "0s", "17ms", "1.5s", "6m0s", "1h2m3s"."""
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


def _reached(request: Request, what: str, limit: int | None, requested: int, wait: float) -> str:
    return (f"Rate limit reached for {request.model} on {what} per min: Limit {limit}, Requested {requested}. "
            f"Please try again in {go_duration(wait)}.")
