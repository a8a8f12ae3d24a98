"""ecs.redeploy task_definition_file: on moto, the rollout played by ``ecs_driver``.

The file is the revision to deploy: compared with the service's current one
(normalized, so an unchanged file registers nothing), registered only when it
differs, read back before the service is updated.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from opskit import templating
from opskit.ecs.taskfile import load_task_file
from opskit.errors import InputError, StepFailed
from opskit.sandbox.server import TASK_DEFINITION_TEMPLATE, task_definition
from opskit.steps.ecs_redeploy import STEP
from tests.clocks import ScriptedClock
from tests.ecs_driver import CLUSTER, FAMILY, SERVICE, container_definition

SECRET_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/chatbot/db-password"


def as_registered(**task: Any) -> dict[str, Any]:
    """The stack's revision (``ecs_driver.register``) as a file would hold it."""
    definition = {
        "family": FAMILY,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [container_definition()],
    }
    return {**definition, **task}


def write(tmp_path: Path, definition: dict[str, Any], name: str = "taskdef.json") -> str:
    (tmp_path / name).write_text(json.dumps(definition, indent=2) + "\n")
    return name


def render_with(**variables: Any) -> Any:
    """``StepContext.render`` as the runner fills it, with ``vars``."""

    def render(text: str, source: str) -> str:
        try:
            return templating.render_text(text, {"vars": variables})
        except templating.TemplateProblem as err:
            raise InputError(str(err), source=source, line=err.line) from None

    return render


def step(make_ctx: Any, action: Any, clock: Any, render: Any = None, **inputs: Any) -> Any:
    ctx = make_ctx(clock=clock, timeout=600.0)
    if render is not None:
        ctx = dataclasses.replace(ctx, render=render)
    return action(ctx, STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE, **inputs}))


def rollout(stack: Any) -> ScriptedClock:
    return ScriptedClock(script=[stack.start_tasks, lambda: (stack.drain_old(), stack.complete())])


def test_an_unchanged_file_registers_nothing_and_deploys_the_current_revision(
    stack, calls, make_ctx
):
    # Pasted describe-task-definition output: read-only fields and ECS's defaults.
    pasted = as_registered(revision=1, status="ACTIVE", compatibilities=["EC2", "FARGATE"])
    pasted["containerDefinitions"][0].update(cpu=0, mountPoints=[], volumesFrom=[])
    name = write(make_ctx.base_dir, pasted)

    result = step(make_ctx, STEP.run, rollout(stack), task_definition_file=name)

    assert calls.names.count("RegisterTaskDefinition") == 0
    assert calls.writes == ["UpdateService"]
    assert result.summary.startswith(f"deployment {stack.primary()['id']} COMPLETED ({FAMILY}:1)")
    assert result.outputs.diff == ""
    assert f"unchanged: {FAMILY}:1 already holds {name}" in make_ctx.messages("info")


CPU_DIFF = [
    f"--- {FAMILY}:1",
    "+++ taskdef.json",
    "@@ -21,5 +21,5 @@",
    "     }",
    "   ],",
    '-  "cpu": "256",',
    '+  "cpu": "512",',
    '   "family": "chatbot",',
    '   "memory": "512",',
]


def test_a_changed_cpu_shows_the_diff_in_the_dry_run_and_writes_nothing(stack, calls, make_ctx):
    name = write(make_ctx.base_dir, as_registered(cpu="512"))

    result = step(make_ctx, STEP.plan, ScriptedClock(), task_definition_file=name)

    assert calls.writes == []
    assert make_ctx.messages("info") == [
        f"would register a new revision of {FAMILY} from {FAMILY}:1: "
        f"task_definition_file {name}: cpu changed",
        *CPU_DIFF,
        f"would update ECS service {SERVICE!r}: force a new deployment of the new revision "
        f"of {FAMILY}",
        f"would replace 1 running task: {stack.tasks()[0].id}",
    ]
    assert result.outputs.diff.splitlines() == CPU_DIFF
    assert result.outputs.task_definition == ""
    assert "\n".join(CPU_DIFF) in result.detail


def test_a_changed_cpu_registers_one_revision_and_deploys_it(stack, calls, make_ctx):
    name = write(make_ctx.base_dir, as_registered(cpu="512"))

    result = step(make_ctx, STEP.run, rollout(stack), task_definition_file=name)

    assert calls.writes == ["RegisterTaskDefinition", "UpdateService"]
    assert result.outputs.task_definition.endswith(f"task-definition/{FAMILY}:2")
    assert stack.primary()["taskDefinition"] == result.outputs.task_definition
    assert result.outputs.diff.splitlines() == CPU_DIFF
    assert CPU_DIFF[-3] not in result.detail  # report.md shows the diff output once
    registered = stack.aws.client("ecs").describe_task_definition(taskDefinition=f"{FAMILY}:2")
    assert registered["taskDefinition"]["cpu"] == "512"


