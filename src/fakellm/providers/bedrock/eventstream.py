"""The AWS event-stream framing (`application/vnd.amazon.eventstream`) that Bedrock streams use.

One message: a prelude (total length and headers length, u32 big-endian, then the CRC32 of
those 8 bytes), the headers, the payload, and the CRC32 of everything before it. A header is
a 1-byte name length, the name, a 1-byte value type (7: a string, with a u16 length), the value.
"""

from __future__ import annotations

import struct
import zlib

CONTENT_TYPE = b"application/vnd.amazon.eventstream"
_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def header(name: str, value: str) -> bytes:
    """One string header, encoded."""
    raw_name, raw_value = name.encode(), value.encode()
    return bytes((len(raw_name),)) + raw_name + bytes((_STRING,)) + struct.pack(">H", len(raw_value)) + raw_value


def frame(headers: bytes, payload: bytes) -> bytes:
    """One whole message from its encoded headers and its payload."""
    total = _PRELUDE.size + _CRC.size + len(headers) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(headers))
    body = prelude + _CRC.pack(zlib.crc32(prelude)) + headers + payload
    return body + _CRC.pack(zlib.crc32(body))


_JSON = header(":content-type", "application/json")
_EVENT = header(":message-type", "event")
_EXCEPTION = header(":message-type", "exception")


def event_type_header(event_type: str) -> bytes:
    """The `:event-type` header of an event: found in no other event, so it marks one kind of event."""
    return header(":event-type", event_type)


def event(event_type: str, payload: bytes) -> bytes:
    """A modelled event (`:message-type: event`) with a JSON payload, headers in the order AWS sends them."""
    return frame(event_type_header(event_type) + _JSON + _EVENT, payload)


def exception(exception_type: str, payload: bytes) -> bytes:
    """A modelled exception (`:message-type: exception`): the SDKs raise it mid-iteration."""
    return frame(header(":exception-type", exception_type) + _JSON + _EXCEPTION, payload)
