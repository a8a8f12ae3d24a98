"""`opskit sandbox up|status|down` and a run's own sandbox, with the real stack:
they start what they say and leave no process and no port behind."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from pathlib import Path

import pytest

from opskit.sandbox import (
    SandboxError,
    down,
    find_running,
    sandbox_for_run,
    state_path,
    status,
    up,
)
from opskit.sandbox.ports import free_port
from opskit.sandbox.state import write_state
from tests.sandbox.sandbox_helpers import (
    client,
    port_is_closed,
    process_is_gone,
    processes_using,
    wait_for,
)


def _health(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url + "/_stcore/health", timeout=5) as response:
        return response.status, response.read().decode()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _log_lines(info, task_arn: str) -> list[str]:  # type: ignore[no-untyped-def]
    stream = "ecs/chatbot/" + task_arn.rsplit("/", 1)[1]
    events = client(info, "logs").get_log_events(logGroupName="/ecs/chatbot", logStreamName=stream)
    return [e["message"] for e in events["events"]]


def test_up_status_down_leave_no_process_and_no_port_behind() -> None:
    app_port = free_port()

    info = up(app_port=app_port)

    try:
        assert info.app_url == f"http://127.0.0.1:{app_port}"
        assert info.pid is not None and info.pid != os.getpid()
        assert status() == info
        assert _health(info.app_url) == (200, "ok")
        tasks = processes_using(info.endpoint_url)
        assert tasks, "the initial task runs as a local process"
        with pytest.raises(SandboxError, match="already running"):
            up(app_port=free_port())
        emitted: list[str] = []
        with sandbox_for_run(emitted.append) as (used, started):
            assert (used, started) == (info, False)
        assert emitted == []
    finally:
        stopped = down()

    assert stopped is True
    assert process_is_gone(info.pid)
    assert processes_using(info.endpoint_url) == []
    assert port_is_closed(app_port)
    assert port_is_closed(_port(info.endpoint_url))
    assert not state_path().exists()
    assert status() is None
    assert down() is False


def test_a_run_without_a_sandbox_starts_one_for_itself_and_stops_it() -> None:
    emitted: list[str] = []
    app_port = free_port()

    with sandbox_for_run(emitted.append, app_port=app_port) as (info, started):
        assert started is True
        assert emitted == [f"starting a sandbox for this run (app URL {info.app_url}) ..."]
        assert info.app_url == f"http://127.0.0.1:{app_port}"
        assert _health(info.app_url) == (200, "ok")
        ecs = client(info, "ecs")
        (arn,) = ecs.list_tasks(cluster="chatbot")["taskArns"]
        lines = wait_for(
            lambda: (
                (found := _log_lines(info, arn))
                and any("Bedrock Runtime health check passed" in line for line in found)
                and found
            ),
            "the stack's health marker in the task's stream",
        )
        assert any(line.endswith(" verified") and "code digest " in line for line in lines)
        tasks = processes_using(info.endpoint_url)
        assert tasks
        assert not state_path().exists(), "a run's own sandbox is private to the run"

    assert emitted == [
        f"starting a sandbox for this run (app URL http://127.0.0.1:{app_port}) ...",
        "stopped the sandbox",
    ]
    assert [pid for pid in tasks if not process_is_gone(pid)] == []
    assert port_is_closed(app_port)
    assert port_is_closed(_port(info.endpoint_url))


def test_find_running_removes_a_stale_state_file() -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket() as sock:  # a port nobody answers on once closed
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    write_state(  # as a sandbox writes it (0600): a file others may write is ignored
        {
            "endpoint_url": f"http://127.0.0.1:{dead_port}",
            "app_url": "http://127.0.0.1:8501",
            "region": "us-east-1",
            "access_key_id": "k",
            "secret_access_key": "s",
            "pid": 2**22 + 7,  # above the default pid_max: never a live process
            "names": {},
        }
    )

    assert find_running() is None
    assert not path.exists()


def test_up_says_which_port_is_busy() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SandboxError, match=f"127.0.0.1:{port}"):
            up(app_port=port)
    assert not state_path().exists()


def test_state_file_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_path() == tmp_path / "xdg" / "opskit" / "sandbox.json"
    monkeypatch.setenv("OPSKIT_SANDBOX_STATE", str(tmp_path / "mine.json"))
    assert state_path() == tmp_path / "mine.json"


def test_a_run_whose_app_port_is_taken_gets_a_free_one_and_says_so(monkeypatch) -> None:
    import socket

    from opskit.sandbox import _run_app_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        monkeypatch.setenv("OPSKIT_SANDBOX_APP_PORT", str(taken))
        emitted: list[str] = []
        port = _run_app_port(emitted.append)
    assert port != taken
    assert emitted == [f"port {taken} is in use; this run's sandbox serves the app on port {port}"]


def test_sigterm_stops_a_runs_own_sandbox_and_its_tasks_and_writes_the_report(
    tmp_path: Path,
) -> None:
    """``kill`` or a CI cancel: the run's sandbox stops with every task process it
    started (the entrypoint and the Streamlit server it became), and the report
    says ``interrupted``; SIGTERM's default would have left the tasks running."""
    import signal
    import subprocess
    import sys

    playbook = tmp_path / "wait.yaml"
    playbook.write_text(
        """
name: Wait on the sandbox
targets:
  local: {sandbox: true}
steps:
  - id: probe
    uses: http.probe
    with: {url: "{{ opskit.sandbox.app_url }}/_stcore/health", expect_body: never, interval: 0.2}
    timeout: 10m
"""
    )
    env = {**os.environ, "OPSKIT_SANDBOX_APP_PORT": str(free_port())}
    run = subprocess.Popen(
        [sys.executable, "-m", "opskit", "run", str(playbook), "--report", str(tmp_path / "r")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert run.stdout is not None
    lines = []
    for line in run.stdout:
        lines.append(line)
        if "probe" in line and "http.probe" in line:
            break
    run.send_signal(signal.SIGTERM)
    try:
        rest, _ = run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        run.kill()
        rest, _ = run.communicate()
        raise AssertionError("".join(lines) + rest) from None

    assert run.returncode == 143, "".join(lines) + rest
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert (report["status"], report["signal"]) == ("interrupted", "SIGTERM")
    endpoint = report["sandbox"]["endpoint_url"]
    assert wait_for(lambda: processes_using(endpoint) == [], "the task processes to end")
    assert "stopped the sandbox" in rest
