"""The embedded sandbox: the bundled stack on loopback, no AWS account needed.

moto's server is the AWS endpoint (bucket, cluster, task definition, service,
log group); a local agent plays Fargate (a new deployment starts a task as a
local process running the stack's entrypoint, its lines go to CloudWatch
Logs, its records in moto stay truthful); a TCP proxy on
``http://127.0.0.1:8501`` plays the load balancer.

The runner and the CLI use only this module's names::

    info = find_running()                      # a sandbox started by `opskit sandbox up`
    with sandbox_for_run(emit, services=3) as (info, started):
        ...   # that one, else the one this process runs for another run, else a new one
        info.template_context()                # what templates read as opskit.sandbox
    up(app_port=8501, services=3) / down() / status()
    known_before_start(services=3)             # its names, region and account (`opskit iam`)
    in_process()                               # the Sandbox a run of this process started
                                               # (its aws_faults, for drills and tests)
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opskit.sandbox.core import DEFAULT_APP_PORT, Sandbox, SandboxInfo, planned_info
from opskit.sandbox.daemon import down, pid_alive, status, up
from opskit.sandbox.errors import SandboxError
from opskit.sandbox.moto_ecs import ACCOUNT_ID
from opskit.sandbox.native_config import ROLLING
from opskit.sandbox.ports import free_port, port_free
from opskit.sandbox.server import task_definition
from opskit.sandbox.state import read_state, remove_state, state_path

__all__ = [
    "Sandbox",
    "SandboxError",
    "SandboxInfo",
    "down",
    "find_running",
    "known_before_start",
    "in_process",
    "sandbox_for_run",
    "state_path",
    "status",
    "up",
]


def find_running() -> SandboxInfo | None:
    """The sandbox named by the state file, if its process lives and its AWS
    endpoint answers; a stale file (crashed or killed sandbox) is removed."""
    state = read_state()
    if state is None:
        return None
    try:
        info = SandboxInfo.from_json(state)
    except (KeyError, TypeError, ValueError):
        remove_state()
        return None
    if not isinstance(info.pid, int) or not pid_alive(info.pid) or not _answers(info.endpoint_url):
        remove_state(only_pid=info.pid)
        return None
    return info


def known_before_start(services: int = 1, strategy: str = ROLLING) -> dict[str, Any]:
    """What a sandbox is before one starts, for ``opskit iam``: its ``region`` and
    ``account`` (fixed), ``template_context`` (what templates read as
    ``opskit.sandbox``; the URLs name the default ports) and ``task_definitions``
    (each service's, keyed ``cluster/service``, as the sandbox registers them)."""
    info = planned_info(services, strategy=strategy)
    return {
        "region": info.region,
        "account": ACCOUNT_ID,
        "template_context": info.template_context(),
        "task_definitions": {
            f"{names['cluster']}/{names['service']}": task_definition(names)
            for names in info.service_list()
        },
    }


def _answers(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=3):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is there
    except (OSError, ValueError):
        return False


def _run_app_port(emit: Callable[[str], None], services: int = 1) -> int:
    """8501 as the ALB would be, unless ``OPSKIT_SANDBOX_APP_PORT`` says otherwise
    or 8501 (or a port after it, one a service) is taken: then free ports, and the
    user is told. Playbooks read the URLs from ``opskit.sandbox`` (``app_url``,
    ``services``)."""
    wanted = int(os.environ.get("OPSKIT_SANDBOX_APP_PORT") or DEFAULT_APP_PORT)
    if wanted == 0:
        return 0 if services > 1 else free_port()
    if all(port_free(wanted + index) for index in range(services)):
        return wanted
    if services > 1:
        emit(f"ports {wanted}-{wanted + services - 1} are not all free; the apps get free ports")
        return 0
    port = free_port()
    emit(f"port {wanted} is in use; this run's sandbox serves the app on port {port}")
    return port


class _Shared:
    """The sandbox this process started for its runs: a fleet's targets (and
    their threads) share it; the last run to leave stops it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sandbox: Sandbox | None = None
        self.info: SandboxInfo | None = None
        self.users = 0


_shared = _Shared()


def in_process() -> Sandbox | None:
    """The sandbox that ``sandbox_for_run`` started in this process and that runs
    still use, if any: its ``aws_faults`` switch the AWS behaviours it plays while
    runs use it (``opskit sandbox fault`` does the same for a background one)."""
    with _shared.lock:
        return _shared.sandbox


def _check_strategy(info: SandboxInfo, strategy: str, where: str) -> None:
    if info.strategy != strategy:
        raise SandboxError(
            f"the {where} sandbox's service deploys {info.strategy}; this run needs "
            f"{strategy} (stop it, then `opskit sandbox up --strategy {strategy}`)"
        )


def _check_services(info: SandboxInfo, services: int, where: str) -> None:
    have = len(info.service_list())
    if have < services:
        raise SandboxError(
            f"the {where} sandbox has {have} service{'s' if have != 1 else ''}; this run "
            f"needs {services} (stop it, then `opskit sandbox up --services {services}`)"
        )


@contextmanager
def sandbox_for_run(
    emit: Callable[[str], None],
    *,
    app_port: int | None = None,
    services: int = 1,
    strategy: str = ROLLING,
) -> Iterator[tuple[SandboxInfo, bool]]:
    """Yield ``(info, started)`` for a run whose target uses the sandbox, with at
    least ``services`` services: the background one (``opskit sandbox up``), else
    the one this process already started for another run (a fleet's targets share
    it), else a new one, stopped when the last run using it ends (``started`` True
    for the run that started it; ``emit`` tells the user). ``strategy``: the
    services' deployment strategy (``sandbox: {strategy: BLUE_GREEN}``); a
    sandbox already up with another one is refused, as one with too few services."""
    running = find_running()
    if running is not None:
        _check_services(running, services, "running")
        _check_strategy(running, strategy, "running")
        yield running, False
        return
    with _shared.lock:
        started = _shared.sandbox is None
        if started:
            port = _run_app_port(emit, services) if app_port is None else app_port
            where = f"app URL http://127.0.0.1:{port}" if port else "app URLs on free ports"
            several = f"{services} services, " if services > 1 else ""
            if strategy != ROLLING:
                several = f"{strategy}, {several}"
            emit(f"starting a sandbox for this run ({several}{where}) ...")
            sandbox = Sandbox(app_port=port, services=services, strategy=strategy)
            _shared.info = sandbox.start()
            _shared.sandbox = sandbox
        assert _shared.info is not None
        _check_services(_shared.info, services, "shared")
        _check_strategy(_shared.info, strategy, "shared")
        info = _shared.info
        _shared.users += 1
    try:
        yield info, started
    finally:
        with _shared.lock:
            _shared.users -= 1
            last, ours = _shared.users == 0, _shared.sandbox
            if last:
                _shared.sandbox = _shared.info = None
        if last and ours is not None:
            ours.stop()
            emit("stopped the sandbox")
