"""What a step type's ``finish`` says at the run's end (a native deployment
rolled back or left paused, a release's verdict recorded) is in every report,
with its step: report.json, report.md (the steps table and the step's section),
junit.xml, and a fleet's reports; quoted as outside text, secrets masked."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opskit import RunOptions
from opskit import steps as registry
from opskit.api import run_targets
from opskit.clock import FakeClock
from opskit.errors import StepFailed
from opskit.events import EventBus
from opskit.fleet import FleetOptions
from opskit.iam.needs import NO_AWS
from opskit.redact import Redactor
from opskit.steps.base import RunEnd, StepContext, StepResult, StepType, output, param
from tests.cli_helpers import run_cli

SECRET = "hunter2-finish-secret"
ARN = "Ab3xYz"  # ecs.redeploy says the service deployment's id
# Outside text a finish line may quote: a table cell's `|`, a fence, an autolink.
HOSTILE = "stage | ``` https://evil.example"


@dataclass(frozen=True, kw_only=True)
class LeaveInputs:
    arn: str = param("the deployment", "string", required=True)
    broken_finish: bool = param("the finish hook cannot do its part", "boolean", default=False)


@dataclass(frozen=True, kw_only=True)
class LeaveOutputs:
    service_deployment_arn: str = output("the deployment", "string")


def _run(ctx: StepContext, inputs: LeaveInputs) -> StepResult:
    return StepResult(
        "changed",
        "paused at POST_TEST_TRAFFIC_SHIFT",
        LeaveOutputs(service_deployment_arn=inputs.arn),
    )


def _finish(end: RunEnd) -> list[tuple[str, str]]:
    """As ecs.redeploy's and s3.sync's: a warning and an info line, run's status known."""
    arn = end.record.outputs["service_deployment_arn"]
    if end.record.id == "broken":
        raise StepFailed(f"cannot describe {arn}")
    return [
        ("warning", f"service deployment {arn} rolled back at {HOSTILE} as if_left says"),
        ("info", f"release r-1 recorded as {end.result.status}"),
    ]


LEAVE = StepType(
    "test.leave",
    "Leave a deployment for the run's end.",
    LeaveInputs,
    LeaveOutputs,
    _run,
    finish=_finish,
    permissions=NO_AWS,
)

PLAYBOOK = f"""
name: Blue/green release
secrets: [token]
vars: {{token: {SECRET}}}
targets:
  one: {{}}
  two: {{}}
steps:
  - {{id: deploy, uses: test.leave, with: {{arn: "{ARN}/{{{{ vars.token }}}}"}}}}
  - {{id: broken, uses: test.leave, with: {{arn: "x"}}}}
  - {{id: check, uses: test.flaky, with: {{key: "{{{{ target.name }}}}", failures: 1}}}}
"""
WARNING = f"service deployment {ARN}/*** rolled back at {HOSTILE} as if_left says"


@pytest.fixture
def leave_step(engine_steps: None) -> Iterator[None]:
    registry.register(LEAVE)
    yield
    registry.unregister(LEAVE.name)


@pytest.fixture
def playbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leave_step: None) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bluegreen.yaml"
    path.write_text(PLAYBOOK)
    return path


def test_finish_lines_are_in_report_json_markdown_and_junit_with_their_step(
    playbook: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["run", "bluegreen.yaml", "-t", "one", "--report", "r"], capsys)
    assert code == 1
    assert "rolled back at" in out  # the terminal had it before; the reports now too
    files = {name: (Path("r") / name).read_text() for name in ("report.json", "report.md")}
    junit = Path("r/junit.xml").read_text()
    for text in [*files.values(), junit]:
        assert SECRET not in text

    steps = {s["id"]: s for s in json.loads(files["report.json"])["steps"]}
    assert steps["deploy"]["finish_notes"] == [
        {"kind": "warning", "message": WARNING},
        {"kind": "info", "message": "release r-1 recorded as failed"},
    ]
    assert steps["broken"]["finish_notes"] == [
        {"kind": "warning", "message": "broken: cannot describe x"}
    ]
    assert steps["check"]["finish_notes"] == []  # its type has no finish

    md = files["report.md"].splitlines()
    shown = (
        r"service deployment Ab3xYz/\*\*\* rolled back at stage \| \`\`\` "
        r"https\://evil.example as if_left says"
    )
    row = next(line for line in md if line.startswith("| 1 | `deploy` |"))
    assert row.endswith(f"| paused at POST_TEST_TRAFFIC_SHIFT<br>⚠️ at the run's end: {shown} |")
    section = md[md.index("### `deploy` — test.leave — changed") :]
    assert section[3:9] == [
        "",
        "**At the run's end**",
        "",
        f"- ⚠️ **Warning:** {shown}",
        "- release r-1 recorded as failed",
        "",
    ]
    assert "- ⚠️ **Warning:** broken: cannot describe x" in md

    cases = {c.get("name"): c for c in ET.fromstring(junit).iter("testcase")}
    assert cases["deploy (test.leave)"].findtext("system-out") == (
        f"paused at POST_TEST_TRAFFIC_SHIFT\nat the run's end, warning: {WARNING}\n"
        "at the run's end, info: release r-1 recorded as failed"
    )
    failed = cases["check (test.flaky)"]
    assert failed.find("failure") is not None and failed.find("system-out") is None


def test_a_fleets_reports_show_each_targets_finish_lines(playbook: Path, tmp_path: Path) -> None:
    run_targets(
        playbook,
        ["one", "two"],
        RunOptions(clock=FakeClock(), handle_sigint=False),
        FleetOptions(),
        bus=EventBus(Redactor()),
        report_dir=tmp_path / "fleet",
    )
    report = json.loads((tmp_path / "fleet/report.json").read_text())
    for run in report["targets"]:
        assert run["steps"][0]["finish_notes"][0] == {"kind": "warning", "message": WARNING}
    md = (tmp_path / "fleet/report.md").read_text()
    assert md.count("- release r-1 recorded as failed") == 2
    assert md.count("<br>⚠️ at the run's end: service deployment") == 2
    junit = ET.fromstring((tmp_path / "fleet/junit.xml").read_text())
    outs = [c.findtext("system-out") or "" for c in junit.iter("testcase")]
    assert sum(f"at the run's end, warning: {WARNING}" in o for o in outs) == 2


def test_a_report_written_before_finish_notes_still_merges(
    playbook: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(["run", "bluegreen.yaml", "-t", "one", "--report", "r"], capsys)
    report = json.loads(Path("r/report.json").read_text())
    for step in report["steps"]:
        del step["finish_notes"]
    Path("r/report.json").write_text(json.dumps(report))
    code, _, err = run_cli(["report", "merge", "r", "--report", "merged"], capsys)
    assert (code, err) == (1, "")
    assert "At the run's end" not in Path("merged/report.md").read_text()
