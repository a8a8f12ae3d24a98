"""ecs.deployment: continue a paused native deployment once, roll it back through
ECS, follow it; and what the run's end (``finish``) does with one left unfinished."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from opskit.clock import FakeClock
from opskit.errors import StepFailed
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


def deployment(make_ctx: Any, scripted: Any, failed_step: str | None = None, **inputs: Any) -> Any:
    ctx = make_ctx(clock=scripted, timeout=600.0)
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


def test_finish_does_nothing_to_a_finished_deployment(paused, aws):
    d, _ = paused
    d.succeed()
    end = _run_end(aws, "failed", {"service_deployment_arn": d.arn, "if_left": "rollback"})

    assert STEP.finish(end) == []
    assert d.records.calls == []


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
