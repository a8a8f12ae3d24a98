"""A small fault-injecting HTTP proxy on loopback, in front of moto's server.

It forwards every request, except that a seeded share of them fail:

- ``503 SlowDown`` or ``500 InternalError`` with S3's XML error body, before the
  request reaches the server;
- the connection is cut while the request body is being received (half read);
- the connection is cut in the middle of the response body, or before any answer
  when there is no body (the server did act).

Which request gets which fault is a pure function of (seed, method, path, body
length, how many times that request was seen), so a run is reproducible however
the client's threads interleave, and each request fails at most ``max_in_a_row``
times in a row, so botocore's retries (8 attempts) always get through. ``log``
records every request and what happened to it.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("slowdown", "error500", "cut_request", "cut_response")
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass
class Logged:
    method: str
    path: str
    outcome: str  # "ok" or one of FAULTS


@dataclass
class FaultPlan:
    seed: int = 7
    rate: float = 0.2  # share of requests that fail (each fault kind equally likely)
    max_in_a_row: int = 2
    max_faults: int = 400
    faults: tuple[str, ...] = FAULTS


@dataclass
class FaultProxy:
    upstream: str  # http://127.0.0.1:PORT
    plan: FaultPlan = field(default_factory=FaultPlan)
    log: list[Logged] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: Counter = Counter()
        self._faults = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def outcomes(self) -> Counter:
        return Counter(entry.outcome for entry in self.log)

    def _choose(self, method: str, path: str, length: int) -> str:
        with self._lock:
            signature = (method, path, length)
            attempt = self._seen[signature]
            self._seen[signature] += 1
            if attempt >= self.plan.max_in_a_row or self._faults >= self.plan.max_faults:
                return "ok"
            token = f"{self.plan.seed}|{method}|{path}|{length}|{attempt}".encode()
            draw = int.from_bytes(hashlib.sha256(token).digest()[:8], "big") / 2**64
            if draw >= self.plan.rate:
                return "ok"
            kinds = self.plan.faults
            if length == 0:
                kinds = tuple(k for k in kinds if k != "cut_request") or ("slowdown",)
            self._faults += 1
            return kinds[int(draw / self.plan.rate * len(kinds)) % len(kinds)]

    def _read_body(self, handler: BaseHTTPRequestHandler, limit: int | None = None) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length if limit is None else min(limit, length))

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        method = handler.command
        path = handler.path
        length = int(handler.headers.get("Content-Length") or 0)
        outcome = self._choose(method, path, length)
        with self._lock:
            self.log.append(
                Logged(method, urlsplit(path).path + "?" + urlsplit(path).query, outcome)
            )
        if outcome == "cut_request":
            self._read_body(handler, limit=length // 2)
            handler.close_connection = True
            handler.connection.close()
            return
        body = self._read_body(handler)
        if outcome in ("slowdown", "error500"):
            status, code = (503, "SlowDown") if outcome == "slowdown" else (500, "InternalError")
            payload = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                f"<Message>injected by faultproxy</Message></Error>"
            ).encode()
            handler.send_response(status)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if method != "HEAD":
                handler.wfile.write(payload)
            return
        upstream = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_HEADERS}
        if body or method in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            if outcome == "cut_response" and (not payload or method == "HEAD"):
                handler.close_connection = True  # the server acted; its answer is lost
                handler.connection.close()
                return
            handler.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_HEADERS and name.lower() != "content-length":
                    handler.send_header(name, value)
            declared = response.getheader("Content-Length")
            handler.send_header(
                "Content-Length", declared if method == "HEAD" and declared else str(len(payload))
            )
            handler.end_headers()
            if method == "HEAD":
                return
            if outcome == "cut_response" and payload:
                handler.wfile.write(payload[: len(payload) // 2])
                handler.wfile.flush()
                handler.close_connection = True
                handler.connection.close()
                return
            handler.wfile.write(payload)
        finally:
            connection.close()
