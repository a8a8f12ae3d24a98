"""Every step type's contract, read from its one declaration: `opskit steps` and
`opskit schema` list exactly the outputs the step's dataclass declares."""

from __future__ import annotations

import dataclasses
import json

import pytest

from opskit import steps as registry
from opskit.cli import main

NAMES = registry.names()


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_the_catalog_has_every_bundled_step_type() -> None:
    assert NAMES == [
        "cloudwatch.alarms",
        "confirm",
        "ecs.deployment",
        "ecs.describe",
        "ecs.redeploy",
        "ecs.run_task",
        "http.probe",
        "logs.tail",
        "logs.wait",
        "note",
        "release.diagnose",
        "s3.releases",
        "s3.restore",
        "s3.sync",
        "s3.verify",
        "streamlit.session",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_steps_prints_each_declared_output_with_its_type(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    step_type = registry.get(name)
    assert step_type is not None
    fields = [f.name for f in dataclasses.fields(step_type.outputs)]
    printed = run_cli(capsys, "steps", name).split("  outputs:\n", 1)[1].splitlines()
    assert [line.split()[:2] for line in printed] == [
        [spec.name, spec.type] for spec in step_type.output_specs
    ]
    assert [spec.name for spec in step_type.output_specs] == fields


@pytest.mark.parametrize("name", NAMES)
def test_the_schema_publishes_the_same_outputs(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    step_type = registry.get(name)
    assert step_type is not None
    published = json.loads(run_cli(capsys, "schema"))["$defs"]["outputs"][name]
    assert list(published["properties"]) == [spec.name for spec in step_type.output_specs]
    assert published["required"] == list(published["properties"])


def test_ecs_redeploy_declares_the_rollback_it_reports(capsys: pytest.CaptureFixture[str]) -> None:
    printed = run_cli(capsys, "steps", "ecs.redeploy").splitlines()
    (line,) = [line for line in printed if line.split()[:1] == ["rollback_deployment_id"]]
    assert line.split()[1] == "string"
    (first,) = [line for line in printed if line.split()[:1] == ["deployment_id"]]
    assert line.index("string") == first.index("string")  # the outputs' type column
