"""Token counting and token-sized text pieces.

Counts are approximate (about four characters a token, as fakellm 0.3.5) unless
tiktoken is installed (the `accurate` extra) and its encoding can be loaded from
the local cache. Loading happens once, at start-up, never on the request path.
"""

from __future__ import annotations

import re
from typing import Callable

_PIECE = re.compile(r"\s*\S{1,8}|\s+")

_encode: Callable[[str], list[int]] | None = None


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


def pieces(text: str) -> list[str]:
    """Split text into token-sized pieces; joined they give back the text exactly."""
    return _PIECE.findall(text)


def truncate(text: str, max_tokens: int) -> str:
    """The longest prefix of `text` made of whole pieces that counts at most `max_tokens`."""
    if count(text) <= max_tokens:
        return text
    out = ""
    for piece in pieces(text):
        if count(out + piece) > max_tokens:
            break
        out += piece
    return out
