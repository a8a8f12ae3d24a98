"""``confirm``: who answers, what the run and its report say (in process, no AWS).

The person at a real terminal is played in tests/steps/test_confirm_pty.py;
here ``RunOptions.person`` stands for them."""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from opskit import RunOptions, RunResult, run_playbook
from opskit.api import run_targets
from opskit.cli.asking import answered_by, read_yes_no
from opskit.clock import FakeClock
from opskit.events import Event, EventBus
from opskit.fleet import FleetOptions
from opskit.playbook import parse_playbook
from opskit.redact import Redactor
from opskit.report.terminal import TerminalReporter
from tests.cli_helpers import Cli

PLAYBOOK = """
name: ask
steps:
  - id: ask
    uses: confirm
    with:
      question: "Restore {{ vars.release }} into s3://bucket/src/?"
      then: the service is redeployed
  - id: after
    uses: note
    with: {text: restored}
on_failure:
  - id: diagnostics
    uses: note
    with: {text: "look at the service"}
vars: {release: last_good}
"""
AT = "2023-11-14T22:13:20Z"  # FakeClock's time


class Person:
    """The person at the terminal: answers from a list, records each question."""

    def __init__(self, *replies: bool | None) -> None:
        self.replies = list(replies)
        self.asked: list[str] = []

    def __call__(self, question: str, cancel: threading.Event) -> bool | None:
        self.asked.append(question)
        return self.replies.pop(0)


def run(tmp_path: Path, text: str = PLAYBOOK, **options: Any) -> tuple[RunResult, list[Event]]:
    path = tmp_path / "ask.yaml"
    path.write_text(text)
    events: list[Event] = []
    bus = EventBus(Redactor())
    bus.subscribe(events.append)
    options.setdefault("clock", FakeClock())
    result = run_playbook(
        parse_playbook(text, str(path), path),
        RunOptions(**options),
        bus=bus,
        report_dir=tmp_path / "out",
    )
    return result, events


def step(result: RunResult, step_id: str) -> Any:
    return next(s for s in [*result.steps, *result.on_failure] if s.id == step_id)


def test_yes_from_the_person_at_the_terminal_goes_on_and_says_who_and_when(
    tmp_path: Path,
) -> None:
    person = Person(True)
    result, events = run(tmp_path, person=person, answer_by="alice")
    assert result.status == "passed"
    assert person.asked == [
        "Restore last_good into s3://bucket/src/?\n  If yes: the service is redeployed"
    ]
    ask = step(result, "ask")
    assert ask.summary == "yes, answered by alice at 22:13:20 UTC"
    assert ask.outputs == {"answer": "yes", "by": "alice", "at": AT}
    assert step(result, "after").status == "ok"
    marks = [(e.message, e.data["what"]) for e in events if e.kind == "mark"]
    assert ("confirm: yes", "confirm") in marks


def test_no_stops_the_run_and_on_failure_still_runs(tmp_path: Path) -> None:
    result, _ = run(tmp_path, person=Person(False), answer_by="alice")
    assert result.status == "failed" and result.exit_code == 1
    ask = step(result, "ask")
    assert ask.status == "failed"
    assert ask.summary == (
        "no, answered by alice at 22:13:20 UTC: not confirmed: the run stops here"
    )
    assert ask.outputs == {"answer": "no", "by": "alice", "at": AT}
    assert step(result, "after").summary == "not run: an earlier step failed"
    assert step(result, "diagnostics").status == "ok"  # decided: a "no" is a failure like any


def test_yes_flag_answers_yes_without_asking(tmp_path: Path) -> None:
    person = Person()  # would fail if asked: no replies
    result, _ = run(tmp_path, yes=True, person=person, answer_by="--yes (GITHUB_ACTOR alice)")
    assert result.status == "passed"
    assert person.asked == []
    assert step(result, "ask").summary == (
        "yes, answered by --yes (GITHUB_ACTOR alice) at 22:13:20 UTC"
    )


def test_nobody_to_ask_fails_rather_than_guess(tmp_path: Path) -> None:
    result, _ = run(tmp_path)  # no terminal, no --yes
    assert result.status == "failed"
    assert step(result, "ask").summary == (
        "nobody to ask (no terminal): run with --yes to answer yes"
    )
    assert step(result, "ask").outputs == {"answer": None, "by": None, "at": None}


def test_an_on_failure_step_can_skip_itself_after_a_no_only(tmp_path: Path) -> None:
    text = PLAYBOOK.replace(
        '    uses: note\n    with: {text: "look',
        '    uses: note\n    when: "steps.ask.outputs.answer != \'no\'"\n    with: {text: "look',
    )
    assert "when:" in text
    result, _ = run(tmp_path, text, person=Person(False))
    assert step(result, "diagnostics").summary.startswith("skipped: when")
    result, _ = run(tmp_path, text)  # nobody to ask: the answer is unknown, not "no"
    assert step(result, "diagnostics").status == "ok"


def test_no_answer_at_end_of_input_fails(tmp_path: Path) -> None:
    result, _ = run(tmp_path, person=Person(None), answer_by="alice")
    assert result.status == "failed"
    assert step(result, "ask").summary == ("no answer (end of input): run with --yes to answer yes")


def test_a_dry_run_never_asks_and_says_what_it_would_ask(tmp_path: Path) -> None:
    person = Person()
    result, _ = run(tmp_path, dry_run=True, person=person)
    assert result.status == "passed"
    assert person.asked == []
    assert step(result, "ask").summary == (
        "would ask: Restore last_good into s3://bucket/src/? (if yes: the service is redeployed)"
    )


