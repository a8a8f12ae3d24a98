"""The embedded sandbox: the bundled stack on loopback, no AWS account needed.

moto's server is the AWS endpoint (bucket, cluster, task definition, service,
log group); a local agent plays Fargate (a new deployment starts a task as a
local process running the stack's entrypoint, its lines go to CloudWatch
Logs, its records in moto stay truthful); a TCP proxy on
``http://127.0.0.1:8501`` plays the load balancer.

The runner and the CLI use only this module's names::

    info = find_running()                      # a sandbox started by `opskit sandbox up`
    with sandbox_for_run(emit) as (info, started):   # that one, or one for this run
        ...
    up(app_port=8501) / down() / status()
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from opskit.sandbox.core import DEFAULT_APP_PORT, Sandbox, SandboxInfo
from opskit.sandbox.daemon import down, pid_alive, status, up
from opskit.sandbox.errors import SandboxError
from opskit.sandbox.ports import free_port, port_free
from opskit.sandbox.state import read_state, remove_state, state_path

__all__ = [
    "Sandbox",
    "SandboxError",
    "SandboxInfo",
    "down",
    "find_running",
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


def _answers(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=3):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is there
    except (OSError, ValueError):
        return False


def _run_app_port(emit: Callable[[str], None]) -> int:
    """8501 as the ALB would be, unless ``OPSKIT_SANDBOX_APP_PORT`` says otherwise
    or 8501 is taken (a local Streamlit app, say): then any free port, and the
    user is told. Playbooks read the URL from ``opskit.sandbox.app_url``."""
    wanted = int(os.environ.get("OPSKIT_SANDBOX_APP_PORT") or DEFAULT_APP_PORT)
    if wanted == 0 or port_free(wanted):
        return wanted if wanted else free_port()
    port = free_port()
    emit(f"port {wanted} is in use; this run's sandbox serves the app on port {port}")
    return port


@contextmanager
def sandbox_for_run(
    emit: Callable[[str], None], *, app_port: int | None = None
) -> Iterator[tuple[SandboxInfo, bool]]:
    """Yield ``(info, started)``: the running sandbox (``started`` False), or one
    started in this process for the run and stopped after it (``started`` True;
    ``emit`` tells the user both times)."""
    running = find_running()
    if running is not None:
        yield running, False
        return
    if app_port is None:
        app_port = _run_app_port(emit)
    emit(f"starting a sandbox for this run (app URL http://127.0.0.1:{app_port}) ...")
    sandbox = Sandbox(app_port=app_port)
    info = sandbox.start()
    try:
        yield info, True
    finally:
        sandbox.stop()
        emit("stopped the sandbox")
