"""``opskit report merge``: the reports of a matrix's jobs become one fleet
report (report.json of kind fleet, report.md with a row per target and each
target's steps, junit.xml with a testsuite per target), exit code the worst."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

pytestmark = pytest.mark.usefixtures("engine_steps")

PLAYBOOK = """\
name: Fleet release
targets:
  tokyo: {vars: {failures: 0}}
  seoul: {vars: {failures: 5}}
  osaka: {vars: {failures: 0}}
steps:
  - {id: build, uses: test.echo, with: {value: ["a", "b"]}}
  - {id: check, uses: test.flaky, with: {key: "{{ target.name }}", failures: "{{ vars.failures }}"}}
on_failure:
  - {id: diag, uses: test.echo, with: {value: "line one\\nline two"}}
"""


@pytest.fixture
def jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> dict[str, Path]:
    """Each target run as a CI job would run it, its report in its own folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet.yaml").write_text(PLAYBOOK)
    reports = {}
    for target, expected in (("tokyo", 0), ("seoul", 1), ("osaka", 0)):
        folder = tmp_path / "reports" / f"opskit-report-{target}"
        code, _, _ = run_cli(["run", "fleet.yaml", "-t", target, "--report", str(folder)], capsys)
        assert code == expected
        reports[target] = folder
    return reports


def test_a_passing_and_a_failing_job_merge_into_one_failed_report(
    jobs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, err = run_cli(
        ["report", "merge", str(jobs["tokyo"]), str(jobs["seoul"]), "--report", "merged"], capsys
    )
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "tokyo: passed",
        "seoul: failed: step check (test.flaky) failed: failure 1 of seoul",
        "FAILED: 2 targets (exit 1)",
        "report: merged/report.json, merged/report.md, merged/junit.xml",
    ]
    merged = json.loads(Path("merged/report.json").read_text())
    assert {k: merged[k] for k in ("kind", "playbook", "name", "status", "exit_code")} == {
        "kind": "fleet",
        "playbook": "fleet.yaml",
        "name": "Fleet release",
        "status": "failed",
        "exit_code": 1,
    }
    one_job = json.loads((jobs["seoul"] / "report.json").read_text())
    assert merged["targets"] == [json.loads((jobs["tokyo"] / "report.json").read_text()), one_job]

    markdown = Path("merged/report.md").read_text()
    assert markdown.startswith("# Fleet release: ❌ FAILED\n")
    assert "| Targets | 2: 1 passed, 1 failed |" in markdown
    assert "| Result | ❌ FAILED (exit 1) |" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith(("| 1 | `", "| 2 | `"))]
    assert rows[:2] == [
        f"| 1 | `tokyo` | ✅ passed | {_duration(merged, 0)} |  |",
        f"| 2 | `seoul` | ❌ FAILED | {_duration(merged, 1)} | "
        "step check (test.flaky) failed: failure 1 of seoul |",
    ]
    tokyo, seoul = markdown.index("## `tokyo`: ✅ passed"), markdown.index("## `seoul`: ❌ FAILED")
    assert tokyo < seoul
    assert "### `check` — test.flaky — failed" in markdown[seoul:]
    assert "**Diagnostics (on_failure) of `seoul`**" in markdown[seoul:]
    assert "Diagnostics" not in markdown[tokyo:seoul]
    assert summary.read_text() == markdown + "\n"

    junit = ET.fromstring(Path("merged/junit.xml").read_text())
    assert (junit.get("tests"), junit.get("failures"), junit.get("errors")) == ("5", "1", "0")
    suites = junit.findall("testsuite")
    assert [s.get("name") for s in suites] == ["Fleet release [tokyo]", "Fleet release [seoul]"]
    assert [s.get("failures") for s in suites] == ["0", "1"]
    failure = suites[1].find("testcase[@name='check (test.flaky)']/failure")
    assert failure is not None and failure.get("message") == "failure 1 of seoul"


