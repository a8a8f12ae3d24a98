"""ecs.redeploy against moto's server, with the rollout played by ``ecs_driver``.

Each scenario runs on a ``ScriptedClock``: every poll's sleep plays the next
action on moto's records, so no test waits for real.
"""

from __future__ import annotations

import re
import threading

import pytest

from opskit.errors import Cancelled, StepError, StepFailed, StepTimeout
from opskit.steps.ecs_redeploy import STEP
from tests.clocks import ScriptedClock
from tests.ecs_driver import (
    CLUSTER,
    CRASH_REASON,
    FAMILY,
    LOG_GROUP,
    SERVICE,
    CallRecorder,
    EcsDriver,
    build_stack,
)
from tests.steps.ecs_helpers import run


def test_redeploy_tracks_its_deployment_until_the_new_task_took_over(stack, calls, make_ctx):
    old_task = stack.tasks()[0]
    started = {}
    clock = ScriptedClock(
        script=[
            lambda: started.update(task=stack.start_tasks()[0]),
            lambda: (stack.drain_old(), stack.complete()),
        ]
    )

    result = run(make_ctx, clock)

    deployment = stack.primary()
    assert result.status == "changed"
    assert result.outputs.deployment_id == deployment["id"]
    assert result.outputs.new_task_ids == [started["task"].id]
    assert result.outputs.old_task_ids == [old_task.id]
    assert result.outputs.task_definition.endswith(f"task-definition/{FAMILY}:1")
    assert result.outputs.previous_task_definition == result.outputs.task_definition
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", result.outputs.started_at)
    assert result.outputs.log_group == LOG_GROUP
    assert result.outputs.log_stream_prefix == "ecs"
    assert result.outputs.container == "app"
    assert result.summary == (
        f"deployment {deployment['id']} COMPLETED ({FAMILY}:1): 1 new task running, "
        "1 old task replaced"
    )
    progress = make_ctx.messages("progress")
    assert len(progress) == 2
    assert progress[0].startswith(
        f"deployment {deployment['id']} IN_PROGRESS: running 0/1, pending 0, 1 old running: "
        "waiting for the new task to start (10m00s left)"
    )
    assert "new task RUNNING, 1 old task draining (9m" in progress[1]
    events = make_ctx.messages("event")
    # the setup's events (before the deployment) are not repeated; each new one once
    assert events == [
        f"(service chatbot) has started 1 tasks: (task {started['task'].id}).",
        "(service chatbot) has reached a steady state.",
    ]
    assert calls.writes == ["UpdateService"]
    assert clock.sleeps == [5.0, 5.0]


def test_a_failed_rollout_state_fails_with_its_reason(stack, make_ctx):
    clock = ScriptedClock(script=[stack.start_tasks, lambda: stack.fail("tasks failed to start")])

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, clock)

    deployment_id = stack.primary()["id"]
    assert caught.value.summary == f"deployment {deployment_id} FAILED: tasks failed to start"
    assert caught.value.outputs.deployment_id == deployment_id


def test_a_circuit_breaker_rollback_of_a_forced_redeploy_is_a_failure(stack, make_ctx):
    # Same task definition before and after: only the deployment id tells them apart.
    rollback = {}
    clock = ScriptedClock(
        script=[stack.start_tasks, lambda: rollback.update(stack.circuit_breaker_rollback())]
    )

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, clock)

    tracked = caught.value.outputs.deployment_id
    assert tracked != rollback["id"]
    assert caught.value.summary.startswith(
        f"deployment {tracked} was rolled back: deployment {rollback['id']} ({FAMILY}:1) "
        "is PRIMARY now (ECS deployment circuit breaker: rolling back to deploymentId"
    )
    assert len(clock.sleeps) == 2  # reported at the first poll that shows it


