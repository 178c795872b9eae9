"""String formats of JSON Schema: a checker for each format fakellm produces, and sample values.

The checkers are written here with the standard library instead of jsonschema's optional extras
(rfc3339-validator, rfc3987, fqdn), so validation means the same wherever fakellm is installed.
Samples are fixed, plausible values; `variant` gives distinct ones (for `uniqueItems`).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import re
import uuid
from typing import Callable

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z", re.ASCII)
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))\Z", re.ASCII)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\Z")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]*\Z")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z", re.ASCII)


def is_date(text: str) -> bool:
    match = _DATE.match(text)
    if not match:
        return False
    try:
        datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True


def is_time(text: str) -> bool:
    """RFC 3339 full-time: the offset is required, a leap second is allowed."""
    match = _TIME.match(text)
    if not match:
        return False
    hour, minute, second = int(match[1]), int(match[2]), int(match[3])
    offset_ok = match[6] is None or (int(match[6]) < 24 and int(match[7]) < 60)
    return hour < 24 and minute < 60 and second <= 60 and offset_ok


def is_date_time(text: str) -> bool:
    date, sep, time = text[:10], text[10:11], text[11:]
    return sep in ("T", "t") and is_date(date) and is_time(time)


def is_email(text: str) -> bool:
    return bool(_EMAIL.match(text))


def is_uri(text: str) -> bool:
    """An absolute URI: a scheme, a colon, no spaces."""
    return bool(_URI.match(text))


def is_uuid(text: str) -> bool:
    if len(text) != 36 or any(text[i] != "-" for i in (8, 13, 18, 23)):
        return False
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def is_ipv6(text: str) -> bool:
    if "%" in text:  # a zone id is not part of the format
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def is_hostname(text: str) -> bool:
    name = text[:-1] if text.endswith(".") else text
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


CHECKS: dict[str, Callable[[str], bool]] = {
    "date-time": is_date_time, "date": is_date, "time": is_time,
    "email": is_email, "idn-email": is_email,
    "uri": is_uri, "iri": is_uri,
    "uuid": is_uuid, "ipv4": is_ipv4, "ipv6": is_ipv6,
    "hostname": is_hostname, "idn-hostname": is_hostname,
}
"""The formats that validation checks; any other `format` is an annotation."""


def sample(fmt: str, variant: int, salt: str) -> str | None:
    """A value of format `fmt` (None for a format fakellm has no sample for). `salt` varies UUIDs only."""
    day = datetime.date(2024, 1, 1) + datetime.timedelta(days=variant)
    if fmt == "date-time":
        return f"{day.isoformat()}T00:00:00Z"
    if fmt == "date":
        return day.isoformat()
    if fmt == "time":
        return f"{12 + variant // 60 % 12:02d}:{variant % 60:02d}:00Z"
    if fmt in ("email", "idn-email"):
        return f"user{variant or ''}@example.com"
    if fmt in ("uri", "iri", "uri-reference", "iri-reference"):
        return f"https://example.com/{variant or ''}"
    if fmt == "uri-template":
        return "https://example.com/{id}"
    if fmt == "uuid":
        return str(uuid.UUID(bytes=hashlib.blake2b(f"{salt}|{variant}".encode(), digest_size=16).digest(), version=4))
    if fmt == "ipv4":
        return f"192.0.{2 + variant // 254 % 254}.{1 + variant % 254}"
    if fmt == "ipv6":
        return f"2001:db8::{variant + 1:x}"
    if fmt in ("hostname", "idn-hostname"):
        return f"host{variant}.example.com" if variant else "example.com"
    if fmt == "duration":
        return f"P{variant + 1}D"
    if fmt == "json-pointer":
        return f"/example{variant or ''}"
    if fmt == "relative-json-pointer":
        return str(variant)
    if fmt == "regex":
        return f"^example{variant or ''}$"
    return None
