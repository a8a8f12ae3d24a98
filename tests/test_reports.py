"""What people and machines read: terminal, JSON lines, Markdown, JUnit, and redaction."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.aws_profiles import aws_home
from tests.cli_helpers import run_cli

SECRET = "hunter2-super-secret"
AWS_KEY = "AKIAABCDEFGHIJKLMNOP"

LEAKY = f"""
name: Leaky release
secrets: [token]
vars: {{token: {SECRET}}}
steps:
  - {{id: ok_step, uses: test.echo, with: {{value: "plain"}}}}
  - {{id: leak, uses: test.leak, with: {{text: "{{{{ vars.token }}}} and {AWS_KEY}"}}}}
  - {{id: never, uses: test.echo}}
on_failure:
  - {{id: diag, uses: test.echo, with: {{value: "{{{{ steps.leak.outputs.echo }}}}"}}}}
"""


pytestmark = pytest.mark.usefixtures("engine_steps")


@pytest.fixture
def leaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "leaky.yaml"
    path.write_text(LEAKY)
    return path


def test_secrets_are_redacted_in_text_json_markdown_and_junit(
    leaky: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "gh-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, text_out, text_err = run_cli(["run", "leaky.yaml", "--report", "text-report"], capsys)
    assert code == 1
    code, json_out, _ = run_cli(["run", "leaky.yaml", "--output", "json", "--report", "r"], capsys)
    assert code == 1
    files = [Path("r/report.json"), Path("r/report.md"), Path("r/junit.xml"), summary]
    everything = [text_out, text_err, json_out] + [f.read_text() for f in files]
    for output in everything:
        assert SECRET not in output
        assert AWS_KEY not in output
    # ...and the redacted places are really there, masked
    assert "summary says *** and ***" in text_out
    assert "log says *** and ***" in text_out
    assert "detail says *** and ***" in Path("r/report.md").read_text()
    report = json.loads(Path("r/report.json").read_text())
    assert report["steps"][1]["outputs"]["nested"] == [{"deep": "*** and ***"}]
    assert report["on_failure"][0]["outputs"]["value"] == "*** and ***"


def test_aws_credentials_of_the_session_are_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLETOKENvalue")
    Path("p.yaml").write_text(
        "steps:\n  - {id: leak, uses: test.leak, "
        "with: {text: '{{ env.AWS_SECRET_ACCESS_KEY }} {{ env.AWS_SESSION_TOKEN }}'}}\n"
    )
    code, out, _ = run_cli(["run", "p.yaml", "--report", "r"], capsys)
    assert code == 1
    for output in [out, Path("r/report.md").read_text(), Path("r/junit.xml").read_text()]:
        assert "wJalrXUtnFEMI" not in output
        assert "FwoGZXIvYXdz" not in output
    assert "summary says *** ***" in out


def test_junit_has_one_testcase_per_step_with_failures_marked(
    leaky: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run_cli(["run", "leaky.yaml", "--report", "r"], capsys)
    assert code == 1
    root = ET.parse("r/junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "ok_step (test.echo)",
        "leak (test.leak)",
        "never (test.echo)",
        "on_failure: diag (test.echo)",
    ]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "summary says *** and ***"
    assert "detail says" in (failure.text or "")
    assert cases[2].find("skipped") is not None
    assert suite.get("failures") == "1" and suite.get("tests") == "4"


def test_markdown_report_reads_as_an_incident_report(
    leaky: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(["run", "leaky.yaml", "--report", "r"], capsys)
    markdown = Path("r/report.md").read_text()
    assert markdown.startswith("# Leaky release: ❌ FAILED")
    assert "| Result | ❌ FAILED at step `leak` (exit 1) |" in markdown
    assert "| 2 | `leak` | test.leak | ❌ failed |" in markdown
    assert "## Diagnostics (on_failure)" in markdown
    assert "| 3 | `never` | test.echo | ⏭️ skipped |" in markdown


def test_json_output_is_one_event_per_line(leaky: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(["run", "leaky.yaml", "--output", "json"], capsys)
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    assert events[-1]["data"]["exit_code"] == 1
    ends = {e["step"]: e["data"]["status"] for e in events if e["kind"] == "step_end"}
    assert ends == {"ok_step": "ok", "leak": "failed", "never": "skipped", "diag": "ok"}


def test_interrupted_run_still_writes_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text("steps:\n  - {id: wait, uses: test.wait, with: {interrupt: true}}\n")
    code, out, _ = run_cli(["run", "p.yaml", "--report", "r"], capsys)
    assert code == 130
    report = json.loads(Path("r/report.json").read_text())
    assert report["status"] == "interrupted"
    assert report["steps"][0]["summary"].startswith("interrupted")
    assert "interrupted" in Path("r/report.md").read_text()


IDENTITY = (
    "arn:aws:sts::123456789012:user/moto (account 123456789012) in us-east-1; "
    "credentials from the environment (AWS_ACCESS_KEY_ID)"
)


def test_the_terminal_and_every_report_say_who_the_run_acted_as(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    aws_endpoint,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(
        "name: Buckets\n"
        f"targets:\n  prod: {{aws: {{region: us-east-1, endpoint_url: '{aws_endpoint}'}}}}\n"
        "steps:\n  - {id: buckets, uses: test.buckets}\n"
    )
    code, out, _ = run_cli(["run", "p.yaml", "--report", "r"], capsys)

    assert code == 0
    assert out.splitlines()[1] == f"  acting as {IDENTITY}"
    assert json.loads(Path("r/report.json").read_text())["identity"] == {
        "account": "123456789012",
        "arn": "arn:aws:sts::123456789012:user/moto",
        "region": "us-east-1",
        "credentials": "the environment (AWS_ACCESS_KEY_ID)",
    }
    header = Path("r/report.md").read_text().split("\n\n")[1].splitlines()
    assert header[3:5] == [
        "| Target | `prod` |",
        "| AWS | `arn:aws:sts::123456789012:user/moto` (account `123456789012`) in us-east-1; "
        "credentials from the environment (AWS_ACCESS_KEY_ID) |",
    ]

    code, _, _ = run_cli(["report", "merge", "r", "--report", "merged"], capsys)
    assert code == 0
    assert (
        "AWS: `arn:aws:sts::123456789012:user/moto` (account `123456789012`) in us-east-1; "
        "credentials from the environment (AWS_ACCESS_KEY_ID)"
    ) in Path("merged/report.md").read_text().splitlines()


NOT_HERE = (
    "target 'prod' names profile 'prod', which is not configured here; "
    "using the credentials the environment names (AWS_ACCESS_KEY_ID)"
)


def test_a_warning_at_the_runs_start_is_in_the_terminal_the_json_lines_and_every_report(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    aws_endpoint,
) -> None:
    """The target names a profile this machine lacks; the environment's keys serve."""
    aws_home(tmp_path, monkeypatch, "")
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(
        "name: Buckets\n"
        "targets:\n"
        f"  prod: {{aws: {{region: us-east-1, profile: prod, endpoint_url: '{aws_endpoint}'}}}}\n"
        "steps:\n  - {id: buckets, uses: test.buckets}\n"
    )
    code, out, _ = run_cli(["run", "p.yaml", "--report", "r"], capsys)

    assert code == 0
    assert out.splitlines()[1:3] == [f"  ! {NOT_HERE}", f"  acting as {IDENTITY}"]
    assert json.loads(Path("r/report.json").read_text())["warnings"] == [NOT_HERE]
    header = Path("r/report.md").read_text().split("\n\n")[1:3]
    assert header[1] == f"**Warning:** {NOT_HERE}"

    code, json_out, _ = run_cli(["run", "p.yaml", "--output", "json"], capsys)
    events = [json.loads(line) for line in json_out.splitlines()]
    assert [(e["kind"], e["message"]) for e in events[:3]] == [
        ("run_start", "Buckets · target prod"),
        ("warning", NOT_HERE),
        ("info", f"acting as {IDENTITY}"),
    ]

    code, _, _ = run_cli(["report", "merge", "r", "--report", "merged"], capsys)
    assert code == 0
    assert f"**Warning:** {NOT_HERE}" in Path("merged/report.md").read_text().splitlines()


