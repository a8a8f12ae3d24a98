"""A CloudWatch Logs endpoint in front of moto's server that plays what moto does not.

moto answers every request and returns a whole FilterLogEvents result in one
page. AWS does neither:

- Each read API has a per-second quota per account and Region, shared by every
  caller (CloudWatch Logs quotas: FilterLogEvents 5 per second in the Regions
  with the lowest default, GetLogEvents 10, DescribeLogGroups 10). Past it AWS
  answers HTTP 400 with the JSON protocol's error body
  ``{"__type": "ThrottlingException", "message": "Rate exceeded"}``, which
  botocore parses into a ``ClientError`` like any other.
- FilterLogEvents "can return empty results while there are more log events
  available through the token" (its API reference), so one read can take many
  requests.

The front forwards each request to moto unchanged, unless its quota for that
second is used up (then it answers as AWS does), and can put empty pages that
carry a ``nextToken`` before moto's own. It measures seconds on the test's
clock, so a reader that paces itself on that clock is judged as AWS would judge
it, and no test waits for real time. It records every request it saw. A test
may also make an API throttled whatever the rate (a busy account), or queue a
one-off fault (a 503 ServiceUnavailableException).
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from opskit.clock import Clock

TARGET_PREFIX = "Logs_20140328."
# The lowest default of each read API's quota (requests per second per account
# and Region) in the CloudWatch Logs quotas table.
AWS_QUOTAS = {"FilterLogEvents": 5, "GetLogEvents": 10, "DescribeLogGroups": 10}
THROTTLED_BODY = {"__type": "ThrottlingException", "message": "Rate exceeded"}
EMPTY_TOKEN = "front-empty"
FAULT_MESSAGE = "The service cannot complete the request."  # ServiceUnavailableException's doc


@dataclass
class Seen:
    """One request as the front saw it."""

    operation: str
    at: float  # the test clock's monotonic seconds
    throttled: bool
    params: dict[str, Any]


@dataclass
class LogsFront:
    """The endpoint's state: quotas, what the rest of the account uses, what it saw."""

    moto_url: str
    clock: Clock
    quotas: dict[str, int] = field(default_factory=lambda: dict(AWS_QUOTAS))
    used_by_others: dict[str, int] = field(default_factory=dict)  # per second, same quota
    throttling: set[str] = field(default_factory=set)  # APIs throttled whatever the rate
    faults: list[tuple[str, int, str]] = field(default_factory=list)  # (API, status, code), once
    empty_pages: int = 0  # empty FilterLogEvents pages (with a token) before moto's
    page_size: int | None = None  # events per FilterLogEvents page (AWS: up to 10,000)
    seen: list[Seen] = field(default_factory=list)
    _url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self._url

    def requests(self, operation: str) -> int:
        return sum(1 for s in self.seen if s.operation == operation)

    def throttled(self, operation: str | None = None) -> int:
        return sum(1 for s in self.seen if s.throttled and operation in (None, s.operation))

    def counts(self) -> Counter[str]:
        return Counter(s.operation for s in self.seen)

    def busiest_second(self, operation: str) -> int:
        """The most requests of ``operation`` the front accepted in any one second."""
        times = [s.at for s in self.seen if s.operation == operation and not s.throttled]
        return max((sum(1 for t in times if start <= t < start + 1) for start in times), default=0)

    def decide(self, operation: str, params: dict[str, Any]) -> bool:
        """Record the request; True when AWS would throttle it."""
        with self._lock:
            now = self.clock.monotonic()
            recent = [
                s
                for s in self.seen
                if s.operation == operation and not s.throttled and now - 1 < s.at <= now
            ]
            room = self.quotas.get(operation, 1_000_000) - self.used_by_others.get(operation, 0)
            throttled = operation in self.throttling or len(recent) >= room
            self.seen.append(Seen(operation, now, throttled, dict(params)))
            return throttled

    def fault(self, operation: str) -> tuple[int, str] | None:
        """The next one-off fault queued for ``operation``: (HTTP status, error code)."""
        with self._lock:
            for index, (api, status, code) in enumerate(self.faults):
                if api == operation:
                    del self.faults[index]
                    return status, code
            return None

    @contextmanager
    def running(self) -> Iterator[LogsFront]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
                params = json.loads(body or b"{}") if operation else {}
                if operation and front.decide(operation, params):
                    self.answer(400, json.dumps(THROTTLED_BODY).encode())
                    return
                fault = front.fault(operation) if operation else None
                if fault is not None:
                    status, code = fault
                    error = {"__type": code, "message": FAULT_MESSAGE}
                    self.answer(status, json.dumps(error).encode())
                    return
                if operation == "FilterLogEvents":
                    page = front.empty_page(params)
                    if page is not None:
                        self.answer(200, json.dumps(page).encode())
                        return
                    if front.page_size and "limit" not in params:
                        params["limit"] = front.page_size
                    body = json.dumps(params).encode()
                status, headers, answer = front.forward(self.path, self.headers, body)
                self.answer(status, answer, headers.get("Content-Type"))

            def answer(self, status: int, body: bytes, content_type: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/x-amz-json-1.1")
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, name="logs-front", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    def empty_page(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """An empty page with a token while this read has empty pages left; then
        ``params`` carries moto's own token (or none) for the real request."""
        if not self.empty_pages:
            return None
        token = str(params.get("nextToken") or "")
        if token.startswith(f"{EMPTY_TOKEN}:"):
            _, given, original = token.split(":", 2)
            served = int(given)
        elif token:
            return None  # moto's own token: past the empty pages
        else:
            served, original = 0, ""
        if served < self.empty_pages:
            token = f"{EMPTY_TOKEN}:{served + 1}:{original}"
            return {"events": [], "searchedLogStreams": [], "nextToken": token}
        params.pop("nextToken", None)
        if original:
            params["nextToken"] = original
        return None

    def forward(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        parsed = urlparse(self.moto_url)
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
            sent["Content-Length"] = str(len(body))
            connection.request("POST", path, body=body, headers=sent)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()
