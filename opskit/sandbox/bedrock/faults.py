"""Faults that production's Bedrock has, switched on per model while the sandbox runs.

A fault is kept under a model id, a family (``nova``, ``claude``) or ``all``;
one fault per key, the latest set wins; a model's own fault wins over its
family's, and that over ``all``'s. A profile id or an alias names its model. The running endpoint
holds them on a ``FaultBoard``; ``opskit sandbox fault`` writes them to the
sandbox's faults file (``FaultFile``), which the endpoint re-reads when it
changes, so they can be switched on and off from another process, or by
editing the file.

- ``access_denied``: every call fails with ``AccessDeniedException`` (403), as
  when model access was never granted in the account and region;
- ``throttled``: ``ThrottlingException`` (429) for the next ``calls`` calls,
  or every call;
- ``slow_first_token``: ``seconds`` before the first text (the whole answer,
  for the calls that do not stream);
- ``stream_error``: ``after_chunks`` text events, then an error event that
  ends the stream: ``modelStreamErrorException`` unless ``event`` names another
  of the events AWS documents for the streams (``STREAM_ERRORS``); a call that
  does not stream gets the matching HTTP error instead;
- ``unavailable``: the endpoint's port refuses connections (``all`` only: a
  connection is refused before its request names a model).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from opskit.sandbox.bedrock.models import ALL_MODELS, known_names, resolve_fault_target
from opskit.sandbox.faultfile import FaultInvalid, FaultsFile

FaultKind = Literal["access_denied", "throttled", "slow_first_token", "stream_error", "unavailable"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
STREAM_ERROR = "modelStreamErrorException"


@dataclass(frozen=True)
class StreamError:
    """One error event of botocore's ``ConverseStreamOutput`` / ``ResponseStream``,
    and the HTTP error a call that does not stream gets for it."""

    status: int
    code: str  # the HTTP error's code (x-amzn-ErrorType)
    message: str
    converse: bool = True  # ConverseStream models it (modelTimeoutException: invoke only)


STREAM_ERRORS: dict[str, StreamError] = {
    STREAM_ERROR: StreamError(
        424,
        "ModelErrorException",
        "The system encountered an unexpected error during processing. Try your request again.",
    ),
    "throttlingException": StreamError(
        429, "ThrottlingException", "Too many requests, please wait before trying again."
    ),
    "validationException": StreamError(
        400, "ValidationException", "The model returned the following errors: invalid input"
    ),
    "internalServerException": StreamError(
        500,
        "InternalServerException",
        "The system encountered an unexpected error during processing. Try your request again.",
    ),
    "serviceUnavailableException": StreamError(
        503, "ServiceUnavailableException", "Bedrock is unable to process your request."
    ),
    "modelTimeoutException": StreamError(
        408,
        "ModelTimeoutException",
        "Model has timed out in processing the request. Try your request again.",
        converse=False,
    ),
}


@dataclass(frozen=True, kw_only=True)
class Fault:
    model: str  # a canonical model id, a family, or "all"
    kind: FaultKind
    calls: int | None = None  # throttled: how many calls; None: every call
    seconds: float = 0.0  # slow_first_token
    after_chunks: int = 1  # stream_error: text events sent before the error
    event: str = STREAM_ERROR  # stream_error: which error event

    def describe(self) -> str:
        if self.kind == "access_denied":
            return "access denied (AccessDeniedException)"
        if self.kind == "throttled":
            every = "every call" if self.calls is None else _calls(self.calls, "the next ")
            return f"throttled (ThrottlingException) on {every}"
        if self.kind == "slow_first_token":
            return f"first token after {self.seconds:g} s"
        if self.kind == "stream_error":
            return f"{self.event} after {count(self.after_chunks, 'chunk')}"
        return "connections refused"

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"model": self.model, "kind": self.kind}
        if self.kind == "throttled" and self.calls is not None:
            document["calls"] = self.calls
        if self.kind == "slow_first_token":
            document["seconds"] = self.seconds
        if self.kind == "stream_error":
            document["after_chunks"] = self.after_chunks
            if self.event != STREAM_ERROR:
                document["event"] = self.event
        return document


def make_fault(
    model: str,
    kind: str,
    *,
    calls: int | None = None,
    seconds: float | None = None,
    after_chunks: int | None = None,
    event: str | None = None,
) -> Fault:
    """A checked ``Fault``: the model is resolved (aliases, profile ids), and
    each option is accepted only by the kind that uses it."""
    target = resolve_fault_target(model)
    if target is None:
        raise FaultInvalid(f"unknown model {model!r}; known: {known_names()}")
    if kind not in FAULT_KINDS:
        raise FaultInvalid(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
    for option, value, owner in (
        ("calls", calls, "throttled"),
        ("seconds", seconds, "slow_first_token"),
        ("after", after_chunks, "stream_error"),
        ("event", event, "stream_error"),
    ):
        if value is not None and kind != owner:
            raise FaultInvalid(f"--{option} applies to {owner} only, not to {kind}")
    if kind == "unavailable" and target != ALL_MODELS:
        raise FaultInvalid(
            "unavailable refuses every connection to the endpoint (a connection is refused "
            f"before its request names a model): use the model {ALL_MODELS!r}"
        )
    if calls is not None and (isinstance(calls, bool) or calls < 1):
        raise FaultInvalid(f"--calls must be at least 1, not {calls}")
    if kind == "slow_first_token" and (seconds is None or seconds <= 0):
        raise FaultInvalid("slow_first_token needs --seconds, a number above 0")
    if after_chunks is not None and after_chunks < 0:
        raise FaultInvalid(f"--after must be 0 or more chunks, not {after_chunks}")
    if event is not None and event not in STREAM_ERRORS:
        raise FaultInvalid(f"unknown error event {event!r}; known: {', '.join(STREAM_ERRORS)}")
    return Fault(
        model=target,
        kind=kind,  # type: ignore[arg-type]  # checked against FAULT_KINDS above
        calls=calls,
        seconds=float(seconds or 0.0),
        after_chunks=1 if after_chunks is None else after_chunks,
        event=event or STREAM_ERROR,
    )


def fault_from_json(document: Any) -> Fault:
    if not isinstance(document, dict):
        raise FaultInvalid(f"a fault is an object with model and kind, not {document!r}")
    unknown = set(document) - {"model", "kind", "calls", "seconds", "after_chunks", "event"}
    if unknown:
        raise FaultInvalid(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    try:
        return make_fault(
            str(document["model"]),
            str(document["kind"]),
            calls=document.get("calls"),
            seconds=document.get("seconds"),
            after_chunks=document.get("after_chunks"),
            event=document.get("event"),
        )
    except KeyError as missing:
        raise FaultInvalid(f"a fault needs {missing.args[0]!r}") from None
    except TypeError as err:
        raise FaultInvalid(f"a fault field has the wrong type ({err})") from None


@dataclass
class _Entry:
    fault: Fault
    remaining: int | None  # throttled N: calls still to fail


class FaultBoard:
    """The faults in force, shared by the endpoint's request threads.

    ``on_change`` is called (outside the lock) after every change, so the
    endpoint can close or reopen its port for ``unavailable``.
    """

    def __init__(self, on_change: Callable[[], None] | None = None):
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._on_change = on_change

    def set(self, fault: Fault) -> None:
        with self._lock:
            self._entries[fault.model] = _Entry(fault, fault.calls)
        self._changed()

    def clear(self, model: str | None = None) -> None:
        """Clear one model's fault (its canonical id or ``all``), or every fault."""
        with self._lock:
            if model is None:
                self._entries.clear()
            else:
                self._entries.pop(model, None)
        self._changed()

    def replace(self, faults: list[Fault]) -> None:
        """Make exactly ``faults`` the faults in force (counts start afresh)."""
        with self._lock:
            self._entries = {fault.model: _Entry(fault, fault.calls) for fault in faults}
        self._changed()

    def for_call(self, model_id: str, family: str = "") -> Fault | None:
        """The fault this call meets, counting it against a throttled-N fault."""
        with self._lock:
            entry = (
                self._entries.get(model_id)
                or self._entries.get(family)
                or self._entries.get(ALL_MODELS)
            )
            if entry is None or entry.fault.kind == "unavailable":
                return None
            if entry.fault.kind == "throttled" and entry.remaining is not None:
                if entry.remaining <= 0:
                    return None
                entry.remaining -= 1
            return entry.fault

    @property
    def unavailable(self) -> bool:
        with self._lock:
            entry = self._entries.get(ALL_MODELS)
            return entry is not None and entry.fault.kind == "unavailable"

    def snapshot(self) -> list[dict[str, Any]]:
        """Each fault as JSON plus ``description``, and ``remaining`` for throttled N."""
        with self._lock:
            entries = sorted(self._entries.values(), key=lambda e: e.fault.model)
            rows = []
            for entry in entries:
                row = {**entry.fault.to_json(), "description": entry.fault.describe()}
                if entry.remaining is not None:
                    row["remaining"] = entry.remaining
                    spent = entry.fault.calls - entry.remaining if entry.fault.calls else 0
                    row["description"] += f"; {count(spent, 'call')} throttled so far"
                rows.append(row)
            return rows

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


