"""ecs.deployment: continue a paused native deployment once, roll it back through
ECS, follow it; and what the run's end (``finish``) does with one left unfinished."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from opskit.clock import FakeClock
from opskit.errors import Cancelled, StepFailed
from opskit.model import RunResult, StepRecord
from opskit.steps.base import RunEnd
from opskit.steps.ecs_deployment import STEP
from tests.ecs_driver import CLUSTER, SERVICE, EcsDriver, clock
from tests.native_driver import NativeDriver, build_native


@pytest.fixture
def paused(aws: Any) -> Iterator[tuple[NativeDriver, str]]:
    """A BLUE_GREEN deployment waiting at its PAUSE hook after the test traffic shift."""
    d = build_native(aws)
    aws.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    d.scale_up()
    d.test_shift()
    yield d, d.pause()
    EcsDriver.uninstall()


def deployment(
    make_ctx: Any, scripted: Any, failed_step: str | None = None, cancel: Any = None, **inputs: Any
) -> Any:
    ctx = make_ctx(clock=scripted, timeout=600.0, cancel=cancel)
    ctx.failed_step = failed_step
    return STEP.run(ctx, STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE, **inputs}))


def test_continue_answers_the_hook_once_and_follows_to_bake_time(paused, make_ctx):
    d, hook = paused
    scripted = clock(d.production, d.bake)

    result = deployment(make_ctx, scripted, action="continue", until="BAKE_TIME")

    assert d.calls("ContinueServiceDeployment") == [
        {"arn": d.arn, "hookId": hook, "action": "CONTINUE"}
    ]
    assert result.status == "changed"
    assert result.summary.startswith(f"continued at POST_TEST_TRAFFIC_SHIFT (hook {hook}); ")
    assert "reached BAKE_TIME: 100% production" in result.summary
    assert result.outputs.stage == "BAKE_TIME"
    assert result.outputs.production_affected is True
    assert result.outputs.hook_id is None


def test_a_retried_continue_sends_no_second_continue(paused, make_ctx):
    d, hook = paused
    deployment(make_ctx, clock(d.production, d.bake), action="continue", until="BAKE_TIME")

    # the retry (or a second run) finds the hook answered and only follows
    again = deployment(make_ctx, clock(d.succeed), action="continue")

    assert len(d.calls("ContinueServiceDeployment")) == 1
    assert again.status == "ok"
    assert again.summary.endswith("SUCCESSFUL: 100% production on the new revision")


def test_a_stale_read_still_showing_the_answered_hook_sends_nothing_twice(paused, make_ctx):
    d, hook = paused
    first = deployment(
        make_ctx, clock(d.production), action="continue", until="PRODUCTION_TRAFFIC_SHIFT"
    )
    assert first.outputs.stage == "PRODUCTION_TRAFFIC_SHIFT"
    # ECS's read goes back to a record that still awaits the hook: not answered twice
    d.records.set_hook(d.arn, hook, "AWAITING_ACTION")
    d.stage("POST_TEST_TRAFFIC_SHIFT", test=100.0)

    deployment(make_ctx, clock(d.production), action="continue", until="PRODUCTION_TRAFFIC_SHIFT")

    assert len(d.calls("ContinueServiceDeployment")) == 1


def test_rollback_at_the_hook_goes_through_continue_and_says_production_was_untouched(
    paused, make_ctx
):
    d, hook = paused
    scripted = clock(d.rollback_done)

    result = deployment(make_ctx, scripted, failed_step="test-chat", action="rollback")

    assert d.calls("ContinueServiceDeployment") == [
        {"arn": d.arn, "hookId": hook, "action": "ROLLBACK"}
    ]
    assert d.calls("StopServiceDeployment") == []
    assert result.status == "changed"
    assert "after step 'test-chat' failed" in result.summary
    assert "rolled back at POST_TEST_TRAFFIC_SHIFT" in result.summary
    assert "production untouched" in result.summary
    assert result.outputs.rolled_back is True
    assert result.outputs.production_affected is False


def test_rollback_in_bake_time_stops_the_deployment_and_says_production_was_affected(
    paused, make_ctx
):
    d, hook = paused
    deployment(make_ctx, clock(d.production, d.bake), action="continue", until="BAKE_TIME")

    result = deployment(
        make_ctx, clock(d.rollback_done), failed_step="prod-chat", action="rollback"
    )

    assert d.calls("StopServiceDeployment") == [{"arn": d.arn, "stopType": "ROLLBACK"}]
    assert (
        "rolled back at BAKE_TIME (StopServiceDeployment ROLLBACK at BAKE_TIME)" in result.summary
    )
    assert "production affected" in result.summary
    assert result.outputs.production_affected is True


def test_a_rollback_that_does_not_finish_fails_the_step(paused, make_ctx):
    d, _ = paused
    scripted = clock(lambda: d.records.update(d.arn, status="ROLLBACK_FAILED"))

    with pytest.raises(StepFailed) as caught:
        deployment(make_ctx, scripted, action="rollback")

    assert "ended ROLLBACK_FAILED" in caught.value.summary
    assert caught.value.outputs.rolled_back is False


def test_follow_stops_at_a_hook_awaiting_action_and_never_continues_it(paused, make_ctx):
    d, hook = paused

    result = deployment(make_ctx, clock(), action="follow")

    assert result.outputs.hook_id == hook
    assert "paused at POST_TEST_TRAFFIC_SHIFT" in result.summary
    assert d.calls("ContinueServiceDeployment") == []


def _run_end(aws: Any, status: str, outputs: dict[str, Any], scripted: Any = None) -> RunEnd:
    result = RunResult(
        playbook="p", name="p", target="t", dry_run=False, run_id="r", started_at=0.0
    )
    record = StepRecord("deploy", "ecs.redeploy", "", "main", outputs=outputs)
    result.steps.append(record)
    result.status = status  # type: ignore[assignment]
    return RunEnd(aws, result, record, scripted or FakeClock())


def test_finish_rolls_back_a_deployment_left_paused(paused, aws):
    d, hook = paused
    outputs = {"service_deployment_arn": d.arn, "if_left": "rollback"}
    end = _run_end(aws, "failed", outputs, clock(d.rollback_done))

    lines = STEP.finish(end)

    assert d.calls("ContinueServiceDeployment") == [
        {"arn": d.arn, "hookId": hook, "action": "ROLLBACK"}
    ]
    ((kind, line),) = lines
    assert "rolled back at POST_TEST_TRAFFIC_SHIFT as if_left says" in line
    assert "ROLLBACK_SUCCESSFUL; production untouched" in line


def test_finish_leaves_it_paused_when_the_playbook_says_so(paused, aws):
    d, hook = paused
    end = _run_end(aws, "interrupted", {"service_deployment_arn": d.arn, "if_left": "leave_paused"})

    ((kind, line),) = STEP.finish(end)

    assert d.records.calls == []  # nothing sent, never CONTINUE
    assert f"left paused at POST_TEST_TRAFFIC_SHIFT (hook {hook})" in line
    assert "ECS will ROLLBACK at " in line


def test_finish_sends_nothing_to_a_finished_deployment_and_says_how_it_ended(paused, aws):
    d, _ = paused
    d.rollback_done()
    end = _run_end(aws, "failed", {"service_deployment_arn": d.arn, "if_left": "rollback"})

    assert STEP.finish(end) == [
        ("info", f"service deployment {d.arn.rsplit('/', 1)[-1]} ended ROLLBACK_SUCCESSFUL; "
                 "production untouched")
    ]  # fmt: skip
    assert d.records.calls == []
    # a passed run: nothing to say
    passed = _run_end(aws, "passed", {"service_deployment_arn": d.arn, "if_left": "rollback"})
    assert STEP.finish(passed) == []


def test_continue_before_the_hook_waits_for_it_then_continues_it_once(aws, make_ctx):
    d = build_native(aws)
    try:
        aws.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
        hooks: list[str] = []
        scripted = clock(d.scale_up, lambda: hooks.append(d.pause()), d.production, d.bake)

        result = deployment(make_ctx, scripted, action="continue", until="BAKE_TIME")
    finally:
        EcsDriver.uninstall()

    assert d.calls("ContinueServiceDeployment") == [
        {"arn": d.arn, "hookId": hooks[0], "action": "CONTINUE"}
    ]
    assert result.outputs.stage == "BAKE_TIME"


def test_rollback_of_a_finished_deployment_is_nothing_before_this_run_and_a_failure_after_it(
    paused, make_ctx
):
    d, _ = paused
    d.succeed()  # an earlier release's; this run failed before its deploy

    result = deployment(make_ctx, clock(), failed_step="build", action="rollback")

    assert result.status == "ok"
    assert result.summary == (
        f"nothing to roll back: service deployment {d.arn.rsplit('/', 1)[-1]} ended SUCCESSFUL "
        "before this run"
    )
    assert d.records.calls == []

    # named (or started by an earlier step of this run): this run's SUCCESSFUL deployment
    # cannot be rolled back by ECS; the step says how to go back
    with pytest.raises(StepFailed) as caught:
        deployment(make_ctx, clock(), action="rollback", deployment=d.arn)

    assert caught.value.summary.endswith(
        "ended SUCCESSFUL and ECS cannot roll back a finished deployment; deploy the previous "
        "revision with ecs.redeploy task_definition: previous"
    )
    assert d.records.calls == []


def test_rollback_of_a_service_without_any_service_deployment_has_nothing_to_roll_back(
    aws, make_ctx
):
    d = build_native(aws)
    try:
        result = deployment(make_ctx, clock(), action="rollback")
    finally:
        EcsDriver.uninstall()

    assert result.status == "ok"
    assert (
        result.summary == f"nothing to roll back: ECS service {SERVICE!r} has no service deployment"
    )
    assert d.records.calls == []


def test_a_rollback_whose_first_read_is_stale_waits_for_the_record_then_sends_rollback(
    paused, make_ctx
):
    d, hook = paused
    d.records.stale_reads(2)  # the first reads answer the record MISSING
    scripted = clock(lambda: None, lambda: None, d.rollback_done)

    result = deployment(make_ctx, scripted, action="rollback", deployment=d.arn)

    assert d.calls("ContinueServiceDeployment") == [
        {"arn": d.arn, "hookId": hook, "action": "ROLLBACK"}
    ]
    assert result.status == "changed"
    assert "ROLLBACK_SUCCESSFUL, traffic on the previous revision; production untouched" in (
        result.summary
    )


def test_a_rollback_ecs_already_did_is_ok_and_says_so(paused, make_ctx):
    d, _ = paused
    d.alarm_rollback()
    d.rollback_done()

    result = deployment(make_ctx, clock(), failed_step="alarms", action="rollback",
                        deployment=d.arn)  # fmt: skip

    assert result.status == "ok"
    assert (
        "ECS already rolled it back: alarm chatbot-5xx triggered; alarm chatbot-5xx in ALARM"
        in (result.summary)
    )
    assert result.summary.endswith("; production untouched")
    assert result.outputs.rolled_back is True
    assert d.records.calls == []


def test_a_failed_promote_says_how_much_production_traffic_the_new_revision_took(paused, make_ctx):
    d, _ = paused
    scripted = clock(lambda: d.production(30.0), d.alarm_rollback)

    with pytest.raises(StepFailed) as caught:
        deployment(make_ctx, scripted, action="continue", until="BAKE_TIME")

    assert "ROLLBACK_IN_PROGRESS" in caught.value.summary
    assert caught.value.summary.endswith("; production affected (up to 30% of production traffic)")


def test_one_missing_read_long_after_the_start_is_eventual_consistency_not_a_failure(aws, make_ctx):
    d = build_native(aws)
    try:
        aws.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
        d.scale_up()
        # reads every 30 s: the one at 90 s answers MISSING
        scripted = clock(lambda: None, lambda: None, lambda: d.records.stale_reads(1), d.succeed)

        result = deployment(make_ctx, scripted, action="follow", poll_interval=30)
    finally:
        EcsDriver.uninstall()

    assert result.summary.endswith("SUCCESSFUL: 100% production on the new revision")


def test_a_record_missing_for_a_minute_of_reads_fails_the_follow(aws, make_ctx):
    d = build_native(aws)
    try:
        aws.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
        d.scale_up()
        scripted = clock(lambda: d.records.stale_reads(3), lambda: None, lambda: None, d.succeed)

        with pytest.raises(StepFailed) as caught:
            deployment(make_ctx, scripted, action="follow", poll_interval=30)
    finally:
        EcsDriver.uninstall()

    assert "is no longer found (DescribeServiceDeployments answers MISSING for 1m" in (
        caught.value.summary
    )


def test_an_interrupted_on_failure_rollback_sends_rollback_and_says_it_was_not_followed(
    paused, make_ctx
):
    d, hook = paused
    interrupted = threading.Event()
    interrupted.set()  # the runner's on_failure after Ctrl-C: waits are cancelled
    scripted = clock(d.rollback_done)

    with pytest.raises(Cancelled) as caught:
        deployment(make_ctx, scripted, failed_step="test-chat", cancel=interrupted,
                   action="rollback")  # fmt: skip

    assert d.calls("ContinueServiceDeployment") == [
        {"arn": d.arn, "hookId": hook, "action": "ROLLBACK"}
    ]
    assert str(caught.value).endswith(
        f"ROLLBACK requested at hook {hook} (POST_TEST_TRAFFIC_SHIFT); not followed: the run was "
        "interrupted (ECS rolls it back on its own); production untouched"
    )
    assert caught.value.outputs.service_deployment_arn == d.arn  # type: ignore[attr-defined]
    assert scripted.script  # no wait


def test_finish_of_an_interrupted_run_requests_the_rollback_without_following_it(paused, aws):
    d, hook = paused
    scripted = clock(d.rollback_done)
    outputs = {"service_deployment_arn": d.arn, "if_left": "rollback"}
    end = _run_end(aws, "interrupted", outputs, scripted)

    ((kind, line),) = STEP.finish(end)

    assert d.calls("ContinueServiceDeployment") == [
        {"arn": d.arn, "hookId": hook, "action": "ROLLBACK"}
    ]
    assert line.endswith(
        f"ROLLBACK requested at hook {hook} (POST_TEST_TRAFFIC_SHIFT) as if_left says; not "
        "followed: the run was interrupted (ECS rolls it back on its own); production untouched"
    )
    assert scripted.script  # no wait after the cancel


def test_finish_does_not_claim_a_rollback_ecs_is_doing_on_its_own(paused, aws):
    d, _ = paused
    d.production(30.0)
    d.alarm_rollback()
    end = _run_end(aws, "failed", {"service_deployment_arn": d.arn, "if_left": "rollback"},
                   clock(d.rollback_done))  # fmt: skip

    ((kind, line),) = STEP.finish(end)

    assert "as if_left says" not in line
    assert "already ROLLBACK_IN_PROGRESS at PRODUCTION_TRAFFIC_SHIFT when the run ended" in line
    assert line.endswith(
        ": ROLLBACK_SUCCESSFUL; production affected (up to 30% of production traffic)"
    )
    assert d.records.calls == []
