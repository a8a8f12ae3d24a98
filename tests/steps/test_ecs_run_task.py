"""ecs.run_task on moto, the task played by ``OneOffDriver`` at each poll's sleep:
the verdict is ECS's record of the task, never RunTask's answer."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from opskit.errors import Cancelled, InputError, StepFailed, StepTimeout
from opskit.steps.base import StepResult
from opskit.steps.ecs_run_task import STEP
from tests.ecs_driver import (
    CLUSTER,
    SERVICE,
    SPOT_REASON,
    CallRecorder,
    EcsDriver,
    OneOffDriver,
    container_definition,
)
from tests.ecs_driver import clock as scripted


def run(
    make_ctx: Any,
    moves: list[Any],
    timeout: float | None = 600.0,
    cancel: Any = None,
    **inputs: Any,
) -> Any:
    ctx = make_ctx(clock=scripted(*moves), timeout=timeout, uses="ecs.run_task", cancel=cancel)
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
    record = one_off.records._task(one_off.task().id)
    failures = [e.data["at"] for e in make_ctx.events if e.data.get("what") == "failure"]
    assert failures == [pytest.approx(record.stopped_at.timestamp(), abs=0.001)]  # ECS's ms
    assert (f"task {one_off.task().id[:8]} failed", "failure") in marks_of(make_ctx)


def marks_of(make_ctx: Any) -> list[tuple[str, str]]:
    return [(e.message, e.data["what"]) for e in make_ctx.events if e.kind == "mark"]


# ECS's stop codes for a task stopped from outside (botocore's Task.stopCode enum;
# "Amazon ECS stopped task error codes"): its container may handle SIGTERM and exit 0.
STOPPED_FROM_OUTSIDE = [
    ("SpotInterruption", SPOT_REASON),
    ("UserInitiated", "Task stopped by user"),
    ("ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/1234)"),
    ("TerminationNotice", "Host EC2 (instance i-0a1b2c3d4e5f60718) terminated."),
]


@pytest.mark.parametrize("stop_code, reason", STOPPED_FROM_OUTSIDE)
def test_a_task_stopped_from_outside_fails_even_with_exit_code_0(
    make_ctx: Any, one_off: OneOffDriver, stop_code: str, reason: str
) -> None:
    moves = [one_off.running, lambda: one_off.stopped_from_outside(stop_code, reason, 0)]
    with pytest.raises(StepFailed) as failed:
        run(make_ctx, moves)
    assert failed.value.summary == (
        f"task {one_off.task().id[:8]} did not end on its own: stopped with {stop_code} "
        f"({reason}), not EssentialContainerExited"
    )
    assert failed.value.outputs.exit_code == 0
    assert (f"task {one_off.task().id[:8]} failed", "failure") in marks_of(make_ctx)


@pytest.fixture
def two_essential(one_off: OneOffDriver, aws: Any) -> str:
    """A task definition whose two containers are essential: app, then proxy."""
    answer = aws.client("ecs").register_task_definition(
        family="migrate",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[container_definition(), container_definition(name="proxy")],
    )
    return str(answer["taskDefinition"]["taskDefinitionArn"])


@pytest.mark.parametrize(
    "proxy, fault",
    [(2, "container proxy exited 2"), (None, "container proxy has no exit code")],
)
def test_every_essential_container_must_exit_0(
    make_ctx: Any, one_off: OneOffDriver, two_essential: str, proxy: int | None, fault: str
) -> None:
    moves = [one_off.running, lambda: one_off.exit_each({"app": 0, "proxy": proxy})]
    with pytest.raises(StepFailed) as failed:
        run(make_ctx, moves, task_definition=two_essential)
    assert failed.value.summary.startswith(f"task {one_off.task().id[:8]} failed after ")
    assert failed.value.summary.endswith(f"s: {fault}")
    assert failed.value.outputs.exit_code == 0  # the app container's
    assert "container proxy: " in failed.value.detail


def test_two_essential_containers_at_exit_0_pass(
    make_ctx: Any, one_off: OneOffDriver, two_essential: str
) -> None:
    moves = [one_off.running, lambda: one_off.exit_each({"app": 0, "proxy": 0})]
    _, result = run(make_ctx, moves, task_definition=two_essential)
    assert result.status == "changed" and result.summary.startswith(
        f"task {one_off.task().id[:8]} exited 0 after "
    )


def test_a_started_task_without_a_log_stream_says_so(make_ctx: Any, one_off: OneOffDriver) -> None:
    moves = [one_off.running, lambda: one_off.exit(3)]  # it wrote nothing
    with pytest.raises(StepFailed) as failed:
        run(make_ctx, moves)
    stream = f"ecs/app/{one_off.task().id}"
    assert f"  no log stream /ecs/chatbot {stream}: GetLogEvents answered " in failed.value.detail


def test_unpullable_image_fails_at_the_first_poll_quoting_ecs(
    make_ctx: Any, one_off: OneOffDriver
) -> None:
    with pytest.raises(StepFailed) as failed:
        ctx, _ = run(make_ctx, [one_off.cannot_pull, *[one_off.pending] * 5])
    assert "failed to start: CannotPullContainerError: pull image manifest" in failed.value.summary
    assert failed.value.outputs.exit_code is None
    assert "[TaskFailedToStart]" in failed.value.detail
    assert failed.value.detail.endswith("\n  no log stream: the task never started")
    assert "does not exist" not in failed.value.detail


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
    assert marks_of(make_ctx) == []  # no task: nothing happened to mark


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
    name = f"task {one_off.task().id[:8]}"
    assert marks_of(make_ctx) == [(f"{name} stopped by opskit", "task_stopped"),
                                  (f"{name} failed", "failure")]  # fmt: skip


def test_timeout_stops_the_task(make_ctx: Any, one_off: OneOffDriver) -> None:
    with pytest.raises(StepTimeout) as timed_out:
        run(make_ctx, [one_off.running] + [lambda: None] * 10, timeout=30)
    assert "task " in timed_out.value.summary and "stopped (StopTask" in timed_out.value.summary
    desired, reason, _ = one_off.desired_and_reason()
    assert desired == "STOPPED"
    assert reason == "opskit ecs.run_task: the step timed out"
    name = f"task {one_off.task().id[:8]}"
    assert marks_of(make_ctx) == [(f"{name} started", "run_task"),
                                  (f"{name} stopped by opskit", "task_stopped")]  # fmt: skip


def test_ctrl_c_stops_the_task_and_marks_it(make_ctx: Any, one_off: OneOffDriver) -> None:
    pressed = threading.Event()
    with pytest.raises(Cancelled) as cancelled:
        run(make_ctx, [one_off.running, pressed.set], cancel=pressed)
    assert "stopped (StopTask: opskit ecs.run_task: interrupted)" in str(cancelled.value)
    assert one_off.desired_and_reason()[:2] == ("STOPPED", "opskit ecs.run_task: interrupted")
    name = f"task {one_off.task().id[:8]}"
    assert (f"{name} stopped by opskit", "task_stopped") in marks_of(make_ctx)


def test_timeout_with_leave_running_leaves_it(make_ctx: Any, one_off: OneOffDriver) -> None:
    with pytest.raises(StepTimeout) as timed_out:
        run(make_ctx, [one_off.running] + [lambda: None] * 10, timeout=30, leave_running=True)
    assert "left running (leave_running: true)" in timed_out.value.summary
    assert one_off.desired_and_reason() == ("RUNNING", "", "RUNNING")
    assert all(what != "task_stopped" for _, what in marks_of(make_ctx))


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