def test_the_reports_record_the_answer_who_and_when(tmp_path: Path) -> None:
    run(tmp_path, person=Person(False), answer_by="alice")
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "no, answered by alice at 22:13:20 UTC" in markdown
    assert f"| `at` | `{AT}` |" in markdown
    assert "| `by` | `alice` |" in markdown
    assert "If yes: the service is redeployed" in markdown
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    recorded = next(s for s in report["steps"] if s["id"] == "ask")
    assert recorded["outputs"] == {"answer": "no", "by": "alice", "at": AT}
    assert "no, answered by alice" in (tmp_path / "out" / "junit.xml").read_text()


FLEET = PLAYBOOK.replace("name: ask\n", "name: ask\ntargets: {a: {}, b: {}}\n")


def run_fleet(tmp_path: Path, **options: Any) -> Any:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    return run_targets(
        path,
        ["a", "b"],
        RunOptions(clock=FakeClock(), handle_sigint=False, **options),
        FleetOptions(parallel=2),
        bus=EventBus(Redactor()),
    )


def test_a_fleet_never_prompts_even_with_a_person_at_the_terminal(tmp_path: Path) -> None:
    person = Person()
    fleet = run_fleet(tmp_path, person=person)
    assert person.asked == []
    assert {r.target: r.status for r in fleet.runs} == {"a": "failed", "b": "failed"}
    assert {step(r, "ask").summary for r in fleet.runs} == {
        "nobody to ask (a fleet never prompts): run with --yes to answer yes"
    }
    fleet = run_fleet(tmp_path, person=person, yes=True, answer_by="--yes (user ci)")
    assert person.asked == []
    assert fleet.status == "passed"


def test_refused_through_the_cli_without_a_terminal(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "ask.yaml"
    path.write_text(PLAYBOOK)
    done = cli.run(path)
    assert done.returncode == 1
    assert "✗ FAILED ask" in done.stdout
    assert "nobody to ask (no terminal): run with --yes to answer yes" in done.stdout
    done = cli.run(path, "--yes")
    assert done.returncode == 0
    assert "yes, answered by --yes (" in done.stdout


def test_who_answered_names_the_ci_actor_or_the_user() -> None:
    assert answered_by(yes=True, environ={"GITHUB_ACTOR": "alice"}) == (
        "--yes (GITHUB_ACTOR alice)"
    )
    assert answered_by(yes=True, environ={}).startswith("--yes (user ")
    assert not answered_by(yes=False, environ={}).startswith("--yes")


def ask_with(typed: bytes, cancel: threading.Event | None = None) -> tuple[bool | None, str]:
    """``read_yes_no`` reading ``typed`` from a pipe (what a terminal's line discipline
    hands over line by line: one write here per line)."""
    reading, writing = os.pipe()
    os.write(writing, typed)
    os.close(writing)
    shown = io.StringIO()
    with os.fdopen(reading) as stdin:
        reply = read_yes_no("Go?\n  If yes: it goes", cancel or threading.Event(), stdin, shown)
    return reply, shown.getvalue()


@pytest.mark.parametrize(
    ("typed", "reply"),
    [(b"y\n", True), (b"YES\n", True), (b"n\n", False), (b"no\n", False), (b"\n", False)],
)
def test_the_prompt_reads_yes_and_no_and_enter_is_no(typed: bytes, reply: bool) -> None:
    got, shown = ask_with(typed)
    assert got is reply
    assert shown == "  ? Go?\n    If yes: it goes [y/N] "


def test_the_prompt_asks_again_and_end_of_input_is_no_answer() -> None:
    got, shown = ask_with(b"maybe\n")
    assert got is None  # asked again, then the input ended (Ctrl-D)
    assert "  Please answer yes or no. [y/N] " in shown


def test_a_cancel_ends_the_wait() -> None:
    reading, writing = os.pipe()  # nothing is ever typed
    cancel = threading.Event()
    cancel.set()
    with os.fdopen(reading) as stdin:
        assert read_yes_no("Go?", cancel, stdin, io.StringIO()) is None
    os.close(writing)


def test_a_question_quoting_outside_text_cannot_start_a_ci_command() -> None:
    reading, writing = os.pipe()
    os.write(writing, b"n\n")
    os.close(writing)
    shown_io = io.StringIO()
    with os.fdopen(reading) as stdin:
        read_yes_no("Go?\n::add-mask::x\x1b[2J", threading.Event(), stdin, shown_io)
    assert "\n::" not in shown_io.getvalue()
    assert "\x1b" not in shown_io.getvalue()


def test_the_live_line_is_held_off_the_screen_while_a_question_waits() -> None:
    screen = io.StringIO()
    view = TerminalReporter(screen, live=True)
    view(Event("progress", "copying 3/9", "sync"))
    with view.held():
        view(Event("progress", "copying 4/9", "sync"))
        screen.write("  ? Go? [y/N] ")
        view(Event("warning", "stopping", "sync"))
    view(Event("progress", "copying 5/9", "sync"))
    shown = screen.getvalue()
    assert "copying 4/9" not in shown  # not drawn over the question
    assert shown.index("\r\x1b[K  ? Go? [y/N] ") < shown.index("stopping")
    assert "[y/N] \n" in shown  # a line printed meanwhile starts below the question
    assert shown.endswith("copying 5/9")
