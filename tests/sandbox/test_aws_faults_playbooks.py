"""The redeploy playbook end to end under each AWS behaviour the sandbox plays
(issue 19): `opskit run playbooks/redeploy.yaml` as CI runs it (through the CLI's
one boundary, in process), on the module's sandbox with the real stack, with
the verdict a user should see. The faults are switched on the sandbox this
process runs (`opskit.sandbox.in_process().aws_faults`), as `opskit sandbox
fault` switches them on a background one."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from opskit.sandbox import SandboxInfo, in_process
from opskit.sandbox.aws_faults import AwsFaultBoard, make_aws_fault
from tests.cli_helpers import Cli, CliResult
from tests.sandbox.sandbox_helpers import ROOT, client, running_task_ids

PLAYBOOK = ROOT / "playbooks" / "redeploy.yaml"
PLACEMENT_EVENT = (
    "(service chatbot) was unable to place a task. Reason: Capacity is unavailable at this "
    "time. Please try again later or in a different availability zone."
)
MARKERS = ["verified", "Bedrock Runtime health check passed"]


@pytest.fixture
def faults(sandbox: SandboxInfo) -> AwsFaultBoard:
    running = in_process()
    assert running is not None, "the module's sandbox runs in this process"
    return running.aws_faults


def _run(
    cli: Cli, report_dir: Path, playbook: Path = PLAYBOOK
) -> tuple[CliResult, dict[str, dict[str, Any]]]:
    result = cli.run(playbook, "--report", str(report_dir))
    document = json.loads((report_dir / "report.json").read_text())
    return result, {step["id"]: step for step in document["steps"]}


def _service(info: SandboxInfo) -> dict[str, Any]:
    ecs = client(info, "ecs")
    return ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]


def test_a_stale_first_read_then_a_healthy_rollout_passes_with_one_update_and_no_rollback(
    sandbox: SandboxInfo,
    faults: AwsFaultBoard,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = in_process()
    assert running is not None
    backend = running.records.backend
    updates: list[dict[str, Any]] = []
    apply_update = backend.update_service

    def counted(properties: dict[str, Any]) -> Any:
        updates.append(dict(properties))
        return apply_update(properties)

    monkeypatch.setattr(backend, "update_service", counted)
    faults.set(make_aws_fault("ecs", "stale_reads"))

    result, steps = _run(cli, tmp_path / "report")

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(updates) == 1
    assert faults.snapshot()[0]["played"] >= 1  # the first read after the update was stale
    deployment = steps["redeploy"]["outputs"]["deployment_id"]
    (record,) = _service(sandbox)["deployments"]
    assert (record["id"], record["rolloutState"]) == (deployment, "COMPLETED")
    messages = [e["message"] for e in _service(sandbox)["events"]]
    assert not [m for m in messages if "rolling back" in m]


def test_a_placement_failure_fails_the_redeploy_well_inside_its_timeout_quoting_the_event(
    sandbox: SandboxInfo, faults: AwsFaultBoard, cli: Cli, tmp_path: Path
) -> None:
    (old_task,) = running_task_ids(sandbox)
    # Capacity comes back after a minute: a redeploy that only waits passes then
    # (the test ends in about a minute, not at the step's ten-minute timeout).
    faults.set(make_aws_fault("ecs", "placement", calls=60))
    started = time.monotonic()

    result, steps = _run(cli, tmp_path / "report")

    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert elapsed < 45, f"the run took {elapsed:.0f}s"
    assert steps["redeploy"]["status"] == "failed"
    assert PLACEMENT_EVENT in steps["redeploy"]["summary"] + steps["redeploy"].get("detail", "")
    assert running_task_ids(sandbox) == [old_task]  # the old task keeps serving


def test_two_spot_reclaims_pass_and_the_summary_names_them(
    sandbox: SandboxInfo, faults: AwsFaultBoard, cli: Cli, tmp_path: Path
) -> None:
    faults.set(make_aws_fault("ecs", "spot", calls=2))

    result, steps = _run(cli, tmp_path / "report")

    assert result.returncode == 0, result.stdout + result.stderr
    deployment = steps["redeploy"]["outputs"]["deployment_id"]
    ecs = client(sandbox, "ecs")
    arns = ecs.list_tasks(cluster="chatbot", startedBy=deployment, desiredStatus="STOPPED")
    reclaimed = [
        t["taskArn"].rsplit("/", 1)[-1]
        for t in ecs.describe_tasks(cluster="chatbot", tasks=arns["taskArns"])["tasks"]
        if t["stopCode"] == "SpotInterruption"
    ]
    assert len(reclaimed) == 2
    assert steps["redeploy"]["summary"].endswith("; 2 tasks reclaimed by Spot, replaced")
    named = [line for line in steps["redeploy"]["detail"].splitlines() if "Spot" in line]
    assert sorted(named) == sorted(
        f"task {task_id} reclaimed by Spot, replaced: Your Spot Task was interrupted. "
        "[SpotInterruption]"
        for task_id in reclaimed
    )
    assert steps["redeploy"]["outputs"]["new_task_ids"] == running_task_ids(sandbox)


def test_logs_throttled_at_five_requests_a_second_pass_with_few_throttled_requests(
    sandbox: SandboxInfo, faults: AwsFaultBoard, cli: Cli, tmp_path: Path
) -> None:
    faults.set(make_aws_fault("logs", "throttle"))

    result, steps = _run(cli, tmp_path / "report")

    assert result.returncode == 0, result.stdout + result.stderr
    assert steps["logs"]["status"] == "ok"
    assert sum(faults.throttled().values()) <= 2, faults.throttled()


def test_persistent_logs_throttling_fails_the_run_naming_throttling(
    sandbox: SandboxInfo,
    faults: AwsFaultBoard,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bundled playbook with its logs step's `timeout: 5m` cut to 8s: the
    # sandbox plays real time, and this run must wait out that timeout.
    text = PLAYBOOK.read_text()
    assert text.count("    timeout: 5m\n") == 1
    playbook = tmp_path / "redeploy.yaml"
    playbook.write_text(text.replace("    timeout: 5m\n", "    timeout: 8s\n"))
    faults.set(make_aws_fault("logs", "throttle", always=True))

    result, steps = _run(cli, tmp_path / "report", playbook)

    assert result.returncode == 1, result.stdout + result.stderr
    assert steps["redeploy"]["status"] == "changed"
    assert steps["logs"]["status"] == "failed"
    summary = steps["logs"]["summary"]
    assert summary.startswith(
        "timed out after 8.0s while CloudWatch Logs was throttling DescribeLogGroups "
        "(ThrottlingException: Rate exceeded) since "
    ), summary
    assert "did not stop within its timeout" not in summary


def test_markers_delivered_late_with_earlier_timestamps_pass(
    sandbox: SandboxInfo, faults: AwsFaultBoard, cli: Cli, tmp_path: Path
) -> None:
    # 4 s, not 15: long enough that the reader (polling every second) reads the
    # task's later lines first and then meets the markers with earlier
    # timestamps; 15 s would only add real waiting to the suite.
    faults.set(make_aws_fault("logs", "late", seconds=4, match=MARKERS))

    result, steps = _run(cli, tmp_path / "report")

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
