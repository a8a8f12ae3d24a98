"""The terminal view: live on a TTY, plain lines everywhere else.

On a TTY, ``progress`` events rewrite one status line; without a TTY (CI logs)
progress is printed as plain lines at most every ``PLAIN_PROGRESS_EVERY``
seconds per step, so a 10-minute wait shows a heartbeat without flooding the log.
Colour only on a TTY and never with ``NO_COLOR``.

Every string an event carries may quote outside text (a log line, an app's
answer, an S3 key, an exception's message), so each is shown through
``opskit.outside`` before opskit's own markup (colour, the ``│`` bar, the task
tag) is put around it: each of its lines becomes a printed line with the same
prefix, escape sequences and control characters are shown escaped, and no line
can begin a CI workflow command.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from opskit.durations import format_duration
from opskit.events import EVENT_KINDS, Event
from opskit.outside import defang, printable, printable_lines

PLAIN_PROGRESS_EVERY = 10.0
_COLOURS = {
    "green": "32",
    "red": "31",
    "yellow": "33",
    "blue": "34",
    "dim": "2",
    "bold": "1",
    "cyan": "36",
    "magenta": "35",
}
_STATUS = {
    "passed": ("✓", "passed", "green"),
    "interrupted": ("✗", "INTERRUPTED", "red"),
    "invalid": ("✗", "INVALID", "red"),
    "ok": ("✓", "ok", "green"),
    "changed": ("✓", "changed", "green"),
    "skipped": ("–", "skipped", "dim"),  # a step, or a target that never started
    "failed": ("✗", "FAILED", "red"),
    "error": ("✗", "ERROR", "red"),
}


class TerminalReporter:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        color: bool = False,
        live: bool = False,
        quiet: bool = False,
    ):
        self.stream = stream or sys.stdout
        self.color = color
        self.live = live
        self.quiet = quiet
        self.unicode = (getattr(self.stream, "encoding", "") or "").lower().startswith("utf")
        self._status_line = ""
        # "asking": a question waits for its answer on the current line (no live
        # line); "broken": a line was printed below it since; "": no question.
        self._holding = ""
        self._prefix = ""  # a fleet's plain view puts "[target] " before each line
        self._last_plain: dict[str | None, float] = {}
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[[Event], None]] = {
            "run_start": self.on_run_start,
            "step_start": self.on_step_start,
            "step_end": self.on_step_end,
            "run_end": self.on_run_end,
            "progress": self.on_progress,
            "info": self.on_info,
            "warning": self.on_warning,
            "log": self.on_log,
            "event": self.on_event,
            "mark": self.on_mark,
            "fleet_start": self.on_fleet_start,
            "fleet_end": self.on_fleet_end,
        }
        unhandled = EVENT_KINDS - set(self._handlers)
        if unhandled:  # a new event kind must be shown, not silently dropped
            raise TypeError(f"TerminalReporter has no handler for {sorted(unhandled)}")

    def paint(self, text: str, colour: str) -> str:
        if not self.color:
            return text
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._handlers[event.kind](event)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """While a confirm step's question waits on this terminal: the live line is
        cleared and not redrawn, so progress cannot overwrite the question."""
        with self._lock:
            self._clear()
            self.stream.flush()
            self._holding = "asking"
        try:
            yield
        finally:
            with self._lock:
                self._holding = ""

    # -- output helpers -----------------------------------------------------------
    def _clear(self) -> None:
        if self.live and self._status_line:
            self.stream.write("\r\x1b[K")
            self._status_line = ""

    def line(self, text: str) -> None:
        """One printed line: ``text`` is opskit's markup around outside text that
        went through ``printable`` (the last guard: no line starts a command)."""
        self._clear()
        if self._holding == "asking":  # a line while a question waits starts below it
            self.stream.write("\n")
            self._holding = "broken"
        self.stream.write(defang(self._prefix + text) + "\n")
        self.stream.flush()

    def lines(self, head: str, text: object) -> None:
        """Outside ``text``, each of its lines printed after ``head``."""
        for piece in printable_lines(text):
            self.line(head + piece)

    def _status(self, text: str) -> None:
        width = 120
        text = printable(text)
        text = text if len(text) <= width else text[: width - 1] + "…"
        self.stream.write("\r\x1b[K" + self.paint(text, "dim"))
        self.stream.flush()
        self._status_line = text

    # -- events ---------------------------------------------------------------
    def on_run_start(self, event: Event) -> None:
        self.line(
            self.paint(f"opskit run {printable(event.data.get('playbook', ''))}", "bold")
            + f" · {printable(event.message)}"
        )

    def on_step_start(self, event: Event) -> None:
        marker = "▶" if self.unicode else ">"
        phase = " (on_failure)" if event.data.get("phase") == "on_failure" else ""
        self.line(
            f"{self.paint(marker, 'blue')} {self.paint(printable(event.message), 'bold')} "
            f"{self.paint(printable(event.data.get('uses', '')), 'dim')}{phase}"
        )

    def on_progress(self, event: Event) -> None:
        message = printable(event.message)
        text = f"  … {message}" if self.unicode else f"  ... {message}"
        if self.live:
            if not self._holding:
                self._status(text)
            return
        now = time.monotonic()
        key = f"{self._prefix}{event.step_id}"
        if now - self._last_plain.get(key, 0.0) >= PLAIN_PROGRESS_EVERY:
            self._last_plain[key] = now
            self.line(text)

    def on_info(self, event: Event) -> None:
        if event.data.get("note"):  # a note step's text: a block set off by a bar
            self.lines("  " + self.paint("┃" if self.unicode else "|", "cyan") + " ", event.message)
            return
        self.lines("  ", event.message)

    def on_warning(self, event: Event) -> None:
        for piece in printable_lines(event.message):
            self.line("  " + self.paint(f"! {piece}", "yellow"))

    def on_event(self, event: Event) -> None:
        self.lines("  " + self.paint("ecs", "cyan") + " ", event.message)

    def on_mark(self, event: Event) -> None:
        """Marks feed the report's timeline; an info line has said the same."""

    def on_log(self, event: Event) -> None:
        if self.quiet:
            return
        task = printable(str(event.data.get("task_id") or "")[:8])
        age = printable(event.data.get("age") or "")
        tag = self.paint(f"{task} {age}".strip(), "magenta" if age == "NEW" else "dim")
        bar = "│" if self.unicode else "|"
        self.lines(f"  {bar} {tag} ", event.message)

    def on_step_end(self, event: Event) -> None:
        status = str(event.data.get("status", ""))
        symbol, word, colour = _STATUS.get(status, ("?", status, "yellow"))
        if not self.unicode:
            symbol = {"✓": "+", "✗": "x", "–": "-"}.get(symbol, symbol)
        duration = format_duration(float(event.data.get("duration") or 0))
        first, *rest = printable_lines(event.message)
        self.line(
            f"{self.paint(printable(symbol + ' ' + word), colour)} {printable(event.step_id)} "
            f"{self.paint(duration, 'dim')}  {first}"
        )
        for piece in rest:
            self.line("    " + piece)
        detail = str(event.data.get("detail") or "")
        if detail and status in ("failed", "error"):
            self.lines("    ", detail.rstrip())

    def on_run_end(self, event: Event) -> None:
        data: dict[str, Any] = event.data
        status = data.get("status")
        colour = {"passed": "green", "skipped": "dim"}.get(str(status), "red")
        duration = format_duration(float(data.get("duration") or 0))
        text = f"{str(status).upper()} in {duration} (exit {data.get('exit_code')})"
        if status == "skipped":  # a fleet's target that never started: say why
            reason = str(data.get("error") or "").removeprefix("not started: ")
            text = f"NOT STARTED: {printable(reason)}"
        self.line(self.paint(printable(text), colour))

    def on_fleet_start(self, event: Event) -> None:
        self.on_run_start(event)

    def on_fleet_end(self, event: Event) -> None:
        """Each target's verdict, then the fleet's (its worst target's)."""
        verdicts: dict[str, str] = event.data.get("verdicts") or {}
        reasons: dict[str, str] = event.data.get("reasons") or {}
        width = max((len(t) for t in verdicts), default=0)
        for target, status in verdicts.items():
            symbol, word, colour = _STATUS.get(status, ("?", status.upper(), "red"))
            if not self.unicode:
                symbol = {"✓": "+", "✗": "x", "–": "-"}.get(symbol, symbol)
            reason = f"  {printable(reasons[target])}" if target in reasons else ""
            shown = f"{printable(target):<{width}}"
            self.line(f"{self.paint(f'{symbol} {word:<11}', colour)} {shown}{reason}")
        status = str(event.data.get("status"))
        duration = format_duration(float(event.data.get("duration") or 0))
        colour = "green" if status == "passed" else "red"
        text = f"{status.upper()} in {duration} (exit {event.data.get('exit_code')})"
        self.line(self.paint(text, colour))


def wants_color(stream: TextIO, environ: dict[str, str]) -> bool:
    return _isatty(stream) and "NO_COLOR" not in environ and environ.get("TERM") != "dumb"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def is_live(stream: TextIO, environ: dict[str, str]) -> bool:
    return _isatty(stream) and environ.get("TERM") != "dumb"
