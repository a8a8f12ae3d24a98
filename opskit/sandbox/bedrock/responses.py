"""What the endpoint sends: an answer's documents, and the HTTP responses that
carry them (JSON, Bedrock's error shape, a chunked event stream).

Field names and where they go are facts of Bedrock's wire format (botocore's
``bedrock-runtime`` service model, and Nova's own request and response
bodies); only what the app and botocore read is sent, plus Bedrock's padding.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from opskit.sandbox.bedrock import eventstream
from opskit.sandbox.bedrock.bodies import Prompt
from opskit.sandbox.bedrock.models import words

WORDS_PER_EVENT = 3
INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"
# Bedrock pads stream events with a "p" field so that their sizes do not give
# the text away; clients ignore it. Here too, so that the app proves it does.
PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Answer:
    pieces: list[str]  # the text events' texts
    input_tokens: int
    output_tokens: int
    stop_reason: str

    @classmethod
    def of(cls, text: str, prompt: Prompt) -> Answer:
        chunks = words(text)
        stop_reason = "end_turn"
        limit = prompt.max_tokens
        if limit is not None and len(chunks) > limit:  # a word stands in for a token
            chunks, stop_reason = chunks[:limit], "max_tokens"
        pieces = [
            "".join(chunks[start : start + WORDS_PER_EVENT])
            for start in range(0, len(chunks), WORDS_PER_EVENT)
        ]
        return cls(pieces, prompt.input_tokens, len(chunks), stop_reason)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def usage(self) -> dict[str, int]:
        total = self.input_tokens + self.output_tokens
        return {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": total,
        }

    def metadata(self, latency_ms: int) -> dict[str, Any]:
        return {"usage": self.usage(), "metrics": {"latencyMs": latency_ms}}

    def converse_document(self, latency_ms: int) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": self.text}]}},
            "stopReason": self.stop_reason,
            **self.metadata(latency_ms),
        }

    def nova_document(self) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": self.text}]}},
            "stopReason": self.stop_reason,
            "usage": self.usage(),
        }

    def invocation_metrics(self, latency_ms: int, first_byte_ms: int) -> dict[str, Any]:
        return {
            INVOCATION_METRICS: {
                "inputTokenCount": self.input_tokens,
                "outputTokenCount": self.output_tokens,
                "invocationLatency": latency_ms,
                "firstByteLatency": first_byte_ms,
            }
        }

    def token_headers(self, latency_ms: int) -> dict[str, str]:
        return {
            "X-Amzn-Bedrock-Input-Token-Count": str(self.input_tokens),
            "X-Amzn-Bedrock-Output-Token-Count": str(self.output_tokens),
            "X-Amzn-Bedrock-Invocation-Latency": str(latency_ms),
        }


def _headers(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in {
        "x-amzn-RequestId": str(uuid.uuid4()),
        "Connection": "close",  # no pooled connection outlives an `unavailable` switch
        **headers,
    }.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.close_connection = True


def send_json(
    handler: BaseHTTPRequestHandler, document: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(document).encode("utf-8")
    _headers(
        handler,
        200,
        {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})},
    )
    handler.wfile.write(body)


def send_error(
    handler: BaseHTTPRequestHandler,
    status: int,
    code: str,
    message: str,
    document: dict[str, Any] | None = None,
) -> None:
    body = json.dumps(document or {"message": message}).encode("utf-8")
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    _headers(handler, status, {**headers, "x-amzn-ErrorType": code})
    handler.wfile.write(body)


def nova_chunks(event_type: str, document: dict[str, Any]) -> list[Any]:
    """A Converse stream event as Nova's own stream JSON (one ``chunk``)."""
    # Nova's last chunk carries Bedrock's invocation metrics beside its metadata.
    metrics = document.get(INVOCATION_METRICS)
    body = {event_type: {k: v for k, v in document.items() if k != INVOCATION_METRICS}}
    return [{**body, **({INVOCATION_METRICS: metrics} if metrics else {})}]


def send_stream(
    handler: BaseHTTPRequestHandler,
    events: Iterator[tuple[str, dict[str, Any]]],
    *,
    chunks: Callable[[str, dict[str, Any]], list[Any]] | None,
    record: Callable[[str], None],
) -> None:
    """Send ``events`` (Converse's stream events) as one chunked event-stream response.

    ``chunks`` turns each event into the model's own stream JSON for
    InvokeModelWithResponseStream (``chunk`` events); ``None``: ConverseStream.
    ``record`` gets the error event's code ('' for none) just before the frame
    that ends the stream for the client is written: a client that reads the end
    and then asks the endpoint what it served finds this call there.
    """
    headers = {"Content-Type": eventstream.CONTENT_TYPE, "Transfer-Encoding": "chunked"}
    if chunks is not None:
        headers["X-Amzn-Bedrock-Content-Type"] = "application/json"
    _headers(handler, 200, headers)
    error = ""
    index = 0
    for event_type, document in events:
        if event_type.endswith("Exception"):
            error = event_type
            record(error)
            messages = [eventstream.exception(event_type, document)]
        elif chunks is not None:
            messages = [
                eventstream.event("chunk", {"bytes": _bytes(chunk), "p": _pad(index + n)})
                for n, chunk in enumerate(chunks(event_type, document))
            ]
        else:
            messages = [eventstream.event(event_type, {**document, "p": _pad(index)})]
        for message in messages:
            handler.wfile.write(f"{len(message):x}\r\n".encode("ascii") + message + b"\r\n")
            index += 1
        handler.wfile.flush()
    if not error:
        record(error)
    handler.wfile.write(b"0\r\n\r\n")


def _bytes(chunk: Any) -> str:
    return base64.b64encode(json.dumps(chunk).encode("utf-8")).decode("ascii")


def _pad(index: int) -> str:
    return PADDING[: 1 + (index * 7) % len(PADDING)]
