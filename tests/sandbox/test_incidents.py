"""The incident's lies, replayed end to end against a running sandbox with the
real stack (issue 7, tests 2, 3 and 5): `opskit run` as CI runs it (through the
CLI's one boundary, in process), and AWS only through the sandbox's moto server
on loopback.

- A release whose client manager makes the incident's health-check call fails
  the redeploy, quoting the line and naming the task; a Streamlit server on the
  same broken script still answers 200 on / and /_stcore/health.
- Code synced without a forced deployment: the verify playbook fails, naming
  the digest the running task reported.
- Failure lines in the OLD task's log stream do not fail a healthy redeploy.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from opskit.sandbox import SandboxInfo
from opskit.sandbox.core import STACK_DIR
from opskit.sandbox.ports import free_port
from tests.cli_helpers import Cli
from tests.sandbox.sandbox_helpers import client, running_task_ids, wait_for

ROOT = Path(__file__).resolve().parents[2]
REDEPLOY = ROOT / "playbooks" / "redeploy.yaml"
VERIFY = ROOT / "playbooks" / "verify.yaml"
TASK_LOGS = Path(__file__).with_name("playbooks") / "task_logs.yaml"

INCIDENT_ERROR = "'BedrockRuntime' object has no attribute 'list_foundation_models'"
INCIDENT_LINE = f"Bedrock Runtime health check failed: {INCIDENT_ERROR}"
# docs/stack.md, "Replaying the incident": the bedrock-runtime row probes
# ListFoundationModels, an operation of the bedrock control plane only.
GOOD_ROW = '"bedrock-runtime": HealthCheck("Bedrock Runtime", ("ConverseStream", "InvokeModel")),'
BAD_ROW = (
    '"bedrock-runtime": HealthCheck("Bedrock Runtime", ("ConverseStream",), '
    'probe="ListFoundationModels"),'
)
# The bundled app with CHATBOT_MODEL_PROVIDER=local never asks for the
# bedrock-runtime client while its script runs, so the bad row alone fails only
# the preflight (Streamlit's script health check would still say "ok"). The
# incident's app did need the client when its script ran: so does the copy.
GOOD_BACKEND = "    return build_backend(settings, ClientManager(settings))\n"
BAD_BACKEND = (
    "    manager = ClientManager(settings)\n"
    '    manager.client("bedrock-runtime")  # raises ClientUnavailable\n'
    "    return build_backend(settings, manager)\n"
)
DIGEST_LINE = re.compile(r"code digest ([0-9a-f]{64}) verified")
# No proxy, whatever the environment says: everything here is on loopback.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _report(report_dir: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    report = json.loads((report_dir / "report.json").read_text())
    return report, {step["id"]: step for step in report["steps"]}


def _copy_stack(destination: Path) -> Path:
    shutil.copytree(STACK_DIR / "src", destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name} no longer has {old!r}: update this test"
    path.write_text(text.replace(old, new))


def _deployments(info: SandboxInfo) -> list[dict[str, Any]]:
    ecs = client(info, "ecs")
    return ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0][
        "deployments"
    ]


def _deployment_ids(info: SandboxInfo) -> list[str]:
    return [d["id"] for d in _deployments(info)]


def _primary_id(info: SandboxInfo) -> str:
    return next(d["id"] for d in _deployments(info) if d["status"] == "PRIMARY")


def _stream_messages(info: SandboxInfo, task_id: str) -> list[dict[str, Any]]:
    logs = client(info, "logs")
    response = logs.get_log_events(
        logGroupName="/ecs/chatbot", logStreamName=f"ecs/chatbot/{task_id}", startFromHead=True
    )
    return response["events"]


def _digest_logged_by(info: SandboxInfo, task_id: str) -> str:
    for event in _stream_messages(info, task_id):
        found = DIGEST_LINE.search(event["message"])
        if found:
            return found.group(1)
    raise AssertionError(f"task {task_id} logged no 'code digest ... verified' line")


def _get(url: str) -> tuple[int, str]:
    try:
        with HTTP.open(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def _answers(url: str) -> bool:
    try:
        return _get(url)[0] == 200
    except OSError:
        return False


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers, and reap the leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)


def _iso_ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def test_the_incident_fails_the_redeploy_quoting_the_line_and_naming_the_task(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    (old_task,) = running_task_ids(sandbox)
    source = _copy_stack(tmp_path / "src")
    _replace_once(source / "core" / "aws_clients.py", GOOD_ROW, BAD_ROW)
    _replace_once(source / "chatbot_app.py", GOOD_BACKEND, BAD_BACKEND)

    result = cli.run(REDEPLOY, "-e", f"source={source}", "--report", str(tmp_path / "report"))

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    report, steps = _report(tmp_path / "report")
    assert report["exit_code"] == 1
    # The preflight fails, so the new tasks exit before they serve: the deployment
    # never completes and ecs.redeploy fails on its stopped tasks.
    assert {step_id: step["status"] for step_id, step in steps.items()} == {
        "upload": "changed",
        "redeploy": "failed",
        "logs": "skipped",
        "probe": "skipped",
        "chat": "skipped",
    }
    step = steps["redeploy"]
    failure_text = f"{step['summary']}\n{step['detail']}"
    assert INCIDENT_LINE in failure_text
    assert INCIDENT_LINE in output
    assert INCIDENT_LINE in (tmp_path / "report" / "report.md").read_text()

    # No new task ever ran; the failure text names each stopped task before its
    # last log lines.
    deployment_id = step["outputs"]["deployment_id"]
    assert step["outputs"]["old_task_ids"] == [old_task]
    assert step["outputs"]["new_task_ids"] == []
    named = re.findall(r"^task ([0-9a-f]{32}) ", failure_text, re.MULTILINE)
    assert named and old_task not in named, failure_text
    described = client(sandbox, "ecs").describe_tasks(cluster="chatbot", tasks=named)["tasks"]
    assert {task["startedBy"] for task in described} == {deployment_id}
    new_task = named[0]
    assert new_task in output
    # The quoted line is that task's own, read back from its log stream, and the
    # block for that task quotes it.
    assert any(INCIDENT_LINE in e["message"] for e in _stream_messages(sandbox, new_task))
    block = failure_text.split(f"task {new_task} ", 1)[1].split("\ntask ", 1)[0]
    assert INCIDENT_LINE in block


def test_a_streamlit_server_on_the_broken_script_still_answers_a_plain_probe(
    tmp_path: Path,
) -> None:
    # The same broken copy, served by Streamlit directly: no entrypoint, no preflight.
    source = _copy_stack(tmp_path / "src")
    _replace_once(source / "core" / "aws_clients.py", GOOD_ROW, BAD_ROW)
    _replace_once(source / "chatbot_app.py", GOOD_BACKEND, BAD_BACKEND)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "streamlit.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(source / "chatbot_app.py"),
                "--server.headless=true",
                "--server.address=127.0.0.1",
                f"--server.port={port}",
                "--server.scriptHealthCheckEnabled=true",
                "--server.fileWatcherType=none",
                "--browser.gatherUsageStats=false",
            ],
            cwd=source,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={
                **os.environ,
                "CHATBOT_MODEL_PROVIDER": "local",
                "AWS_REGION": "us-east-1",
                "CHATBOT_LOCAL_STREAM_DELAY": "0",
            },
        )
    try:
        wait_for(
            lambda: server.poll() is not None or _answers(f"{base}/_stcore/health"),
            "Streamlit to answer on /_stcore/health",
        )
        assert server.poll() is None, log.read_text()

        page = _get(f"{base}/")
        health = _get(f"{base}/_stcore/health")
        script = _get(f"{base}/_stcore/script-health-check")
    finally:
        _stop_group(server)

    server_output = log.read_text()
    assert page[0] == 200, server_output
    assert health == (200, "ok"), server_output
    assert script != (200, "ok"), server_output
    assert script == (503, "error"), server_output
    # The script did run, and raised the incident's error.
    assert INCIDENT_LINE in server_output
    assert (
        f"ClientUnavailable: bedrock-runtime client in us-east-1 is unavailable: {INCIDENT_ERROR}"
        in (server_output)
    )


def test_synced_code_without_a_deployment_fails_verify_naming_the_running_digest(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    (old_task,) = running_task_ids(sandbox)
    old_digest = _digest_logged_by(sandbox, old_task)
    deployments = _deployment_ids(sandbox)
    source = _copy_stack(tmp_path / "src")
    with open(source / "core" / "markers.py", "a") as module:
        module.write("# release 2\n")

    upload = cli.run(
        REDEPLOY, "--only", "upload", "-e", f"source={source}", "--report", str(tmp_path / "up")
    )

    assert upload.returncode == 0, upload.stdout + upload.stderr
    _, up_steps = _report(tmp_path / "up")
    new_digest = up_steps["upload"]["outputs"]["digest"]
    assert up_steps["upload"]["outputs"]["uploaded"] == 1
    assert up_steps["redeploy"]["status"] == "skipped"
    assert new_digest != old_digest
    # Nothing restarted: the same task and deployment, still on the old code.
    assert running_task_ids(sandbox) == [old_task]
    assert _deployment_ids(sandbox) == deployments

    verify = cli.run(VERIFY, "--report", str(tmp_path / "verify"))

    output = verify.stdout + verify.stderr
    assert verify.returncode == 1, output
    _, steps = _report(tmp_path / "verify")
    assert steps["code"]["status"] == "ok"  # the bucket does hold the new release
    assert steps["code"]["outputs"]["digest"] == new_digest
    assert [s for s, step in steps.items() if step["status"] == "failed"] == ["running_code"]
    running_code = steps["running_code"]
    summary = running_code["summary"]
    # The failure names the digest waited for (in its pattern) and quotes the
    # running task's line with the digest it reported instead.
    assert new_digest in summary
    assert f"code digest {old_digest} verified" in summary
    first_failure = running_code["outputs"]["first_failure"]
    assert first_failure["task_id"] == old_task
    assert f"code digest {old_digest} verified" in first_failure["line"]
    assert new_digest not in first_failure["line"]
    assert f"code digest {old_digest} verified" in output
    assert old_task[:8] in summary


def test_failure_lines_in_the_old_tasks_stream_do_not_fail_a_healthy_redeploy(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    (old_task,) = running_task_ids(sandbox)
    old_deployment = _primary_id(sandbox)
    logs = client(sandbox, "logs")
    old_stream = f"ecs/chatbot/{old_task}"
    marker_lines = [
        "Traceback (most recent call last):",
        f"AttributeError: {INCIDENT_ERROR}",
    ]

    def put_failure_lines() -> None:
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName="/ecs/chatbot",
            logStreamName=old_stream,
            logEvents=[{"timestamp": now, "message": line} for line in marker_lines],
        )

    put_failure_lines()  # before the run
    # ... and while the new deployment rolls out, inside the window logs.wait reads.
    injected_during: list[int] = []
    run_over = threading.Event()

    def inject_once_the_deployment_starts() -> None:
        while not run_over.is_set():
            if _primary_id(sandbox) != old_deployment:
                injected_during.append(int(time.time() * 1000))
                put_failure_lines()
                return
            run_over.wait(0.1)

    injector = threading.Thread(target=inject_once_the_deployment_starts, daemon=True)
    injector.start()

    try:
        result = cli.run(REDEPLOY, "--report", str(tmp_path / "report"))
    finally:
        run_over.set()
        injector.join(timeout=30)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    _, steps = _report(tmp_path / "report")
    redeploy = steps["redeploy"]["outputs"]
    assert redeploy["old_task_ids"] == [old_task]
    (new_task,) = redeploy["new_task_ids"]
    assert new_task != old_task
    # The old stream really holds the failure lines, twice, the second time
    # after the deployment started (so not outside logs.wait's time window).
    old_messages = [e["message"] for e in _stream_messages(sandbox, old_task)]
    assert old_messages.count(marker_lines[1]) == 2
    assert injected_during and injected_during[0] >= _iso_ms(redeploy["started_at"])
    # logs.wait read the new task's stream only, and its markers came from it.
    logs_out = steps["logs"]["outputs"]
    assert steps["logs"]["status"] == "ok"
    assert logs_out["streams"] == [f"ecs/chatbot/{new_task}"]
    assert logs_out["first_failure"] is None
    for pattern, by_task in logs_out["matched"].items():
        assert list(by_task) == [new_task], pattern
    assert old_task not in json.dumps(logs_out)

    # Control: the redeploy's failure patterns, read on the old task's stream
    # from the deployment's start, do catch the lines put there during it.
    control = cli.run(
        TASK_LOGS, "-e", f"task_ids={old_task}", "-e", f"since={redeploy['started_at']}"
    )
    assert control.returncode == 1, control.stdout + control.stderr
    assert f"in task {old_task[:8]}" in control.stdout
    assert f"AttributeError: {INCIDENT_ERROR}" in control.stdout


def test_the_control_playbook_uses_the_redeploy_playbooks_failure_patterns() -> None:
    def failure_patterns(playbook: Path) -> list[str]:
        steps = yaml.safe_load(playbook.read_text())["steps"]
        (logs_step,) = [step for step in steps if step["uses"] == "logs.wait"]
        return logs_step["with"]["failure"]

    assert failure_patterns(TASK_LOGS) == failure_patterns(REDEPLOY)
