"""The sandbox runs what users deploy: the stack's task definition template,
rendered with the sandbox's names, and a task environment built from it.

Pure functions, no servers; the agent's tests check the registered record."""

from __future__ import annotations

import pytest

from opskit.sandbox import SandboxError
from opskit.sandbox import server as sandbox_server
from opskit.sandbox.core import task_environment
from opskit.sandbox.server import NAMES, task_definition


def _environment(definition: dict) -> dict[str, str]:
    (container,) = definition["containerDefinitions"]
    return {e["name"]: e["value"] for e in container["environment"]}


def test_the_sandbox_registers_the_template_with_its_own_names() -> None:
    definition = task_definition()

    (container,) = definition["containerDefinitions"]
    assert definition["family"] == NAMES["service"]
    assert container["name"] == NAMES["container"]
    assert container["command"] == ["python", "/opt/chatbot/entrypoint.py"]  # as users deploy
    assert "/_stcore/script-health-check" in container["healthCheck"]["command"][1]
    assert container["logConfiguration"]["options"] == {
        "awslogs-group": NAMES["log_group"],
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": NAMES["stream_prefix"],
    }
    env = _environment(definition)
    assert (env["CODE_BUCKET"], env["CODE_PREFIX"]) == (NAMES["bucket"], "src/")
    # The app's production path: the sandbox serves Bedrock Runtime itself (issue 15).
    assert env["CHATBOT_MODEL_PROVIDER"] == "bedrock"


def test_a_template_whose_container_is_renamed_is_one_clear_error(tmp_path, monkeypatch) -> None:
    template = tmp_path / "task-definition.json.j2"
    text = sandbox_server.TASK_DEFINITION_TEMPLATE.read_text()
    template.write_text(text.replace('"name": "chatbot"', '"name": "web"'))
    monkeypatch.setattr(sandbox_server, "TASK_DEFINITION_TEMPLATE", template)

    with pytest.raises(SandboxError) as caught:
        task_definition()

    assert str(caught.value) == (
        f"{template}: the sandbox runs one container named 'chatbot', the template has ['web']"
    )


def test_a_task_gets_the_definitions_environment_with_the_platforms_port_and_address() -> None:
    container = {**_environment(task_definition()), "FEATURE": "on"}

    env = task_environment(
        container,
        port=40123,
        endpoint_url="http://127.0.0.1:5000",
        bedrock_endpoint_url="http://127.0.0.1:5001",
    )

    assert env["FEATURE"] == "on"  # what a redeploy sets reaches the task
    assert env["CODE_BUCKET"] == NAMES["bucket"]
    assert env["CHATBOT_MODEL_PROVIDER"] == "bedrock"
    # The template says 0.0.0.0:8501 and a pip install at start; locally every
    # task has its own loopback port and this interpreter's packages.
    assert (env["STREAMLIT_SERVER_ADDRESS"], env["STREAMLIT_SERVER_PORT"]) == (
        "127.0.0.1",
        "40123",
    )
    assert env["CHATBOT_INSTALL_REQUIREMENTS"] == "0"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    # botocore's service-specific variable: bedrock-runtime alone to the sandbox's endpoint.
    assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == "http://127.0.0.1:5001"
