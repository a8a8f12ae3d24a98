"""The pure pieces: which deployment an update created, task definition changes,
awslogs targets, timestamps, failure text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from opskit.ecs.deploy import check_controller, created_deployment
from opskit.ecs.describe import iso_utc
from opskit.ecs.failure import describe_stopped_tasks
from opskit.ecs.names import short_task_definition, task_id_of
from opskit.ecs.taskdef import apply_changes, log_target, parse_changes
from opskit.errors import StepError

T0 = datetime(2026, 11, 24, 3, 10, 0, 123456, tzinfo=timezone.utc)


def test_created_deployment_is_the_new_primary():
    service = {
        "deployments": [
            {"id": "ecs-svc/new", "status": "PRIMARY", "createdAt": T0},
            {"id": "ecs-svc/old", "status": "ACTIVE", "createdAt": T0 - timedelta(hours=1)},
        ]
    }
    assert created_deployment({"ecs-svc/old"}, service)["id"] == "ecs-svc/new"


def test_created_deployment_falls_back_to_the_newest_new_one():
    service = {
        "deployments": [
            {"id": "ecs-svc/old", "status": "PRIMARY", "createdAt": T0 - timedelta(hours=1)},
            {"id": "ecs-svc/a", "status": "ACTIVE", "createdAt": T0 - timedelta(minutes=5)},
            {"id": "ecs-svc/b", "status": "ACTIVE", "createdAt": T0},
        ]
    }
    assert created_deployment({"ecs-svc/old"}, service)["id"] == "ecs-svc/b"


def test_no_new_deployment_is_none_never_the_old_one():
    service = {"deployments": [{"id": "ecs-svc/old", "status": "PRIMARY", "createdAt": T0}]}
    assert created_deployment({"ecs-svc/old"}, service) is None


@pytest.mark.parametrize("controller", ["CODE_DEPLOY", "EXTERNAL"])
def test_other_deployment_controllers_are_not_supported(controller):
    with pytest.raises(StepError) as caught:
        check_controller({"deploymentController": {"type": controller}}, "c", "s")
    assert str(caught.value) == (
        f"ECS service 's' in cluster 'c' uses the {controller} deployment controller: not "
        "supported (ecs.redeploy tracks rolling ECS deployments only)"
    )


def test_iso_utc_has_milliseconds_and_z():
    assert iso_utc(T0) == "2026-11-24T03:10:00.123Z"
    assert iso_utc(T0.replace(tzinfo=None)) == "2026-11-24T03:10:00.123Z"
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    assert iso_utc(tokyo) == "2026-11-24T03:10:00.123Z"


def test_task_id_from_old_and_long_arns():
    assert task_id_of("arn:aws:ecs:us-east-1:1:task/abc") == "abc"
    assert task_id_of("arn:aws:ecs:us-east-1:1:task/chatbot/abc") == "abc"
    assert task_id_of(" abc ") == "abc"


def test_short_task_definition_is_family_and_revision():
    arn = "arn:aws:ecs:us-east-1:1:task-definition/chatbot:3"
    assert short_task_definition(arn) == "chatbot:3"
    assert short_task_definition("chatbot:3") == "chatbot:3"
    assert short_task_definition("") == ""


def definition() -> dict:
    return {
        "family": "chatbot",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/chatbot:3",
        "revision": 3,
        "status": "ACTIVE",
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "requiresCompatibilities": ["FARGATE"],
        "containerDefinitions": [
            {"name": "sidecar", "image": "envoy:1", "essential": False},
            {
                "name": "app",
                "image": "app:1",
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/chatbot", "awslogs-stream-prefix": "web"},
                },
            },
        ],
    }


def test_a_bare_image_and_flat_environment_apply_to_the_essential_container():
    changes = parse_changes(definition(), "app:2", {"B": None, "C": 3})
    args = apply_changes(definition(), changes)
    sidecar, app = args["containerDefinitions"]
    assert sidecar["image"] == "envoy:1"
    assert app["image"] == "app:2"
    assert app["environment"] == [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
    assert "revision" not in args and "taskDefinitionArn" not in args and "status" not in args
    assert args["family"] == "chatbot" and args["cpu"] == "256"


def test_images_and_environment_per_container():
    changes = parse_changes(definition(), {"sidecar": "envoy:2"}, {"sidecar": {"X": "y"}})
    sidecar, app = apply_changes(definition(), changes)["containerDefinitions"]
    assert (sidecar["image"], sidecar["environment"]) == ("envoy:2", [{"name": "X", "value": "y"}])
    assert app["image"] == "app:1"


def test_an_unknown_container_is_named_with_the_known_ones():
    with pytest.raises(StepError) as caught:
        parse_changes(definition(), {"web": "x:1"}, None)
    assert str(caught.value) == (
        "task definition 'chatbot' has no container 'web' (containers: sidecar, app)"
    )


def test_log_target_is_the_essential_awslogs_container():
    target = log_target(definition())
    assert (target.group, target.stream_prefix, target.container) == ("/ecs/chatbot", "web", "app")
    assert target.stream("abc") == "web/app/abc"


def test_no_log_target_without_a_stream_prefix():
    d = definition()
    del d["containerDefinitions"][1]["logConfiguration"]["options"]["awslogs-stream-prefix"]
    assert log_target(d) is None


def test_stopped_task_text_without_logs():
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:1:task/chatbot/abc",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/chatbot:3",
        "stoppedReason": "Task failed ELB health checks",
        "containers": [
            {"name": "app", "exitCode": 137, "reason": "OutOfMemoryError: Container killed"},
            {"name": "sidecar"},
        ],
    }
    assert describe_stopped_tasks(None, [task], {}).splitlines() == [
        "task abc (chatbot:3) stopped: Task failed ELB health checks",
        "  container app: exit code 137 (OutOfMemoryError: Container killed)",
        "  container sidecar: no exit code",
    ]
