"""``cloudwatch.alarms`` on moto's CloudWatch: alarms played by a ScriptedClock
(one SetAlarmState per sleep), so a window of minutes passes with no waiting."""

from __future__ import annotations

from typing import Any

import pytest

from opskit.errors import InputError, StepError, StepFailed, StepTimeout
from opskit.steps import get
from tests.clocks import ScriptedClock
from tests.cloudwatch.alarms_helpers import Throttle, create_alarm, set_state
from tests.ecs_driver import CLUSTER, FAMILY, SERVICE, CallRecorder, build_stack, register

STEP = get("cloudwatch.alarms")
assert STEP is not None


def run(make_ctx: Any, clock: ScriptedClock, timeout: float | None = 600.0, **given: Any) -> Any:
    inputs = STEP.coerce_inputs(given)
    return STEP.run(make_ctx(clock=clock, uses="cloudwatch.alarms", timeout=timeout), inputs)


def marks(make_ctx: Any) -> list[tuple[str, str]]:
    return [(e.data["what"], e.message) for e in make_ctx.events if e.kind == "mark"]


def test_ok_alarms_through_the_window_pass_after_a_read_at_its_end(aws, make_ctx):
    create_alarm(aws, "api-5xx")
    create_alarm(aws, "api-latency")
    clock = ScriptedClock()

    result = run(make_ctx, clock, alarms=["api-5xx", "api-latency"], window="1m", poll_interval=25)

    assert result.status == "ok"
    assert result.summary == "no alarm in ALARM through 1m: 2 alarms watched"
    assert (result.outputs.alarms, result.outputs.fired) == (["api-5xx", "api-latency"], [])
    assert clock.sleeps == [25, 25, 10]  # the last read is at the window's end
    assert make_ctx.messages("progress")[:2] == [
        "watching 2 alarms for 1m: 1m left, all OK",
        "watching 2 alarms for 1m: 35.0s left, all OK",
    ]


def test_an_alarm_that_fires_mid_window_fails_at_the_next_read_naming_it_and_its_reason(
    aws, make_ctx
):
    create_alarm(aws, "api-5xx")
    create_alarm(aws, "api-latency")
    reason = "Threshold Crossed: 1 out of the last 1 datapoints [12.0] was greater than 5.0"
    clock = ScriptedClock(
        script=[lambda: None, lambda: set_state(aws, "api-latency", "ALARM", reason)]
    )

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, clock, alarms=["api-5xx", "api-latency"], window="5m", poll_interval=15)

    assert caught.value.summary == f"alarm 'api-latency' is in ALARM: {reason}"
    assert caught.value.detail == f"api-latency (MetricAlarm): ALARM: {reason}"
    assert caught.value.outputs.fired == ["api-latency"]
    assert clock.sleeps == [15, 15]
    assert marks(make_ctx) == [("failure", "alarm api-latency fired")]


def test_an_alarm_already_in_alarm_fails_at_the_first_read(aws, make_ctx):
    create_alarm(aws, "api-5xx", "ALARM", "Threshold Crossed")
    clock = ScriptedClock()

    with pytest.raises(StepFailed, match="^alarm 'api-5xx' is in ALARM: Threshold Crossed$"):
        run(make_ctx, clock, alarms=["api-5xx"])

    assert clock.sleeps == []


def test_insufficient_data_is_said_but_is_no_failure(aws, make_ctx):
    create_alarm(aws, "api-5xx", "INSUFFICIENT_DATA", "no datapoints were received")
    clock = ScriptedClock(script=[lambda: set_state(aws, "api-5xx", "OK", "back")])

    result = run(make_ctx, clock, alarms=["api-5xx"], window=30, poll_interval=15)

    assert result.summary == (
        "no alarm in ALARM through 30.0s: 1 alarm watched (INSUFFICIENT_DATA at some read: api-5xx)"
    )
    assert "alarm 'api-5xx' has INSUFFICIENT_DATA: no datapoints were received" in (
        make_ctx.messages("info")
    )
    assert make_ctx.messages("progress")[0] == (
        "watching 1 alarm for 30.0s: 30.0s left, none in ALARM, INSUFFICIENT_DATA: api-5xx"
    )


def test_a_missing_alarm_fails_at_once_naming_it(aws, make_ctx):
    create_alarm(aws, "api-5xx")
    clock = ScriptedClock()

    with pytest.raises(StepFailed) as caught:
        run(make_ctx, clock, alarms=["api-5xx", "api-5XX-typo"])

    assert caught.value.summary == (
        "CloudWatch has no alarm named 'api-5XX-typo' (metric, composite or Logs alarm)"
    )
    assert clock.sleeps == []