def test_a_crash_loop_fails_at_the_second_stop_with_reasons_exit_codes_and_logs(stack, make_ctx):
    crashed = []

    def start_and_crash_with_logs():
        task = stack.start_tasks()[0]
        stack.put_logs(task, ["starting app", "Traceback (most recent call last):", "NameError: x"])
        crashed.append(stack.crash())

    clock = ScriptedClock(
        script=[
            start_and_crash_with_logs,
            lambda: crashed.append((stack.start_tasks(), stack.crash())[1]),  # no log stream
            stack.roll_out,  # never reached: the step has failed already
        ]
    )

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, clock)

    failure = caught.value
    deployment_id = failure.outputs.deployment_id
    assert failure.summary == (
        f"2 tasks of deployment {deployment_id} stopped (max_failed_tasks 2): "
        "the new tasks keep crashing"
    )
    assert len(clock.sleeps) == 2  # known at the poll right after the second stop
    first, second = (t.id for t in crashed)
    lines = failure.detail.splitlines()
    stopped = f"({FAMILY}:1) stopped: {CRASH_REASON} [EssentialContainerExited]"
    assert lines[0] == f"task {first} {stopped}"
    assert lines[1] == "  container app: exit code 1"
    assert lines[2] == f"  last 3 lines of {LOG_GROUP} ecs/app/{first}:"
    assert lines[3:6] == [
        "    | starting app",
        "    | Traceback (most recent call last):",
        "    | NameError: x",
    ]
    assert lines[6] == f"task {second} {stopped}"
    assert lines[8] == (  # moto's answer names the group: the stream is missing
        f"  no log stream {LOG_GROUP} ecs/app/{second}: GetLogEvents answered "
        f"ResourceNotFoundException (no such stream, or no log group {LOG_GROUP})"
    )


def test_a_deployment_that_never_stabilises_times_out_with_its_last_state(stack, make_ctx):
    clock = ScriptedClock(script=[stack.start_tasks])

    with pytest.raises(StepTimeout) as caught:
        run(make_ctx, clock, timeout=30.0)

    deployment_id = caught.value.outputs.deployment_id
    assert caught.value.summary == (
        f"deployment {deployment_id} did not finish before the step's timeout: "
        f"deployment {deployment_id} IN_PROGRESS: running 1/1, pending 0, 1 old running "
        "(new task RUNNING, 1 old task draining)"
    )
    assert caught.value.outputs.new_task_ids == [stack.tasks(deployment_id)[0].id]
    assert sum(clock.sleeps) == 30.0


def test_a_new_image_registers_a_revision_and_deploys_it(stack, calls, make_ctx, aws):
    clock = ScriptedClock(script=[stack.roll_out])

    result = run(
        make_ctx, clock, image="public.ecr.aws/chatbot/app:2",
        environment={"FEATURE": "on", "APP_ENV": None},
    )  # fmt: skip

    assert result.outputs.task_definition.endswith(f"{FAMILY}:2")
    assert result.outputs.previous_task_definition.endswith(f"{FAMILY}:1")
    definition = aws.client("ecs").describe_task_definition(taskDefinition=f"{FAMILY}:2")
    container = definition["taskDefinition"]["containerDefinitions"][0]
    assert container["image"] == "public.ecr.aws/chatbot/app:2"
    assert container["environment"] == [{"name": "FEATURE", "value": "on"}]
    assert container["logConfiguration"]["options"]["awslogs-group"] == LOG_GROUP
    assert stack.primary()["taskDefinition"] == result.outputs.task_definition
    assert (
        f"registered {FAMILY}:2 from {FAMILY}:1: image app=public.ecr.aws/chatbot/app:2, "
        "env app.APP_ENV removed, env app.FEATURE set"
    ) in make_ctx.messages("info")
    assert calls.writes == ["RegisterTaskDefinition", "UpdateService"]


