"""One playbook over many targets in one process (opskit.fleet), with test-only steps."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from opskit import RunOptions
from opskit.api import run_targets
from opskit.clock import FakeClock
from opskit.errors import InputError
from opskit.events import Event, EventBus
from opskit.fleet import FleetOptions
from opskit.playbook import load_playbook
from opskit.redact import Redactor
from tests.clocks import CtrlCClock
from tests.test_runner import sigterm_guard  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("engine_steps")

FLEET = """
name: fleet
targets:
  tokyo: {vars: {failures: 0}}
  seoul: {vars: {failures: 0}}
  broken: {vars: {failures: 5}}
steps:
  - id: deploy
    uses: test.flaky
    with: {key: "{{ target.name }}", failures: "{{ vars.failures }}"}
"""


def run(tmp_path: Path, patterns, text: str = FLEET, **fleet):
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    events: list[Event] = []
    bus = EventBus(Redactor())
    bus.subscribe(events.append)
    result = run_targets(
        path,
        patterns,
        RunOptions(clock=FakeClock(), handle_sigint=False),
        FleetOptions(**fleet),
        bus=bus,
        report_dir=tmp_path / "out",
    )
    return result, events


def verdicts(result) -> dict[str, str]:
    return {r.target: r.status for r in result.runs}


def test_every_target_runs_in_parallel_and_all_pass(tmp_path: Path) -> None:
    result, events = run(tmp_path, ["tokyo", "seoul"], parallel=2)

    assert verdicts(result) == {"tokyo": "passed", "seoul": "passed"}
    assert (result.status, result.exit_code) == ("passed", 0)
    step_ends = {(e.data["target"], e.step_id) for e in events if e.kind == "step_end"}
    assert step_ends == {("tokyo", "deploy"), ("seoul", "deploy")}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["kind"] == "fleet"
    assert [t["target"] for t in report["targets"]] == ["tokyo", "seoul"]


def test_a_failing_canary_stops_the_fleet_and_the_report_says_why(tmp_path: Path) -> None:
    result, events = run(tmp_path, ["broken", "tokyo", "seoul"], parallel=3, canary=1)

    assert verdicts(result) == {"broken": "failed", "tokyo": "skipped", "seoul": "skipped"}
    assert result.exit_code == 1
    assert result.runs[1].error == "not started: canary broken did not pass (--canary 1)"
    assert not [e for e in events if e.kind == "step_start" and e.data["target"] != "broken"]
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "not started: canary broken did not pass (--canary 1)" in markdown
    junit = (tmp_path / "out" / "junit.xml").read_text()
    assert junit.count("<testsuite ") == 3


def test_without_a_canary_the_healthy_targets_pass_and_the_broken_one_fails(
    tmp_path: Path,
) -> None:
    result, _ = run(tmp_path, ["broken", "tokyo", "seoul"], parallel=3)

    assert verdicts(result) == {"broken": "failed", "tokyo": "passed", "seoul": "passed"}
    assert result.exit_code == 1
    assert result.runs[0].steps[0].summary == "failure 1 of broken"


def test_max_failures_starts_no_new_target_after_the_budget_is_spent(tmp_path: Path) -> None:
    result, _ = run(tmp_path, ["broken", "tokyo", "seoul"], parallel=1, max_failures=1)

    assert verdicts(result) == {"broken": "failed", "tokyo": "skipped", "seoul": "skipped"}
    assert result.runs[2].error == ("not started: 1 target(s) failed (broken; --max-failures 1)")


def test_globs_select_targets_in_the_order_given(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    playbook = load_playbook(path)

    assert [t.name for t in playbook.select_targets(["seoul", "*o*"])] == [
        "seoul",
        "tokyo",
        "broken",
    ]
    with pytest.raises(InputError, match=r"no target matches 'prod-\*'; this playbook has: "):
        playbook.select_targets(["prod-*"])


def test_targets_can_come_from_another_file(tmp_path: Path) -> None:
    (tmp_path / "targets.yaml").write_text(
        "targets:\n  one: {vars: {failures: 0}}\n  two: {vars: {failures: 0}}\n"
    )
    text = FLEET.replace("targets:\n", "targets_from: targets.yaml\ntargets:\n", 1)
    result, _ = run(tmp_path, ["one", "two", "tokyo"], text=text, parallel=3)

    assert verdicts(result) == {"one": "passed", "two": "passed", "tokyo": "passed"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "targets:\n  one: {vars: {failures: 0}}\n  two: {sandbox: maybe}\n",
            "targets.yaml:3: targets.two.sandbox: expected true, false or "
            "{services: N, strategy: S}, got string 'maybe'",
        ),
        ("target:\n  one: {}\n", "targets.yaml:1: target: unknown key 'target'"),
        (None, "fleet.yaml:3: targets_from: cannot read targets.yaml: No such file or directory"),
        (
            "targets:\n  tokyo: {}\n",
            "fleet.yaml:3: targets_from: target 'tokyo' is defined both here and in targets.yaml",
        ),
    ],
)
def test_a_bad_targets_file_is_one_line_naming_its_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / "targets.yaml").write_text(content)
    (tmp_path / "fleet.yaml").write_text(
        FLEET.replace("targets:\n", "targets_from: targets.yaml\ntargets:\n", 1)
    )
    with pytest.raises(InputError) as caught:
        load_playbook(tmp_path / "fleet.yaml")
    assert str(caught.value).startswith(message)


WAITING = """
targets: {a: {}, b: {}}
steps:
  - {id: hold, uses: test.wait}
