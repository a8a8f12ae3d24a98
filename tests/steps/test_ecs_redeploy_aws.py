"""ecs.redeploy under ECS's documented behaviour, played by ``ecs_driver`` on moto.

Eventual consistency (a read right after a write may not show it), placement
failures, stops that are not crashes (Spot reclaims, ELB health-check
replacements), deployment strategies and bake time, and ``task_definition:
previous`` over deregistered revisions. Each scenario runs on a scripted clock
that starts at the real time (``ecs_driver.clock``), so the records' timestamps
and the step's clock agree and nothing waits for real.
"""

from __future__ import annotations

import threading

import pytest

from opskit.errors import Cancelled, StepError, StepFailed, StepTimeout
from opskit.steps.ecs_redeploy import STEP
from tests.ecs_driver import (
    CLUSTER,
    ELB_REASON,
    FAMILY,
    NO_CAPACITY,
    NO_INSTANCE,
    SERVICE,
    SPOT_REASON,
    EcsDriver,
    at,
    build_stack,
    clock,
    register,
)
from tests.steps.ecs_helpers import run

ALARMS = {"alarmNames": ["chatbot-5xx", "chatbot-latency"], "enable": True, "rollback": True}


def plan(make_ctx, **inputs):
    ctx = make_ctx(clock=clock(), timeout=600.0)
    return STEP.plan(ctx, STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE, **inputs}))


# --- 1. eventual consistency ------------------------------------------------------


def test_a_stale_first_read_then_a_healthy_rollout_passes_with_one_update_and_no_rollback(
    stack, calls, make_ctx
):
    # A new image, so that a wrong verdict would have a previous revision to roll back to.
    stack.stale_reads_after_update(1)
    scripted = clock(stack.start_tasks, lambda: (stack.drain_old(), stack.complete()))

    result = run(make_ctx, scripted, image="public.ecr.aws/chatbot/app:2", rollback=True)

    deployment_id = stack.primary()["id"]
    assert result.outputs.deployment_id == deployment_id
    assert result.outputs.rollback_deployment_id is None
    assert result.summary == (
        f"deployment {deployment_id} COMPLETED ({FAMILY}:2): 1 new task running, "
        "1 old task replaced"
    )
    assert calls.writes == ["RegisterTaskDefinition", "UpdateService"]
    assert make_ctx.messages("warning") == []
    assert make_ctx.messages("progress")[0] == (
        f"deployment {deployment_id} not visible yet in DescribeServices (ECS is eventually "
        "consistent): waiting up to 30s for it (1 read so far) (10m00s left)"
    )


def test_a_deployment_never_seen_fails_after_the_grace_and_is_never_rolled_back(
    stack, calls, make_ctx
):
    stack.stale_reads_after_update(1000)
    scripted = clock()

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted, image="public.ecr.aws/chatbot/app:2", rollback=True)

    deployment_id = caught.value.outputs.deployment_id
    assert caught.value.summary == (
        f"deployment {deployment_id} never appeared in DescribeServices: 7 reads over 30.0s "
        "since UpdateService answered; no rollback: ECS never showed that deployment, so "
        "nothing says it failed"
    )
    assert caught.value.outputs.rollback_deployment_id is None
    assert calls.writes == ["RegisterTaskDefinition", "UpdateService"]
    assert scripted.sleeps == [5.0] * 6


def test_the_rollback_deployment_gets_the_same_grace(stack, calls, make_ctx):
    def second_crash_then_a_stale_read_after_the_rollback():
        stack.start_tasks()
        stack.crash()
        stack.stale_reads_after_update(1)  # the rollback's UpdateService, next

    scripted = clock(
        lambda: (stack.start_tasks(), stack.crash()),
        second_crash_then_a_stale_read_after_the_rollback,
        stack.roll_out,  # the rollback deployment, once it is visible
    )

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted, image="public.ecr.aws/chatbot/app:broken", rollback=True)

    rollback_id = caught.value.outputs.rollback_deployment_id
    assert caught.value.summary.endswith(
        f"the new tasks keep crashing; rolled back to {FAMILY}:1 (deployment {rollback_id} "
        "COMPLETED)"
    )
    assert calls.writes == ["RegisterTaskDefinition", "UpdateService", "UpdateService"]
    # the rollback's first read, right after its UpdateService at 10 s
    assert make_ctx.messages("progress")[2] == (
        f"deployment {rollback_id} not visible yet in DescribeServices (ECS is eventually "
        "consistent): waiting up to 30s for it (1 read so far) (9m50s left)"
    )