class FaultFile(FaultsFile[Fault]):
    """The faults of a running sandbox's Bedrock endpoint: ``{"faults": [...]}``,
    one fault per model."""

    def __init__(self, path: Path):
        super().__init__(
            path, parse=fault_from_json, to_json=Fault.to_json, key=_model_of,
            what="Bedrock faults file",
        )  # fmt: skip

    def clear(self, model: str | None = None) -> list[Fault]:
        """Clear one model's fault (its canonical id or ``all``), or every fault."""
        return self.retain(None if model is None else lambda fault: fault.model != model)


def _model_of(fault: Fault) -> str:
    return fault.model


def count(number: int, noun: str) -> str:
    """``1 call``, ``2 calls``: the one way fault descriptions count things."""
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _calls(number: int, prefix: str) -> str:
    return f"{prefix}{count(number, 'call')}" if number != 1 else f"{prefix}call"


def describe_all(faults: list[Fault]) -> list[str]:
    return [f"{fault.model}: {fault.describe()}" for fault in faults]


__all__ = [
    "FAULT_KINDS",
    "Fault",
    "FaultBoard",
    "FaultFile",
    "FaultInvalid",
    "FaultKind",
    "STREAM_ERRORS",
    "StreamError",
    "describe_all",
    "fault_from_json",
    "make_fault",
]