def test_throttled_reads_are_skipped_and_the_window_passes_only_on_a_read_at_its_end(aws, make_ctx):
    create_alarm(aws, "api-5xx")
    throttle = Throttle(aws)
    # reads at 0 and 15 are throttled; the one at the window's end (30) too, then 45 answers
    clock = ScriptedClock(script=[lambda: None, lambda: throttle.next(1)])
    throttle.next(2)

    result = run(make_ctx, clock, alarms=["api-5xx"], window=30, poll_interval=15)

    assert result.summary == (
        "no alarm in ALARM through 30.0s: 1 alarm watched (3 reads throttled by CloudWatch, "
        "skipped)"
    )
    assert clock.sleeps == [15, 15, 15]
    assert len(throttle.requests) == 4
    warnings = make_ctx.messages("warning")
    assert len(warnings) == 1  # once per stretch
    assert warnings[0].startswith("CloudWatch throttled DescribeAlarms (")


def test_a_window_throttled_to_its_end_times_out_and_another_aws_error_is_a_step_error(
    aws, make_ctx
):
    create_alarm(aws, "api-5xx")
    throttle = Throttle(aws)
    throttle.next(100)

    with pytest.raises(StepTimeout, match=r"of a 30.0s watch of 1 alarm: not read yet \(5 reads"):
        run(make_ctx, ScriptedClock(), timeout=60, alarms=["api-5xx"], window=30, poll_interval=15)

    throttle.next(1, "AccessDenied")
    with pytest.raises(StepError, match="cloudwatch DescribeAlarms"):
        run(make_ctx, ScriptedClock(), alarms=["api-5xx"], window=30, poll_interval=15)


def test_the_services_deployment_alarms_are_watched(aws, make_ctx):
    stack = build_stack(aws, alarms={"alarmNames": ["chatbot-5xx"], "enable": True,
                                     "rollback": True})  # fmt: skip
    try:
        create_alarm(aws, "chatbot-5xx")
        clock = ScriptedClock(script=[lambda: set_state(aws, "chatbot-5xx", "ALARM", "5xx")])

        with pytest.raises(StepFailed, match="^alarm 'chatbot-5xx' is in ALARM: 5xx$") as caught:
            run(make_ctx, clock, cluster=CLUSTER, service=SERVICE, window=60, poll_interval=15)

        assert caught.value.outputs.alarms == ["chatbot-5xx"]
    finally:
        stack.uninstall()


def test_a_service_without_deployment_alarms_is_bad_input_naming_it(aws, make_ctx):
    stack = build_stack(aws)
    try:
        with pytest.raises(InputError) as caught:
            run(make_ctx, ScriptedClock(), cluster=CLUSTER, service=SERVICE)
    finally:
        stack.uninstall()

    assert str(caught.value.message) == (
        "cloudwatch.alarms: ECS service 'chatbot' in cluster 'chatbot' has no deployment "
        "alarms (deploymentConfiguration.alarms); name the alarms with alarms:"
    )


def test_rollback_on_a_rolling_service_returns_to_the_previous_task_definition(aws, make_ctx):
    stack = build_stack(aws)
    try:
        ecs = aws.client("ecs")
        first = stack.primary()["taskDefinition"]
        second = register(ecs, "public.ecr.aws/chatbot/app:2")
        ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=second)
        stack.roll_out()
        create_alarm(aws, "api-5xx")
        calls = CallRecorder(ecs)
        clock = ScriptedClock(
            script=[lambda: set_state(aws, "api-5xx", "ALARM", "5xx up"), stack.roll_out]
        )
        earlier = {"deploy": {"status": "changed",
                              "outputs": {"previous_task_definition": first}}}  # fmt: skip
        inputs = STEP.coerce_inputs(
            {"alarms": ["api-5xx"], "cluster": CLUSTER, "service": SERVICE, "rollback": True}
        )

        with pytest.raises(StepFailed) as caught:
            STEP.run(make_ctx(clock=clock, steps=earlier), inputs)

        rollback_id = stack.primary()["id"]
        assert caught.value.summary == (
            f"alarm 'api-5xx' is in ALARM: 5xx up; rolled back to {FAMILY}:1 "
            f"(deployment {rollback_id} COMPLETED)"
        )
        assert stack.primary()["taskDefinition"] == first
        assert calls.writes == ["UpdateService"]
    finally:
        stack.uninstall()


def test_rollback_on_a_rolling_service_with_nothing_to_return_to_is_bad_input_before_watching(
    aws, make_ctx
):
    stack = build_stack(aws)
    try:
        create_alarm(aws, "api-5xx")
        throttle = Throttle(aws)
        with pytest.raises(InputError) as caught:
            run(make_ctx, ScriptedClock(), alarms=["api-5xx"], cluster=CLUSTER, service=SERVICE,
                rollback=True)  # fmt: skip
    finally:
        stack.uninstall()

    assert caught.value.message == (
        "cloudwatch.alarms: rollback on ECS service 'chatbot' (ROLLING) needs "
        "previous_task_definition: the task definition to go back to (no earlier step has "
        "that output)"
    )
    assert throttle.requests == []  # refused before the first read
