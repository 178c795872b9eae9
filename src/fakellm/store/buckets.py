"""Token-bucket maths, kept with the store so that checking and taking is one step.

A bucket holds `cap` units and refills at `rate` units a second. An entry is
[requests left, tokens left, when last refilled]; a shared backend keeps the same
three numbers and runs the same steps atomically.
"""

from __future__ import annotations

from dataclasses import dataclass

# Buckets kept at most (one per limit and API key); the least recently used are forgotten past it.
MAX_BUCKET_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class BucketLimit:
    """One rate limit's buckets: `name` keys them, with the API key when `per_key`."""

    name: str
    req_rate: float  # requests a second (0: no request bucket)
    req_cap: float
    tok_rate: float  # tokens a second (0: no token bucket)
    tok_cap: float
    per_key: bool

    def key(self, api_key: str) -> tuple[str, str]:
        return (self.name, api_key if self.per_key else "")


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of `Store.admit`: `wait_s` 0 means admitted (and taken)."""

    wait_s: float
    # Over a limit: which limit (its index) and which bucket ("requests" or "tokens", or "too_large"
    # when the input alone exceeds the token bucket) made the request wait.
    limit_index: int = -1
    bucket: str = ""
    # Each limit's bucket after the step, [requests left, tokens left, when].
    entries: tuple[tuple[float, float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class BucketReport:
    """A rate limit's state after a request, for the provider's rate-limit headers."""

    requests_limit: int | None  # None: the limit has no request bucket
    requests_left: int
    requests_reset_s: float
    tokens_limit: int | None
    tokens_left: int
    tokens_reset_s: float


def refill(limit: BucketLimit, entry: list[float] | None, now: float) -> list[float]:
    """The entry refilled up to `now` (a new, full one for None)."""
    if entry is None:
        return [limit.req_cap, limit.tok_cap, now]
    elapsed = now - entry[2]
    if elapsed > 0:
        entry[0] = min(limit.req_cap, entry[0] + elapsed * limit.req_rate)
        entry[1] = min(limit.tok_cap, entry[1] + elapsed * limit.tok_rate)
        entry[2] = now
    return entry


def check(limits: list[BucketLimit] | tuple[BucketLimit, ...], entries: list[list[float]], need: int) -> Admission:
    """Whether every bucket has room for one request and `need` tokens; the longest wait if not."""
    wait, index, bucket = 0.0, -1, ""
    for i, (lim, entry) in enumerate(zip(limits, entries, strict=True)):
        if lim.req_rate and entry[0] < 1:
            w = (1 - entry[0]) / lim.req_rate
            if w > wait:
                wait, index, bucket = w, i, "requests"
        if lim.tok_rate:
            if need > lim.tok_cap:
                return Admission(float("inf"), i, "too_large", _frozen(entries))
            if entry[1] < need:
                w = (need - entry[1]) / lim.tok_rate
                if w > wait:
                    wait, index, bucket = w, i, "tokens"
    return Admission(wait, index, bucket, _frozen(entries))


def take(limits: list[BucketLimit] | tuple[BucketLimit, ...], entries: list[list[float]], need: int) -> None:
    for lim, entry in zip(limits, entries, strict=True):
        if lim.req_rate:
            entry[0] -= 1
        if lim.tok_rate:
            entry[1] -= need


def _frozen(entries: list[list[float]]) -> tuple[tuple[float, float, float], ...]:
    return tuple((e[0], e[1], e[2]) for e in entries)
