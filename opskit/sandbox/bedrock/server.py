"""The sandbox's Bedrock Runtime endpoint: an HTTP server on 127.0.0.1.

It speaks the wire protocol of the four calls a chatbot makes (rest-json, as
botocore's ``bedrock-runtime`` model describes it), so an app pointed at it
with ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` runs its production code unchanged:
botocore's own serializer, HTTP, error parsing, retries and event-stream
decoding.

==============================================  ===================================
``POST /model/{modelId}/converse``              JSON answer
``POST /model/{modelId}/converse-stream``       event stream: messageStart,
                                                contentBlockDelta..., contentBlockStop,
                                                messageStop, metadata
``POST /model/{modelId}/invoke``                the model's own JSON answer body
                                                (Nova's, or Anthropic's Messages)
``POST /model/{modelId}/invoke-with-response-stream``  event stream of ``chunk``
                                                events, each the model's stream JSON
``GET /opskit-api/faults`` / ``/opskit-api/calls``  the sandbox's own: faults in
                                                force, calls served (for status, tests)
==============================================  ===================================

Any other path or method is ``UnknownOperationException`` (404). Signatures
are not checked (any SigV4 signature, or none, is accepted): it is a sandbox
on loopback. The signature's Region is read, though: it is the Region the call
comes from, which decides whether its model id may be called (``catalogue``);
an unsigned call comes from us-east-1. Errors have Bedrock's shape: the code
in ``x-amzn-ErrorType``, ``{"message": ...}`` in the body, Bedrock's HTTP
status, so botocore raises the modeled exception class
(``client.exceptions.ValidationException``).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from opskit.sandbox.bedrock.bodies import Prompt, RequestInvalid, converse_prompt
from opskit.sandbox.bedrock.bodies_claude import check_claude_fields, claude_prompt
from opskit.sandbox.bedrock.bodies_nova import check_nova_fields, nova_prompt
from opskit.sandbox.bedrock.catalogue import Model, ModelRefused, model_for_call
from opskit.sandbox.bedrock.faults import STREAM_ERROR, STREAM_ERRORS, Fault, FaultBoard, FaultFile
from opskit.sandbox.bedrock.models import FaqAnswers
from opskit.sandbox.bedrock.responses import (
    Answer,
    nova_chunks,
    send_error,
    send_json,
    send_stream,
)
from opskit.sandbox.bedrock.responses_claude import claude_chunks, claude_document
from opskit.sandbox.errors import SandboxError

log = logging.getLogger("opskit.sandbox")

DEFAULT_DELAY = 0.02  # seconds between two text events
DELAY_ENV = "OPSKIT_SANDBOX_BEDROCK_DELAY"
WATCH_INTERVAL = 0.2  # seconds between two looks at the faults file
_OPERATIONS = {
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
}
DEFAULT_REGION = "us-east-1"  # an unsigned call's
_ACCESS_DENIED = "You don't have access to the model with the specified model ID."
_THROTTLED = "Too many requests, please wait before trying again."
_INVOKE_BODIES = {"nova": nova_prompt, "claude": claude_prompt}
_CONVERSE_FIELDS = {"nova": check_nova_fields, "claude": check_claude_fields}
_CREDENTIAL_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/")


def delay_from_env() -> float:
    """The seconds between two text events: ``$OPSKIT_SANDBOX_BEDROCK_DELAY`` or 0.02."""
    raw = os.environ.get(DELAY_ENV, "").strip()
    if not raw:
        return DEFAULT_DELAY
    try:
        delay = float(raw)
    except ValueError:
        delay = -1.0
    if not 0 <= delay <= 10:
        raise SandboxError(f"{DELAY_ENV} must be seconds between 0 and 10, not {raw!r}")
    return delay


@dataclass(frozen=True)
class Call:
    """One request the endpoint answered, for ``/opskit-api/calls`` and tests."""

    operation: str
    model_id: str
    status: int  # HTTP status (200 for a stream that ended in an error event)
    error: str = ""  # the error code sent, in the response or inside the stream


class _Failure(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.document = {"message": message, **extra}


class BedrockEndpoint:
    """Start, serve, stop. ``faults`` may be changed at any time; with a
    ``faults_file`` the file is the source of truth and is re-read on change."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        delay: float = DEFAULT_DELAY,
        faults_file: Path | None = None,
    ):
        self.host = host
        self.port = port
        self.delay = delay
        self.faults = FaultBoard(on_change=self._apply_listener)
        self._file = FaultFile(faults_file) if faults_file is not None else None
        self._answers = FaqAnswers()
        self._calls: deque[Call] = deque(maxlen=1000)
        self._listener_lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def faults_file(self) -> Path | None:
        return self._file.path if self._file is not None else None

    def start(self) -> None:
        if self._file is not None:
            self._file.reset()
        self._open_listener()
        if self._file is not None:
            self._watcher = threading.Thread(
                target=self._watch, name="sandbox-bedrock-faults", daemon=True
            )
            self._watcher.start()

    def stop(self) -> None:
        """Close the port and end streams in progress; safe to call twice."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
        self._close_listener()
        if self._file is not None:
            self._file.remove()

    def calls(self) -> list[Call]:
        return list(self._calls)

    # -- the port, open or refusing ------------------------------------------------

    def _open_listener(self) -> None:
        with self._listener_lock:
            if self._server is not None or self._stopping.is_set():
                return
            server = _HttpServer((self.host, self.port), _Handler)
            server.endpoint = self
            self.port = server.server_address[1]
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="sandbox-bedrock",
                daemon=True,
            )
            thread.start()
            self._server = server

    def _close_listener(self) -> None:
        with self._listener_lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def _apply_listener(self) -> None:
        """``unavailable``: nothing listens on the port, so connecting is refused."""
        if self.faults.unavailable:
            self._close_listener()
        elif not self._stopping.is_set():
            try:
                self._open_listener()
            except OSError as err:  # someone took the port meanwhile: say so, keep going
                log.warning("Bedrock endpoint cannot listen on %s again: %s", self.port, err)

    # -- the faults file -----------------------------------------------------------

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_INTERVAL):
            self.sync_faults_file()

    def sync_faults_file(self) -> None:
        """Load the faults file if it changed (each request calls this too, so a
        fault set just before a call is in force for it)."""
        faults = self._file.changed() if self._file is not None else None
        if faults is not None:
            self.faults.replace(faults)

    # -- requests --------------------------------------------------------------------

    def handle(self, handler: _Handler) -> None:
        path = urlsplit(handler.path).path
        if handler.command == "GET" and path.startswith("/opskit-api/"):
            self._admin(handler, path)
            return
        operation, model_id = _route(handler.command, path)
        body = handler.read_body()
        if operation is None:
            send_error(handler, 404, "UnknownOperationException", "Unknown operation")
            return
        self.sync_faults_file()
        try:
            self._serve(handler, operation, model_id, body, _region(handler))
        except _Failure as failure:
            self._record(operation, model_id, failure.status, failure.code)
            send_error(handler, failure.status, failure.code, str(failure), failure.document)
        except (BrokenPipeError, ConnectionResetError):
            self._record(operation, model_id, 499, "ClientClosedConnection")

    def _serve(
        self, handler: _Handler, operation: str, model_id: str, body: bytes, region: str
    ) -> None:
        started = time.monotonic()
        try:
            model = model_for_call(model_id, region)
        except ModelRefused as err:
            raise _Failure(400, "ValidationException", str(err)) from None
        fault = self.faults.for_call(model.model_id, model.family)
        if fault is not None and fault.kind == "access_denied":
            raise _Failure(403, "AccessDeniedException", _ACCESS_DENIED)
        if fault is not None and fault.kind == "throttled":
            raise _Failure(429, "ThrottlingException", _THROTTLED)
        invoke = operation.startswith("InvokeModel")
        try:
            prompt = _prompt(model, body, invoke=invoke)
        except RequestInvalid as err:
            raise _Failure(400, "ValidationException", str(err)) from None
        answer = Answer.of(self._answers.answer(model, prompt.messages), prompt)
        if operation.endswith("Stream"):
            chunks = None
            if invoke:
                chunks = claude_chunks(answer, model) if model.family == "claude" else nova_chunks
            send_stream(
                handler,
                self._events(answer, fault, started, invoke=invoke),
                chunks=chunks,
                record=lambda error: self._record(operation, model_id, 200, error),
            )
            return
        self._wait_first_token(fault)
        if fault is not None and fault.kind == "stream_error":
            error = STREAM_ERRORS[fault.event]
            extra = {"originalStatusCode": 500} if fault.event == STREAM_ERROR else {}
            raise _Failure(error.status, error.code, error.message, **extra)
        latency = _ms(started)
        if invoke and model.family == "claude":
            send_json(handler, claude_document(answer, model), answer.token_headers(latency))
        elif invoke:
            send_json(handler, answer.nova_document(), answer.token_headers(latency))
        else:
            send_json(handler, answer.converse_document(latency))
        self._record(operation, model_id, 200, "")

    def _events(
        self, answer: Answer, fault: Fault | None, started: float, *, invoke: bool
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(event type, document)`` pairs, Converse's; a type ending in
        ``Exception`` ends the stream as that error event."""
        yield "messageStart", {"role": "assistant"}
        self._wait_first_token(fault)
        first_byte = _ms(started)
        stop_after = fault.after_chunks if fault and fault.kind == "stream_error" else None
        sent = 0
        for text in answer.pieces:
            if stop_after is not None and sent == stop_after:
                break
            if sent and self.delay:
                self._stopping.wait(self.delay)
            yield "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}}
            sent += 1
        if fault is not None and stop_after is not None:
            yield _error_event(fault.event, sent, converse=not invoke)
            return
        yield "contentBlockStop", {"contentBlockIndex": 0}
        yield "messageStop", {"stopReason": answer.stop_reason}
        metadata = answer.metadata(_ms(started))
        if invoke:
            metadata = {**metadata, **answer.invocation_metrics(_ms(started), first_byte)}
        yield "metadata", metadata

    def _wait_first_token(self, fault: Fault | None) -> None:
        if fault is not None and fault.kind == "slow_first_token":
            self._stopping.wait(fault.seconds)

    def _record(self, operation: str, model_id: str, status: int, error: str) -> None:
        self._calls.append(Call(operation, model_id, status, error))

    def _admin(self, handler: _Handler, path: str) -> None:
        if path == "/opskit-api/faults":
            self.sync_faults_file()
            send_json(handler, {"faults": self.faults.snapshot()})
        elif path == "/opskit-api/calls":
            send_json(handler, {"calls": [asdict(call) for call in self.calls()]})
        else:
            send_error(handler, 404, "UnknownOperationException", "Unknown operation")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    endpoint: BedrockEndpoint


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer
    timeout = 30  # a client that stops sending mid-request does not hold a thread

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        try:
            self.server.endpoint.handle(self)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:  # a bug here must show as Bedrock's 500, and in the sandbox log
            log.exception("Bedrock endpoint: %s %s failed", self.command, self.path)
            send_error(self, 500, "InternalServerException", "internal error in the sandbox")

    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass  # no line per request in the sandbox's log