def test_a_deployment_missing_from_one_read_after_it_was_seen_is_waited_for_not_rolled_back(
    stack, calls, make_ctx
):
    scripted = clock(stack.stale_reads, stack.roll_out)

    result = run(make_ctx, scripted, image="public.ecr.aws/chatbot/app:2", rollback=True)

    deployment_id = result.outputs.deployment_id
    assert result.summary == (
        f"deployment {deployment_id} COMPLETED ({FAMILY}:2): 1 new task running, "
        "1 old task replaced"
    )
    assert result.outputs.rollback_deployment_id is None
    assert calls.writes == ["RegisterTaskDefinition", "UpdateService"]
    assert make_ctx.messages("progress")[1] == (
        f"deployment {deployment_id} not visible in this read of DescribeServices (an earlier "
        "read listed it; ECS is eventually consistent): waiting for the next read (missing "
        "from 2 reads in a row, it has disappeared) (9m55s left)"
    )
    assert make_ctx.messages("warning") == []


def test_a_deployment_missing_from_two_reads_in_a_row_disappeared(stack, calls, make_ctx):
    old_id = stack.primary()["id"]
    scripted = clock(lambda: stack.stale_reads(2))

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted)

    assert caught.value.summary == (
        f"deployment {caught.value.outputs.deployment_id} disappeared from the service; "
        f"deployment {old_id} ({FAMILY}:1) is PRIMARY now"
    )
    assert len(scripted.sleeps) == 2  # seen, missing, missing again
    assert calls.writes == ["UpdateService"]


def test_a_listed_task_that_describe_tasks_does_not_find_yet_is_never_counted_as_gone(
    stack, make_ctx
):
    old_task = stack.tasks()[0]

    def record_ahead_of_its_tasks():
        stack.start_tasks()
        stack.complete_leaving_old_task()  # COMPLETED, old task still RUNNING...
        stack.hide([old_task], reads=1)  # ...and not found by the next DescribeTasks

    scripted = clock(record_ahead_of_its_tasks, stack.drain_old)

    result = run(make_ctx, scripted)

    assert len(scripted.sleeps) == 2  # not at the read that could not see the old task
    assert result.outputs.old_task_ids == [old_task.id]
    progress = make_ctx.messages("progress")
    assert progress[1] == (
        f"deployment {result.outputs.deployment_id} COMPLETED: running 1/1, pending 0: new "
        "task RUNNING; 1 listed task not visible yet in DescribeTasks (ECS is eventually "
        "consistent) (9m55s left)"
    )


def test_a_new_task_not_found_yet_by_describe_tasks_is_neither_stopped_nor_gone(stack, make_ctx):
    def start_hidden():
        stack.hide(stack.start_tasks(), reads=1)

    scripted = clock(start_hidden, lambda: (stack.drain_old(), stack.complete()))

    result = run(make_ctx, scripted, max_failed_tasks=1)

    assert result.outputs.new_task_ids == [stack.tasks(result.outputs.deployment_id)[0].id]
    assert make_ctx.messages("progress")[1] == (
        f"deployment {result.outputs.deployment_id} IN_PROGRESS: running 1/1, pending 0, 1 old "
        "running: waiting for the new task to start (the deployment counts 1 running, but 0 "
        "RUNNING task(s) carry its id); 1 listed task not visible yet in DescribeTasks (ECS is "
        "eventually consistent) (9m55s left)"
    )


# --- 2. placement failures -----------------------------------------------------------


def test_repeated_placement_failures_fail_well_inside_the_timeout_quoting_the_event(
    stack, make_ctx
):
    stuck = {}
    scripted = clock()
    scripted.script = [
        lambda: (
            stuck.update(task=stack.start_stuck(created_at=at(scripted))),
            stack.unable_to_place(at(scripted)),
        ),
        lambda: stack.unable_to_place(at(scripted)),
        lambda: stack.unable_to_place(at(scripted)),
        stack.roll_out,  # never reached
    ]

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted)

    deployment_id = caught.value.outputs.deployment_id
    assert caught.value.summary == (
        f"ECS could not place the tasks of deployment {deployment_id} (3 placement failures "
        f"over 10.0s): (service chatbot) {NO_CAPACITY}; task {stuck['task'].id} "
        "PROVISIONING for 10.0s"
    )
    assert len(scripted.sleeps) == 3


