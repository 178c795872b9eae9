"""Strings that match a regular expression, for JSON Schema's `pattern`.

A small generator for the subset that schemas use: literals, classes (`[a-z0-9]`, `[^,]`),
`\\d \\w \\s` and their negations, `.`, quantifiers `? * + {n} {n,} {n,m}` (lazy or possessive
alike), groups (capturing, non-capturing, named) and alternation, anchors. Anything else
(look-arounds, back-references, most inline flags) raises `PatternUnsupported`; the caller
checks every string it gets with `re.search` anyway.
"""

from __future__ import annotations

import re
import string

MAX_REPEAT = 10_000


class PatternUnsupported(ValueError):
    """A pattern outside the subset this module generates strings for."""


# Nodes are tuples: ("chars", [candidates]), ("seq", [nodes]), ("alt", [nodes]),
# ("rep", node, min, max or None), ("start",), ("end",), ("empty",).
_PRINTABLE = string.ascii_lowercase + string.ascii_uppercase + string.digits + "_-.@ !#$%&*+,/:;=?^~|()[]{}<>'\"\\"
_CLASSES = {
    "d": string.digits, "w": string.ascii_lowercase + string.ascii_uppercase + string.digits + "_",
    "s": " \t\n\r\f\v",
}
_ESCAPED_CHARS = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "0": "\0"}


def _negated(excluded: str) -> list[str]:
    return [c for c in _PRINTABLE if c not in excluded]


class _Parser:
    def __init__(self, pattern: str):
        self.text = pattern
        self.pos = 0

    def fail(self, what: str) -> PatternUnsupported:
        return PatternUnsupported(f"pattern {self.text!r} uses {what}, beyond what fakellm generates strings for")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        self.pos += 1
        return char

    def parse(self) -> tuple:
        if self.text.startswith("(?i)") or self.text.startswith("(?u)"):
            self.pos = 4  # a generated string matches regardless of case
        node = self.alternation()
        if self.pos < len(self.text):
            raise self.fail("an unbalanced ')'")
        return node

    def alternation(self) -> tuple:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def sequence(self) -> tuple:
        items = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.quantified(self.atom()))
        return ("seq", items)

    def quantified(self, node: tuple) -> tuple:
        while True:
            char = self.peek()
            if char in ("*", "+", "?"):
                self.pos += 1
                low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
            elif char == "{" and (bounds := self.braces()) is not None:
                low, high = bounds
            else:
                return node
            if self.peek() in ("?", "+"):  # lazy or possessive: the same strings
                self.pos += 1
            if low > MAX_REPEAT or (high is not None and high > MAX_REPEAT):
                raise self.fail(f"a repetition above {MAX_REPEAT}")
            if high is not None and low > high:
                raise self.fail("a repetition whose minimum exceeds its maximum")
            node = ("rep", node, low, high)

    def braces(self) -> tuple[int, int | None] | None:
        match = re.match(r"\{(\d*)(,?)(\d*)\}", self.text[self.pos:])
        if not match or (not match[1] and not match[2]):
            return None  # a literal brace, as in Python
        self.pos += match.end()
        low = int(match[1]) if match[1] else 0
        if not match[2]:
            return low, low
        return low, int(match[3]) if match[3] else None

    def atom(self) -> tuple:
        char = self.take()
        if char == "(":
            return self.group()
        if char == "[":
            return ("chars", self.char_class())
        if char == ".":
            return ("chars", _negated("\n"))
        if char == "^":
            return ("start",)
        if char == "$":
            return ("end",)
        if char == "\\":
            return self.escape(in_class=False)
        if char in ("*", "+", "?"):
            raise self.fail("a quantifier with nothing to repeat")
        return ("chars", [char])

    def group(self) -> tuple:
        if self.peek() == "?":
            rest = self.text[self.pos:]
            if rest.startswith("?:"):
                self.pos += 2
            elif m := re.match(r"\?P?<[A-Za-z_]\w*>", rest):
                self.pos += m.end()
            elif rest.startswith(("?=", "?!", "?<=", "?<!")):
                raise self.fail("a look-around")
            elif rest.startswith("?P="):
                raise self.fail("a back-reference")
            else:
                raise self.fail("an inline flag or group extension")
        node = self.alternation()
        if self.take() != ")":
            raise self.fail("an unclosed '('")
        return node

    def escape(self, in_class: bool) -> tuple:
        char = self.take()
        if char == "":
            raise self.fail("a trailing backslash")
        if char.lower() in _CLASSES:
            chars = _CLASSES[char.lower()]
            return ("chars", list(chars) if char.islower() else _negated(chars))
        if char in _ESCAPED_CHARS:
            return ("chars", [_ESCAPED_CHARS[char]])
        if char in ("x", "u"):
            width = 2 if char == "x" else 4
            digits = self.text[self.pos:self.pos + width]
            if len(digits) != width or any(d not in string.hexdigits for d in digits):
                raise self.fail(f"a malformed \\{char} escape")
            self.pos += width
            return ("chars", [chr(int(digits, 16))])
        if not in_class and char in ("b", "B"):
            return ("empty",)  # a word boundary: best effort, the caller checks the result
        if not in_class and char in ("A",):
            return ("start",)
        if not in_class and char in ("Z", "z"):
            return ("end",)
        if char.isalnum():
            raise self.fail(f"the escape \\{char}")
        return ("chars", [char])

    def char_class(self) -> list[str]:
        negate = self.peek() == "^"
        if negate:
            self.pos += 1
        chars: list[str] = []
        first = True
        while True:
            char = self.take()
            if char == "":
                raise self.fail("an unclosed '['")
            if char == "]" and not first:
                break
            first = False
            if char == "[":
                raise self.fail("a '[' inside a class (a POSIX class or nested set)")
            if char == "\\":
                chars.extend(self.escape(in_class=True)[1])
                continue
            if self.peek() == "-" and self.text[self.pos + 1:self.pos + 2] not in ("]", ""):
                self.pos += 1
                end = self.take()
                if end == "\\":
                    escaped = self.escape(in_class=True)[1]
                    if len(escaped) != 1:
                        raise self.fail("a range ending in a class")
                    end = escaped[0]
                if ord(end) < ord(char):
                    raise self.fail("a reversed range")
                # A huge range (a whole Unicode block) only needs its first few characters.
                chars.extend(chr(c) for c in range(ord(char), min(ord(end), ord(char) + 200) + 1))
                continue
            chars.append(char)
        if negate:
            excluded = set(chars)
            return [c for c in _PRINTABLE if c not in excluded]
        return list(dict.fromkeys(chars))