def _region(handler: _Handler) -> str:
    """The Region of the call's SigV4 signature (``Credential=KEY/DATE/REGION/...``)."""
    match = _CREDENTIAL_REGION.search(handler.headers.get("Authorization") or "")
    return match.group(1) if match else DEFAULT_REGION


def _prompt(model: Model, body: bytes, *, invoke: bool) -> Prompt:
    if invoke:
        return _INVOKE_BODIES[model.family](model, body)
    prompt, fields, config = converse_prompt(body)
    _CONVERSE_FIELDS[model.family](model, fields, config)
    return prompt


def _error_event(event: str, sent: int, *, converse: bool) -> tuple[str, dict[str, Any]]:
    """The error event a ``stream_error`` fault ends a stream with. ConverseStream
    has no ``modelTimeoutException``: there the model's timeout is a model stream
    error with the timeout's status, as Bedrock reports a model's failure."""
    error = STREAM_ERRORS[event]
    if event == STREAM_ERROR or (converse and not error.converse):
        message = f"The model's response stream failed after {sent} chunks."
        status = 500 if event == STREAM_ERROR else error.status
        return STREAM_ERROR, {
            "message": message,
            "originalStatusCode": status,
            "originalMessage": error.message if event != STREAM_ERROR else message,
        }
    return event, {"message": error.message}


def _route(method: str, path: str) -> tuple[str | None, str]:
    parts = path.split("/")
    if method != "POST" or len(parts) != 4 or parts[0] or parts[1] != "model" or not parts[2]:
        return None, ""
    return _OPERATIONS.get(parts[3]), unquote(parts[2])


def _ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)