def test_placement_failures_a_minute_apart_fail_at_the_second(stack, make_ctx):
    scripted = clock()
    first = {}
    scripted.script = [
        lambda: (first.update(at=at(scripted)), stack.unable_to_place(first["at"], NO_INSTANCE)),
        lambda: stack.unable_to_place(at(scripted, 55.0), NO_INSTANCE),  # 60s after the first
    ]

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted)

    assert caught.value.summary.endswith(
        f"(2 placement failures over 1m00s): (service chatbot) {NO_INSTANCE}"
    )


def test_a_placement_failure_ecs_does_not_repeat_fails_a_minute_after_it_was_read(stack, make_ctx):
    # ECS leaves a repeated event message out until its cause is resolved or six
    # hours pass: the step cannot count on three.
    scripted = clock()
    scripted.script = [lambda: stack.unable_to_place(at(scripted))]

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted)

    deployment_id = caught.value.outputs.deployment_id
    assert caught.value.summary == (
        f"ECS could not place the tasks of deployment {deployment_id} (1 placement failure, "
        f"no task placed for 1m00s): (service chatbot) {NO_CAPACITY}"
    )
    # read at the second poll (5 s in), failed at the poll 60 s after it
    assert len(scripted.sleeps) == 13


def test_a_placement_failure_then_a_placed_task_is_no_failure(stack, make_ctx):
    scripted = clock()
    scripted.script = [
        lambda: stack.unable_to_place(at(scripted)),
        *[lambda: None] * 10,
        stack.roll_out,  # placed 55 s after the event was read
    ]

    result = run(make_ctx, scripted)

    assert result.summary.startswith(f"deployment {result.outputs.deployment_id} COMPLETED")


def test_a_task_placed_on_a_retry_and_still_pending_is_no_placement_failure(stack, calls, make_ctx):
    # Fargate's image pull and ENI attach take 30-90 s: ECS placed the task on a
    # retry, and the rule "one event and 60 s" must not fail (and roll back) it.
    stuck = {}
    scripted = clock()
    scripted.script = [
        lambda: stack.unable_to_place(at(scripted)),
        lambda: stuck.update(task=stack.start_stuck("PENDING", at(scripted))),
        *[lambda: None] * 13,
        lambda: (stack.place(stuck["task"]), stack.drain_old(), stack.complete()),
    ]

    result = run(make_ctx, scripted, rollback=True)

    deployment_id = result.outputs.deployment_id
    task_id = stuck["task"].id
    assert result.summary == (
        f"deployment {deployment_id} COMPLETED ({FAMILY}:1): 1 new task running, "
        "1 old task replaced"
    )
    assert result.outputs.new_task_ids == [task_id]
    assert make_ctx.messages("progress")[-1] == (
        f"deployment {deployment_id} IN_PROGRESS: running 0/1, pending 1, 1 old running: new "
        f"task {task_id} PENDING for 1m05s; ECS could not place a task (1 placement failure "
        "so far) (8m45s left)"
    )
    assert calls.writes == ["UpdateService"]


def test_the_time_rule_counts_again_once_the_placed_task_is_gone(stack, make_ctx):
    stuck = {}
    scripted = clock()
    scripted.script = [
        lambda: stack.unable_to_place(at(scripted)),
        lambda: stuck.update(task=stack.start_stuck("PENDING", at(scripted))),
        *[lambda: None] * 9,
        lambda: stack.stop_stuck(stuck["task"]),  # at 1m00s on the step's clock: no task
        *[lambda: None] * 20,
    ]

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted)

    deployment_id = caught.value.outputs.deployment_id
    assert caught.value.summary == (
        f"ECS could not place the tasks of deployment {deployment_id} (1 placement failure, "
        f"no task placed for 1m00s): (service chatbot) {NO_CAPACITY}"
    )
    assert sum(scripted.sleeps) == 60.0 + 60.0  # a minute after the task was gone


def test_placement_failures_from_before_the_deployment_do_not_count(stack, make_ctx):
    # Read late (eventual consistency): new to the step, but stamped an hour ago.
    scripted = clock()
    scripted.script = [
        lambda: [stack.unable_to_place(at(scripted, -3600.0 + s)) for s in (0.0, 10.0, 70.0)],
        stack.roll_out,
    ]

    result = run(make_ctx, scripted)

    assert result.summary.startswith(f"deployment {result.outputs.deployment_id} COMPLETED")
    assert len(make_ctx.messages("event")) == 3 + 2  # shown, not counted


