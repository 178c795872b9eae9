"""Token counting and token-sized text pieces.

Counts are approximate (about four characters a token, as fakellm 0.3.5) unless
tiktoken is installed (the `accurate` extra) and its encoding can be loaded from
the local cache. Loading happens once, at start-up, never on the request path.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

_PIECE = re.compile(r"\s*\S{1,8}|\s+")

_encode: Callable[[str], list[int]] | None = None

# Characters per streamed text piece while a stream with `chunk_size` renders. A
# context variable, so every adapter's `pieces()` follows it without being told.
_chunk_size: ContextVar[int | None] = ContextVar("fakellm_chunk_size", default=None)


def load_accurate_encoding() -> bool:
    """Try to load tiktoken's encoding; return whether counts are now accurate.

    Quietly keeps the approximation when tiktoken is missing or its encoding
    cannot be loaded (e.g. no cached file and no network).
    """
    global _encode
    if _encode is not None:
        return True
    try:
        import tiktoken

        _encode = tiktoken.get_encoding("o200k_base").encode
    except Exception:
        _encode = None
    return _encode is not None


def count(text: str) -> int:
    if not text:
        return 0
    if _encode is not None:
        try:
            return max(1, len(_encode(text)))
        except Exception:
            pass
    return max(1, len(text) // 4)


def pieces(text: str, size: int | None = None) -> list[str]:
    """Split text into token-sized pieces, or `size`-character pieces; joined they give back the text exactly.

    Without `size`, a `chunk_size` in effect (see `chunked`) applies.
    """
    size = size or _chunk_size.get()
    if size:
        return [text[i:i + size] for i in range(0, len(text), size)]
    return _PIECE.findall(text)


def truncate(text: str, max_tokens: int) -> str:
    """The longest prefix of `text` made of whole pieces that counts at most `max_tokens`."""
    if count(text) <= max_tokens:
        return text
    out = ""
    for piece in _PIECE.findall(text):
        if count(out + piece) > max_tokens:
            break
        out += piece
    return out


@contextmanager
def chunked(size: int | None) -> Iterator[None]:
    """Within the block, `pieces(text)` cuts `size`-character pieces (None: token-sized)."""
    token = _chunk_size.set(size)
    try:
        yield
    finally:
        _chunk_size.reset(token)
