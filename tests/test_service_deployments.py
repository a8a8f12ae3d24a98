"""ECS's service deployments as moto serves them here (``moto_service_deployments``)
and as opskit reads and answers them (``opskit.ecs.service_deployments``): the
shapes of botocore's ECS model, the API's refusals, eventual consistency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opskit.ecs.describe import describe_service
from opskit.ecs.service_deployments import (
    current_service_deployment_arn,
    describe_service_deployment,
    list_service_deployments,
    request_rollback,
    stop_service_deployment,
)
from opskit.errors import StepError
from tests.ecs_driver import CLUSTER, SERVICE, EcsDriver, build_stack

BLUE_GREEN = {
    "strategy": "BLUE_GREEN",
    "bakeTimeInMinutes": 5,
    "lifecycleHooks": [
        {
            "targetType": "PAUSE",
            "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 30, "action": "ROLLBACK"},
        }
    ],
    "alarms": {"alarmNames": ["chatbot-5xx"], "enable": True, "rollback": True},
}


@pytest.fixture
def native(aws: Any) -> Iterator[EcsDriver]:
    driver = build_stack(aws, **BLUE_GREEN)
    yield driver
    EcsDriver.uninstall()


def _update(aws: Any) -> dict[str, Any]:
    ecs = aws.client("ecs")
    service: dict[str, Any] = ecs.update_service(
        cluster=CLUSTER, service=SERVICE, forceNewDeployment=True
    )["service"]
    return service


def test_update_service_opens_a_service_deployment_the_service_names(
    aws: Any, native: EcsDriver
) -> None:
    arn = current_service_deployment_arn(_update(aws))
    assert ":service-deployment/chatbot/chatbot/" in arn
    assert current_service_deployment_arn(describe_service(aws, CLUSTER, SERVICE)) == arn
    dep = describe_service_deployment(aws, arn)
    assert dep is not None
    assert (dep.status, dep.stage, dep.production_percent) == ("PENDING", "RECONCILE_SERVICE", 0)
    assert dep.raw["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 100
    assert dep.raw["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    (brief,) = list_service_deployments(aws, CLUSTER, SERVICE)
    assert brief["serviceDeploymentArn"] == arn
    assert brief["targetServiceRevisionArn"] == dep.target_revision
    assert list_service_deployments(aws, CLUSTER, SERVICE, statuses=["SUCCESSFUL"]) == []


def test_a_rolling_service_opens_none(aws: Any) -> None:
    build_stack(aws)
    try:
        assert current_service_deployment_arn(_update(aws)) == ""
        assert list_service_deployments(aws, CLUSTER, SERVICE) == []
    finally:
        EcsDriver.uninstall()


def test_pause_hook_is_answered_once_and_only_while_it_awaits(aws: Any, native: EcsDriver) -> None:
    arn = current_service_deployment_arn(_update(aws))
    records = native.records.native
    records.update(arn, status="IN_PROGRESS")
    hook_id = records.pause(arn, "POST_TEST_TRAFFIC_SHIFT")
    dep = describe_service_deployment(aws, arn)
    assert dep is not None and dep.awaiting_hook is not None
    assert dep.awaiting_hook.hook_id == hook_id
    assert dep.awaiting_hook.timeout_action == "ROLLBACK"
    assert dep.awaiting_hook.expires_at - dep.created_at == pytest.approx(30 * 60, abs=5)
    ecs = aws.client("ecs")
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action="CONTINUE")
    with pytest.raises(ClientError) as again:
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action="CONTINUE")
    assert again.value.response["Error"]["Code"] == "InvalidParameterException"
    after = describe_service_deployment(aws, arn)
    assert after is not None and after.awaiting_hook is None and after.status == "IN_PROGRESS"
    assert [c[0] for c in records.calls] == ["ContinueServiceDeployment"] * 2


def test_request_rollback_answers_the_hook_or_stops_the_deployment(
    aws: Any, native: EcsDriver
) -> None:
    arn = current_service_deployment_arn(_update(aws))
    records = native.records.native
    records.update(arn, status="IN_PROGRESS")
    records.pause(arn, "POST_TEST_TRAFFIC_SHIFT")
    dep = describe_service_deployment(aws, arn)
    assert dep is not None
    assert request_rollback(aws, dep).startswith("ROLLBACK at hook")
    rolled = describe_service_deployment(aws, arn)
    assert rolled is not None and rolled.status == "ROLLBACK_REQUESTED"
    assert request_rollback(aws, rolled) == "already rolling back (ROLLBACK_REQUESTED)"
    assert [(c[0], c[1].get("action")) for c in records.calls] == [
        ("ContinueServiceDeployment", "ROLLBACK")
    ]
    # In bake time no hook waits: StopServiceDeployment ROLLBACK, once; then ECS refuses it.
    arn2 = current_service_deployment_arn(_update(aws))
    records.update(arn2, status="IN_PROGRESS", lifecycleStage="BAKE_TIME")
    baking = describe_service_deployment(aws, arn2)
    assert baking is not None
    assert request_rollback(aws, baking) == "StopServiceDeployment ROLLBACK at BAKE_TIME"
    with pytest.raises(StepError, match="ConflictException|cannot be stopped"):
        request_rollback(aws, baking)  # the stale record: ECS says it is no longer stoppable


def test_the_new_deployment_reads_missing_while_reads_are_stale(
    aws: Any, native: EcsDriver
) -> None:
    native.records.native.stale_reads(1)
    native.records.stale_reads_after_update(1)
    previous = current_service_deployment_arn(describe_service(aws, CLUSTER, SERVICE))
    arn = current_service_deployment_arn(_update(aws))
    assert current_service_deployment_arn(describe_service(aws, CLUSTER, SERVICE)) == previous
    assert describe_service_deployment(aws, arn) is None  # MISSING: not yet
    assert describe_service_deployment(aws, arn) is not None
    assert current_service_deployment_arn(describe_service(aws, CLUSTER, SERVICE)) == arn


def test_unknown_deployment_is_a_step_error_naming_it(aws: Any, native: EcsDriver) -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/chatbot/chatbot/nope"
    assert describe_service_deployment(aws, arn) is None
    with pytest.raises(StepError, match="ServiceDeploymentNotFoundException|does not exist"):
        stop_service_deployment(aws, arn, "ROLLBACK")
