"""Where a Redis store lives: `redis://[[user]:password@]host[:port][/db][?prefix=name]`, parsed and
shown without its password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_PREFIX = "fakellm"
# Letters, digits, '_', '.', '-': no ':' (which separates a key's parts), so that no fleet's keys
# can be read as another fleet's, whatever the two prefixes.
_PREFIX = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True, slots=True)
class RedisLocation:
    host: str
    port: int
    db: int
    username: str | None
    password: str | None
    prefix: str | None  # from the URL's `prefix` query parameter, if it has one
    shown: str  # the URL with its password replaced, for messages, banners and logs


def redacted_url(url: str) -> str:
    """`url` with any password replaced by `***`, for banners, logs and error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority_end = len(rest)
    for stop in "/?#":
        at = rest.find(stop)
        if at != -1:
            authority_end = min(authority_end, at)
    authority, path = rest[:authority_end], rest[authority_end:]
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{hostport}{path}"


def check_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"invalid Redis key prefix {prefix!r}: use 1 to 64 letters, digits, '_', '.' or '-'")
    return prefix


def parse_redis_url(url: str) -> RedisLocation:
    """Parse a `redis://` URL; a ValueError (naming the URL without its password) says what is wrong."""
    shown = redacted_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port or 6379
    except ValueError as e:  # a port that is not a number
        raise ValueError(f"invalid Redis URL {shown}: {e}") from None
    if parts.scheme != "redis":
        raise ValueError(f"invalid Redis URL {shown}: it must start with redis://")
    if not parts.hostname:
        raise ValueError(f"invalid Redis URL {shown}: it names no host")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"invalid Redis URL {shown}: the path must be a database number, like /0")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"prefix"})
    if unknown:
        raise ValueError(f"invalid Redis URL {shown}: unknown parameter(s) {', '.join(unknown)} (known: prefix)")
    prefix = query["prefix"][-1] if "prefix" in query else None
    if prefix is not None:
        check_prefix(prefix)
    return RedisLocation(
        host=parts.hostname,
        port=port,
        db=int(path) if path else 0,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        prefix=prefix,
        shown=shown,
    )
