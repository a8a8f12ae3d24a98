"""The library's front door, called the way a Python user calls it (README: "From Python")."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

import opskit
from opskit import InputError, RunOptions, run_playbook, tail_logs
from opskit.clock import FakeClock
from opskit.events import EVENT_KINDS, EventBus
from opskit.redact import Redactor
from opskit.report import JsonLinesReporter, TerminalReporter
from tests.cli_helpers import Cli

pytestmark = pytest.mark.usefixtures("engine_steps")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "playbook.yaml"
    path.write_text(text)
    return path


def test_run_playbook_from_a_path_streams_events_and_writes_reports(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
name: from python
vars: {greeting: hello}
steps:
  - {id: say, uses: test.echo, with: {value: "{{ vars.greeting }}"}}
""",
    )
    stream = io.StringIO()

    result = run_playbook(
        path,
        RunOptions(clock=FakeClock(), handle_sigint=False),
        reporters=[JsonLinesReporter(stream)],
        report_dir=str(tmp_path / "out"),  # a str or a Path, as a user passes it
    )

    assert (result.status, result.exit_code) == ("passed", 0)
    assert result.steps[0].outputs == {"value": "hello", "type": "str"}
    kinds = [json.loads(line)["kind"] for line in stream.getvalue().splitlines()]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["status"], report["exit_code"]) == ("passed", 0)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "junit.xml",
        "report.json",
        "report.md",
    ]


def test_every_exported_name_resolves() -> None:
    missing = [name for name in opskit.__all__ if getattr(opskit, name, None) is None]
    assert missing == []


def test_a_bad_input_run_is_invalid_with_exit_2_and_its_error_redacted(tmp_path: Path) -> None:
    """The run records its error already redacted: the CLI and a library caller print
    the same safe line (``opskit logs`` printed it raw before)."""
    path = write(
        tmp_path,
        """
secrets: [token]
vars: {token: s3cr3t-value}
steps:
  - {id: flaky, uses: test.flaky, with: {key: k, failures: "{{ vars.token }}"}}
""",
    )

    result = run_playbook(path, RunOptions(clock=FakeClock(), handle_sigint=False))

    assert (result.status, result.exit_code) == ("invalid", 2)
    assert result.error is not None
    assert "s3cr3t-value" not in result.error
    assert "expected an integer" in result.error


def test_opskit_logs_error_goes_through_redaction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from opskit.cli import main

    path = write(
        tmp_path,
        """
secrets: [token]
vars: {token: s3cr3t-value, cluster: c, service: s, log_group: /g}
targets:
  here: {aws: {region: us-east-1, endpoint_url: "http://127.0.0.1:9"}}
steps:
  - {id: noop, uses: test.echo}
""",
    )

    with pytest.raises(SystemExit) as exit_info:
        main(["logs", str(path), "--since", "{{ vars.token }}"])

    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "s3cr3t-value" not in err
    assert "since" in err and "***" in err


def test_tail_logs_raises_bad_input(tmp_path: Path, aws_endpoint: str) -> None:
    path = write(
        tmp_path,
        f"targets:\n  here: {{aws: {{region: us-east-1, endpoint_url: '{aws_endpoint}'}}}}\n"
        "steps:\n  - {id: noop, uses: test.echo}\n",
    )
    with pytest.raises(InputError) as refused:
        tail_logs(
            path, RunOptions(clock=FakeClock(), handle_sigint=False), with_={"cluster": "only-one"}
        )
    assert str(refused.value) == "logs.tail: give both cluster and service, or neither"
    assert refused.value.exit_code == 2


def test_the_front_door_lists_no_reporter() -> None:
    assert "TerminalReporter" not in opskit.__all__
    assert opskit.__all__[0] == "__version__"
    assert len(set(opskit.__all__)) == len(opskit.__all__)


RUN_ENDINGS = [
    # (the playbook's steps, how the run ends, the exit code README documents for it)
    ("  - {id: say, uses: test.echo}", "passed", 0),
    ("  - {id: check, uses: test.flaky, with: {key: exit-1, failures: 1}}", "failed", 1),
    ("  - {id: hold, uses: test.wait, with: {interrupt: true}}", "interrupted", 130),
]


@pytest.mark.parametrize(("steps", "status", "code"), RUN_ENDINGS, ids=[e[1] for e in RUN_ENDINGS])
def test_each_way_a_run_ends_is_its_exit_code_in_the_last_line_and_the_report(
    cli: Cli, tmp_path: Path, steps: str, status: str, code: int
) -> None:
    path = write(tmp_path, f"steps:\n{steps}\n")

    result = cli.run(path, "--report", str(tmp_path / "out"))

    assert result.returncode == code
    *_, closing, reports = result.stdout.splitlines()
    assert re.fullmatch(rf"{status.upper()} in \d+(ms|\.\ds) \(exit {code}\)", closing), closing
    assert reports.startswith(f"report: {tmp_path / 'out' / 'report.json'}, ")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["status"], report["exit_code"]) == (status, code)


