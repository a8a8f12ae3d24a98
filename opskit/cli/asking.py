"""The person at the terminal, who answers a ``confirm`` step's question.

A confirm step never guesses: the runner asks this prompt only for one run on a
terminal without ``--yes`` (``Runner._answer`` holds the rule). The question is
read here, not with ``click.confirm``, so that Ctrl-C or the step's timeout
(the run's cancel event) ends the wait instead of leaving the step's thread
blocked in ``input()``, and so that the live progress line is cleared and kept
off the screen while the question waits.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import select
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from opskit.model import Prompt
from opskit.outside import defang, printable_lines

YES = ("y", "yes")
NO = ("n", "no", "")  # Enter is no: a confirm step's default is not to go on
POLL = 0.1  # seconds between looks at the cancel event while waiting for a line


def terminal_user() -> str:
    """Who sits at the terminal: the OS user (``getpass``), or ``unknown user``."""
    try:
        return getpass.getuser() or "unknown user"
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (a container)
        return "unknown user"


def answered_by(*, yes: bool, environ: dict[str, str]) -> str:
    """Who a confirm step's answer is from: the terminal's user, or ``--yes`` with
    the CI actor when the run is in GitHub Actions, else the OS user."""
    if not yes:
        return terminal_user()
    actor = environ.get("GITHUB_ACTOR")
    return f"--yes (GITHUB_ACTOR {actor})" if actor else f"--yes (user {terminal_user()})"


def terminal_prompt(reporter: Any, stdin: TextIO, stdout: TextIO) -> Prompt:
    """A ``Prompt`` reading ``stdin`` and writing to ``stdout``, with ``reporter``'s
    live line held off the screen while it waits."""

    def prompt(question: str, cancel: threading.Event) -> bool | None:
        with _held(reporter):
            return read_yes_no(question, cancel, stdin, stdout)

    return prompt


@contextlib.contextmanager
def _held(reporter: Any) -> Iterator[None]:
    held = getattr(reporter, "held", None)
    with held() if held is not None else contextlib.nullcontext():
        yield


def read_yes_no(
    question: str, cancel: threading.Event, stdin: TextIO, stdout: TextIO
) -> bool | None:
    """y/yes → True, n/no/Enter → False, end of input (Ctrl-D) or a cancel → None;
    anything else asks again. The question may quote templated vars: shown as
    outside text."""
    first, *rest = printable_lines(question) or [""]
    *lines, last = ["  ? " + first, *("  " + line for line in rest)]
    for line in lines:
        stdout.write(defang(line) + "\n")
    while True:
        stdout.write(defang(last) + " [y/N] ")
        stdout.flush()
        reply = _read_line(cancel, stdin)
        if reply is None:
            stdout.write("\n")
            stdout.flush()
            return None
        word = reply.strip().lower()
        if word in YES:
            return True
        if word in NO:
            return False
        last = "  Please answer yes or no."


def _read_line(cancel: threading.Event, stdin: TextIO) -> str | None:
    """One line, or None at end of input or once ``cancel`` is set."""
    fileno = stdin.fileno()
    while not cancel.is_set():
        ready, _, _ = select.select([fileno], [], [], POLL)
        if ready:
            line = os.read(fileno, 4096).decode(errors="replace")
            return line if line else None
    return None
