"""Every AWS call a step type's code makes in a test, held against the IAM actions
its ``PERMISSIONS`` declares.

``opskit iam`` prints a policy from the declarations; a call a step makes but does
not declare is refused under that policy on AWS, while moto (which checks nothing
by default) lets it through. So while a test runs, a ``before-call`` hook on every
client ``AwsAccess`` makes records the requests, and the step type running at the
time (its ``run``, ``plan`` or ``finish``) is the one they count for. Each request
is mapped to the IAM actions AWS authorizes for it by the sandbox's own mapping
(``opskit.sandbox.authorization.checks``: ``HeadObject`` is ``s3:GetObject``,
``ListObjectsV2`` is ``s3:ListBucket``, ...), and the test fails at teardown
naming the step type and each action it calls but does not declare.

Whose call it is: the innermost caller frame that is opskit's or the tests'
decides. opskit's code outside ``opskit/sandbox`` is the step's; a test's own
set-up, a ``ScriptedClock`` move (played inside the step's sleep) and the
sandbox's agents and log shippers are not. A library's worker thread with
neither (s3transfer's uploads) works for the step that runs: the one of its
thread, or the only step type running in the process (a fleet runs one type at
a time on many targets; when types differ, such a call is left out).
"""

from __future__ import annotations

import functools
import sys
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import opskit
from opskit.aws import AwsAccess
from opskit.sandbox.authorization import Request, checks, json_params

_OPSKIT = str(Path(opskit.__file__).resolve().parent) + "/"
_SANDBOX = _OPSKIT + "sandbox/"
_TESTS = str(Path(__file__).resolve().parent) + "/"
_HOOK_ID = "opskit-tests-declared-calls"
_PHASES = ("run", "plan", "finish")
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Undeclared:
    step_type: str
    action: str
    operation: str  # service:Operation as sent, e.g. logs:DescribeLogGroups

    def __str__(self) -> str:
        return (
            f"{self.step_type} calls {self.action} ({self.operation}) but its PERMISSIONS "
            "do not declare it"
        )


def request_of(service: str, operation: str, request_dict: dict[str, Any]) -> Request:
    """A request as botocore serialized it (``before-call``'s ``params``), in the
    form the sandbox's authorization reads: S3's query string, headers, bucket and
    key (path-style, as botocore addresses a loopback endpoint); a JSON service's body."""
    url = urllib.parse.urlsplit(request_dict.get("url") or "")
    headers = {str(k).lower(): str(v) for k, v in (request_dict.get("headers") or {}).items()}
    body = request_dict.get("body")
    body = body if isinstance(body, bytes) else b""
    region = (request_dict.get("context") or {}).get("client_region") or "us-east-1"
    if service != "s3":
        return Request(service, operation, region, ACCOUNT, params=json_params(body))
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    bucket, _, key = urllib.parse.unquote(url.path).lstrip("/").partition("/")
    return Request(
        service, operation, region, ACCOUNT, params={k: v[0] for k, v in query.items()},
        headers=headers, bucket=bucket, key=key, body=body,
    )  # fmt: skip


class StepCalls:
    """The step types running now, and the requests each one's code sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()
        self._local = threading.local()
        self.sent: list[tuple[str, Request]] = []

    # -- which step type runs ------------------------------------------------------

    @contextmanager
    def running(self, step_type: str) -> Iterator[None]:
        mine: list[str] = self._local.__dict__.setdefault("steps", [])
        with self._lock:
            self._running[step_type] += 1
        mine.append(step_type)
        try:
            yield
        finally:
            mine.pop()
            with self._lock:
                self._running[step_type] -= 1
                if not self._running[step_type]:
                    del self._running[step_type]

    def _step_type(self) -> str | None:
        mine = self._local.__dict__.get("steps")
        if mine:
            return mine[-1]
        with self._lock:
            return next(iter(self._running)) if len(self._running) == 1 else None

    # -- what it sends --------------------------------------------------------------

    def before_call(self, model: Any, params: dict[str, Any], frame: FrameType | None) -> None:
        step_type = self._step_type()
        if step_type is None or not _opskit_called(frame):
            return
        service = model.service_model.signing_name
        request = request_of(service, model.name, params)
        with self._lock:
            self.sent.append((step_type, request))

    def undeclared(self, declared: Callable[[str], tuple[str, ...] | None]) -> list[Undeclared]:
        """The (step type, action) pairs sent but not declared; ``declared(step_type)``
        gives the type's declared actions (``None``: a type this check ignores)."""
        found: dict[tuple[str, str], Undeclared] = {}
        for step_type, request in self.sent:
            actions = declared(step_type)
            if actions is None:
                continue
            for check in checks(request):
                if check.action not in actions:
                    operation = f"{request.service}:{request.operation}"
                    found.setdefault(
                        (step_type, check.action), Undeclared(step_type, check.action, operation)
                    )
        return sorted(found.values(), key=lambda u: (u.step_type, u.action))


def _opskit_called(frame: FrameType | None) -> bool:
    """Whether opskit's own code (not a test's, not the sandbox's) sent the request."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename == __file__:
            pass
        elif filename.startswith(_TESTS) or filename.startswith(_SANDBOX):
            return False
        elif filename.startswith(_OPSKIT):
            return True
        frame = frame.f_back
    return True  # only library frames: a worker thread of the running step


_active: StepCalls | None = None


def _on_before_call(model: Any, params: dict[str, Any], **_: Any) -> None:
    recorder = _active
    if recorder is not None:
        recorder.before_call(model, params, sys._getframe(1))


@contextmanager
def recording() -> Iterator[StepCalls]:
    """Record for the ``with`` block: every client ``AwsAccess`` hands out gets the
    hook, and each registered step type's ``run``/``plan``/``finish`` says it runs."""
    from opskit import steps as registry

    global _active
    recorder = StepCalls()
    original_client = AwsAccess.client

    def client(self: AwsAccess, service: str, **kwargs: Any) -> Any:
        created = original_client(self, service, **kwargs)
        created.meta.events.register("before-call", _on_before_call, unique_id=_HOOK_ID)
        return created

    replaced = []
    previous, _active = _active, recorder
    try:
        AwsAccess.client = client  # type: ignore[method-assign]
        for name in registry.names():
            step_type = registry.get(name)
            for phase in _PHASES:
                function = getattr(step_type, phase)
                if function is not None:
                    replaced.append((step_type, phase, function))
                    # StepType is frozen: its phases are put back as they were below
                    object.__setattr__(step_type, phase, _counted(recorder, name, function))
        yield recorder
    finally:
        _active = previous
        AwsAccess.client = original_client  # type: ignore[method-assign]
        for step_type, phase, function in replaced:
            object.__setattr__(step_type, phase, function)


def _counted(recorder: StepCalls, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def counted(*args: Any, **kwargs: Any) -> Any:
        with recorder.running(name):
            return function(*args, **kwargs)

    return counted


def declared_actions(step_type: str) -> tuple[str, ...] | None:
    """A registered step type's declared actions (``None`` for one that declares
    nothing at all: a test's own step type)."""
    from opskit import steps as registry

    found = registry.get(step_type)
    if found is None or found.permissions is None:
        return None
    return found.permissions.actions


def report(undeclared: list[Undeclared]) -> str:
    return "\n".join(str(u) for u in undeclared)


__all__ = ["StepCalls", "Undeclared", "declared_actions", "recording", "report", "request_of"]
