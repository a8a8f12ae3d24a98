"""A run's report as GitHub Actions reads it: step outputs and error annotations.

``$GITHUB_OUTPUT`` gets ``status``, ``exit-code``, ``reason``, ``report-dir``,
every step output as ``<step id>-<output name>`` (a fleet report prefixes each
with ``<target>-``) and ``outputs``, all step outputs as one JSON object (a
composite action can only pass on outputs it declares, so the action declares
that one). Strings are written as they are, ``null`` as an empty
string, everything else (numbers, booleans, lists, maps) as JSON. A value with a
line break is written with the delimiter syntax GitHub documents for
multi-line values. A run that did not pass gets one ``::error`` line per failed
target, with the run's one-line reason.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from opskit.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED
from opskit.model import RunResult
from opskit.outside import visible
from opskit.report.fleet import FleetResult, one_line_reason
from opskit.report.merge import read_report

_FIXED = ("status", "exit-code", "reason", "report-dir", "outputs")

__all__ = ["GithubReport", "annotation", "format_output", "github_report", "output_value"]


def output_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def format_output(name: str, value: str) -> str:
    """One ``$GITHUB_OUTPUT`` entry; multi-line values use a delimiter that
    cannot occur in them (GitHub's own runner generates one the same way)."""
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    while delimiter in value:  # pragma: no cover - a uuid4 does not repeat
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(title: str, message: str) -> str:
    """A ``::error`` workflow command (GitHub shows it on the run's summary page).
    Its title and message quote outside text (a target's name, an error's
    message): control characters are shown escaped (``opskit.outside``), then
    GitHub's own escaping applies (``%25``, ``%0D``, ``%0A``; in a property also
    ``%3A`` and ``%2C``), so nothing in them ends the command or starts another."""
    return f"::error title={_escape_property(visible(title))}::{_escape_data(visible(message))}"


class GithubReport:
    """The outputs and annotations of one report (single target or fleet)."""

    def __init__(self, runs: list[RunResult], fleet: FleetResult | None, report_dir: str):
        self.runs = runs
        self.fleet = fleet
        self.report_dir = report_dir

    @property
    def status(self) -> str:
        return self.fleet.status if self.fleet else self.runs[0].status

    @property
    def exit_code(self) -> int:
        return self.fleet.exit_code if self.fleet else self.runs[0].exit_code

    def reason(self) -> str:
        failed = [run for run in self.runs if run.status != "passed"]
        if not failed:
            return ""
        if self.fleet is None:
            return one_line_reason(failed[0])
        return "; ".join(f"{run.target}: {one_line_reason(run)}" for run in failed)

    def step_outputs(self) -> dict[str, Any]:
        """Every step output as ``<step id>-<output name>``, native values (the
        action's ``outputs`` JSON, which ``fromJSON`` reads back as lists and maps)."""
        values: dict[str, Any] = {}
        for run in self.runs:
            prefix = f"{run.target}-" if self.fleet is not None else ""
            for record in [*run.steps, *run.on_failure]:
                for name, value in record.outputs.items():
                    key = f"{prefix}{record.id}-{name}"
                    if key not in _FIXED:  # the run's own outputs win
                        values[key] = value
        return values

    def outputs(self) -> dict[str, str]:
        """Every ``$GITHUB_OUTPUT`` entry, in the order written."""
        steps = self.step_outputs()
        return {
            "status": self.status,
            "exit-code": str(self.exit_code),
            "reason": self.reason(),
            "report-dir": self.report_dir,
            **{name: output_value(value) for name, value in steps.items()},
            "outputs": json.dumps(steps, ensure_ascii=False, default=str),
        }

    def github_output(self) -> str:
        return "".join(format_output(name, value) for name, value in self.outputs().items())

    def annotations(self) -> list[str]:
        lines = []
        for run in self.runs:
            if run.status == "passed":
                continue
            where = f" [{run.target}]" if run.target else ""
            title = f"opskit: {run.name}{where} {run.status}"
            lines.append(annotation(title, one_line_reason(run)))
        return lines


def github_report(report_dir: Path, *, exit_code: int | None = None) -> GithubReport:
    """Read ``report_dir/report.json``. When a run ended before it wrote one (bad
    input: exit 2; a signal before the run could take it: 130 or 143, kept as
    such), ``exit_code`` stands in for it, so the job still gets its outputs and
    an annotation; so it does when the report there says otherwise
    (an earlier run's report left in the folder must never turn a failure green)."""
    if report_dir.is_file():  # the report.json itself
        report_dir = report_dir.parent
    file = report_dir / "report.json"
    if exit_code is not None and exit_code != 0 and not file.exists():
        return _no_report(report_dir, exit_code)
    runs = read_report(report_dir)  # checks the file: one clear line when it is broken
    document = json.loads(file.read_text(encoding="utf-8"))
    if exit_code is not None and document.get("exit_code") != exit_code:
        return _no_report(report_dir, exit_code)
    fleet = FleetResult.from_dict(document) if document.get("kind") == "fleet" else None
    return GithubReport(runs, fleet, str(report_dir))


def _no_report(report_dir: Path, exit_code: int) -> GithubReport:
    stopped_by = _SIGNAL_EXITS.get(exit_code)
    if exit_code == EXIT_BAD_INPUT:
        why = "bad input"
    elif stopped_by is not None:
        why = f"stopped by {stopped_by}, exit {exit_code}"
    else:
        why = f"exit {exit_code}"
    run = RunResult(
        playbook="",
        name="run",
        target="",
        dry_run=False,
        run_id="",
        started_at=0.0,
        status=_status_of(exit_code),
        error=f"opskit ended before writing a report ({why}); its error is in the step's log",
        signal=stopped_by,  # the run's exit code follows it: 143 stays 143
    )
    return GithubReport([run], None, str(report_dir))


# A shell reports a child a signal ended (or one that exited as if it had) as
# 128 + the signal's number; opskit exits so after Ctrl-C (130) and SIGTERM (143).
_SIGNAL_EXITS = {EXIT_INTERRUPTED: "SIGINT", EXIT_TERMINATED: "SIGTERM"}


def _status_of(exit_code: int) -> Any:
    if exit_code in _SIGNAL_EXITS:
        return "interrupted"
    return "invalid" if exit_code == EXIT_BAD_INPUT else "error"