def parse(pattern: str) -> tuple:
    """The pattern's tree; raises PatternUnsupported for what this module cannot generate."""
    tree = _Parser(pattern).parse()
    try:
        re.compile(pattern)
    except re.error as exc:
        raise PatternUnsupported(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
    return tree


def _is_anchored(node: tuple, kind: str) -> bool:
    """Whether the tree has an anchor of `kind` anywhere (then padding on that side is unsafe)."""
    if node[0] == kind:
        return True
    if node[0] in ("seq", "alt"):
        return any(_is_anchored(child, kind) for child in node[1])
    if node[0] == "rep":
        return _is_anchored(node[1], kind)
    return False


class _Writer:
    """Writes one string for a tree: each repetition at its minimum, then extra repetitions while
    the string is shorter than wanted. `variant` picks other characters and branches."""

    def __init__(self, variant: int, extra: int, limit: int):
        self.variant = variant
        self.extra = extra
        self.limit = limit
        self.size = 0

    def write(self, node: tuple, out: list[str]) -> None:
        kind = node[0]
        if kind == "chars":
            if not node[1]:
                raise PatternUnsupported("a character class that matches nothing")
            out.append(node[1][self.variant % len(node[1])])
            self.size += 1
            if self.size > self.limit:
                raise PatternUnsupported(f"strings longer than {self.limit} characters")
        elif kind == "seq":
            for child in node[1]:
                self.write(child, out)
        elif kind == "alt":
            self.write(node[1][self.variant % len(node[1])], out)
        elif kind == "rep":
            _, child, low, high = node
            for _ in range(low):
                self.write(child, out)
            count = low
            while self.extra > 0 and (high is None or count < high):
                before = self.size
                self.write(child, out)
                count += 1
                grown = self.size - before
                if grown == 0:
                    break
                self.extra -= grown


def string_for(pattern: str, min_length: int = 0, variant: int = 0, limit: int = 100_000) -> str:
    """A string that `re.search(pattern, ...)` finds, of at least min_length characters when the
    pattern allows. Raises PatternUnsupported when the pattern is beyond the subset; the result may
    still miss a maximum length or (with anchors in odd places) the pattern: check it."""
    tree = parse(pattern)
    text = _render(tree, variant, 0, limit)
    if len(text) < min_length:
        text = _render(tree, variant, min_length - len(text), limit)
    short = min_length - len(text)
    filler = string.ascii_lowercase[variant % 26]
    if short > 0 and not _is_anchored(tree, "end"):
        text += filler * short  # re.search still finds the match at the start
    elif short > 0 and not _is_anchored(tree, "start"):
        text = filler * short + text
    return text


def _render(tree: tuple, variant: int, extra: int, limit: int) -> str:
    out: list[str] = []
    _Writer(variant, extra, limit).write(tree, out)
    return "".join(out)