def test_a_task_stuck_pending_is_named_with_its_status_in_progress_and_at_the_timeout(
    stack, make_ctx
):
    stuck = {}
    scripted = clock()
    scripted.script = [lambda: stuck.update(task=stack.start_stuck("PENDING", at(scripted, -20.0)))]

    with pytest.raises(StepTimeout) as caught:
        run(make_ctx, scripted, timeout=30.0)

    deployment_id = caught.value.outputs.deployment_id
    task_id = stuck["task"].id
    assert make_ctx.messages("progress")[1] == (
        f"deployment {deployment_id} IN_PROGRESS: running 0/1, pending 1, 1 old running: new "
        f"task {task_id} PENDING for 20.0s (25.0s left)"
    )
    assert caught.value.summary == (
        f"deployment {deployment_id} did not finish before the step's timeout: deployment "
        f"{deployment_id} IN_PROGRESS: running 0/1, pending 1, 1 old running (new task "
        f"{task_id} PENDING for 45.0s)"
    )


# --- 3. stops that are not crashes ---------------------------------------------------


def test_two_spot_reclaims_during_a_healthy_rollout_pass_and_are_named(stack, calls, make_ctx):
    reclaimed = []
    scripted = clock(
        stack.start_tasks,
        lambda: reclaimed.append(stack.reclaim()),
        stack.start_tasks,
        lambda: reclaimed.append(stack.reclaim()),
        stack.start_tasks,
        lambda: (stack.drain_old(), stack.complete()),
    )

    result = run(make_ctx, scripted)  # max_failed_tasks 2: two crashes would fail it

    deployment_id = result.outputs.deployment_id
    assert result.summary == (
        f"deployment {deployment_id} COMPLETED ({FAMILY}:1): 1 new task running, 1 old task "
        "replaced; 2 tasks reclaimed by Spot, replaced"
    )
    assert result.detail.splitlines()[-2:] == [
        f"task {task.id} reclaimed by Spot, replaced: {SPOT_REASON} [SpotInterruption]"
        for task in reclaimed
    ]
    assert make_ctx.messages("progress")[2] == (
        f"deployment {deployment_id} IN_PROGRESS: running 0/1, pending 0, 1 old running: waiting "
        "for the new task to start; 1 task reclaimed by Spot, replaced (9m50s left)"
    )
    assert calls.writes == ["UpdateService"]


def test_new_tasks_failing_elb_health_checks_before_any_was_healthy_fail_at_max_failed_tasks(
    stack, make_ctx
):
    # A broken revision behind a load balancer: each new task starts and is never
    # healthy. ECS counts them in failedTasks; opskit reads it as ECS gives it.
    unhealthy = []
    rounds = [lambda: (stack.start_tasks(), unhealthy.append(stack.fail_elb_health_checks()))]
    scripted = clock(*rounds * 6, stack.roll_out)

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted)

    deployment_id = caught.value.outputs.deployment_id
    assert caught.value.summary == (
        f"2 tasks of deployment {deployment_id} stopped (max_failed_tasks 2): 2 tasks failed "
        "ELB health checks before any was healthy"
    )
    assert len(scripted.sleeps) == 2
    headlines = [line for line in caught.value.detail.splitlines() if line.startswith("task ")]
    assert headlines == [
        f"task {task.id} ({FAMILY}:1) stopped: {ELB_REASON} [ServiceSchedulerInitiated]"
        for task in unhealthy
    ]


def test_an_elb_replacement_after_the_deployment_had_a_healthy_task_does_not_count(stack, make_ctx):
    scripted = clock(
        lambda: (stack.start_tasks(), stack.pass_health_checks()),
        stack.fail_elb_health_checks,
        stack.start_tasks,
        stack.fail_elb_health_checks,
        lambda: (stack.start_tasks(), stack.pass_health_checks()),
        lambda: (stack.drain_old(), stack.complete()),
    )

    result = run(make_ctx, scripted)

    assert stack.primary()["failedTasks"] == 0  # reset at the first healthy task, as ECS does
    assert result.summary == (
        f"deployment {result.outputs.deployment_id} COMPLETED ({FAMILY}:1): 1 new task running, "
        "1 old task replaced; 2 tasks failed ELB health checks, replaced"
    )