def with_secret() -> dict[str, Any]:
    definition = as_registered()
    definition["containerDefinitions"][0]["secrets"] = [
        {"name": "DB_PASSWORD", "valueFrom": SECRET_ARN}
    ]
    return definition


def test_secrets_survive_the_round_trip_and_the_diff_shows_no_env_value(stack, calls, make_ctx):
    definition = with_secret()
    definition["containerDefinitions"][0]["environment"] = [
        {"name": "APP_ENV", "value": "s3cr3t-staging"}
    ]
    name = write(make_ctx.base_dir, definition)

    result = step(make_ctx, STEP.run, rollout(stack), task_definition_file=name)

    assert calls.writes == ["RegisterTaskDefinition", "UpdateService"]
    back = stack.aws.client("ecs").describe_task_definition(taskDefinition=f"{FAMILY}:2")
    container = back["taskDefinition"]["containerDefinitions"][0]
    assert container["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": SECRET_ARN}]
    diff = result.outputs.diff
    assert '-          "value": "***"' in diff.splitlines()
    assert '+          "value": "*** (changed)"' in diff.splitlines()
    assert f'+          "valueFrom": "{SECRET_ARN}"' in diff.splitlines()
    assert "sandbox" not in diff and "s3cr3t" not in diff


def test_a_register_call_that_drops_secrets_fails_before_the_service_is_updated(
    stack, calls, make_ctx
):
    """A peer's render action silently lost ``secrets``: the readback catches it."""
    ecs = stack.aws.client("ecs")

    def drop_secrets(params: dict[str, Any], **_: Any) -> None:
        for container in params.get("containerDefinitions", []):
            container.pop("secrets", None)

    ecs.meta.events.register("before-parameter-build.ecs.RegisterTaskDefinition", drop_secrets)
    try:
        name = write(make_ctx.base_dir, with_secret())
        with pytest.raises(StepFailed) as caught:
            step(make_ctx, STEP.run, rollout(stack), task_definition_file=name)
    finally:
        ecs.meta.events.unregister(
            "before-parameter-build.ecs.RegisterTaskDefinition", drop_secrets
        )

    assert caught.value.summary == (
        f"registered {FAMILY}:2 does not hold what {name} asked: "
        "containerDefinitions[0].secrets missing; the service was not updated"
    )
    assert calls.writes == ["RegisterTaskDefinition"]


def test_the_bundled_template_rendered_with_the_sandbox_names_is_unchanged(stack, calls, make_ctx):
    """What the sandbox registers from opskit/stack/task-definition.json.j2, against
    the same template rendered by the step: ECS's defaults are not a change."""
    registered = task_definition()
    ecs = stack.aws.client("ecs")
    arn = ecs.register_task_definition(**registered)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=arn)
    (make_ctx.base_dir / "chatbot.json.j2").write_text(TASK_DEFINITION_TEMPLATE.read_text())
    image = registered["containerDefinitions"][0]["image"]

    def render(text: str, source: str) -> str:
        names = {"vars": {}, "family": registered["family"], "image": image}
        return templating.render_text(text, {**names, **_sandbox_names()})

    result = step(
        make_ctx, STEP.plan, ScriptedClock(), render, task_definition_file="chatbot.json.j2"
    )

    assert result.outputs.diff == ""
    assert make_ctx.messages("info")[0] == (
        f"unchanged: {registered['family']}:2 already holds chatbot.json.j2"
    )
    assert calls.names.count("RegisterTaskDefinition") == 1  # the test's own


def _sandbox_names() -> dict[str, Any]:
    from opskit.sandbox.server import REGION, service_names

    names = service_names(1)
    return {
        "region": REGION,
        "bucket": names["bucket"],
        "code_prefix": names["code_prefix"],
        "log_group": names["log_group"],
        "stream_prefix": names["stream_prefix"],
        "model_provider": "bedrock",
    }


def test_a_jinja_template_renders_with_the_playbook_vars(stack, calls, make_ctx):
    text = json.dumps(as_registered(cpu="CPU"), indent=2).replace(
        '"CPU"', "{{ vars.cpu | tojson }}"
    )
    (make_ctx.base_dir / "taskdef.json.j2").write_text(text)

    result = step(
        make_ctx, STEP.plan, ScriptedClock(), render_with(cpu="512"),
        task_definition_file="taskdef.json.j2",
    )  # fmt: skip

    assert '+  "cpu": "512",' in result.outputs.diff.splitlines()


