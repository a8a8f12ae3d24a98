"""``cloudwatch.alarms`` as a user runs it: ``opskit run`` on moto's CloudWatch
(the terminal, report.md), ``--dry-run``, and the inputs refused before anything
runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cloudwatch.alarms_helpers import Throttle, create_alarm

HOSTILE = "```\n::error::pwned\n\x1b[31mred\x1b[0m | ##vso[task.complete]x"


def playbook(tmp_path: Path, endpoint: str, with_: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: Bake\n"
        f"targets:\n  prod: {{aws: {{region: us-east-1, endpoint_url: '{endpoint}'}}}}\n"
        "steps:\n"
        f"  - id: bake\n    uses: cloudwatch.alarms\n    with: {with_}\n"
    )
    return path


def test_a_hostile_state_reason_stays_inert_in_the_terminal_and_the_report(
    aws: Any, aws_endpoint: str, tmp_path: Path, cli: Any
) -> None:
    create_alarm(aws, "api-5xx", "ALARM", HOSTILE)
    path = playbook(tmp_path, aws_endpoint, "{alarms: [api-5xx], window: 1m}")

    result = cli.run(path, "--report", str(tmp_path / "r"))

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert not any(line.lstrip().startswith("::") for line in lines)
    assert "\x1b[31m" not in result.stdout and "##vso[" not in result.stdout
    assert any("alarm 'api-5xx' is in ALARM:" in line for line in lines)
    report = (tmp_path / "r" / "report.md").read_text()
    assert "\x1b" not in report
    # In the summary escaped; in the detail, fenced longer than the ``` it holds.
    assert "ALARM: \\`\\`\\` ::\u2060error::pwned \\x1b\\[31mred" in report
    assert (
        "````\napi-5xx (MetricAlarm): ALARM: ```\n::error::pwned\n"
        "\\x1b[31mred\\x1b[0m | ##vso[task.complete]x\n````\n"
    ) in report
    events = json.loads((tmp_path / "r" / "report.json").read_text())["events"]
    assert ("failure", "alarm api-5xx fired") in [(e["what"], e["label"]) for e in events]


def test_dry_run_names_the_alarms_the_window_and_reads_none(
    aws: Any, aws_endpoint: str, tmp_path: Path, cli: Any
) -> None:
    create_alarm(aws, "api-5xx", "ALARM", "firing")  # a dry run does not read it
    throttle = Throttle(aws)
    path = playbook(tmp_path, aws_endpoint, "{alarms: [api-5xx, api-latency], window: 2m}")

    result = cli.run(path, "--dry-run")

    assert result.returncode == 0
    assert "would watch 2 alarms (api-5xx, api-latency) for 2m, reading every 15.0s" in (
        result.stdout
    )
    assert throttle.requests == []


@pytest.mark.parametrize(
    ("with_", "message"),
    [
        ("{window: 1m}", "alarms: give alarms (names), or cluster and service (their deployment "
         "alarms)"),
        ("{alarms: [a], cluster: c}", "service: give cluster and service together"),
        ("{alarms: [a], rollback: true}", "service: rollback: true needs the cluster and service"),
        ("{alarms: [a], window: 0}", "window: expected a duration above 0, got 0.0"),
    ],
)  # fmt: skip
def test_inputs_that_cannot_work_are_refused_before_anything_runs(
    tmp_path: Path, cli: Any, with_: str, message: str
) -> None:
    path = playbook(tmp_path, "http://127.0.0.1:9", with_)

    result = cli("validate", str(path))

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"{path}:7: steps[0].with.{message}\n"