def test_a_crash_still_counts_beside_a_reclaim(stack, make_ctx):
    scripted = clock(
        stack.start_tasks,
        stack.reclaim,
        stack.start_tasks,
        stack.crash,
        stack.start_tasks,
        stack.crash,
    )

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted)

    assert caught.value.summary == (
        f"2 tasks of deployment {caught.value.outputs.deployment_id} stopped "
        "(max_failed_tasks 2): the new tasks keep crashing; 1 task reclaimed by Spot, replaced"
    )


# --- 4. strategies, bake time and alarms ---------------------------------------------


def test_bake_time_and_alarms_are_said_while_ecs_bakes(aws, make_ctx):
    stack = build_stack(aws, strategy="ROLLING", bakeTimeInMinutes=5, alarms=ALARMS)
    try:
        scripted = clock(stack.start_tasks, stack.drain_old, stack.complete)
        result = run(make_ctx, scripted)
    finally:
        EcsDriver.uninstall()

    assert make_ctx.messages("progress")[2] == (
        f"deployment {result.outputs.deployment_id} IN_PROGRESS: running 1/1, pending 0: new "
        "task RUNNING; ECS bakes for 5m (alarms chatbot-5xx, chatbot-latency) before it "
        "reports COMPLETED (9m50s left)"
    )


def test_alarms_without_a_bake_time_say_ecs_chooses_it(aws, make_ctx):
    stack = build_stack(aws, alarms=ALARMS)
    try:
        scripted = clock(stack.start_tasks, stack.drain_old, stack.complete)
        run(make_ctx, scripted)
    finally:
        EcsDriver.uninstall()

    assert make_ctx.messages("progress")[2].endswith(
        "new task RUNNING; ECS watches alarms chatbot-5xx, chatbot-latency for a bake time it "
        "computes from them before it reports COMPLETED (9m50s left)"
    )


def test_without_a_timeout_the_step_waits_a_default_plus_the_bake_time(aws, make_ctx):
    stack = build_stack(aws, bakeTimeInMinutes=5)
    cancel = threading.Event()
    # Today's step would wait for ever: give up (Ctrl-C) after an hour of polls.
    scripted = clock(stack.start_tasks, *[lambda: None] * 58, cancel.set)
    try:
        with pytest.raises(StepTimeout) as caught:
            run(make_ctx, scripted, timeout=None, cancel=cancel, poll_interval="60s")
    finally:
        EcsDriver.uninstall()

    deployment_id = caught.value.outputs.deployment_id
    assert caught.value.summary == (
        f"deployment {deployment_id} did not finish within the step's default wait of 35m "
        "(30m, plus ECS's bake time 5m; set timeout: to wait longer): deployment "
        f"{deployment_id} IN_PROGRESS: running 1/1, pending 0, 1 old running (new task "
        "RUNNING, 1 old task draining)"
    )
    assert sum(scripted.sleeps) == 35 * 60


def test_a_timeout_shorter_than_the_bake_time_warns_before_the_update(aws, make_ctx):
    stack = build_stack(aws, bakeTimeInMinutes=15, alarms=ALARMS)
    try:
        with pytest.raises(StepTimeout):
            run(make_ctx, clock(stack.start_tasks), timeout=600.0, poll_interval="60s")
        dry = plan(make_ctx)
    finally:
        EcsDriver.uninstall()

    warning = (
        "the step's timeout (10m00s) is shorter than ECS's bake time (15m) plus 5m for the "
        "rollout: the deployment cannot reach COMPLETED in time (raise timeout:)"
    )
    kinds = [(e.kind, e.message) for e in make_ctx.events]
    assert kinds.index(("warning", warning)) < next(
        i for i, (kind, message) in enumerate(kinds) if message.startswith("deployment ")
    )
    assert make_ctx.messages("warning") == [warning, warning]  # the dry run says it too
    assert dry.status == "changed"


def test_without_a_timeout_a_rollback_gets_a_fresh_default_wait(stack, calls, make_ctx):
    # A failure at minute 29 of the default 30m wait must not leave the rollback one minute.
    scripted = clock(
        *[lambda: None] * 27,
        lambda: (stack.start_tasks(), stack.crash()),
        lambda: (stack.start_tasks(), stack.crash()),  # the second crash, read at 29m
        lambda: None,
        lambda: None,
        stack.roll_out,  # the rollback deployment, at 32m
    )
    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted, timeout=None, poll_interval="60s", image="repo/app:broken",
            rollback=True)  # fmt: skip

    rollback_id = caught.value.outputs.rollback_deployment_id
    assert caught.value.summary == (
        f"2 tasks of deployment {caught.value.outputs.deployment_id} stopped (max_failed_tasks "
        f"2): the new tasks keep crashing; rolled back to {FAMILY}:1 (deployment {rollback_id} "
        "COMPLETED)"
    )
    assert sum(scripted.sleeps) == 32 * 60
    assert calls.writes == ["RegisterTaskDefinition", "UpdateService", "UpdateService"]


