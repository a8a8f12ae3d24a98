"""What ``opskit sandbox fault ...`` and ``opskit sandbox status`` do with the
running sandbox's Bedrock endpoint: the CLI's one call each.

Faults go through the sandbox's faults file, which its endpoint re-reads on
change (and before each call); ``unavailable`` is in force once the port
refuses connections, so these functions return only when it does (or, after
clearing it, when the port answers again).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from opskit.errors import InputError
from opskit.sandbox.bedrock.faults import Fault, FaultFile, FaultInvalid, make_fault
from opskit.sandbox.bedrock.models import ALL_MODELS, MODELS, known_names, resolve_fault_target
from opskit.sandbox.core import SandboxInfo
from opskit.sandbox.errors import SandboxError
from opskit.sandbox.faultfile import running_sandbox
from opskit.sandbox.state import log_path

SWITCH_TIMEOUT = 5.0  # seconds for the endpoint to close or reopen its port
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only


@dataclass(frozen=True)
class FaultChange:
    """What a ``fault`` command changed, for the one line the CLI prints."""

    endpoint_url: str
    set: Fault | None
    faults: list[Fault]  # every fault in force afterwards
    cleared: str | None = None  # the model whose fault was cleared (None: every fault)

    def lines(self) -> list[str]:
        if self.set is not None:
            head = f"Bedrock fault set: {self.set.model}: {self.set.describe()}"
        else:
            head = (
                f"Bedrock fault on {self.cleared} cleared"
                if self.cleared
                else "Bedrock faults cleared"
            )
        others = [f for f in self.faults if self.set is None or f.model != self.set.model]
        tail = [f"  also in force: {f.model}: {f.describe()}" for f in others]
        hint = ["  (clear with: opskit sandbox fault clear)"] if self.faults else []
        return [f"{head} (endpoint {self.endpoint_url})", *tail, *hint]


def set_fault(
    model: str,
    kind: str,
    *,
    calls: int | None = None,
    seconds: float | None = None,
    after_chunks: int | None = None,
    event: str | None = None,
) -> FaultChange:
    """Switch ``kind`` on for ``model`` (a model id, alias or ``all``) in the
    running sandbox; bad input is an ``InputError`` (exit 2)."""
    try:
        fault = make_fault(
            model, kind, calls=calls, seconds=seconds, after_chunks=after_chunks, event=event
        )
    except FaultInvalid as err:
        raise InputError(f"opskit sandbox fault bedrock: {err}") from None
    info = _running()
    faults = _file(info).set(fault)
    _wait_for_port(info, refusing=_refuses(faults))
    return FaultChange(info.bedrock_endpoint_url, fault, faults)


def clear_faults(model: str | None = None) -> FaultChange:
    """Clear one model's fault, or every fault (``model`` None)."""
    target = None
    if model is not None:
        target = resolve_fault_target(model)
        if target is None:
            raise InputError(
                f"opskit sandbox fault clear: unknown model {model!r}; known: {known_names()}"
            )
    info = _running()
    faults = _file(info).clear(target)
    _wait_for_port(info, refusing=_refuses(faults))
    return FaultChange(info.bedrock_endpoint_url, None, faults, cleared=target)


def status_lines(info: SandboxInfo) -> list[tuple[str, str]]:
    """``(label, value)`` rows for ``opskit sandbox status``: the endpoint and its faults."""
    if not info.bedrock_endpoint_url:
        return []
    nova = ", ".join(model.name for model in MODELS.values() if model.family == "nova")
    claude = sum(model.family == "claude" for model in MODELS.values())
    names = f"{nova}, {claude} Claude models"
    rows = [("Bedrock", f"{info.bedrock_endpoint_url}  ({names}; answers from the bundled FAQ)")]
    faults = _faults_in_force(info)
    if not faults:
        return [*rows, ("faults", "none")]
    return rows + [("faults" if i == 0 else "", line) for i, line in enumerate(faults)]


def _faults_in_force(info: SandboxInfo) -> list[str]:
    """As the endpoint counts them (throttled calls spent), else as the file says."""
    try:
        with _HTTP.open(f"{info.bedrock_endpoint_url}/opskit-api/faults", timeout=3) as response:
            rows = json.loads(response.read())["faults"]
        return [f"{row['model']}: {row['description']}" for row in rows]
    except (OSError, ValueError, KeyError):
        pass  # refusing (unavailable) or gone: the file says what is set
    try:
        faults = FaultFile(Path(info.bedrock_faults_file)).read()
    except FaultInvalid as err:
        return [f"unreadable: {err}"]
    return [f"{fault.model}: {fault.describe()}" for fault in faults]


def _running() -> SandboxInfo:
    info: SandboxInfo = running_sandbox(
        lambda i: bool(i.bedrock_endpoint_url and i.bedrock_faults_file),
        "has no Bedrock endpoint",
    )
    return info


def _file(info: SandboxInfo) -> FaultFile:
    return FaultFile(Path(info.bedrock_faults_file))


def _refuses(faults: list[Fault]) -> bool:
    return any(f.model == ALL_MODELS and f.kind == "unavailable" for f in faults)


def _wait_for_port(info: SandboxInfo, *, refusing: bool) -> None:
    host, _, port = info.bedrock_endpoint_url.rpartition("/")[2].partition(":")
    deadline = time.monotonic() + SWITCH_TIMEOUT
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(1)
            accepted = probe.connect_ex((host, int(port))) == 0
        if accepted != refusing:
            return
        time.sleep(0.05)
    state = "refuse connections" if refusing else "accept connections again"
    raise SandboxError(
        f"the sandbox's Bedrock endpoint {info.bedrock_endpoint_url} did not {state} within "
        f"{SWITCH_TIMEOUT:.0f}s (the sandbox's log: {log_path()})"
    )


__all__ = ["FaultChange", "clear_faults", "set_fault", "status_lines"]
