"""Task definition files without AWS: normalization against ECS's describe output,
the rendered-line rule of templates, the model check's messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opskit.ecs.taskfile import TaskFile, load_task_file, plan_file
from opskit.errors import InputError

ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:4"
FILE = {
    "family": "web",
    "networkMode": "awsvpc",
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [
        {
            "name": "web",
            "image": "web:1",
            "portMappings": [{"containerPort": 8080}],
            "healthCheck": {"command": ["CMD", "true"]},
            "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
        }
    ],
}


def described(**container: Any) -> dict[str, Any]:
    """FILE as real ECS describes it: read-only fields and its defaults filled in."""
    return {
        "taskDefinitionArn": ARN,
        "revision": 4,
        "status": "ACTIVE",
        "family": "web",
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "volumes": [],
        "placementConstraints": [],
        "compatibilities": ["EC2", "FARGATE"],
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
        "registeredAt": "2026-12-01T10:00:00Z",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "web:1",
                "cpu": 0,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "healthCheck": {"command": ["CMD", "true"], "interval": 30, "timeout": 5,
                                "retries": 3},
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "mountPoints": [],
                "volumesFrom": [],
                "systemControls": [],
                **container,
            }
        ],
    }  # fmt: skip


def test_ecs_defaults_and_read_only_fields_are_no_difference():
    planned = plan_file(TaskFile("web.json", FILE), described())
    assert planned.diff == ()
    assert planned.lines() == ["unchanged: web:4 already holds web.json"]


def test_a_host_port_other_than_the_container_port_is_a_difference():
    current = described(portMappings=[{"containerPort": 8080, "hostPort": 80}])
    planned = plan_file(TaskFile("web.json", FILE), current)
    assert planned.changed == ("containerDefinitions[0].portMappings[0].hostPort missing",)
    assert '-          "hostPort": 80' in planned.diff


def test_a_changed_environment_value_is_shown_masked():
    current = described(environment=[{"name": "A", "value": "old"}, {"name": "B", "value": "2"}])
    planned = plan_file(TaskFile("web.json", FILE), current)
    assert planned.changed == ("containerDefinitions[0].environment[0].value changed",)
    assert '+          "value": "*** (changed)"' in planned.diff
    assert not any("old" in line for line in planned.diff)


def load(tmp_path: Path, name: str, text: str, **variables: Any) -> TaskFile:
    from opskit import templating

    def render(template: str, source: str) -> str:
        return templating.render_text(template, {"vars": variables})

    (tmp_path / name).write_text(text)
    return load_task_file(tmp_path / name, name, render)


def test_an_error_after_rendering_that_changed_the_lines_names_the_templates_line(tmp_path):
    text = '{%- set c = vars.cpu -%}\n{\n  "family": "web",\n  "cpu": {{ c }},\n  "x": 1\n}\n'
    with pytest.raises(InputError) as caught:
        load(tmp_path, "web.json.j2", text, cpu='"256"')
    # "{%- -%}" ate a newline: rendered line 4 is the template's line 5, the one holding it
    assert str(caught.value) == "web.json.j2:5: x: unknown key 'x'"


def test_a_missing_required_key_and_an_enum_value_are_named(tmp_path):
    with pytest.raises(InputError) as caught:
        load(tmp_path, "a.yaml", "family: web\n")
    assert str(caught.value) == "a.yaml:1: missing required key 'containerDefinitions'"
    with pytest.raises(InputError) as caught:
        load(tmp_path, "b.yaml", "family: web\nnetworkMode: vpc\ncontainerDefinitions: []\n")
    assert (
        str(caught.value) == "b.yaml:2: networkMode: 'vpc' is not one of bridge, host, awsvpc, none"
    )