def test_rollback_returns_to_the_previous_task_definition_and_waits_for_it(stack, calls, make_ctx):
    clock = ScriptedClock(
        script=[
            lambda: (stack.start_tasks(), stack.crash()),
            lambda: (stack.start_tasks(), stack.crash()),
            stack.roll_out,  # the rollback deployment
        ]
    )

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, clock, image="public.ecr.aws/chatbot/app:broken", rollback=True)

    rollback_id = caught.value.outputs.rollback_deployment_id
    assert caught.value.summary.endswith(
        f"the new tasks keep crashing; rolled back to {FAMILY}:1 (deployment {rollback_id} "
        "COMPLETED)"
    )
    assert stack.primary()["id"] == rollback_id
    assert stack.primary()["taskDefinition"].endswith(f"{FAMILY}:1")
    assert calls.writes == ["RegisterTaskDefinition", "UpdateService", "UpdateService"]
    assert f"rolling back ECS service 'chatbot' to {FAMILY}:1" in make_ctx.messages("warning")


def test_rollback_waits_for_the_circuit_breakers_rollback_instead_of_sending_another(
    stack, calls, make_ctx, aws
):
    clock = ScriptedClock(
        script=[
            lambda: (stack.start_tasks(), stack.circuit_breaker_rollback()),
            stack.roll_out,
        ]
    )

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, clock, image="public.ecr.aws/chatbot/app:broken", rollback=True)

    assert caught.value.summary.endswith(
        f"rolled back to {FAMILY}:1 (deployment {stack.primary()['id']} COMPLETED)"
    )
    assert f"ECS is rolling back to {FAMILY}:1 ({stack.primary()['id']}); waiting" in (
        make_ctx.messages("warning")
    )
    assert calls.writes == ["RegisterTaskDefinition", "UpdateService"]


def test_rollback_is_not_sent_when_the_failed_revision_is_the_previous_one(stack, calls, make_ctx):
    clock = ScriptedClock(script=[lambda: stack.fail("tasks failed to start")])

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, clock, rollback=True)

    assert caught.value.summary.endswith(
        f"no rollback: the previous task definition {FAMILY}:1 is the one that failed"
    )
    assert calls.writes == ["UpdateService"]


@pytest.mark.parametrize(
    ("cluster", "service", "message"),
    [
        ("nope", SERVICE, "target 'test': ECS cluster 'nope' not found (DescribeServices)"),
        (CLUSTER, "nope", "target 'test': ECS service 'nope' in cluster 'chatbot' not found"),
    ],
)
def test_a_missing_cluster_or_service_is_one_line_naming_it(
    stack, calls, make_ctx, cluster, service, message
):
    ctx = make_ctx(clock=ScriptedClock())
    with pytest.raises(StepError) as caught:
        STEP.run(ctx, STEP.coerce_inputs({"cluster": cluster, "service": service}))
    assert str(caught.value) == message
    assert calls.writes == []


def test_dry_run_describes_what_would_change_and_writes_nothing(stack, calls, make_ctx, aws):
    old_task = stack.tasks()[0]
    ctx = make_ctx(clock=ScriptedClock())

    result = STEP.plan(
        ctx, STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE, "image": "repo/app:2"})
    )

    assert make_ctx.messages("info") == [
        f"would register a new revision of {FAMILY} from {FAMILY}:1: image app=repo/app:2",
        f"would update ECS service 'chatbot': force a new deployment of the new revision of "
        f"{FAMILY}",
        f"would replace 1 running task: {old_task.id}",
    ]
    assert result.summary == (
        f"would update ECS service 'chatbot': force a new deployment of the new revision of "
        f"{FAMILY}"
    )
    assert calls.writes == []
    revisions = aws.client("ecs").list_task_definitions(familyPrefix=FAMILY)["taskDefinitionArns"]
    assert len(revisions) == 1
    assert len(stack.deployments) == 1


def test_force_false_with_nothing_to_change_fails_before_any_write(stack, calls, make_ctx):
    with pytest.raises(StepFailed) as caught:
        run(make_ctx, ScriptedClock(), force=False)
    assert "no new task would start (set force: true)" in caught.value.summary
    assert calls.writes == []


