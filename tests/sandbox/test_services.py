"""``Sandbox(services=N)`` (``opskit sandbox up --services N``): each service has
its own code prefix, task definition, tasks, log group and app URL, in one moto
server, bucket and cluster; runs in one process share the sandbox. Against the
stand-in entrypoint (same contract as the stack's, no Streamlit)."""

from __future__ import annotations

import functools
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import opskit.sandbox as sandbox_mod
from opskit.manifest import MANIFEST_NAME
from opskit.sandbox import Sandbox, SandboxError, sandbox_for_run
from opskit.sandbox.ports import free_port
from tests.sandbox.conftest import STANDIN
from tests.sandbox.sandbox_helpers import client, wait_for

SERVICES = ["chatbot", "chatbot-2", "chatbot-3"]


@pytest.fixture
def three(app_source: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(app_port=0, app_source=app_source, entrypoint=STANDIN, services=3)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def _running_task_ids(ecs: Any, service: str) -> list[str]:
    arns = ecs.list_tasks(cluster="chatbot", family=service, desiredStatus="RUNNING")["taskArns"]
    return sorted(arn.rsplit("/", 1)[-1] for arn in arns)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def test_each_service_has_its_own_prefix_tasks_logs_and_url(three: Sandbox) -> None:
    info = three.info()
    services = info.service_list()
    assert [s["service"] for s in services] == SERVICES
    assert [(s["log_group"], s["code_prefix"]) for s in services] == [
        ("/ecs/chatbot", "src/"),
        ("/ecs/chatbot-2", "chatbot-2/src/"),
        ("/ecs/chatbot-3", "chatbot-3/src/"),
    ]
    assert services[0]["app_url"] == info.app_url  # the first keeps the one-service names
    assert len({s["app_url"] for s in services}) == 3

    keys = [o["Key"] for o in client(info, "s3").list_objects_v2(Bucket="chatbot-code")["Contents"]]
    for prefix in ("src/", "chatbot-2/src/", "chatbot-3/src/"):
        assert {prefix + MANIFEST_NAME, prefix + "app.py"} <= set(keys)

    ecs, logs = client(info, "ecs"), client(info, "logs")
    described = ecs.describe_services(cluster="chatbot", services=SERVICES)["services"]
    assert [s["taskDefinition"].rsplit("/", 1)[-1] for s in described] == [
        "chatbot:1",
        "chatbot-2:1",
        "chatbot-3:1",
    ]
    task_ids = {s: _running_task_ids(ecs, s) for s in SERVICES}
    assert all(len(ids) == 1 for ids in task_ids.values())
    assert len({ids[0] for ids in task_ids.values()}) == 3
    for service in services:
        (task_id,) = task_ids[service["service"]]
        group = service["log_group"]
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        assert [s["logStreamName"] for s in streams] == [f"ecs/chatbot/{task_id}"]
        assert _get(service["app_url"] + "/").startswith("digest ")


def test_a_deployment_of_one_service_leaves_the_others_alone(three: Sandbox) -> None:
    info = three.info()
    ecs = client(info, "ecs")
    before = {s: _running_task_ids(ecs, s) for s in SERVICES}
    ecs.update_service(cluster="chatbot", service="chatbot-2", forceNewDeployment=True)

    def replaced() -> list[str] | None:
        ids = _running_task_ids(ecs, "chatbot-2")
        return ids if len(ids) == 1 and ids != before["chatbot-2"] else None

    wait_for(replaced, "chatbot-2's new task to replace its old one")
    after = {s: _running_task_ids(ecs, s) for s in SERVICES}
    assert after["chatbot"] == before["chatbot"]
    assert after["chatbot-3"] == before["chatbot-3"]
    deployments = {
        s["serviceName"]: len(s["deployments"])
        for s in ecs.describe_services(cluster="chatbot", services=SERVICES)["services"]
    }
    assert deployments["chatbot"] == deployments["chatbot-3"] == 1


def test_templates_read_each_service_by_name(three: Sandbox) -> None:
    context = three.info().template_context()
    assert context["app_url"] == context["services"]["chatbot"]["app_url"]
    assert context["service"] == "chatbot"
    assert list(context["services"]) == SERVICES
    assert context["services"]["chatbot-3"] == {
        "bucket": "chatbot-code",
        "cluster": "chatbot",
        "service": "chatbot-3",
        "container": "chatbot",
        "log_group": "/ecs/chatbot-3",
        "stream_prefix": "ecs",
        "code_prefix": "chatbot-3/src/",
        "app_url": three.services[2].app_url,
    }


def test_runs_in_one_process_share_the_sandbox_it_started(
    app_source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fleet's targets: the first run starts it, the others reuse it, the last stops it."""
    monkeypatch.setattr(
        sandbox_mod,
        "Sandbox",
        functools.partial(Sandbox, app_source=app_source, entrypoint=STANDIN),
    )
    said: list[str] = []
    with sandbox_for_run(said.append, app_port=0, services=2) as (first, started_first):
        with sandbox_for_run(said.append, services=1) as (second, started_second):
            assert second is first
        needs_three = sandbox_for_run(said.append, services=3)
        with pytest.raises(SandboxError, match=r"has 2 services; this run needs 3"), needs_three:
            pass
        assert client(first, "ecs").list_services(cluster="chatbot")["serviceArns"]
    assert (started_first, started_second) == (True, False)
    assert said[0] == "starting a sandbox for this run (2 services, app URLs on free ports) ..."
    assert said[-1] == "stopped the sandbox"
    assert said.count("stopped the sandbox") == 1


def test_zero_services_is_refused(app_source: Path) -> None:
    with pytest.raises(SandboxError, match="at least one service, not 0"):
        Sandbox(app_port=free_port(), app_source=app_source, entrypoint=STANDIN, services=0)
