"""The terminal view of a fleet: one line per target, then each target's verdict.

On a TTY the block of target lines is redrawn in place as steps start, make
progress and end. Elsewhere (CI logs) every line of every target is printed as
a single run prints it, prefixed with ``[target]``, so a log can be grepped
per target; ``--quiet`` hides log lines as it does for one run.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from opskit.durations import format_duration
from opskit.events import Event
from opskit.outside import printable
from opskit.report.terminal import _STATUS, TerminalReporter

REDRAW_EVERY = 0.1  # seconds between redraws for progress events
WIDTH = 118


class FleetTerminalReporter(TerminalReporter):
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        color: bool = False,
        live: bool = False,
        quiet: bool = False,
    ):
        super().__init__(stream, color=color, live=live, quiet=quiet)
        self._rows: dict[str, str] = {}
        self._drawn = 0
        self._drawn_at = 0.0

    def __call__(self, event: Event) -> None:
        target = event.data.get("target")
        with self._lock:
            if target is None:  # the fleet's own events (and warnings about it)
                if event.kind != "fleet_end":  # the final block stays above the verdicts
                    self._erase()
                self._handlers[event.kind](event)
                if event.kind == "fleet_start":
                    self._rows = {t: "waiting" for t in event.data.get("targets") or []}
                    self._draw(force=True)
                elif event.kind != "fleet_end":
                    self._draw(force=True)
                return
            if not self.live:
                self._prefix = f"[{target}] "
                try:
                    self._handlers[event.kind](event)
                finally:
                    self._prefix = ""
                return
            state = self._state(event)
            if state is not None:
                self._rows[str(target)] = state
                self._draw(force=event.kind != "progress")

    def _state(self, event: Event) -> str | None:
        """A target's row: one line, whatever outside text its event quotes."""
        state = self._row_text(event)
        return None if state is None else printable(state)

    def _row_text(self, event: Event) -> str | None:
        data: dict[str, Any] = event.data
        if event.kind == "run_start":
            return "starting"
        if event.kind == "step_start":
            return f"▶ {event.step_id} {data.get('uses', '')}".rstrip()
        if event.kind == "progress":
            return f"▶ {event.step_id}: {event.message}"
        if event.kind == "step_end":
            status = str(data.get("status", ""))
            symbol, word, _ = _STATUS.get(status, ("?", status, "yellow"))
            return f"{symbol} {event.step_id} {word}: {event.message}"
        if event.kind == "run_end":
            status = str(data.get("status", ""))
            symbol, word, _ = _STATUS.get(status, ("?", status.upper(), "red"))
            duration = format_duration(float(data.get("duration") or 0))
            return f"{symbol} {word} in {duration}" + (
                f": {data['error']}" if data.get("error") else ""
            )
        return None  # log lines, events and info stay out of the live block

    def _erase(self) -> None:
        if self.live and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self, *, force: bool) -> None:
        if not self.live or not self._rows:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < REDRAW_EVERY:
            return
        self._drawn_at = now
        width = max(len(t) for t in self._rows)
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F")
        for target, state in self._rows.items():
            text = f"{printable(target):<{width}}  {state}"
            text = text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"
            colour = "red" if "✗" in state else "green" if state.startswith("✓") else "dim"
            self.stream.write("\x1b[K" + self.paint(text, colour) + "\n")
        self.stream.flush()
        self._drawn = len(self._rows)