def test_code_deploy_services_are_not_supported(aws, make_ctx):
    build_stack(aws, controller="CODE_DEPLOY")
    calls = CallRecorder(aws.client("ecs"))
    try:
        with pytest.raises(StepError) as caught:
            run(make_ctx, ScriptedClock())
    finally:
        EcsDriver.uninstall()
    assert "uses the CODE_DEPLOY deployment controller: not supported" in str(caught.value)
    assert calls.writes == []


def test_ctrl_c_stops_waiting_with_the_current_state_and_sends_nothing_more(stack, calls, make_ctx):
    cancel = threading.Event()
    clock = ScriptedClock(script=[stack.start_tasks, cancel.set])

    with pytest.raises(Cancelled) as caught:
        run(make_ctx, clock, cancel=cancel, rollback=True)

    deployment_id = stack.primary()["id"]
    assert str(caught.value) == (
        f"interrupted while waiting for deployment {deployment_id}: deployment {deployment_id} "
        "IN_PROGRESS: running 1/1, pending 0, 1 old running (new task RUNNING, 1 old task "
        "draining)"
    )
    assert calls.writes == ["UpdateService"]


def test_without_wait_it_returns_the_new_deployment_at_once(stack, make_ctx):
    clock = ScriptedClock()
    result = run(make_ctx, clock, wait=False)
    assert result.outputs.deployment_id == stack.primary()["id"]
    assert clock.sleeps == []


def test_a_deployment_renamed_in_place_counts_only_its_own_tasks(aws, make_ctx):
    # moto's own update_service renames the one COMPLETED deployment in place,
    # keeping its counts: success must wait for tasks started by the new id.
    stack = build_stack(aws, aws_like_update=False)
    try:
        clock = ScriptedClock(script=[lambda: stack.start_tasks(count=1), stack.drain_old])
        result = run(make_ctx, clock)
    finally:
        EcsDriver.uninstall()
    deployment_id = result.outputs.deployment_id
    assert stack.deployments[0]["id"] == deployment_id
    assert result.outputs.new_task_ids == [stack.tasks(deployment_id)[0].id]
    assert len(clock.sleeps) == 2
    assert make_ctx.messages("progress") == [
        f"deployment {deployment_id} COMPLETED: running 1/1, pending 0, 1 old running: "
        "waiting for the new task to start (the deployment counts 1 running, but 0 RUNNING "
        "task(s) carry its id) (10m00s left)",
        f"deployment {deployment_id} COMPLETED: running 2/1, pending 0, 1 old running: "
        "new task RUNNING, 1 old task draining (9m55s left)",
    ]


def test_access_denied_is_one_line_naming_the_call_and_service(stack, make_ctx, aws):
    from botocore.stub import Stubber

    ctx = make_ctx(clock=ScriptedClock())
    with Stubber(aws.client("ecs")) as stubber:
        stubber.add_client_error(
            "describe_services",
            service_error_code="AccessDeniedException",
            service_message="User: arn:aws:iam::1:user/ci is not authorized to perform: "
            "ecs:DescribeServices",
            http_status_code=400,
        )
        with pytest.raises(StepError) as caught:
            STEP.run(ctx, STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE}))
    assert str(caught.value) == (
        "target 'test': ecs DescribeServices chatbot/chatbot: access denied "
        "(AccessDeniedException): User: arn:aws:iam::1:user/ci is not authorized to perform: "
        "ecs:DescribeServices"
    )


