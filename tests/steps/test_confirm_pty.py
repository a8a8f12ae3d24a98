"""``confirm`` through the real CLI on a pseudo-terminal: a person reads the
question and types the answer. Few on purpose: each is a subprocess (~1 s)."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

import pytest

from tests.pty_run import run_on_terminal

PLAYBOOK = """
name: ask
targets: {a: {}, b: {}}
default_target: a
steps:
  - id: ask
    uses: confirm
    with:
      question: "Restore last_good into s3://bucket/src/?"
      then: the service is redeployed
  - id: after
    uses: note
    with: {text: restored}
"""
PROMPT = b"[y/N] "


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    path = tmp_path / "ask.yaml"
    path.write_text(PLAYBOOK)
    return path


def on_terminal(playbook: Path, *args: str, answer: bytes | None = None) -> tuple[int, str]:
    """``opskit run`` on a pseudo-terminal; ``answer`` is typed once the question
    shows. The screen as read, and the exit code."""
    env = {**os.environ, "LC_ALL": "C.UTF-8", "TERM": "xterm-256color", "NO_COLOR": "1"}
    env.pop("GITHUB_ACTOR", None)
    command = ["run", str(playbook), *args]
    return run_on_terminal(command, env, playbook.parent, answer=answer, prompt=PROMPT)


def test_answered_yes_on_a_terminal(playbook: Path, tmp_path: Path) -> None:
    code, screen = on_terminal(playbook, "--report", str(tmp_path / "r"), answer=b"y\n")
    assert code == 0, screen
    assert "  ? Restore last_good into s3://bucket/src/?\n" in screen
    assert "    If yes: the service is redeployed [y/N] y\n" in screen
    user = getpass.getuser()
    assert "✓ ok ask" in screen and f"yes, answered by {user} at " in screen
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    outputs = report["steps"][0]["outputs"]
    assert (outputs["answer"], outputs["by"]) == ("yes", user)


def test_answered_no_on_a_terminal(playbook: Path) -> None:
    code, screen = on_terminal(playbook, answer=b"n\n")
    assert code == 1, screen
    assert "✗ FAILED ask" in screen
    assert ": not confirmed: the run stops here" in screen
    assert "not run: an earlier step failed" in screen


def test_a_fleet_never_prompts_on_a_terminal(playbook: Path) -> None:
    code, screen = on_terminal(playbook, "-t", "a", "-t", "b", answer=b"y\n")
    assert code == 1, screen
    assert "[y/N]" not in screen
    assert "nobody to ask (a fleet never prompts): run with --yes to answer yes" in screen
