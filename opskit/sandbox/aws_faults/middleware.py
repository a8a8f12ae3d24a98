"""A WSGI middleware in front of moto's server that plays the AWS faults on the wire.

It recognises a request by its ``X-Amz-Target`` (the awsJson protocols of ECS
and CloudWatch Logs name the operation there) and does nothing unless a fault
is in force; then:

- ``Logs_20140328.<read API>`` over its quota: answered as CloudWatch Logs
  answers a throttled request (awsJson1_1's error shape: HTTP 400,
  ``x-amzn-ErrorType`` and ``__type`` ``ThrottlingException``, ``message``
  "Rate exceeded"), so botocore raises ``ClientError`` with that code and its
  retry modes treat it as throttling;
- ``...ECS....UpdateService``: the service record as it is just before the
  update is kept, and the next DescribeServices answers put it back; on a
  service of a native strategy (BLUE_GREEN, LINEAR, CANARY), the service
  deployment the update opened is not visible yet to as many
  ListServiceDeployments/DescribeServiceDeployments (answered ``MISSING``);
- ``...ECS....DescribeTasks``: a task that started moments ago is answered under
  ``failures`` as ``{"arn": ..., "reason": "MISSING"}`` (the ``Failure`` shape
  of the ECS API, the reason its "API failure reasons" page gives for a task
  that is not found).

``GET /opskit-api/faults`` answers the faults in force with their counts (for
``opskit sandbox status``; moto's own admin API is under ``/moto-api/``).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from opskit.sandbox.aws_faults.board import AwsFaultBoard
from opskit.sandbox.aws_faults.stale import as_before, stale_document

ECS_TARGET = "AmazonEC2ContainerServiceV20141113"
LOGS_TARGET = "Logs_20140328"
ADMIN_PATH = "/opskit-api/faults"
THROTTLED_MESSAGE = "Rate exceeded"
_JSON_1_1 = "application/x-amz-json-1.1"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# (cluster, service) -> the service's record fields now, or None for a service
# the sandbox does not play
Snapshot = Callable[[str, str], dict[str, Any] | None]
# (cluster, service, reads): the service deployment just opened stays unseen that long
HideNewDeployment = Callable[[str, str, int], None]


class FaultMiddleware:
    def __init__(
        self,
        app: WsgiApp,
        board: AwsFaultBoard,
        snapshot: Snapshot,
        hide_new_deployment: HideNewDeployment | None = None,
    ):
        self.app = app
        self.board = board
        self.snapshot = snapshot
        self.hide_new_deployment = hide_new_deployment

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == ADMIN_PATH and environ.get("REQUEST_METHOD") == "GET":
            return _respond(start_response, "200 OK", [], {"faults": self.board.snapshot()})
        prefix, _, operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).partition(".")
        if not operation or not self.board.active():
            return self.app(environ, start_response)
        if prefix == LOGS_TARGET and not self.board.admits(operation):
            read_body(environ)  # the connection stays usable for the client's next request
            return _throttled(start_response)
        if prefix == ECS_TARGET and operation == "UpdateService":
            return self._update_service(environ, start_response)
        if prefix == ECS_TARGET and operation == "DescribeServices":
            return self._describe_services(environ, start_response)
        if prefix == ECS_TARGET and operation == "DescribeTasks":
            return self._describe_tasks(environ, start_response)
        return self.app(environ, start_response)

    # -- ECS ---------------------------------------------------------------------------

    def _update_service(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = read_body(environ)
        before = None
        reads = self.board.stale_read_count()
        request = _loads(body)
        cluster = str(request.get("cluster") or "default").rsplit("/", 1)[-1]
        service = str(request.get("service") or "").rsplit("/", 1)[-1]
        if reads is not None:
            before = self.snapshot(cluster, service)
        status, headers, answer = self._forward(environ, body)
        if before is not None and status.startswith("200"):
            arn = (_loads(answer).get("service") or {}).get("serviceArn")
            if arn:
                self.board.remember_stale(arn, stale_document(before))
            if reads is not None and self.hide_new_deployment is not None:
                self.hide_new_deployment(cluster, service, reads)
        return _respond(start_response, status, headers, answer)

    def _describe_services(self, environ: dict[str, Any], start_response: Any) -> Any:
        status, headers, answer = self._forward(environ, read_body(environ))
        document = _loads(answer) if status.startswith("200") else {}
        services = document.get("services") or []
        changed = False
        for index, record in enumerate(services):
            before = self.board.stale_view(str(record.get("serviceArn", "")))
            if before is not None:
                services[index] = as_before(record, before)
                changed = True
        return _respond(start_response, status, headers, document if changed else answer)

    def _describe_tasks(self, environ: dict[str, Any], start_response: Any) -> Any:
        status, headers, answer = self._forward(environ, read_body(environ))
        document = _loads(answer) if status.startswith("200") else {}
        tasks = document.get("tasks") or []
        hidden = [t for t in tasks if self.board.hides_task(_task_id(t))]
        if not hidden:
            return _respond(start_response, status, headers, answer)
        document["tasks"] = [t for t in tasks if t not in hidden]
        document["failures"] = [
            *(document.get("failures") or []),
            *({"arn": t["taskArn"], "reason": "MISSING"} for t in hidden),
        ]
        return _respond(start_response, status, headers, document)

    def _forward(self, environ: dict[str, Any], body: bytes) -> tuple[str, list[Any], bytes]:
        """Call moto with the request (its body already read); its whole answer."""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        answered: dict[str, Any] = {}

        def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            answered["status"], answered["headers"] = status, headers
            return lambda data: None  # moto returns its body; it never writes

        chunks = self.app(environ, capture)
        try:
            answer = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return answered["status"], list(answered["headers"]), answer


def read_body(environ: dict[str, Any]) -> bytes:
    """The whole request body, put back for the app behind to read."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


def _loads(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _task_id(task: dict[str, Any]) -> str:
    return str(task.get("taskArn", "")).rsplit("/", 1)[-1]


def _throttled(start_response: Any) -> Any:
    # awsJson1_1 errors: the code in x-amzn-ErrorType and in the body's __type,
    # the text in "message" (botocore's JSON parser reads both).
    headers = [("x-amzn-ErrorType", "ThrottlingException")]
    document = {"__type": "ThrottlingException", "message": THROTTLED_MESSAGE}
    return _respond(start_response, "400 Bad Request", headers, document)


def _respond(
    start_response: Any, status: str, headers: list[Any], body: bytes | dict[str, Any]
) -> list[bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type")]
    if not any(k.lower() == "x-amzn-requestid" for k, _ in kept):
        kept.append(("x-amzn-RequestId", str(uuid.uuid4())))
    content_type = next((v for k, v in headers if k.lower() == "content-type"), _JSON_1_1)
    start_response(
        status, [*kept, ("Content-Type", content_type), ("Content-Length", str(len(data)))]
    )
    return [data]
