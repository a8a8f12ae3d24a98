"""``cloudwatch.alarms`` with ``rollback`` on a service with a native strategy:
ECS's own rollback of the current service deployment, played on moto's service
deployments (``NativeRecords``) by a ScriptedClock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from opskit.errors import StepFailed
from opskit.steps import get
from tests.clocks import ScriptedClock
from tests.cloudwatch.alarms_helpers import create_alarm, set_state
from tests.ecs_driver import CLUSTER, SERVICE, EcsDriver, build_stack

STEP = get("cloudwatch.alarms")
assert STEP is not None
ALARMS = {"alarmNames": ["chatbot-5xx"], "enable": True, "rollback": False}
HOOK = {
    "targetType": "PAUSE",
    "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
    "timeoutConfiguration": {"timeoutInMinutes": 10, "action": "ROLLBACK"},
}


def deployed(aws: Any, **configuration: Any) -> tuple[EcsDriver, str]:
    """A native service whose UpdateService opened a service deployment, IN_PROGRESS."""
    driver = build_stack(aws, bakeTimeInMinutes=1, alarms=ALARMS, **configuration)
    service = aws.client("ecs").update_service(
        cluster=CLUSTER, service=SERVICE, forceNewDeployment=True
    )["service"]
    arn = str(service["currentServiceDeployment"])
    driver.records.native.update(arn, status="IN_PROGRESS")
    create_alarm(aws, "chatbot-5xx")
    return driver, arn


@pytest.fixture
def uninstall() -> Iterator[None]:
    yield
    EcsDriver.uninstall()


def run_until_alarm(aws: Any, make_ctx: Any, driver: EcsDriver, arn: str) -> StepFailed:
    """The alarm fires after the first read; ECS then finishes the rollback asked for."""
    records = driver.records.native
    clock = ScriptedClock(
        script=[
            lambda: set_state(aws, "chatbot-5xx", "ALARM", "5xx above 5 for 1 minute"),
            lambda: records.update(arn, status="ROLLBACK_SUCCESSFUL"),
        ]
    )
    inputs = STEP.coerce_inputs(
        {"cluster": CLUSTER, "service": SERVICE, "window": 60, "rollback": True}
    )
    with pytest.raises(StepFailed) as caught:
        STEP.run(make_ctx(clock=clock), inputs)
    return caught.value


def test_at_a_pause_hook_the_rollback_answers_the_hook(aws, make_ctx, uninstall):
    driver, arn = deployed(aws, strategy="BLUE_GREEN", lifecycleHooks=[HOOK])
    records = driver.records.native
    records.update(arn, lifecycleStage="POST_TEST_TRAFFIC_SHIFT")
    hook_id = records.pause(arn, "POST_TEST_TRAFFIC_SHIFT")

    failure = run_until_alarm(aws, make_ctx, driver, arn)

    assert failure.summary == (
        "alarm 'chatbot-5xx' is in ALARM: 5xx above 5 for 1 minute; rolled back at "
        f"POST_TEST_TRAFFIC_SHIFT (ROLLBACK at hook {hook_id} (POST_TEST_TRAFFIC_SHIFT) with "
        "ContinueServiceDeployment): ROLLBACK_SUCCESSFUL, traffic on the previous revision; "
        "production untouched"
    )
    assert [(op, p.get("action")) for op, p in records.calls] == [
        ("ContinueServiceDeployment", "ROLLBACK")
    ]


def test_a_linear_deployment_whose_alarm_fires_at_30_percent_is_stopped_with_rollback(
    aws, make_ctx, uninstall
):
    driver, arn = deployed(aws, strategy="LINEAR")
    records = driver.records.native
    records.update(arn, lifecycleStage="PRODUCTION_TRAFFIC_SHIFT")
    records.set_traffic(arn, production=30, test=100)

    failure = run_until_alarm(aws, make_ctx, driver, arn)

    assert failure.summary == (
        "alarm 'chatbot-5xx' is in ALARM: 5xx above 5 for 1 minute; rolled back at "
        "PRODUCTION_TRAFFIC_SHIFT (StopServiceDeployment ROLLBACK at PRODUCTION_TRAFFIC_SHIFT): "
        "ROLLBACK_SUCCESSFUL, traffic on the previous revision; production affected (up to 30% "
        "of production traffic)"
    )
    assert failure.outputs.fired == ["chatbot-5xx"]
    assert records.calls == [("StopServiceDeployment", {"arn": arn, "stopType": "ROLLBACK"})]


def test_a_rollback_ecs_already_started_on_the_alarm_is_followed_not_asked_again(
    aws, make_ctx, uninstall
):
    driver, arn = deployed(aws, strategy="CANARY")
    records = driver.records.native

    def ecs_rolls_back_on_its_alarm() -> None:
        set_state(aws, "chatbot-5xx", "ALARM", "5xx above 5 for 1 minute")
        records.update(arn, status="ROLLBACK_IN_PROGRESS")

    clock = ScriptedClock(
        script=[ecs_rolls_back_on_its_alarm,
                lambda: records.update(arn, status="ROLLBACK_SUCCESSFUL")]
    )  # fmt: skip
    inputs = STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE, "rollback": True})

    with pytest.raises(StepFailed) as caught:
        STEP.run(make_ctx(clock=clock), inputs)

    assert caught.value.summary.endswith(
        "; rolled back at RECONCILE_SERVICE (ECS already rolling it back (ROLLBACK_IN_PROGRESS)): "
        "ROLLBACK_SUCCESSFUL, traffic on the previous revision; production untouched"
    )
    assert records.calls == []


def test_a_deployment_that_already_succeeded_is_not_rolled_back_and_says_why(
    aws, make_ctx, uninstall
):
    driver, arn = deployed(aws, strategy="BLUE_GREEN")
    driver.records.native.update(arn, status="SUCCESSFUL")

    failure = run_until_alarm(aws, make_ctx, driver, arn)

    assert failure.summary.endswith(
        f"; no rollback: service deployment {arn} already ended SUCCESSFUL; ECS rolls back "
        "only a deployment in progress"
    )
    assert driver.records.native.calls == []


def test_dry_run_says_how_a_native_service_would_be_rolled_back(aws, make_ctx, uninstall):
    deployed(aws, strategy="BLUE_GREEN", lifecycleHooks=[HOOK])
    inputs = STEP.coerce_inputs(
        {"cluster": CLUSTER, "service": SERVICE, "window": "2m", "rollback": True}
    )

    result = STEP.plan(make_ctx(), inputs)

    assert result.detail.splitlines() == [
        "would watch 1 alarm (chatbot-5xx) for 2m, reading every 15.0s",
        "if one goes to ALARM, would roll back ECS service 'chatbot''s current BLUE_GREEN "
        "service deployment through ECS (ContinueServiceDeployment ROLLBACK at a PAUSE hook, "
        "else StopServiceDeployment ROLLBACK) and wait for ROLLBACK_SUCCESSFUL",
    ]
    assert result.outputs.fired is None
