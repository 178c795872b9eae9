"""Token counting and token-sized text pieces.

Counts are approximate (about four characters a token, as fakellm 0.3.5) unless
tiktoken is installed (the `accurate` extra) and its encoding can be loaded from
the local cache. Loading happens once, at start-up, never on the request path.
"""

from __future__ import annotations

import re
from typing import Callable

_PIECE = re.compile(r"\s*\S{1,8}|\s+")

# Process-wide: tiktoken's encoding is read-only data, loaded once at start-up (not per app).
_encode: Callable[[str], list[int]] | None = None


def load_accurate_encoding() -> bool:
    """Try to load tiktoken's encoding from the local cache; return whether OpenAI counts are now accurate.

    Never downloads: when tiktoken is missing, or its encoding file is not in
    tiktoken's cache (TIKTOKEN_CACHE_DIR), the approximation quietly stays.
    """
    global _encode
    if _encode is not None:
        return True
    try:
        import tiktoken
        import tiktoken.load
    except ImportError:
        return False
    fetch = tiktoken.load.read_file

    def local_only(blobpath: str) -> bytes:
        if "://" in blobpath and not blobpath.startswith("file://"):
            raise OSError("not in tiktoken's local cache, and fakellm does not download")
        return fetch(blobpath)

    tiktoken.load.read_file = local_only
    try:
        _encode = tiktoken.get_encoding("o200k_base").encode
    except Exception:  # any failure keeps the approximation; a mock must start regardless
        _encode = None
    finally:
        tiktoken.load.read_file = fetch
    return _encode is not None


def count(text: str) -> int:
    """Approximate tokens: about four characters a token (fakellm 0.3.5), at least 1 for any text."""
    if not text:
        return 0
    return max(1, len(text) // 4)


def _count_accurately(text: str) -> int:
    if not text:
        return 0
    try:
        return max(1, len(_encode(text)))  # type: ignore[misc]
    except Exception:  # tiktoken rejects some inputs (special tokens); approximate those
        return count(text)


def counter(api: str) -> Callable[[str], int]:
    """The token counter for an API: tiktoken's for OpenAI when it is loaded, else the approximation."""
    if _encode is not None and api.startswith("openai"):
        return _count_accurately
    return count


def pieces(text: str, size: int | None = None) -> list[str]:
    """Split text into token-sized pieces, or `size`-character pieces; joined they give back the text exactly."""
    if size:
        return [text[i:i + size] for i in range(0, len(text), size)]
    return _PIECE.findall(text)


def truncate(text: str, max_tokens: int, count_tokens: Callable[[str], int] = count) -> str:
    """The longest prefix of `text` made of whole pieces that counts at most `max_tokens`."""
    if count_tokens(text) <= max_tokens:
        return text
    out = ""
    for piece in _PIECE.findall(text):
        if count_tokens(out + piece) > max_tokens:
            break
        out += piece
    return out
