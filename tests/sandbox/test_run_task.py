"""The sandbox's agent runs RunTask's tasks as Fargate does: checked through the
ECS and Logs APIs against one stand-in sandbox shared by the module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opskit.sandbox import Sandbox
from opskit.sandbox.ports import free_port
from tests.sandbox.sandbox_helpers import client, wait_for

STANDIN = Path(__file__).with_name("standin_entrypoint.py")


@pytest.fixture(scope="module")
def one_off_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    source = tmp_path_factory.mktemp("app")
    (source / "app.py").write_text('print("release 1")\n')
    sandbox = Sandbox(app_port=free_port(), app_source=source, entrypoint=STANDIN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def _run(sandbox: Sandbox, command: list[str], **args: Any) -> tuple[Any, str]:
    ecs = client(sandbox.info(), "ecs")
    service = ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]
    response = ecs.run_task(
        cluster="chatbot",
        taskDefinition=args.pop("taskDefinition", service["taskDefinition"]),
        launchType="FARGATE",
        networkConfiguration=service["networkConfiguration"],
        overrides={"containerOverrides": [{"name": "chatbot", "command": command}]},
        **args,
    )
    (task,) = response["tasks"]
    assert task["lastStatus"] == "PROVISIONING"
    return ecs, task["taskArn"]


def _stopped(ecs: Any, arn: str) -> dict[str, Any]:
    def read() -> dict[str, Any] | None:
        (task,) = ecs.describe_tasks(cluster="chatbot", tasks=[arn])["tasks"]
        return task if task["lastStatus"] == "STOPPED" else None

    return wait_for(read, f"task {arn} to stop", timeout=30)


def _lines(sandbox: Sandbox, arn: str) -> list[str]:
    logs = client(sandbox.info(), "logs")
    stream = f"ecs/chatbot/{arn.rsplit('/', 1)[-1]}"
    try:
        events = logs.get_log_events(logGroupName="/ecs/chatbot", logStreamName=stream)["events"]
    except logs.exceptions.ResourceNotFoundException:  # the stream is not there yet
        return []
    return [e["message"] for e in events]


def test_exit_0_and_exit_3_with_their_lines(one_off_sandbox: Sandbox) -> None:
    ok_ecs, ok = _run(one_off_sandbox, ["python", "-c", "print('migrations applied')"])
    _, bad = _run(one_off_sandbox, ["python", "-c", "import sys; print('boom'); sys.exit(3)"])
    passed, failed = _stopped(ok_ecs, ok), _stopped(ok_ecs, bad)
    assert (passed["containers"][0]["exitCode"], passed["stopCode"]) == (
        0,
        "EssentialContainerExited",
    )
    assert passed["stoppedReason"] == "Essential container in task exited"
    assert passed["startedAt"] and passed["stoppedAt"]
    assert failed["containers"][0]["exitCode"] == 3
    assert _lines(one_off_sandbox, ok) == ["migrations applied"]
    assert _lines(one_off_sandbox, bad) == ["boom"]


def test_an_image_it_cannot_pull_stops_before_running(one_off_sandbox: Sandbox) -> None:
    ecs = client(one_off_sandbox.info(), "ecs")
    current = ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=current["taskDefinition"])
    args = {k: v for k, v in definition["taskDefinition"].items() if k in (
        "family", "networkMode", "containerDefinitions", "requiresCompatibilities", "cpu",
        "memory", "executionRoleArn", "taskRoleArn")}  # fmt: skip
    args["containerDefinitions"][0]["image"] = "example.com/nope:1"
    arn = ecs.register_task_definition(**args)["taskDefinition"]["taskDefinitionArn"]
    _, task_arn = _run(one_off_sandbox, ["python", "-c", "print(1)"], taskDefinition=arn)
    task = _stopped(ecs, task_arn)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith(
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        "failed to resolve ref example.com/nope:1"
    )
    assert task["containers"][0].get("exitCode") is None and not task.get("startedAt")


def test_stop_task_stops_it_user_initiated(one_off_sandbox: Sandbox) -> None:
    ecs, arn = _run(
        one_off_sandbox,
        ["python", "-c", "import time; print('waiting', flush=True); time.sleep(60)"],
    )
    wait_for(lambda: _lines(one_off_sandbox, arn), "its first line", timeout=20)
    ecs.stop_task(cluster="chatbot", task=arn, reason="opskit ecs.run_task: interrupted")
    task = _stopped(ecs, arn)
    assert (task["stopCode"], task["stoppedReason"]) == (
        "UserInitiated",
        "opskit ecs.run_task: interrupted",
    )
    assert task["containers"][0]["exitCode"] == 128 + 15  # SIGTERM
    assert sys.executable


def test_under_the_placement_fault_run_task_answers_a_failure(one_off_sandbox: Sandbox) -> None:
    from opskit.sandbox.aws_faults import make_aws_fault

    ecs = client(one_off_sandbox.info(), "ecs")
    service = ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]
    one_off_sandbox.aws_faults.set(make_aws_fault("ecs", "placement"))
    try:

        def answer() -> dict[str, Any] | None:
            response = ecs.run_task(
                cluster="chatbot", taskDefinition=service["taskDefinition"],
                launchType="FARGATE", networkConfiguration=service["networkConfiguration"],
            )  # fmt: skip
            for started in response["tasks"]:  # before the agent saw the fault
                ecs.stop_task(cluster="chatbot", task=started["taskArn"], reason="test")
            return response if response["failures"] else None

        response = wait_for(answer, "RunTask's failure", timeout=10)
    finally:
        one_off_sandbox.aws_faults.clear()
    assert response["tasks"] == []
    assert response["failures"][0]["reason"].startswith("Capacity is unavailable at this time.")