def test_playbook_crash_loop_fails_the_run_and_on_failure_describes_it(
    stack, aws_endpoint, tmp_path
):
    from opskit import RunOptions, run_playbook
    from opskit.events import EventBus
    from opskit.playbook import parse_playbook
    from opskit.redact import Redactor

    text = f"""
name: redeploy
targets:
  moto:
    aws: {{region: us-east-1, endpoint_url: "{aws_endpoint}"}}
steps:
  - id: redeploy
    uses: ecs.redeploy
    with: {{cluster: {CLUSTER}, service: {SERVICE}}}
    timeout: 10m
on_failure:
  - id: diagnostics
    uses: ecs.describe
    with: {{cluster: {CLUSTER}, service: {SERVICE}}}
"""
    path = tmp_path / "redeploy.yaml"
    path.write_text(text)
    clock = ScriptedClock(
        script=[
            lambda: (stack.start_tasks(), stack.crash()),
            lambda: (stack.start_tasks(), stack.crash()),
        ]
    )
    result = run_playbook(
        parse_playbook(text, str(path), path), RunOptions(clock=clock), bus=EventBus(Redactor())
    )

    (redeploy,) = result.steps
    (diagnostics,) = result.on_failure
    assert result.exit_code == 1
    assert redeploy.status == "failed"
    assert redeploy.summary.endswith("stopped (max_failed_tasks 2): the new tasks keep crashing")
    assert redeploy.outputs["deployment_id"] == stack.primary()["id"]
    assert diagnostics.status == "ok"
    stopped = diagnostics.outputs["stopped_tasks"]
    assert [t["stopped_reason"] for t in stopped] == [CRASH_REASON, CRASH_REASON]
    assert "[NEW]" in diagnostics.detail


def test_task_definition_previous_deploys_the_revision_before_the_running_one(stack, make_ctx, aws):
    for tag in ("2", "3"):
        run(make_ctx, ScriptedClock(script=[stack.roll_out]), image=f"chatbot/app:{tag}")
    assert stack.primary()["taskDefinition"].endswith(f"{FAMILY}:3")

    result = run(make_ctx, ScriptedClock(script=[stack.roll_out]), task_definition="previous")

    assert result.outputs.task_definition.endswith(f"{FAMILY}:2")
    assert result.outputs.previous_task_definition.endswith(f"{FAMILY}:3")
    assert stack.primary()["taskDefinition"].endswith(f"{FAMILY}:2")


def test_task_definition_previous_on_the_first_revision_is_refused_clearly(stack, calls, make_ctx):
    with pytest.raises(StepError) as refused:
        run(make_ctx, ScriptedClock(script=[]), task_definition="previous")

    assert str(refused.value) == (
        f"task_definition: previous: the service runs {FAMILY}:1, the first revision; "
        "there is no previous one to deploy"
    )
    assert calls.writes == []


def test_the_timeline_marks_each_moment_of_the_rollout_at_ecss_own_times(stack, make_ctx):
    """The deployment at its createdAt, the new task's start at its startedAt, its
    health when first read HEALTHY, the old task's stop at its stoppedAt."""
    old_task = stack.tasks()[0]
    started = {}
    clock = ScriptedClock(
        script=[
            lambda: started.update(task=stack.start_tasks()[0]),
            stack.pass_health_checks,
            lambda: (stack.drain_old(), stack.complete()),
        ]
    )
    start = clock.now

    run(make_ctx, clock)

    new_id, old_id = started["task"].id, old_task.id
    ecs = stack.aws.client("ecs")
    described = ecs.describe_tasks(cluster=CLUSTER, tasks=[new_id, old_id])["tasks"]
    times = {t["taskArn"].rsplit("/", 1)[-1]: t for t in described}
    deployment = stack.primary()
    marks = [e for e in make_ctx.events if e.kind == "mark"]
    assert [(e.message, e.data["what"]) for e in marks] == [
        (f"deployment {deployment['id']} created", "deployment"),
        (f"new task {new_id[:8]} started", "task_started"),
        (f"new task {new_id[:8]} seen healthy", "task_healthy"),
        (f"old task {old_id[:8]} stopped", "task_stopped"),
    ]
    assert [e.data["at"] for e in marks] == [
        pytest.approx(deployment["createdAt"].timestamp(), abs=0.002),
        pytest.approx(times[new_id]["startedAt"].timestamp(), abs=0.002),
        start + 10.0,  # the third read (two polls of 5 s after the start) sees it HEALTHY
        pytest.approx(times[old_id]["stoppedAt"].timestamp(), abs=0.002),
    ]
