"""ecs.run_task task_definition_file: the migration runs the revision about to be
deployed, and ``ecs.redeploy`` of the same file then registers nothing more."""

from __future__ import annotations

from typing import Any

import pytest

from opskit.inputs import InvalidInput
from opskit.steps import ecs_redeploy, ecs_run_task
from tests.clocks import ScriptedClock
from tests.ecs_driver import CLUSTER, FAMILY, SERVICE, OneOffDriver
from tests.ecs_driver import clock as scripted
from tests.steps.test_task_definition_file import (
    CPU_DIFF,
    YAML_UNKNOWN_KEY,
    as_registered,
    write,
)


def run_task(make_ctx: Any, action: Any, clock: Any, **inputs: Any) -> Any:
    ctx = make_ctx(clock=clock, timeout=600.0, uses="ecs.run_task")
    given = {"cluster": CLUSTER, "poll_interval": 5, **inputs}
    return action(ctx, ecs_run_task.STEP.coerce_inputs(given))


def redeploy(make_ctx: Any, stack: Any, **inputs: Any) -> Any:
    clock = ScriptedClock(script=[stack.start_tasks, lambda: (stack.drain_old(), stack.complete())])
    ctx = make_ctx(clock=clock, timeout=600.0)
    given = {"cluster": CLUSTER, "service": SERVICE, **inputs}
    return ecs_redeploy.STEP.run(ctx, ecs_redeploy.STEP.coerce_inputs(given))


def ran_definition(stack: Any, task_arn: str) -> str:
    ecs = stack.aws.client("ecs")
    return ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]["taskDefinitionArn"]


def test_run_task_then_redeploy_of_one_file_register_one_revision(stack, calls, make_ctx):
    name = write(make_ctx.base_dir, as_registered(cpu="512"))
    one_off = OneOffDriver(stack)

    migrated = run_task(
        make_ctx, ecs_run_task.STEP.run, scripted(one_off.running, lambda: one_off.exit(0)),
        service=SERVICE, task_definition_file=name,
    )  # fmt: skip
    deployed = redeploy(make_ctx, stack, task_definition_file=name)

    assert calls.names.count("RegisterTaskDefinition") == 1
    new = f"task-definition/{FAMILY}:2"
    assert migrated.outputs.task_definition.endswith(new)
    assert ran_definition(stack, migrated.outputs.task_arn).endswith(new)
    assert migrated.outputs.exit_code == 0
    assert deployed.outputs.task_definition.endswith(new)
    assert stack.primary()["taskDefinition"].endswith(new)
    assert deployed.outputs.diff.splitlines() == CPU_DIFF  # against the service's revision
    info = make_ctx.messages("info")
    headline = f"{name} differs from {FAMILY}:1: cpu changed"  # each step says it, then the diff
    assert info[0] == headline and info.count(headline) == 2
    assert info[1 : 1 + len(CPU_DIFF)] == CPU_DIFF
    assert f"registered {FAMILY}:2 from {name}" in info
    assert f"{FAMILY}:2 already holds {name} (registered earlier)" in info


def test_the_dry_run_shows_the_diff_against_the_service_and_runs_nothing(stack, calls, make_ctx):
    name = write(make_ctx.base_dir, as_registered(cpu="512"))

    result = run_task(
        make_ctx, ecs_run_task.STEP.plan, ScriptedClock(), service=SERVICE,
        task_definition_file=name,
    )  # fmt: skip

    assert calls.writes == []
    shown = make_ctx.messages("info")
    assert shown[0] == (
        f"would register a new revision of {FAMILY}: task_definition_file {name}: cpu changed"
    )
    assert shown[1 : 1 + len(CPU_DIFF)] == CPU_DIFF
    assert shown[1 + len(CPU_DIFF)] == f"would run task (the new revision of {FAMILY}) on {CLUSTER}"
    assert result.summary == shown[1 + len(CPU_DIFF)]
    assert result.outputs.task_definition == ""


def test_without_a_service_an_unchanged_file_runs_the_familys_newest_revision(
    stack, calls, make_ctx
):
    name = write(make_ctx.base_dir, as_registered())
    network = stack.aws.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])
    config = network["services"][0]["networkConfiguration"]

    result = run_task(
        make_ctx, ecs_run_task.STEP.plan, ScriptedClock(), task_definition_file=name,
        network_configuration=config,
    )  # fmt: skip

    assert calls.writes == []
    assert make_ctx.messages("info")[0] == f"unchanged: {FAMILY}:1 already holds {name}"
    assert result.outputs.task_definition.endswith(f"task-definition/{FAMILY}:1")


def test_task_definition_and_task_definition_file_are_exclusive() -> None:
    with pytest.raises(InvalidInput, match="give task_definition_file or task_definition"):
        ecs_run_task.STEP.coerce_inputs(
            {"cluster": CLUSTER, "task_definition": FAMILY, "task_definition_file": "t.json"}
        )


def two_step_playbook(tmp_path: Any, endpoint: str) -> Any:
    path = tmp_path / "release.yaml"
    path.write_text(
        f"""
name: release
vars: {{cluster: {CLUSTER}}}
targets:
  here: {{aws: {{region: us-east-1, endpoint_url: "{endpoint}"}}}}
steps:
  - id: migrate
    uses: ecs.run_task
    with: {{cluster: "{{{{ vars.cluster }}}}", service: {SERVICE}, command: [migrate]}}
  - id: deploy
    uses: ecs.redeploy
    with:
      cluster: "{{{{ vars.cluster }}}}"
      service: {SERVICE}
      task_definition_file: taskdef.yaml
"""
    )
    return path


def test_a_bad_file_of_a_later_step_fails_before_the_migration_runs(
    stack, aws_endpoint, tmp_path, cli
):
    (tmp_path / "taskdef.yaml").write_text(YAML_UNKNOWN_KEY)
    path = two_step_playbook(tmp_path, aws_endpoint)
    message = (
        "taskdef.yaml:6: containerDefinitions[0].memoryReservaton: unknown key "
        "'memoryReservaton' (did you mean 'memoryReservation'?)"
    )

    result = cli.run(path)

    assert result.returncode == 2
    assert message in result.stdout + result.stderr
    assert "started task" not in result.stdout
    ecs = stack.aws.client("ecs")
    assert ecs.list_tasks(cluster=CLUSTER, startedBy="opskit")["taskArns"] == []  # no RunTask

    checked = cli("validate", str(path))
    assert checked.returncode == 2
    assert message in checked.stdout + checked.stderr
