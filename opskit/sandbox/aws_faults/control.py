"""What ``opskit sandbox fault ecs|logs ...``, ``fault clear`` and ``opskit sandbox
status`` do with the running sandbox's AWS faults: the CLI's one call each.

Faults go through the sandbox's AWS faults file, which it re-reads before each
request to its AWS endpoint and each poll of its agents, so a fault is in force
as soon as the command returns.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from opskit.errors import InputError
from opskit.sandbox.aws_faults.board import AwsFaultsFile
from opskit.sandbox.aws_faults.kinds import KINDS, AwsFault, FaultOptions, make_aws_fault
from opskit.sandbox.aws_faults.middleware import ADMIN_PATH
from opskit.sandbox.core import SandboxInfo
from opskit.sandbox.faultfile import FaultInvalid, running_sandbox

SERVICES = {"ecs": "ECS", "logs": "CloudWatch Logs"}
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only


@dataclass(frozen=True)
class AwsFaultChange:
    """What a ``fault`` command changed, for the lines the CLI prints."""

    endpoint_url: str
    set: AwsFault | None
    faults: list[AwsFault]  # every AWS fault in force afterwards
    cleared: str | None = None  # the service whose faults were cleared (None: every one)

    def lines(self) -> list[str]:
        if self.set is not None:
            head = f"{SERVICES[self.set.service]} fault set: {self.set.kind}: {self.set.describe()}"
        elif self.cleared is not None:
            head = f"{SERVICES[self.cleared]} faults cleared"
        else:
            head = "AWS faults cleared"
        others = [f for f in self.faults if self.set is None or f.key != self.set.key]
        tail = [f"  also in force: {_row(f)}" for f in others]
        hint = ["  (clear with: opskit sandbox fault clear)"] if self.faults else []
        return [f"{head} (AWS endpoint {self.endpoint_url})", *tail, *hint]


def set_aws_fault(service: str, kind: str, options: FaultOptions | None = None) -> AwsFaultChange:
    """Switch ``kind`` of ``service`` (``ecs``, ``logs``) on in the running sandbox;
    bad input is an ``InputError`` (exit 2)."""
    try:
        fault = make_aws_fault(service, kind, options)
    except FaultInvalid as err:
        raise InputError(f"opskit sandbox fault {service}: {err}") from None
    info = _running()
    faults = _file(info).set(fault)
    return AwsFaultChange(info.endpoint_url, fault, faults)


def clear_aws_faults(service: str | None = None) -> AwsFaultChange:
    """Clear one service's AWS faults (``ecs``, ``logs``), or every one."""
    if service is not None and service not in KINDS:
        raise InputError(
            f"opskit sandbox fault clear: unknown service {service!r}; known: {', '.join(KINDS)}"
        )
    info = _running()
    faults = _file(info).clear(service)
    return AwsFaultChange(info.endpoint_url, None, faults, cleared=service)


def aws_status_lines(info: SandboxInfo) -> list[tuple[str, str]]:
    """``(label, value)`` rows for ``opskit sandbox status``: the AWS faults in force."""
    if not info.aws_faults_file:
        return []
    rows = _in_force(info)
    if not rows:
        return [("AWS faults", "none")]
    return [("AWS faults" if i == 0 else "", row) for i, row in enumerate(rows)]


def _in_force(info: SandboxInfo) -> list[str]:
    """As the sandbox counts them (what each played so far), else as the file says."""
    try:
        with _HTTP.open(f"{info.endpoint_url}{ADMIN_PATH}", timeout=3) as response:
            rows = json.loads(response.read())["faults"]
        return [f"{row['service']} {row['kind']}: {row['description']}" for row in rows]
    except (OSError, ValueError, KeyError):
        pass  # the sandbox is going away: the file says what is set
    try:
        return [_row(fault) for fault in _file(info).read()]
    except FaultInvalid as err:
        return [f"unreadable: {err}"]


def _row(fault: AwsFault) -> str:
    return f"{fault.key}: {fault.describe()}"


def _running() -> SandboxInfo:
    info: SandboxInfo = running_sandbox(lambda i: bool(i.aws_faults_file), "plays no AWS faults")
    return info


def _file(info: SandboxInfo) -> AwsFaultsFile:
    return AwsFaultsFile(Path(info.aws_faults_file))


__all__ = ["AwsFaultChange", "aws_status_lines", "clear_aws_faults", "set_aws_fault"]
