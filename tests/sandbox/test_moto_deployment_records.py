"""What moto already keeps of ECS's deployment records, so that no sandbox play is
needed for it (issue 19): the deployment configuration an UpdateService sets
(strategy, bake time, alarms) and deregistered task definition revisions. The
ECS step's tests rely on these through moto's server."""

from __future__ import annotations

from typing import Any

from opskit.aws import AwsAccess

CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "alarms": {"alarmNames": ["chatbot-5xx"], "enable": True, "rollback": True},
    "strategy": "CANARY",
    "bakeTimeInMinutes": 5,
    "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2},
}


def _service(ecs: Any) -> dict[str, Any]:
    return ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]


def _register(ecs: Any, image: str) -> str:
    return ecs.register_task_definition(
        family="chatbot",
        containerDefinitions=[{"name": "chatbot", "image": image, "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]


def test_update_service_keeps_the_strategy_bake_time_and_alarms(aws: AwsAccess) -> None:
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="chatbot")
    _register(ecs, "chatbot:1")
    ecs.create_service(cluster="chatbot", serviceName="chatbot", taskDefinition="chatbot")

    answer = ecs.update_service(
        cluster="chatbot", service="chatbot", deploymentConfiguration=CONFIGURATION
    )

    assert answer["service"]["deploymentConfiguration"] == CONFIGURATION
    assert _service(ecs)["deploymentConfiguration"] == CONFIGURATION
    ecs.update_service(cluster="chatbot", service="chatbot", desiredCount=2)
    assert _service(ecs)["deploymentConfiguration"] == CONFIGURATION  # kept across updates


def test_a_deregistered_revision_stays_describable_as_inactive(aws: AwsAccess) -> None:
    ecs = aws.client("ecs")
    first = _register(ecs, "chatbot:1")
    second = _register(ecs, "chatbot:2")

    ecs.deregister_task_definition(taskDefinition="chatbot:1")

    described = ecs.describe_task_definition(taskDefinition="chatbot:1")["taskDefinition"]
    assert (described["taskDefinitionArn"], described["status"]) == (first, "INACTIVE")
    assert ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == [first]
    assert ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"] == [second]
