"""The redeploy playbook end to end under each ECS behaviour the sandbox plays
(issue 19): stale reads, placement failures, Spot reclaims. `opskit run
playbooks/redeploy.yaml` as CI runs it (through the CLI's one boundary, in
process), on the module's sandbox with the real stack, with the verdict a user
should see. (CloudWatch Logs' behaviours: test_aws_faults_logs_playbooks.py.)"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from opskit.durations import format_duration
from opskit.sandbox import SandboxInfo, in_process
from opskit.sandbox.aws_faults import AwsFaultBoard, FaultOptions, make_aws_fault
from tests.cli_helpers import Cli, CliResult
from tests.sandbox.sandbox_helpers import PLAYBOOK, client, run_with_report, running_task_ids

PLACEMENT_EVENT = (
    "(service chatbot) was unable to place a task. Reason: Capacity is unavailable at this "
    "time. Please try again later or in a different availability zone."
)


def _service(info: SandboxInfo) -> dict[str, Any]:
    ecs = client(info, "ecs")
    return ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]


def run_seeing_events(
    cli: Cli, report_dir: Path
) -> tuple[CliResult, dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """``opskit run redeploy.yaml --output json --report DIR``: the result, the
    report's steps by id, and every event the run emitted (one JSON line each)."""
    result = cli.run(PLAYBOOK, "--report", str(report_dir), "--output", "json")
    document = json.loads((report_dir / "report.json").read_text())
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result, {step["id"]: step for step in document["steps"]}, events


def _said(events: list[dict[str, Any]], kind: str, step: str = "redeploy") -> list[str]:
    return [e["message"] for e in events if e["kind"] == kind and e.get("step") == step]


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

    result, steps, events = run_seeing_events(cli, tmp_path / "report")

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(updates) == 1
    deployment = steps["redeploy"]["outputs"]["deployment_id"]
    # the first read after the update was stale, and opskit said so while it waited
    not_visible = (
        f"deployment {deployment} not visible yet in DescribeServices (ECS is eventually "
        "consistent): waiting up to 30s for it (1 read so far) ("
    )
    assert _said(events, "progress")[0].startswith(not_visible)
    assert _said(events, "warning") == []
    (record,) = _service(sandbox)["deployments"]
    assert (record["id"], record["rolloutState"]) == (deployment, "COMPLETED")
    messages = [e["message"] for e in _service(sandbox)["events"]]
    assert not [m for m in messages if "rolling back" in m]


def test_a_placement_failure_fails_the_redeploy_well_inside_its_timeout_quoting_the_event(
    sandbox: SandboxInfo, faults: AwsFaultBoard, cli: Cli, tmp_path: Path
) -> None:
    (old_task,) = running_task_ids(sandbox)
    # Capacity comes back after a minute of attempts: a redeploy that only waited
    # would pass then (the test would end in about a minute, not at the step's
    # ten-minute timeout), so a failure quoting the placement rule is a fast one.
    faults.set(make_aws_fault("ecs", "placement", FaultOptions(calls=60)))

    result, steps, events = run_seeing_events(cli, tmp_path / "report")

    assert result.returncode == 1, result.stdout + result.stderr
    redeploy = steps["redeploy"]
    deployment = redeploy["outputs"]["deployment_id"]
    # each placement event the sandbox played while the step waited, shown once
    read = [
        datetime.fromisoformat(e["data"]["created_at"])
        for e in events
        if e["kind"] == "event" and e["message"] == PLACEMENT_EVENT
    ]
    assert len(read) >= 3
    span = format_duration((max(read) - min(read)).total_seconds())
    assert (redeploy["status"], redeploy["summary"], redeploy["detail"]) == (
        "failed",
        f"ECS could not place the tasks of deployment {deployment} ({len(read)} placement "
        f"failures over {span}): {PLACEMENT_EVENT}",
        f"deployment {deployment} IN_PROGRESS: running 0/1, pending 0, 1 old running",
    )
    assert running_task_ids(sandbox) == [old_task]  # the old task keeps serving


def test_two_spot_reclaims_pass_and_the_summary_names_them(
    sandbox: SandboxInfo, faults: AwsFaultBoard, cli: Cli, tmp_path: Path
) -> None:
    faults.set(make_aws_fault("ecs", "spot", FaultOptions(calls=2)))

    result, steps = run_with_report(cli, tmp_path / "report")

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