def test_image_with_task_definition_file_is_refused_naming_both(aws_endpoint, tmp_path, cli):
    path = playbook(tmp_path, aws_endpoint, "taskdef.json")
    path.write_text(path.read_text().replace("taskdef.json}", "taskdef.json, image: app:2}"))

    result = cli.run(path, "--dry-run")

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"opskit: error: {path}:9: steps[0].with.image: give task_definition_file or image, "
        "not both"
    )


def playbook(tmp_path: Path, endpoint: str, file: str, vars_: str = "{}") -> Path:
    path = tmp_path / "deploy.yaml"
    path.write_text(
        f"""
name: deploy
vars: {vars_}
targets:
  here: {{aws: {{region: us-east-1, endpoint_url: "{endpoint}"}}}}
steps:
  - id: deploy
    uses: ecs.redeploy
    with: {{cluster: {CLUSTER}, service: {SERVICE}, task_definition_file: {file}}}
"""
    )
    return path


YAML_UNKNOWN_KEY = """\
family: chatbot
networkMode: awsvpc
containerDefinitions:
  - name: app
    image: app:1
    memoryReservaton: 256
"""
JSON_BAD_TYPE = """\
{
  "family": "chatbot",
  "containerDefinitions": [
    {"name": "app", "image": "app:1",
     "cpu": "256"}
  ]
}
"""


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "taskdef.yaml",
            YAML_UNKNOWN_KEY,
            "taskdef.yaml:6: containerDefinitions[0].memoryReservaton: unknown key "
            "'memoryReservaton' (did you mean 'memoryReservation'?)",
        ),
        (
            "taskdef.json",
            JSON_BAD_TYPE,
            "taskdef.json:5: containerDefinitions[0].cpu: expected an integer, got a string",
        ),
    ],
)
def test_an_unknown_key_or_a_bad_type_fails_with_file_line_and_exit_2(
    aws_endpoint, tmp_path, cli, name, text, message
):
    (tmp_path / name).write_text(text)

    for dry_run in ((), ("--dry-run",)):
        result = cli.run(playbook(tmp_path, aws_endpoint, name), *dry_run)

        assert result.returncode == 2
        assert message in result.stdout + result.stderr
        assert "PASSED" not in result.stdout


def test_a_bad_file_fails_before_any_aws_call(calls, make_ctx):
    (make_ctx.base_dir / "taskdef.json").write_text(JSON_BAD_TYPE)

    with pytest.raises(InputError) as caught:
        step(make_ctx, STEP.plan, ScriptedClock(), task_definition_file="taskdef.json")

    assert str(caught.value).startswith("taskdef.json:5: containerDefinitions[0].cpu:")
    assert calls.names == []


def test_an_undefined_var_in_the_template_fails_with_its_line(stack, aws_endpoint, tmp_path, cli):
    (tmp_path / "taskdef.json.j2").write_text(
        '{\n  "family": "chatbot",\n  "cpu": {{ vars.cpu }}\n}\n'
    )

    result = cli.run(playbook(tmp_path, aws_endpoint, "taskdef.json.j2"), "--dry-run")

    assert result.returncode == 2
    assert "taskdef.json.j2:3: undefined: 'dict object' has no attribute 'cpu'" in (
        result.stdout + result.stderr
    )


def test_an_error_in_the_bundled_template_names_the_templates_line(tmp_path):
    """Its ``{%- set -%}`` header eats lines, so rendered and template lines differ:
    the line named is the template's, found by the rendered line's text or key."""
    lines = TASK_DEFINITION_TEMPLATE.read_text().splitlines()
    at = lines.index('      "name": "chatbot",') + 1
    lines.insert(at, '      "memoryReservaton": 256,')
    (tmp_path / "chatbot.json.j2").write_text("\n".join(lines) + "\n")

    with pytest.raises(InputError) as caught:
        load_task_file(tmp_path / "chatbot.json.j2", "chatbot.json.j2", render_with())

    assert str(caught.value) == (
        f"chatbot.json.j2:{at + 1}: containerDefinitions[0].memoryReservaton: unknown key "
        "'memoryReservaton' (did you mean 'memoryReservation'?)"
    )


def test_a_rendered_line_the_template_does_not_hold_once_keeps_the_rendered_wording(tmp_path):
    template = (
        '{%- set n = 2 -%}\n{\n  "family": "chatbot",\n  "cpu": {{ n }},\n'
        '  "containerDefinitions": [{"name": "a", "image": "a:1", "cpu": 1}]\n}\n'
    )
    (tmp_path / "t.json.j2").write_text(template)

    with pytest.raises(InputError) as caught:
        load_task_file(tmp_path / "t.json.j2", "t.json.j2", render_with())

    assert str(caught.value) == (
        't.json.j2:3: cpu: expected a string, got an integer (2) (quote it: "2") (line 3 of '
        "the rendered text, whose lines differ from the template's: '\"cpu\": 2,')"
    )