def test_a_run_that_calls_no_aws_has_no_aws_row(
    leaky: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(["run", "leaky.yaml", "--report", "r"], capsys)
    assert "| AWS |" not in Path("r/report.md").read_text()
    assert json.loads(Path("r/report.json").read_text())["identity"] is None


def test_a_report_written_before_identities_still_merges(
    leaky: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(["run", "leaky.yaml", "--report", "r"], capsys)
    report = json.loads(Path("r/report.json").read_text())
    del report["identity"]
    Path("r/report.json").write_text(json.dumps(report))
    code, _, err = run_cli(["report", "merge", "r", "--report", "merged"], capsys)
    assert (code, err) == (1, "")  # the leaky run failed; its report reads as before


def test_encoded_secrets_and_presigned_urls_are_masked_in_every_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: a declared secret URL-encoded, JSON- or repr-escaped, and an
    undeclared session token and presigned URL, in the terminal, the JSON lines,
    report.json, report.md, junit.xml, the job summary and $GITHUB_OUTPUT."""
    from urllib.parse import quote, quote_plus

    from tests.test_redact import CREDENTIAL, SECRET, SESSION_TOKEN, SIGNATURE, lower_hex

    monkeypatch.chdir(tmp_path)
    summary, outputs = tmp_path / "gh-summary.md", tmp_path / "gh-output"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    forms = [
        quote(SECRET, safe=""),
        lower_hex(quote_plus(SECRET)),
        repr(SECRET),
        json.dumps(SECRET),
    ]
    presigned = (
        f"https://b.s3.amazonaws.com/k?X-Amz-Credential={quote(CREDENTIAL, safe='')}"
        f"&X-Amz-Security-Token={quote(SESSION_TOKEN, safe='')}&X-Amz-Signature={SIGNATURE}"
    )
    text = " | ".join([*forms, SESSION_TOKEN, presigned])
    (tmp_path / "vars.json").write_text(json.dumps({"token": SECRET, "payload": text}))
    Path("p.yaml").write_text(
        "secrets: [token]\n"
        "steps:\n  - {id: leak, uses: test.leak, with: {text: '{{ vars.payload }}'}}\n"
    )
    code, out, err = run_cli(["run", "p.yaml", "--vars-file", "vars.json", "--report", "r"], capsys)
    assert code == 1
    code, json_out, _ = run_cli(
        ["run", "p.yaml", "--vars-file", "vars.json", "--output", "json"], capsys
    )
    assert code == 1
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    code, annotations, _ = run_cli(["ci", "github-outputs", "r"], capsys)
    assert code == 1
    files = ["r/report.json", "r/report.md", "r/junit.xml", summary, outputs]
    everything = [out, err, json_out, annotations] + [Path(f).read_text() for f in files]
    masked = "*** | '***' | \"***\" | *** | https://b.s3.amazonaws.com/k?X-Amz-Credential=***"
    masked += "&X-Amz-Security-Token=***&X-Amz-Signature=***"
    assert f"summary says *** | {masked}" in out
    for output in everything:
        for leaked in [*forms, SESSION_TOKEN[:20], SIGNATURE, "AKIAIOSFODNN7EXAMPLE"]:
            assert leaked not in output