def _duration(report: dict, index: int) -> str:
    from opskit.durations import format_duration

    return format_duration(report["targets"][index]["duration"])


def test_passing_jobs_merge_into_a_passing_report(
    jobs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        ["report", "merge", str(jobs["osaka"]), str(jobs["tokyo"]), "--report", "ok"], capsys
    )
    assert code == 0
    assert out.splitlines()[:3] == ["osaka: passed", "tokyo: passed", "PASSED: 2 targets (exit 0)"]
    merged = json.loads(Path("ok/report.json").read_text())
    assert [t["target"] for t in merged["targets"]] == ["osaka", "tokyo"]
    starts = [t["started_at"] for t in merged["targets"]]
    ends = [t["started_at"] + t["duration"] for t in merged["targets"]]
    assert merged["duration"] == pytest.approx(max(ends) - min(starts))


def test_a_fleet_report_merges_again(
    jobs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A job that ran several targets uploads a fleet report: it merges as its targets."""
    run_cli(["report", "merge", str(jobs["tokyo"]), str(jobs["seoul"]), "--report", "a"], capsys)
    code, _, _ = run_cli(["report", "merge", "a", str(jobs["osaka"]), "--report", "b"], capsys)
    assert code == 1
    merged = json.loads(Path("b/report.json").read_text())
    assert [t["target"] for t in merged["targets"]] == ["tokyo", "seoul", "osaka"]


def test_the_merged_jobs_outputs_for_github(
    jobs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lists as JSON, a multi-line value with the delimiter syntax, targets as prefixes."""
    from tests.ci.github_files import parse_github_output

    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    code, out, _ = run_cli(["ci", "github-outputs", str(jobs["seoul"])], capsys)
    assert code == 1
    assert out == (
        "::error title=opskit%3A Fleet release [seoul] failed::"
        "step check (test.flaky) failed: failure 1 of seoul\n"
    )
    text = output.read_text()
    assert "diag-value<<ghadelimiter_" in text
    values = parse_github_output(text)
    assert values["build-value"] == '["a", "b"]'
    assert values["diag-value"] == "line one\nline two"
    assert values["check-calls"] == "1"
    assert json.loads(values["outputs"])["build-value"] == ["a", "b"]

    run_cli(["report", "merge", str(jobs["tokyo"]), str(jobs["seoul"]), "--report", "m"], capsys)
    output.unlink()
    code, _, _ = run_cli(["ci", "github-outputs", "m"], capsys)
    values = parse_github_output(output.read_text())
    assert (code, values["status"], values["exit-code"]) == (1, "failed", "1")
    assert values["reason"] == "seoul: step check (test.flaky) failed: failure 1 of seoul"
    assert values["tokyo-build-value"] == values["seoul-build-value"] == '["a", "b"]'


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: None, "opskit: error: {d}/report.json: no report.json here"),
        (
            lambda d: (d / "report.json").write_text('{\n  "status": "passed",\n  oops\n}'),
            "opskit: error: {d}/report.json:3: not JSON: Expecting property name enclosed in "
            "double quotes",
        ),
        (
            lambda d: (d / "report.json").write_text('{"status": "passed"}'),
            "opskit: error: {d}/report.json: not an opskit report (report.json of "
            "`opskit run --report`): ",
        ),
    ],
)
def test_a_folder_without_a_report_is_bad_input(
    jobs: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path, make, message: str
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    make(broken)
    code, out, err = run_cli(
        ["report", "merge", str(jobs["tokyo"]), str(broken), "--report", "m"], capsys
    )
    assert (code, out) == (2, "")
    assert err.startswith(message.format(d=broken))
    assert not Path("m").exists()


def test_a_target_in_two_reports_is_bad_input(
    jobs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(
        ["report", "merge", str(jobs["tokyo"]), str(jobs["tokyo"]), "--report", "m"], capsys
    )
    assert code == 2
    assert err == (
        f"opskit: error: target 'tokyo' is in two reports: {jobs['tokyo']} and {jobs['tokyo']}\n"
    )
