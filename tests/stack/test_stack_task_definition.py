"""The sample ECS task definition renders to what ECS and opskit's playbooks expect."""

from __future__ import annotations

import json
from typing import Any

import boto3
import jinja2
from stack_fakes import STACK_DIR


def render(**variables: Any) -> dict[str, Any]:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    template = environment.from_string((STACK_DIR / "task-definition.json.j2").read_text())
    return json.loads(template.render(**variables))


def test_defaults_are_the_sandbox_names() -> None:
    task = render()
    (container,) = task["containerDefinitions"]
    assert container["name"] == "chatbot"
    assert container["command"] == ["python", "/opt/chatbot/entrypoint.py"]
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "/ecs/chatbot",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "ecs",
        },
    }
    env = {item["name"]: item["value"] for item in container["environment"]}
    assert env["CODE_BUCKET"] == "chatbot-code" and env["CODE_PREFIX"] == "src/"
    assert env["STREAMLIT_SERVER_PORT"] == "8501"
    assert "/_stcore/script-health-check" in container["healthCheck"]["command"][1]


def test_production_values_and_registration_with_ecs(aws_endpoint) -> None:
    task = render(
        region="ap-northeast-1",
        bucket="prod-chatbot-code",
        log_group="/ecs/prod-chatbot",
        image="123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/chatbot-runner:1.4",
        inference_profile_prefix="apac",
        container_port=8080,
        cpu=1024,
    )
    (container,) = task["containerDefinitions"]
    env = {item["name"]: item["value"] for item in container["environment"]}
    assert env["CHATBOT_BEDROCK_REGION"] == "ap-northeast-1"
    assert env["CHATBOT_INFERENCE_PROFILE_PREFIX"] == "apac"
    assert container["portMappings"] == [{"containerPort": 8080, "protocol": "tcp"}]
    assert container["logConfiguration"]["options"]["awslogs-region"] == "ap-northeast-1"
    ecs = boto3.client("ecs", region_name="us-east-1", endpoint_url=aws_endpoint)
    registered = ecs.register_task_definition(**task)["taskDefinition"]
    assert registered["cpu"] == "1024"
    assert (
        registered["containerDefinitions"][0]["logConfiguration"]["options"]
        == (container["logConfiguration"]["options"])
    )


def test_a_playbooks_vars_fill_it_in_as_its_own_variables_do() -> None:
    """ecs.redeploy task_definition_file: renders it with the playbook's context, where
    the names are under ``vars``; a variable of its own still wins over vars."""
    production = {"image": "registry.example/chatbot:7", "bucket": "prod-code", "cpu": 1024}
    from_vars = render(vars={**production, "service": "unrelated"})
    assert from_vars == render(**production)
    assert from_vars != render()
    assert render(vars={"image": "a:1"}, image="b:2")["containerDefinitions"][0]["image"] == "b:2"
