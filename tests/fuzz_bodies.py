"""Generated request bodies for the fuzz tests: a valid body, mutated the ways careless or hostile
clients mutate JSON. Seeded, so a failing case can be replayed by its seed and index."""

from __future__ import annotations

import copy
import random
from typing import Any

LEAVES: list[Any] = [
    None, True, False, 0, -1, 1, 2, 7, 2**31, 2**63 - 1, -(2**63), 10**30, 0.5, -3.25, 1e300, -1e-300,
    "", " ", "hi", "x" * 5000, "\x00", "nul\x00inside", "\u202e\u200b", "\ud7ff\ue000", "😀" * 3,
    "<script>alert(1)</script>", "../../etc/passwd", "%s%n{0}", "user", "assistant", "system", "tool",
    "function", "text", "image", "image_url", "input_text", "tool_use", "tool_result", "function_call",
    "function_call_output", "message", "auto", "required", "none", "json_object", "json_schema", "high",
    "gpt-4o", "claude-sonnet-4-5", "models/gemini-2.5-flash", "data:image/png;base64,AAAA", "text/plain",
]


def _containers() -> list[Any]:
    return [[], {}, [None], [[]], [{}], {"": None}, {"type": None}, {"text": 5}, {"role": []},
            {"type": "text", "text": None}, {"type": "function", "function": None},
            [{"type": "text", "text": "hi"}, 3], {"parts": [{"text": []}]}, {"content": {"parts": 5}},
            {"name": None, "arguments": {}}, [1, "a", None, {}, []]]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into the body, containers included."""
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, prefix + (key,)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out.extend(_paths(child, prefix + (i,)))
    return out


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.55 or depth > 3:
        return rng.choice(LEAVES)
    if roll < 0.8:
        return copy.deepcopy(rng.choice(_containers()))
    if roll < 0.9:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["type", "text", "role", "content", "name", "x", "parts", "id"]): _random_value(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


def _set(body: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return body


def _get(body: Any, path: tuple) -> Any:
    for step in path:
        body = body[step]
    return body


def mutate(valid: dict[str, Any], rng: random.Random) -> Any:
    """One to three mutations of a copy of `valid`."""
    body: Any = copy.deepcopy(valid)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(body)
        path = rng.choice(paths)
        action = rng.random()
        if action < 0.45:  # replace a value (or a whole subtree) by one of another kind
            body = _set(body, path, _random_value(rng))
        elif action < 0.6 and path:  # drop a key or an item
            parent = _get(body, path[:-1])
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, list) and parent:
                parent.pop(path[-1] if path[-1] < len(parent) else -1)
        elif action < 0.75:  # add a key or an item
            target = _get(body, path)
            if isinstance(target, dict):
                target[rng.choice(["type", "role", "content", "stream", "tools", "n", "x", "input", "parts"])] = \
                    _random_value(rng)
            elif isinstance(target, list):
                target.append(_random_value(rng))
            else:
                body = _set(body, path, [target, _random_value(rng)])
        elif action < 0.85:  # wrap the value in a list or an object
            target = _get(body, path)
            body = _set(body, path, [target] if rng.random() < 0.5 else {"value": target})
        elif action < 0.93 and isinstance(body, dict):  # a top-level field of the wrong kind
            key = rng.choice(list(body) or ["model"])
            body[key] = rng.choice(LEAVES + _containers())
        else:  # duplicate a list item many times
            target = _get(body, path)
            if isinstance(target, list) and target:
                target.extend(copy.deepcopy(target[0]) for _ in range(rng.randint(1, 50)))
    return body


def bodies(valid: dict[str, Any], count: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    return [mutate(valid, rng) for _ in range(count)]
