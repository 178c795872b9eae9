"""Deterministic embedding vectors, and their base64 wire form.

The same text always gives the same unit-length vector; different texts give
unrelated ones (fakellm does not model meaning). The vector of length d is the
normalised first d components of the longer one, as with models that support
shortening (`dimensions`).
"""

from __future__ import annotations

import base64
import hashlib
import math
import sys
from array import array


def embed(text: str | bytes, dimensions: int) -> list[float]:
    """A unit-length vector of `dimensions` floats seeded by `text`."""
    seed = text.encode() if isinstance(text, str) else text
    raw = array("h", hashlib.shake_256(seed).digest(2 * dimensions))
    if sys.byteorder == "big":
        raw.byteswap()
    # Rounded to float32, so `float` and `base64` answers carry the same numbers.
    return array("f", normalize(raw)).tolist()


def rule_vectors(fixed: list[float] | list[list[float]], count: int) -> list[list[float]]:
    """A rule's `respond.embedding` for `count` inputs: one vector for every input, or one per input
    in order, cycling when there are more inputs than vectors."""
    rows = fixed if isinstance(fixed[0], list) else [fixed]
    return [[float(x) for x in rows[i % len(rows)]] for i in range(count)]


def normalize(values: array | list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in values))
    if norm == 0.0:  # an all-zero digest is practically impossible; keep it well defined
        return [1.0 / math.sqrt(len(values))] * len(values)
    return [x / norm for x in values]


def to_base64(vector: list[float]) -> str:
    """Little-endian float32 bytes, base64: what OpenAI sends for `encoding_format: base64`."""
    packed = array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")
