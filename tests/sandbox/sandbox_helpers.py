"""Helpers for the sandbox tests: bounded waits, clients, process and port checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from opskit.sandbox import SandboxInfo


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what} after {timeout:.0f}s")


def client(info: SandboxInfo, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=info.endpoint_url,
        region_name=info.region,
        aws_access_key_id=info.access_key_id,
        aws_secret_access_key=info.secret_access_key,
    )


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # our own zombie child counts as gone once reaped
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return False


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def processes_using(endpoint_url: str) -> list[int]:
    """Pids of live processes whose environment points at this AWS endpoint:
    the task processes a sandbox started (read from /proc, independent of the
    sandbox's own bookkeeping)."""
    needle = f"AWS_ENDPOINT_URL={endpoint_url}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != "Z":
            found.append(int(entry.name))
    return found


ROOT = Path(__file__).resolve().parents[2]


def opskit_run(playbook: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``opskit run`` in its own process, as CI and users run it."""
    return subprocess.run(
        [sys.executable, "-m", "opskit", "run", str(playbook), *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "NO_COLOR": "1"},
        cwd=ROOT,
    )


def running_task_ids(info: SandboxInfo) -> list[str]:
    arns = client(info, "ecs").list_tasks(cluster="chatbot", desiredStatus="RUNNING")["taskArns"]
    return [arn.rsplit("/", 1)[1] for arn in arns]