def test_with_a_timeout_a_rollback_keeps_the_steps_deadline(stack, make_ctx):
    scripted = clock(
        *[lambda: None] * 6,
        lambda: (stack.start_tasks(), stack.crash()),
        lambda: (stack.start_tasks(), stack.crash()),  # the second crash, read at 8m
    )

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, scripted, timeout=600.0, poll_interval="60s", image="repo/app:broken",
            rollback=True)  # fmt: skip

    rollback_id = caught.value.outputs.rollback_deployment_id
    assert caught.value.summary.endswith(
        f"; rollback to {FAMILY}:1 not finished: rollback deployment {rollback_id} did not "
        f"finish before the step's timeout: deployment {rollback_id} IN_PROGRESS: running 0/1, "
        "pending 0, 1 old running (waiting for the new task to start)"
    )
    assert sum(scripted.sleeps) == 600.0


# --- 5. task_definition: previous ----------------------------------------------------


def put_service_on_revision_3(aws, stack):
    ecs = aws.client("ecs")
    register(ecs, "public.ecr.aws/chatbot/app:2")
    register(ecs, "public.ecr.aws/chatbot/app:3")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=f"{FAMILY}:3")
    stack.roll_out()


def test_task_definition_previous_skips_inactive_revisions_and_says_which(stack, make_ctx, aws):
    put_service_on_revision_3(aws, stack)
    stack.deregister(2)

    dry = plan(make_ctx, task_definition="previous")
    result = run(make_ctx, clock(stack.roll_out), task_definition="previous")

    chosen = f"task_definition: previous is {FAMILY}:1 (skipped {FAMILY}:2, INACTIVE)"
    assert make_ctx.messages("info").count(chosen) == 2  # dry run and run
    assert dry.outputs.task_definition.endswith(f"{FAMILY}:1")
    assert result.outputs.task_definition.endswith(f"{FAMILY}:1")
    assert stack.primary()["taskDefinition"].endswith(f"{FAMILY}:1")


def test_task_definition_previous_with_no_active_revision_left_refuses_naming_them(
    stack, calls, make_ctx, aws
):
    put_service_on_revision_3(aws, stack)
    stack.deregister(2)
    stack.deregister(1)
    writes_before = list(calls.writes)

    with pytest.raises(StepError) as refused:
        run(make_ctx, clock(), task_definition="previous")

    assert str(refused.value) == (
        f"task_definition: previous: no ACTIVE revision of {FAMILY} below {FAMILY}:3 "
        f"(skipped {FAMILY}:2, INACTIVE; {FAMILY}:1, INACTIVE)"
    )
    assert calls.writes == writes_before


def test_task_definition_previous_skips_a_deleted_revision(stack, make_ctx, aws):
    put_service_on_revision_3(aws, stack)
    stack.deregister(2)
    aws.client("ecs").delete_task_definitions(taskDefinitions=[f"{FAMILY}:2"])

    result = plan(make_ctx, task_definition="previous")

    assert f"task_definition: previous is {FAMILY}:1 (skipped {FAMILY}:2, deleted)" in (
        make_ctx.messages("info")
    )
    assert result.outputs.task_definition.endswith(f"{FAMILY}:1")


def test_a_deleted_task_definition_asked_for_by_name_is_refused_in_ecs_words(stack, make_ctx, aws):
    put_service_on_revision_3(aws, stack)
    stack.deregister(2)
    aws.client("ecs").delete_task_definitions(taskDefinitions=[f"{FAMILY}:2"])

    with pytest.raises(StepError) as refused:
        plan(make_ctx, task_definition=f"{FAMILY}:2")

    assert str(refused.value) == (
        f"target 'test': task definition '{FAMILY}:2': "
        "ClientException: Unable to describe task definition."
    )


def test_ctrl_c_while_not_visible_sends_nothing_more(stack, calls, make_ctx):
    stack.stale_reads_after_update(1000)
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        run(make_ctx, clock(cancel.set), cancel=cancel, rollback=True, image="repo/app:2")
    assert calls.writes == ["RegisterTaskDefinition", "UpdateService"]
