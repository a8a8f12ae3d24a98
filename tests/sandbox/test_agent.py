"""The agent plays Fargate truthfully: tested through the ECS, S3 and Logs APIs
against a sandbox running a small stand-in entrypoint (same contract as the
stack's, no Streamlit, so each test takes seconds)."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

from opskit.manifest import MANIFEST_NAME
from opskit.sandbox import Sandbox
from opskit.sandbox.server import seed_bucket
from tests.sandbox.sandbox_helpers import client, wait_for


def _service(ecs: Any) -> dict[str, Any]:
    return ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]


def _tasks(ecs: Any, **filters: str) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster="chatbot", **filters)["taskArns"]
    return ecs.describe_tasks(cluster="chatbot", tasks=arns)["tasks"] if arns else []


def _task_id(task: dict[str, Any]) -> str:
    return task["taskArn"].rsplit("/", 1)[-1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def _release(sandbox: Sandbox, source: Path, text: str) -> str:
    (source / "app.py").write_text(text)
    manifest = seed_bucket(client(sandbox.info(), "s3"), "chatbot-code", "src/", source)
    return manifest.digest


def _settled(ecs: Any) -> dict[str, Any] | None:
    service = _service(ecs)
    deployments = service["deployments"]
    if len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED":
        return service
    return None


def test_sandbox_creates_the_stacks_resources(standin_sandbox: Sandbox) -> None:
    info = standin_sandbox.info()
    keys = [o["Key"] for o in client(info, "s3").list_objects_v2(Bucket="chatbot-code")["Contents"]]
    assert keys == ["src/" + MANIFEST_NAME, "src/app.py"]
    ecs = client(info, "ecs")
    service = _service(ecs)
    assert (service["serviceName"], service["desiredCount"], service["launchType"]) == (
        "chatbot",
        1,
        "FARGATE",
    )
    assert service["deploymentController"] == {"type": "ECS"}
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True,
        "rollback": True,
    }
    definition = ecs.describe_task_definition(taskDefinition="chatbot")["taskDefinition"]
    container = definition["containerDefinitions"][0]
    assert container["name"] == "chatbot"
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "/ecs/chatbot",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "ecs",
        },
    }
    groups = client(info, "logs").describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/ecs/chatbot"]


def test_initial_task_runs_logs_to_its_own_stream_and_answers_behind_the_proxy(
    standin_sandbox: Sandbox,
) -> None:
    info = standin_sandbox.info()
    ecs = client(info, "ecs")
    deployment = _service(ecs)["deployments"][0]
    assert (deployment["status"], deployment["rolloutState"]) == ("PRIMARY", "COMPLETED")
    assert (deployment["runningCount"], deployment["pendingCount"]) == (1, 0)
    (task,) = _tasks(ecs)
    assert task["startedBy"] == deployment["id"]
    assert task["group"] == "service:chatbot"
    assert (task["lastStatus"], task["healthStatus"]) == ("RUNNING", "HEALTHY")
    stream = f"ecs/chatbot/{_task_id(task)}"
    logs = client(info, "logs")
    lines = wait_for(
        lambda: [
            e["message"]
            for e in logs.get_log_events(logGroupName="/ecs/chatbot", logStreamName=stream)[
                "events"
            ]
        ],
        f"lines in {stream}",
    )
    assert lines[0].startswith("code digest ") and lines[0].endswith(" verified")
    assert _get(info.app_url + "/_stcore/health") == (200, "ok")


def test_forced_deployment_replaces_the_task_and_the_proxy_follows(
    standin_sandbox: Sandbox, app_source: Path
) -> None:
    info = standin_sandbox.info()
    ecs = client(info, "ecs")
    (old,) = _tasks(ecs)
    digest = _release(standin_sandbox, app_source, 'print("release 2")\n')

    response = ecs.update_service(cluster="chatbot", service="chatbot", forceNewDeployment=True)

    new_deployment, previous = response["service"]["deployments"]
    assert (new_deployment["status"], new_deployment["rolloutState"]) == ("PRIMARY", "IN_PROGRESS")
    assert new_deployment["runningCount"] == 0
    assert (previous["id"], previous["status"]) == (old["startedBy"], "ACTIVE")
    service = wait_for(lambda: _settled(ecs), "the new deployment to complete and drain")
    (deployment,) = service["deployments"]
    assert deployment["id"] == new_deployment["id"]
    assert (deployment["runningCount"], deployment["failedTasks"]) == (1, 0)
    (new,) = _tasks(ecs, startedBy=new_deployment["id"])
    assert new["lastStatus"] == "RUNNING"
    old = wait_for(
        lambda: (
            [t for t in _tasks(ecs) if t["taskArn"] == old["taskArn"]][0]
            if _tasks(ecs, desiredStatus="STOPPED")
            else None
        ),
        "the old task's STOPPED record",
    )
    assert old["lastStatus"] == "STOPPED"
    assert old["stoppedReason"] == f"Scaling activity initiated by (deployment {deployment['id']})"
    assert old["stopCode"] == "ServiceSchedulerInitiated"
    assert _get(info.app_url + "/") == (200, f"digest {digest}")
    messages = [e["message"] for e in service["events"]]
    assert f"(service chatbot) (deployment {deployment['id']}) deployment completed." in messages


def test_without_a_forced_deployment_the_old_task_keeps_its_old_code(
    standin_sandbox: Sandbox, app_source: Path
) -> None:
    info = standin_sandbox.info()
    ecs = client(info, "ecs")
    (before,) = _tasks(ecs)
    _, served = _get(info.app_url + "/")
    _release(standin_sandbox, app_source, 'print("release 2")\n')

    response = ecs.update_service(cluster="chatbot", service="chatbot")  # the incident's call

    assert [d["id"] for d in response["service"]["deployments"]] == [before["startedBy"]]
    agent = standin_sandbox.agent
    assert agent is not None
    polls = agent.polls
    wait_for(lambda: agent.polls >= polls + 4, "four more agent polls")
    assert [(_task_id(t), t["lastStatus"]) for t in _tasks(ecs)] == [(_task_id(before), "RUNNING")]
    assert _get(info.app_url + "/") == (200, served)


def test_a_crashing_release_fails_the_deployment_and_the_old_task_keeps_serving(
    standin_sandbox: Sandbox, app_source: Path
) -> None:
    info = standin_sandbox.info()
    ecs = client(info, "ecs")
    (old,) = _tasks(ecs)
    _, served = _get(info.app_url + "/")
    _release(standin_sandbox, app_source, "def broken(:\n")

    deployment_id = ecs.update_service(
        cluster="chatbot", service="chatbot", forceNewDeployment=True
    )["service"]["deployments"][0]["id"]

    def failed() -> dict[str, Any] | None:
        found = [d for d in _service(ecs)["deployments"] if d["id"] == deployment_id]
        return found[0] if found and found[0]["rolloutState"] == "FAILED" else None

    record = wait_for(failed, "the deployment to fail")
    assert record["rolloutStateReason"] == (
        "ECS deployment circuit breaker: tasks failed to start."
    )
    assert record["failedTasks"] == 3
    crashed = _tasks(ecs, startedBy=deployment_id)
    assert len(crashed) == 3
    for task in crashed:
        assert task["lastStatus"] == "STOPPED"
        assert task["stoppedReason"] == "Essential container in task exited"
        assert task["containers"][0]["exitCode"] == 1
    service = _service(ecs)
    primary = [d for d in service["deployments"] if d["status"] == "PRIMARY"]
    assert [d["id"] for d in primary] == [old["startedBy"]]
    assert [t["lastStatus"] for t in _tasks(ecs, startedBy=old["startedBy"])] == ["RUNNING"]
    assert _get(info.app_url + "/") == (200, served)
    messages = [e["message"] for e in service["events"]]
    assert (
        f"(service chatbot) (deployment {deployment_id}) deployment failed: tasks failed to start."
        in messages
    )
    logs = client(info, "logs")
    last = logs.get_log_events(
        logGroupName="/ecs/chatbot", logStreamName=f"ecs/chatbot/{_task_id(crashed[0])}"
    )["events"]
    assert "Traceback (most recent call last):" in [e["message"] for e in last]


def test_a_task_stopped_through_the_api_is_replaced(standin_sandbox: Sandbox) -> None:
    info = standin_sandbox.info()
    ecs = client(info, "ecs")
    (old,) = _tasks(ecs)

    ecs.stop_task(cluster="chatbot", task=old["taskArn"], reason="stopped by an operator")

    replacement = wait_for(
        lambda: [t for t in _tasks(ecs, desiredStatus="RUNNING") if t["healthStatus"] == "HEALTHY"],
        "a healthy replacement task",
    )
    assert [t["startedBy"] for t in replacement] == [old["startedBy"]]
    stopped = wait_for(
        lambda: [t for t in _tasks(ecs) if t["taskArn"] == old["taskArn"] and t.get("stoppedAt")],
        "the stopped task's final record",
    )
    assert stopped[0]["stoppedReason"] == "stopped by an operator"
    assert _get(info.app_url + "/_stcore/health") == (200, "ok")
