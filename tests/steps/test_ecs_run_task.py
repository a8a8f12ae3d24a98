"""ecs.run_task on moto, the task played by ``OneOffDriver`` at each poll's sleep:
the verdict is ECS's record of the task, never RunTask's answer."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from opskit.errors import InputError, StepFailed, StepTimeout
from opskit.steps.base import StepResult
from opskit.steps.ecs_run_task import STEP
from tests.ecs_driver import CLUSTER, NO_CAPACITY, SERVICE, CallRecorder, EcsDriver, OneOffDriver
from tests.ecs_driver import clock as scripted


def run(make_ctx: Any, moves: list[Any], timeout: float | None = 600.0, **inputs: Any) -> Any:
    ctx = make_ctx(clock=scripted(*moves), timeout=timeout, uses="ecs.run_task")
    given = {"cluster": CLUSTER, "service": SERVICE, "poll_interval": 5, **inputs}
    return ctx, STEP.run(ctx, STEP.coerce_inputs(given))


@pytest.fixture
def one_off(stack: EcsDriver) -> OneOffDriver:
    return OneOffDriver(stack)


def test_exit_0_passes_with_outputs_logs_and_marks(make_ctx: Any, one_off: OneOffDriver) -> None:
    moves = [one_off.pending, lambda: one_off.running(["applying 0007"]), lambda: one_off.exit(0)]
    ctx, result = run(make_ctx, moves, command=["python", "migrate.py"], environment={"A": "1"})
    assert isinstance(result, StepResult) and result.status == "changed"
    task_id = one_off.task().id
    assert result.summary.startswith(f"task {task_id[:8]} exited 0 after ")
    out = result.outputs
    assert (out.task_id, out.exit_code) == (task_id, 0)
    assert out.log_stream == f"ecs/app/{task_id}"
    assert out.stopped_reason == "Essential container in task exited"
    logs = [e.message for e in make_ctx.events if e.kind == "log"]
    assert logs == ["applying 0007"]
    marks = [(e.message, e.data["what"]) for e in make_ctx.events if e.kind == "mark"]
    assert marks == [
        (f"task {task_id[:8]} started", "run_task"),
        (f"task {task_id[:8]} exited 0", "run_task"),
    ]
    record = one_off.records._task(task_id)
    assert record.overrides["containerOverrides"] == [
        {
            "name": "app",
            "command": ["python", "migrate.py"],
            "environment": [{"name": "A", "value": "1"}],
        }
    ]
    assert record.network_configuration["awsvpcConfiguration"]["subnets"]


def test_exit_3_fails_with_its_last_log_lines(make_ctx: Any, one_off: OneOffDriver) -> None:
    lines = [f"step {i}" for i in range(12)] + ["ERROR: relation users already exists"]
    moves = [one_off.running, lambda: one_off.exit(3, lines)]
    with pytest.raises(StepFailed) as failed:
        run(make_ctx, moves, log_lines=3)
    assert failed.value.summary.startswith(f"task {one_off.task().id[:8]} exited 3 after ")
    assert failed.value.outputs.exit_code == 3
    detail = failed.value.detail
    assert "container app: exit code 3" in detail
    assert "| ERROR: relation users already exists" in detail
    assert "| step 10" in detail and "step 9" not in detail


def test_unpullable_image_fails_at_the_first_poll_quoting_ecs(
    make_ctx: Any, one_off: OneOffDriver
) -> None:
    with pytest.raises(StepFailed) as failed:
        ctx, _ = run(make_ctx, [one_off.cannot_pull, *[one_off.pending] * 5])
    assert "failed to start: CannotPullContainerError: pull image manifest" in failed.value.summary
    assert failed.value.outputs.exit_code is None
    assert "[TaskFailedToStart]" in failed.value.detail


def test_placement_failure_in_run_task_fails_with_ecs_reason(
    make_ctx: Any, one_off: OneOffDriver
) -> None:
    one_off.records.refuse_run_task("Capacity is unavailable at this time.")
    with pytest.raises(StepFailed) as failed:
        run(make_ctx, [])
    assert failed.value.summary == (
        "ECS did not start task chatbot:1 on chatbot: Capacity is unavailable at this time."
    )
    assert one_off.records.one_off_ids("PROVISIONING") == []
    assert NO_CAPACITY  # the driver's service-event wording stays apart from RunTask's


def test_missing_then_found(make_ctx: Any, one_off: OneOffDriver) -> None:
    def hide() -> None:
        one_off.records.hide_tasks([one_off.task().id], 2)

    def run_hidden() -> None:
        one_off.running()
        hide()

    hide_first = [run_hidden, lambda: None, lambda: None, lambda: one_off.exit(0)]
    ctx, result = run(make_ctx, hide_first)
    assert result.status == "changed" and result.outputs.exit_code == 0


def test_never_started_is_stopped(make_ctx: Any, one_off: OneOffDriver) -> None:
    with pytest.raises(StepFailed) as failed:
        run(make_ctx, [one_off.pending] * 10, start_timeout=20)
    assert "never started: still PENDING after 20s; stopped it" in failed.value.summary
    desired, reason, _ = one_off.desired_and_reason()
    assert desired == "STOPPED" and "start_timeout" in reason


def test_timeout_stops_the_task(make_ctx: Any, one_off: OneOffDriver) -> None:
    with pytest.raises(StepTimeout) as timed_out:
        run(make_ctx, [one_off.running] + [lambda: None] * 10, timeout=30)
    assert "task " in timed_out.value.summary and "stopped (StopTask" in timed_out.value.summary
    desired, reason, _ = one_off.desired_and_reason()
    assert desired == "STOPPED"
    assert reason == "opskit ecs.run_task: the step timed out"


def test_timeout_with_leave_running_leaves_it(make_ctx: Any, one_off: OneOffDriver) -> None:
    with pytest.raises(StepTimeout) as timed_out:
        run(make_ctx, [one_off.running] + [lambda: None] * 10, timeout=30, leave_running=True)
    assert "left running (leave_running: true)" in timed_out.value.summary
    assert one_off.desired_and_reason() == ("RUNNING", "", "RUNNING")


def test_dry_run_resolves_and_runs_nothing(make_ctx: Any, stack: EcsDriver, aws: Any) -> None:
    calls = CallRecorder(aws.client("ecs"))
    ctx = make_ctx(uses="ecs.run_task")
    inputs = {"cluster": CLUSTER, "service": SERVICE, "command": ["python", "m.py"],
              "environment": {"DB_PASSWORD": "hunter2"}}  # fmt: skip
    result = STEP.plan(ctx, STEP.coerce_inputs(inputs))
    assert calls.writes == []
    assert result.summary == "would run task chatbot:1 on chatbot"
    assert "command python m.py" in result.detail
    assert "environment DB_PASSWORD (values hidden)" in result.detail
    assert "hunter2" not in result.detail
    assert "launch type FARGATE" in result.detail and "network subnets subnet-" in result.detail


def test_awsvpc_without_service_or_network_is_an_input_error(
    make_ctx: Any, stack: EcsDriver
) -> None:
    ctx = make_ctx(uses="ecs.run_task")
    with pytest.raises(InputError, match="ecs.run_task: task definition chatbot:1 uses awsvpc"):
        STEP.plan(ctx, STEP.coerce_inputs({"cluster": CLUSTER, "task_definition": "chatbot"}))


def test_a_hostile_log_line_stays_inert_in_report_md(
    one_off: OneOffDriver, aws_endpoint: str, tmp_path: Path, cli: Any
) -> None:
    hostile = ["```", "| a | b |", "::error::forged", "</details># owned"]

    def play() -> None:  # the task stops once RunTask started it
        for _ in range(600):
            if one_off.records.one_off_ids("PROVISIONING"):
                one_off.running()
                one_off.exit(3, hostile)
                return
            time.sleep(0.05)

    playbook = tmp_path / "migrate.yaml"
    playbook.write_text(
        "name: migrate\n"
        f"targets:\n  local: {{aws: {{region: us-east-1, endpoint_url: '{aws_endpoint}'}}}}\n"
        "steps:\n"
        "  - id: migrate\n"
        "    uses: ecs.run_task\n"
        f"    with: {{cluster: {CLUSTER}, service: {SERVICE}, poll_interval: 0.1s}}\n"
        "    timeout: 1m\n",
        encoding="utf-8",
    )
    player = threading.Thread(target=play, daemon=True)
    player.start()
    result = cli.run(playbook, "-t", "local", "--report", str(tmp_path / "report"))
    player.join()
    assert result.returncode == 1, result.stdout + result.stderr
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "exited 3 after" in markdown
    # the lines sit inside a fence longer than any backtick run in them: inert
    inside = "    | ```\n    | | a | b |\n    | ::error::forged\n    | </details># owned\n````"
    assert inside in markdown
    opening = markdown[: markdown.index(inside)].rsplit("\n````", 1)
    assert len(opening) == 2 and "\n```\n" not in opening[1]
