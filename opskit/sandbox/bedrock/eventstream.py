"""An encoder for ``application/vnd.amazon.eventstream`` messages.

botocore only decodes this format (``botocore.eventstream``), and the
well-kept encoder, smithy-python's ``smithy-aws-event-stream``, needs Python
3.12. The format is small, so it is written here, for what the sandbox's
Bedrock endpoint sends: string headers, a JSON payload. Its tests read every
message back with botocore's own decoder.

A message, all integers big-endian::

    total length (4) | headers length (4) | CRC32 of the 8 bytes before (4)
    headers | payload | CRC32 of everything before (4)

and a string header is ``name length (1) | name | 7 | value length (2) | value``.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7  # header value type: UTF-8 string
_PRELUDE = struct.Struct("!II")
_CRC = struct.Struct("!I")
_MAX_HEADERS = 128 * 1024
_MAX_PAYLOAD = 16 * 1024 * 1024


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One message with ``headers`` (all string-valued) and ``payload``."""
    encoded = b"".join(_encode_header(name, value) for name, value in headers.items())
    if len(encoded) > _MAX_HEADERS:
        raise ValueError(f"event stream headers too long: {len(encoded)} bytes")
    if len(payload) > _MAX_PAYLOAD:
        raise ValueError(f"event stream payload too long: {len(payload)} bytes")
    total = _PRELUDE.size + _CRC.size + len(encoded) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(encoded))
    head = prelude + _CRC.pack(zlib.crc32(prelude))
    body = head + encoded + payload
    return body + _CRC.pack(zlib.crc32(body))


def event(event_type: str, document: Mapping[str, Any]) -> bytes:
    """A modeled event (``:message-type: event``) whose payload is ``document`` as JSON."""
    return encode_message(
        {
            ":event-type": event_type,
            ":content-type": "application/json",
            ":message-type": "event",
        },
        _json(document),
    )


def exception(exception_type: str, document: Mapping[str, Any]) -> bytes:
    """A modeled error inside the stream (``:message-type: exception``): botocore
    raises it as an ``EventStreamError`` whose code is ``exception_type``."""
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        _json(document),
    )


def _encode_header(name: str, value: str) -> bytes:
    raw_name = name.encode("utf-8")
    raw_value = value.encode("utf-8")
    if len(raw_name) > 255 or len(raw_value) > 0xFFFF:
        raise ValueError(f"event stream header {name!r} is too long")
    return (
        struct.pack("!B", len(raw_name))
        + raw_name
        + struct.pack("!BH", _STRING, len(raw_value))
        + raw_value
    )


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