on_failure:
  - {id: after, uses: test.echo, with: {value: diagnostics}}
"""


def test_ctrl_c_stops_every_target_and_the_report_is_still_written(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(WAITING)
    clock = CtrlCClock(asleep=2)  # both targets are waiting when Ctrl-C comes

    result = run_targets(
        path,
        ["a", "b"],
        RunOptions(clock=clock),
        FleetOptions(parallel=2),
        report_dir=tmp_path / "out",
    )

    assert clock.pressed
    assert verdicts(result) == {"a": "interrupted", "b": "interrupted"}
    assert result.exit_code == 130
    assert [r.on_failure[0].status for r in result.runs] == ["ok", "ok"]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["exit_code"] == 130


@pytest.mark.usefixtures("sigterm_guard")
def test_a_signal_as_the_fleet_ends_is_held_until_the_report_is_written(tmp_path: Path) -> None:
    """The fleet's path has the one handler from its first target until its report
    is written, too: SIGTERM while ``fleet_end`` is announced is noted, not obeyed."""
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    ends: list[str] = []

    def terminate_at_the_end(event: Event) -> None:
        if event.kind == "fleet_end":
            ends.append(event.message)
            os.kill(os.getpid(), signal.SIGTERM)

    result = run_targets(
        path,
        ["tokyo", "seoul"],
        RunOptions(clock=FakeClock()),
        reporters=[terminate_at_the_end],
        report_dir=tmp_path / "out",
    )

    assert ends == ["passed"]
    assert (result.status, result.exit_code) == ("passed", 0)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["status"], report["exit_code"]) == ("passed", 0)


def test_the_cli_runs_a_fleet_for_several_targets_with_json_events_per_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from opskit.cli import main

    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(path), "-t", "tokyo", "-t", "broken", "--output", "json"])

    assert exit_info.value.code == 1
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ends = {e["data"]["target"]: e["data"]["status"] for e in events if e["kind"] == "run_end"}
    assert ends == {"tokyo": "passed", "broken": "failed"}
    assert events[-1]["kind"] == "fleet_end"
    assert events[-1]["data"]["verdicts"] == {"tokyo": "passed", "broken": "failed"}


def test_a_bad_only_in_a_fleet_is_bad_input_for_every_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from opskit.cli import main

    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(path), "-t", "tokyo", "-t", "seoul", "--only", "nosuch"])

    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert "Traceback" not in out + err
    assert "no step 'nosuch'" in out


def test_targets_not_started_because_of_ctrl_c_are_interrupted_not_skipped(
    tmp_path: Path,
) -> None:
    from opskit.fleet import _Fleet

    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    playbook = load_playbook(path)
    engine = _Fleet(
        playbook,
        playbook.select_targets(["tokyo", "seoul"]),
        RunOptions(clock=FakeClock(), handle_sigint=False),
        FleetOptions(),
        EventBus(Redactor()),
    )
    engine.interrupt()  # Ctrl-C before any target started (e.g. while the sandbox starts)
    engine.run()
    result = engine.outcome(0.0)

    assert verdicts(result) == {"tokyo": "interrupted", "seoul": "interrupted"}
    assert result.exit_code == 130


def test_a_fleet_whose_sandbox_cannot_start_still_reports_each_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opskit.sandbox
    from opskit.sandbox import SandboxError

    def refuse(*args, **kwargs):
        raise SandboxError("port 8501 is in use by another program")

    monkeypatch.setattr(opskit.sandbox, "sandbox_for_run", refuse)
    text = FLEET.replace("{vars: {failures: 0}}", "{sandbox: true, vars: {failures: 0}}")
    result, events = run(tmp_path, ["tokyo", "seoul"], text=text)

    assert verdicts(result) == {"tokyo": "error", "seoul": "error"}
    assert result.exit_code == 1
    assert result.runs[0].error == "not started: port 8501 is in use by another program"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["exit_code"] == 1 and events[-1].kind == "fleet_end"


def test_a_fleet_on_a_terminal_refuses_deletes_without_yes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Targets run in parallel and cannot each ask: a delete needs --yes."""
    import opskit.cli.run as cli_run

    monkeypatch.setattr(cli_run, "_interactive", lambda: True)
    refuse = cli_run._confirmation(yes=False, fleet=True)
    assert refuse is not None and refuse("Delete 3 object(s)?") is False
    assert cli_run._confirmation(yes=False, fleet=False) is cli_run._ask
    assert cli_run._confirmation(yes=True, fleet=True) is None
    monkeypatch.setattr(cli_run, "_interactive", lambda: False)
    assert cli_run._confirmation(yes=False, fleet=True) is None  # CI: the guards apply


