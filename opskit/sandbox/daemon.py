"""``opskit sandbox up|down|status``: a sandbox as a background process.

``up`` spawns ``python -m opskit.sandbox.daemon`` in its own session, waits
until it has written the state file (it does so once the first task is
healthy) and returns; ``down`` asks it to stop (SIGTERM: it stops every task,
the proxy and moto, then removes the state file) and makes sure that nothing
it started is left, even when it does not answer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from opskit.sandbox.core import DEFAULT_APP_PORT, Sandbox, SandboxInfo
from opskit.sandbox.errors import SandboxError
from opskit.sandbox.ports import check_port_free
from opskit.sandbox.state import (
    aws_faults_path,
    bedrock_faults_path,
    log_path,
    read_state,
    remove_state,
    state_path,
    write_state,
)

START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists": reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def up(
    app_port: int = DEFAULT_APP_PORT,
    aws_port: int = 0,
    foreground: bool = False,
    *,
    on_ready: Callable[[SandboxInfo], None] | None = None,
    services: int = 1,
    strategy: str = "ROLLING",
) -> SandboxInfo:
    """Start a sandbox. In the background (default) it returns once the app
    answers; with ``foreground`` it runs here until SIGINT/SIGTERM, calling
    ``on_ready(info)`` when ready, and returns after stopping."""
    from opskit.sandbox import find_running

    running = find_running()
    if running is not None:
        raise SandboxError(
            f"a sandbox is already running (pid {running.pid}, app {running.app_url}, "
            f"AWS endpoint {running.endpoint_url}); stop it with `opskit sandbox down`"
        )
    if services < 1:
        raise SandboxError(f"--services must be 1 or more, got {services}")
    for index in range(services):
        if app_port:
            check_port_free(app_port + index, f"the app of service {index + 1}")
    check_port_free(aws_port, "the AWS endpoint (moto)")
    if foreground:
        return run_foreground(
            app_port, aws_port, on_ready=on_ready, services=services, strategy=strategy
        )
    return _spawn(app_port, aws_port, services, strategy)


def _spawn(
    app_port: int, aws_port: int, services: int = 1, strategy: str = "ROLLING"
) -> SandboxInfo:
    log_file = log_path()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # The background sandbox is the CLI's own `sandbox up --foreground`, so its
    # errors and exit code go through the one boundary in opskit.cli.
    command = [
        sys.executable,
        "-m",
        "opskit",
        "sandbox",
        "up",
        "--foreground",
        f"--port={app_port}",
        f"--aws-port={aws_port}",
        f"--services={services}",
        f"--strategy={strategy}",
    ]
    with open(log_file, "ab") as output:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "OPSKIT_SANDBOX_STATE": str(state_path())},
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        state = read_state()
        if state is not None and state.get("pid") == child.pid:
            return SandboxInfo.from_json(state)
        if child.poll() is not None:
            raise SandboxError(
                f"the sandbox did not start (exit {child.returncode}): {_last_line(log_file)} "
                f"(full log: {log_file})"
            )
        time.sleep(0.1)
    _terminate(child.pid, [])
    raise SandboxError(f"the sandbox was not ready after {START_TIMEOUT:.0f}s (log: {log_file})")


def _last_line(path: os.PathLike[str]) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [line for line in handle if line.strip()]
    except OSError:
        return "(no output)"
    return lines[-1].strip() if lines else "(no output)"


def down() -> bool:
    """Stop the running sandbox and everything it started; ``False`` if none ran."""
    state = read_state()
    if state is None:
        return False
    pid = state.get("pid")
    task_groups = [int(g) for g in state.get("task_pids") or []]
    if not isinstance(pid, int) or not pid_alive(pid):
        _kill_groups(task_groups)
        remove_state()
        return False
    _terminate(pid, task_groups)
    remove_state(only_pid=pid)
    return True


def _terminate(pid: int, task_groups: list[int]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):  # it did not stop in time: take down its session and its tasks
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.05)
    _kill_groups(task_groups)


def _kill_groups(groups: list[int]) -> None:
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def status() -> SandboxInfo | None:
    from opskit.sandbox import find_running

    return find_running()


def run_foreground(
    app_port: int,
    aws_port: int,
    *,
    on_ready: Callable[[SandboxInfo], None] | None = None,
    services: int = 1,
    strategy: str = "ROLLING",
) -> SandboxInfo:
    """Run a sandbox in this process until SIGTERM/SIGINT; the state file names
    it (and its task processes, so ``down`` can clean up even after a crash)."""
    stop = threading.Event()
    pid = os.getpid()
    published: dict[str, Any] = {}

    def publish(task_pids: list[int]) -> None:
        if published and not stop.is_set():
            published["task_pids"] = task_pids
            write_state(published)

    sandbox = Sandbox(
        app_port=app_port,
        aws_port=aws_port,
        on_tasks_changed=publish,
        bedrock_faults_file=bedrock_faults_path(),
        aws_faults_file=aws_faults_path(),
        services=services,
        strategy=strategy,
    )
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main_thread else None
    try:
        info = sandbox.start()
        info.pid = pid
        published.update(info.to_json())
        publish(sandbox.task_pids())
        if on_ready is not None:
            on_ready(info)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
        sandbox.stop()
        remove_state(only_pid=pid)
    return info