def test_a_run_that_cannot_start_is_an_error_with_exit_1(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opskit.sandbox

    def refuse(*args: object, **kwargs: object) -> None:
        raise opskit.sandbox.SandboxError("port 8501 is in use by another program")

    monkeypatch.setattr(opskit.sandbox, "sandbox_for_run", refuse)
    path = write(
        tmp_path, "targets: {local: {sandbox: true}}\nsteps:\n  - {id: say, uses: test.echo}\n"
    )

    result = cli.run(path, "--report", str(tmp_path / "out"))

    assert result.returncode == 1
    assert re.fullmatch(r"ERROR in \d+ms \(exit 1\)", result.stdout.splitlines()[-2])
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["status"], report["exit_code"]) == ("error", 1)
    assert report["error"] == "port 8501 is in use by another program"


def test_a_playbook_that_does_not_load_is_exit_2_with_one_line(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path, "steps:\n  - {id: check, uses: test.flaky, with: {key: k, failures: many}}\n"
    )

    result = cli.run(path)

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"opskit: error: {path}:2: steps[0].with.failures: expected an integer, got string 'many'\n"
    )


def test_a_fleet_target_that_never_started_is_skipped_with_exit_0(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
targets:
  broken: {vars: {failures: 1}}
  tokyo: {vars: {failures: 0}}
steps:
  - id: deploy
    uses: test.flaky
    with: {key: "{{ target.name }}", failures: "{{ vars.failures }}"}
""",
    )

    result = cli.run(
        path, "-t", "broken", "-t", "tokyo", "--canary", "1", "--report", str(tmp_path)
    )

    assert result.returncode == 1  # the fleet: as bad as its worst target
    report = json.loads((tmp_path / "report.json").read_text())
    ends = {t["target"]: (t["status"], t["exit_code"]) for t in report["targets"]}
    assert ends == {"broken": ("failed", 1), "tokyo": ("skipped", 0)}


def test_an_unknown_event_kind_is_an_error_not_a_silent_drop() -> None:
    bus = EventBus(Redactor())
    with pytest.raises(ValueError, match="unknown event kind 'progres'"):
        bus.emit("progres", "typo")  # type: ignore[arg-type]


def test_the_terminal_shows_every_event_kind() -> None:
    stream = io.StringIO()
    reporter = TerminalReporter(stream)
    bus = EventBus(Redactor())
    bus.subscribe(reporter)
    for kind in sorted(EVENT_KINDS - {"mark"}):  # marks feed the report's timeline only
        before = stream.tell()
        bus.emit(kind, f"message of {kind}", "step", status="ok")  # type: ignore[arg-type]
        assert stream.tell() > before, f"{kind} printed nothing"
    # A mark feeds the report's timeline; an info line has said the same.
    before = stream.tell()
    bus.emit("mark", "new task 1a2b3c4d started", "step", at=1.0, what="task_started")
    assert stream.tell() == before


class InterruptedAtSecondSleep(FakeClock):
    """Plays Ctrl-C after the tail's second read: SIGINT to this process, then the
    sleep ends as the runner's handler makes it (its cancel event set)."""

    def sleep(self, seconds: float, cancel=None) -> None:
        super().sleep(seconds, cancel)
        if len(self.sleeps) == 2:
            import os
            import signal

            from opskit.errors import Cancelled

            os.kill(os.getpid(), signal.SIGINT)
            assert cancel is not None and cancel.wait(10), "the runner did not hear Ctrl-C"
            raise Cancelled("interrupted")


def test_tail_logs_stopped_with_ctrl_c_returns_the_lines_it_read(
    aws, aws_endpoint: str, tmp_path: Path
) -> None:
    """Ctrl-C is how a tail ends: for ``tail_logs`` (``opskit logs``) it is no error."""
    import time

    clock = InterruptedAtSecondSleep(now=time.time())  # Logs refuses events 14 days old
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/g")
    logs.create_log_stream(logGroupName="/g", logStreamName="s")
    logs.put_log_events(
        logGroupName="/g",
        logStreamName="s",
        logEvents=[{"timestamp": int(clock.now * 1000) - 1000, "message": "hello"}],
    )
    path = write(
        tmp_path,
        f"""
targets:
  here: {{aws: {{region: us-east-1, endpoint_url: "{aws_endpoint}"}}}}
steps:
  - {{id: noop, uses: test.echo}}
""",
    )
    tail = tail_logs(
        path, RunOptions(clock=clock), with_={"log_group": "/g", "streams": ["s"], "since": "5m"}
    )

    assert [(line.stream, line.text) for line in tail.lines] == [("s", "hello")]
    assert (tail.streams, tail.lines_read) == (["s"], 1)
    assert clock.sleeps == [2.0, 2.0]


def test_the_job_summary_is_written_only_when_the_caller_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from opskit.cli import main

    path = write(tmp_path, "name: summary\nsteps:\n  - {id: say, uses: test.echo}\n")
    environment = tmp_path / "from-env.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(environment))
    options = RunOptions(clock=FakeClock(), handle_sigint=False)

    run_playbook(path, options)
    assert not environment.exists()  # the library never reads it from the environment

    asked = tmp_path / "asked.md"
    run_playbook(path, options, step_summary=asked)
    assert asked.read_text().startswith("# summary: ✅ passed\n")
    assert not environment.exists()

    with pytest.raises(SystemExit):  # the CLI passes $GITHUB_STEP_SUMMARY
        main(["run", str(path)])
    capsys.readouterr()
    assert environment.read_text().startswith("# summary: ✅ passed\n")