def test_each_target_of_a_fleet_says_who_it_acts_as_and_where(
    tmp_path: Path, aws_endpoint: str
) -> None:
    """One sts:GetCallerIdentity per target, each with its own region; one target's
    declared account refuses that target only."""
    text = f"""
name: fleet
targets:
  tokyo: {{aws: {{region: ap-northeast-1, endpoint_url: "{aws_endpoint}"}}}}
  seoul: {{aws: {{region: ap-northeast-2, endpoint_url: "{aws_endpoint}"}}}}
  other:
    aws: {{region: us-east-1, endpoint_url: "{aws_endpoint}", account_id: "210987654321"}}
steps:
  - {{id: buckets, uses: test.buckets}}
"""
    result, events = run(tmp_path, ["tokyo", "seoul", "other"], text, parallel=3)

    assert verdicts(result) == {"tokyo": "passed", "seoul": "passed", "other": "error"}
    identities = {
        e.data["target"]: e.data["identity"]["region"] for e in events if "identity" in e.data
    }
    assert identities == {
        "tokyo": "ap-northeast-1",
        "seoul": "ap-northeast-2",
        "other": "us-east-1",
    }
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert (
        "AWS: `arn:aws:sts::123456789012:user/moto` (account `123456789012`) in ap-northeast-2; "
        "credentials from the environment (AWS_ACCESS_KEY_ID)"
    ) in markdown.splitlines()
    assert result.runs[2].error == (
        "target 'other' declares account 210987654321, but the credentials are for account "
        "123456789012 (arn:aws:sts::123456789012:user/moto); nothing was changed"
    )
