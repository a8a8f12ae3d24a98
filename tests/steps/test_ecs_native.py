"""ecs.redeploy on a native strategy (BLUE_GREEN, LINEAR, CANARY), on moto with the
deployment played by ``tests.native_driver`` at each poll's sleep."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from opskit.errors import Cancelled, StepFailed, StepTimeout
from opskit.steps.ecs_redeploy import STEP
from tests.ecs_driver import CLUSTER, SERVICE, EcsDriver, clock
from tests.native_driver import ALARM, NativeDriver, build_native


@pytest.fixture
def blue_green(aws: Any) -> Iterator[NativeDriver]:
    yield build_native(aws)
    EcsDriver.uninstall()


@pytest.fixture
def linear(aws: Any) -> Iterator[NativeDriver]:
    yield build_native(aws, "LINEAR")
    EcsDriver.uninstall()


def redeploy(make_ctx: Any, scripted: Any, **inputs: Any) -> Any:
    ctx = make_ctx(clock=scripted, timeout=600.0)
    return STEP.run(ctx, STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE, **inputs}))


def test_a_healthy_blue_green_release_passes_with_the_stages_seen(blue_green, make_ctx):
    d = blue_green
    scripted = clock(
        d.scale_up, d.test_shift, lambda: d.stage("POST_TEST_TRAFFIC_SHIFT", test=100.0),
        d.production, d.bake, d.succeed,
    )  # fmt: skip

    result = redeploy(make_ctx, scripted)

    assert result.status == "changed"
    assert result.summary.endswith("SUCCESSFUL: 100% production on the new revision")
    assert result.outputs.strategy == "BLUE_GREEN"
    assert result.outputs.service_deployment_arn == d.arn
    assert result.outputs.stage == "CLEAN_UP"
    assert result.outputs.production_percent == 100.0
    assert result.outputs.hook_id is None
    stages = [e.message for e in make_ctx.events if e.data.get("what") == "stage"]
    assert stages == [
        "RECONCILE_SERVICE", "SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP",
    ]  # fmt: skip
    progress = make_ctx.messages("progress")
    assert any(
        p.startswith("TEST_TRAFFIC_SHIFT: 0% production, test listener on green") for p in progress
    )
    assert any("BAKE_TIME: 100% production" in p and "of 1m bake time left" in p for p in progress)


def test_the_step_returns_paused_at_the_hook_with_production_on_blue(blue_green, make_ctx):
    d = blue_green
    hooks: list[str] = []
    scripted = clock(d.scale_up, d.test_shift, lambda: hooks.append(d.pause()))

    result = redeploy(make_ctx, scripted)

    assert result.status == "changed"
    assert result.outputs.hook_id == hooks[0]
    assert result.outputs.stage == "POST_TEST_TRAFFIC_SHIFT"
    assert result.outputs.production_percent == 0.0
    assert f"paused at POST_TEST_TRAFFIC_SHIFT (hook {hooks[0]})" in result.summary
    assert "0% production, test listener on green" in result.summary
    assert d.calls("ContinueServiceDeployment") == []


def test_a_linear_deployment_rolled_back_by_ecs_on_an_alarm_fails_naming_it(linear, make_ctx):
    d = linear
    scripted = clock(
        d.scale_up, d.test_shift, lambda: d.stage("POST_TEST_TRAFFIC_SHIFT", test=100.0),
        lambda: d.production(30.0), d.alarm_rollback, d.rollback_done,
    )  # fmt: skip

    with pytest.raises(StepFailed) as caught:
        redeploy(make_ctx, scripted)

    summary = caught.value.summary
    assert "ROLLBACK_IN_PROGRESS" in summary
    assert f"alarm {ALARM} in ALARM" in summary
    assert summary.endswith("; production affected (up to 30% of production traffic)")
    assert caught.value.outputs.production_percent == 30.0
    progress = make_ctx.messages("progress")
    assert any(p.startswith("PRODUCTION_TRAFFIC_SHIFT: 30% production") and "LINEAR, 30% a step"
               in p for p in progress)  # fmt: skip


def test_with_rollback_an_alarm_rollback_is_followed_until_blue_serves(linear, make_ctx):
    d = linear
    scripted = clock(d.scale_up, lambda: d.production(30.0), d.alarm_rollback, d.rollback_done)

    with pytest.raises(StepFailed) as caught:
        redeploy(make_ctx, scripted, rollback=True)

    assert "rolled back at PRODUCTION_TRAFFIC_SHIFT" in caught.value.summary
    assert "production affected" in caught.value.summary
    # ECS was rolling back already: nothing more was sent
    assert d.calls("StopServiceDeployment") == []
    assert d.calls("ContinueServiceDeployment") == []


def test_a_crash_looping_green_fails_fast(blue_green, make_ctx):
    d = blue_green
    scripted = clock(d.scale_up, d.crash, lambda: (d.ecs.start_tasks(), d.crash()))

    with pytest.raises(StepFailed) as caught:
        redeploy(make_ctx, scripted, max_failed_tasks=2)

    assert "2 tasks of the new revision stopped (max_failed_tasks 2)" in caught.value.summary
    assert "the new tasks keep crashing" in caught.value.summary
    assert caught.value.summary.endswith("; production untouched")
    assert scripted.script == []  # failed at the read after the second crash


def test_one_crash_below_max_failed_tasks_keeps_waiting(blue_green, make_ctx):
    d = blue_green
    scripted = clock(d.scale_up, d.crash, d.ecs.start_tasks, d.pause)

    result = redeploy(make_ctx, scripted, max_failed_tasks=2)

    assert "paused at POST_TEST_TRAFFIC_SHIFT" in result.summary
    assert any("1 new task stopped so far (fails at 2)" in p for p in make_ctx.messages("progress"))


def test_a_stale_first_read_of_the_deployment_record_is_not_a_failure(blue_green, make_ctx):
    d = blue_green
    d.ecs.stale_reads_after_update(2)
    d.records.stale_reads(2)
    scripted = clock(d.scale_up, d.pause)

    result = redeploy(make_ctx, scripted)

    assert "paused at POST_TEST_TRAFFIC_SHIFT" in result.summary
    assert result.outputs.service_deployment_arn == d.arn
    assert any("not visible yet" in p for p in make_ctx.messages("progress"))


def test_a_record_that_never_appears_fails_after_the_grace(blue_green, make_ctx):
    d = blue_green
    d.ecs.stale_reads_after_update(100)
    d.records.stale_reads(100)
    scripted = clock(*[lambda: None] * 20)

    with pytest.raises(StepFailed) as caught:
        redeploy(make_ctx, scripted, poll_interval=5)

    assert "never appeared" in caught.value.summary


def test_dry_run_names_the_strategy_and_the_stages(linear, make_ctx):
    ctx = make_ctx(timeout=600.0)
    result = STEP.plan(ctx, STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE}))

    assert "would follow a LINEAR deployment through ECS's lifecycle stages" in result.detail
    assert "pauses at POST_TEST_TRAFFIC_SHIFT (PAUSE hook)" in result.detail
    assert "production traffic shifts in steps of 30%" in result.detail
    assert "bake time 1m" in result.detail
    assert f"deployment alarms {ALARM}" in result.detail
    assert result.outputs.strategy == "LINEAR"
    assert linear.records.current() is None  # nothing was written


def test_a_timeout_keeps_the_paused_or_running_deployment_in_the_outputs(blue_green, make_ctx):
    d = blue_green
    ctx = make_ctx(clock=clock(d.scale_up, d.test_shift), timeout=12.0)
    inputs = STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE})

    with pytest.raises(StepTimeout) as caught:
        STEP.run(ctx, inputs)

    # the run's end (finish) rolls it back or leaves it, as if_left says
    assert caught.value.outputs.service_deployment_arn == d.arn
    assert caught.value.outputs.stage == "TEST_TRAFFIC_SHIFT"
    assert caught.value.outputs.if_left == "rollback"
    assert "TEST_TRAFFIC_SHIFT: 0% production, test listener on green" in caught.value.summary


def test_ctrl_c_keeps_the_deployment_in_the_outputs(blue_green, make_ctx):
    d = blue_green
    cancel = threading.Event()
    ctx = make_ctx(clock=clock(d.scale_up, cancel.set), timeout=600.0, cancel=cancel)
    inputs = STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE, "if_left": "leave_paused"})

    with pytest.raises(Cancelled) as caught:
        STEP.run(ctx, inputs)

    outputs = caught.value.outputs  # type: ignore[attr-defined]
    assert outputs.service_deployment_arn == d.arn
    assert outputs.if_left == "leave_paused"
    assert d.records.calls == []  # nothing sent after the interrupt


def test_without_wait_the_opened_deployment_is_an_output(blue_green, make_ctx):
    result = redeploy(make_ctx, clock(), wait=False)

    assert result.outputs.service_deployment_arn == blue_green.arn
    assert result.outputs.strategy == "BLUE_GREEN"
