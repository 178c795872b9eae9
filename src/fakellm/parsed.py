"""Parsed request bodies, kept for bodies that arrive again byte for byte.

Load tests replay one payload thousands of times, and test suites send the same
request again and again. For an adapter whose parse depends on nothing but the
body and the path (`pure_parse = True`), a body seen before skips JSON decoding
and validation: the engine gets a new `Request` with this call's headers that
shares the earlier parse's parts. Nothing changes those parts after parsing
(the engine, the rules and the renderers only read a request).

Bounded: at most `max_entries` bodies per adapter, each at most `max_body_bytes`.
A body's parse is kept only from its second sighting, so traffic where every
body is new (distinct conversations) costs one dict entry per body (holding
the bytes) and no parsed objects to free later.
"""

from __future__ import annotations

from typing import Any

from .model import Request


class ParsedBodies:
    def __init__(self, max_entries: int = 256, max_body_bytes: int = 4096):
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        # adapter -> raw body -> (those bytes, the Request parsed from them); None: seen once, not parsed yet
        self._by_adapter: dict[Any, dict[bytes, tuple[bytes, Request] | None]] = {}

    def get(self, adapter: Any, raw: bytes, path: str, headers: dict[str, str]) -> tuple[bytes, Request] | None:
        """If the body was parsed before: the first copy of its bytes and a Request with these headers.

        The caller keeps the first copy instead of `raw` (the journal holds one object for all of them).
        """
        items = self._by_adapter.get(adapter)
        if items is None:
            return None
        known = items.get(raw)
        if known is None:
            return None
        first, k = known
        if k.path != path:
            return None
        return first, Request(k.api, k.model, k.messages, headers, k.body, k.path, k.tools, k.stream, k.max_tokens,
                              k.stop, k.n, k.thinking, k.conversation_id, k.generates_text, k.memo)

    def keep(self, adapter: Any, raw: bytes, request: Request) -> None:
        """Note a body just parsed; its parse is kept from the second time the body arrives."""
        if len(raw) > self.max_body_bytes:
            return
        items = self._by_adapter.get(adapter)
        if items is None:
            items = self._by_adapter[adapter] = {}
        if raw in items:
            request.memo = {}  # from now on shared by every request with these bytes
            items[raw] = (raw, request)
            return
        if len(items) >= self.max_entries:
            del items[next(iter(items))]  # the oldest
        items[raw] = None

    def clear(self) -> None:
        self._by_adapter.clear()

    def __len__(self) -> int:
        return sum(len(items) for items in self._by_adapter.values())
