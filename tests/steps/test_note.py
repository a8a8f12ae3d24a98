"""``note``: instructions shown in the live view and the report, as text."""

from __future__ import annotations

import io
import json
from pathlib import Path

from opskit.events import Event
from opskit.report.terminal import TerminalReporter
from tests.cli_helpers import Cli

PLAYBOOK = """
name: notes
vars: {where: "s3://bucket/src/"}
steps:
  - id: next
    uses: note
    with:
      text: |
        Check the dashboard, then {{ vars.where }}.
        {{ vars.odd }}
"""
# A var may carry outside text: a fence, a table bar, a CI command.
ODD = "```\n| x | y |\n::add-mask::secret"


def test_a_note_shows_as_a_block_and_in_the_report_as_inert_text(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "notes.yaml"
    path.write_text(PLAYBOOK)
    done = cli.run(path, "-e", f"odd={ODD}", "--report", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout
    assert "  ┃ Check the dashboard, then s3://bucket/src/." in done.stdout
    assert "  ┃ \\::add-mask::secret" in done.stdout  # not a command to a CI runner
    assert "✓ ok next" in done.stdout
    assert "note: Check the dashboard, then s3://bucket/src/." in done.stdout
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "Check the dashboard, then s3://bucket/src/." in markdown
    timeline_starts = markdown.index("```mermaid")
    timeline_ends = markdown.index("\n```\n", timeline_starts) + 5
    text = markdown[:timeline_starts] + markdown[timeline_ends:]
    fence_lines = [line for line in text.splitlines() if line.startswith("```")]
    # the note's own ``` sits inside a longer fence: it opens and closes nothing
    assert fence_lines == ["````", "```", "````"]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (step,) = report["steps"]
    assert step["status"] == "ok" and step["outputs"]["at"].endswith("Z")


def test_a_note_is_a_json_lines_event(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "notes.yaml"
    path.write_text(PLAYBOOK)
    done = cli.run(path, "-e", "odd=x", "--output", "json")
    events = [json.loads(line) for line in done.stdout.splitlines()]
    (note,) = [e for e in events if e["kind"] == "info" and e.get("data", {}).get("note")]
    assert note["step"] == "next"
    assert note["message"] == "Check the dashboard, then s3://bucket/src/.\nx"
    marks = [e for e in events if e["kind"] == "mark"]
    assert [(m["message"], m["data"]["what"]) for m in marks] == [("note", "note")]


def test_a_note_runs_in_a_dry_run(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "notes.yaml"
    path.write_text(PLAYBOOK)
    done = cli.run(path, "-e", "odd=x", "--dry-run")
    assert done.returncode == 0
    assert "  ┃ Check the dashboard" in done.stdout


def test_a_plain_terminal_marks_a_note_with_a_bar() -> None:
    screen = io.StringIO()  # no encoding: not UTF-8, so ASCII marks
    TerminalReporter(screen)(Event("info", "one\ntwo", "n", {"note": True}))
    assert screen.getvalue() == "  | one\n  | two\n"
