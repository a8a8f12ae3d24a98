"""The redeploy playbook end to end under each CloudWatch Logs behaviour the
sandbox plays (issue 19): reads throttled at AWS's quota, persistent throttling,
lines delivered late with earlier timestamps. (ECS's behaviours:
test_aws_faults_ecs_playbooks.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from opskit.sandbox import SandboxInfo
from opskit.sandbox.aws_faults import AwsFaultBoard, FaultOptions, make_aws_fault
from tests.cli_helpers import Cli
from tests.sandbox.sandbox_helpers import PLAYBOOK, client, run_with_report

MARKERS = ("verified", "Bedrock Runtime health check passed")


def test_logs_throttled_at_five_requests_a_second_pass_with_few_throttled_requests(
    sandbox: SandboxInfo, faults: AwsFaultBoard, cli: Cli, tmp_path: Path
) -> None:
    faults.set(make_aws_fault("logs", "throttle"))

    result, steps = run_with_report(cli, tmp_path / "report")

    assert result.returncode == 0, result.stdout + result.stderr
    assert steps["logs"]["status"] == "ok"
    assert sum(faults.throttled().values()) <= 2, faults.throttled()


def test_persistent_logs_throttling_fails_the_run_naming_throttling(
    sandbox: SandboxInfo,
    faults: AwsFaultBoard,
    cli: Cli,
    tmp_path: Path,
) -> None:
    # The bundled playbook with its logs step's `timeout: 5m` cut to 4s: the
    # sandbox plays real time, and this run must wait out that timeout.
    text = PLAYBOOK.read_text()
    assert text.count("    timeout: 5m\n") == 1
    playbook = tmp_path / "redeploy.yaml"
    playbook.write_text(text.replace("    timeout: 5m\n", "    timeout: 4s\n"))
    faults.set(make_aws_fault("logs", "throttle", FaultOptions(always=True)))

    result, steps = run_with_report(cli, tmp_path / "report", playbook)

    assert result.returncode == 1, result.stdout + result.stderr
    assert steps["redeploy"]["status"] == "changed"
    assert steps["logs"]["status"] == "failed"
    summary = steps["logs"]["summary"]
    assert summary.startswith(
        "timed out after 4.0s while CloudWatch Logs was throttling DescribeLogGroups "
        "(ThrottlingException: Rate exceeded) since "
    ), summary
    assert "did not stop within its timeout" not in summary


def test_markers_delivered_late_with_earlier_timestamps_pass(
    sandbox: SandboxInfo, faults: AwsFaultBoard, cli: Cli, tmp_path: Path
) -> None:
    # 4 s, not 15: long enough that the reader (polling every second) reads the
    # task's later lines first and then meets the markers with earlier
    # timestamps; 15 s would only add real waiting to the suite.
    faults.set(make_aws_fault("logs", "late", FaultOptions(seconds=4, match=MARKERS)))

    result, steps = run_with_report(cli, tmp_path / "report")

    assert result.returncode == 0, result.stdout + result.stderr
    (task_id,) = steps["redeploy"]["outputs"]["new_task_ids"]
    events = client(sandbox, "logs").get_log_events(
        logGroupName="/ecs/chatbot", logStreamName=f"ecs/chatbot/{task_id}", startFromHead=True
    )["events"]
    late = [e for e in events if any(marker in e["message"] for marker in MARKERS)]
    assert len(late) == 2
    for marker in late:  # arrived after lines written after it
        overtaken = [
            e
            for e in events
            if e["timestamp"] > marker["timestamp"] and e["ingestionTime"] < marker["ingestionTime"]
        ]
        assert overtaken, marker
    matched = json.dumps(steps["logs"]["outputs"]["matched"])
    assert all(marker["message"] in matched for marker in late)
