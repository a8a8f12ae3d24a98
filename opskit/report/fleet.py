"""The report of a run over many targets: one place renders it, whoever ran them.

A fleet report is read the same whether its targets ran in one process (the
fleet engine) or in a CI matrix whose jobs' reports were merged afterwards
(``opskit report merge``): ``report.json`` holds every target's run as the
single-target report holds it, ``report.md`` has a row per target and each
target's steps below, ``junit.xml`` has one testsuite per target. The run's
status is its worst target's, and so is its exit code.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from opskit.durations import format_duration
from opskit.model import SEVERITY, FleetResult, RunResult, worst_status
from opskit.redact import Redactor
from opskit.report.files import REPORT_FILES, redacted, write_report_files
from opskit.report.junit import render_junit
from opskit.report.markdown import (
    _HEADLINE,
    _cell,
    _row,
    _section,
    _when,
    identity_cell,
    warning_lines,
)
from opskit.report.mdtext import code
from opskit.report.timeline import fleet_timeline_section
from opskit.version import __version__

__all__ = [
    "REPORT_FILES",
    "FleetResult",
    "one_line_reason",
    "render_fleet_junit",
    "render_fleet_markdown",
    "worst_status",
    "write_fleet_reports",
]


def one_line_reason(run: RunResult) -> str:
    """Why a run did not pass, in one line (for a table cell or a CI annotation)."""
    failed = run.failed_step
    if run.error:
        reason = run.error
    elif failed is not None:
        reason = f"step {failed.id} ({failed.uses}) {failed.status}: {failed.summary}"
    elif run.status == "interrupted":
        reason = "interrupted"
    elif run.status == "passed":
        reason = "passed"
    else:
        reason = run.status
    return " ".join(reason.split())


def _counts(fleet: FleetResult) -> str:
    tally: dict[str, int] = {}
    for run in fleet.runs:
        tally[run.status] = tally.get(run.status, 0) + 1
    parts = [f"{tally[s]} {s}" for s in SEVERITY if s in tally]
    return f"{len(fleet.runs)}: " + ", ".join(parts) if parts else "none"


def render_fleet_markdown(fleet: FleetResult) -> str:
    headline = _HEADLINE[fleet.status]
    lines = [
        f"# {_cell(fleet.name)}: {headline}",
        "",
        "| | |",
        "| --- | --- |",
        f"| Playbook | {code(fleet.playbook)} |",
        f"| Targets | {_counts(fleet)} |",
        f"| Result | {headline} (exit {fleet.exit_code}) |",
        f"| Duration | {format_duration(fleet.duration)} |",
        f"| opskit | {__version__} |",
        "",
        "## Targets",
        "",
        "| | Target | Result | Duration | Reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    for index, run in enumerate(fleet.runs, 1):
        reason = "" if run.status == "passed" else one_line_reason(run)
        lines.append(
            f"| {index} | {code(run.target)} | {_HEADLINE[run.status]} | "
            f"{format_duration(run.duration)} | {_cell(reason)} |"
        )
    lines += fleet_timeline_section(fleet.runs)
    for run in fleet.runs:
        lines += _target_section(run)
    return "\n".join(lines) + "\n"


def _target_section(run: RunResult) -> list[str]:
    failed = run.failed_step
    lines = [
        "",
        f"## {code(run.target)}: {_HEADLINE[run.status]}"
        + (f" at step {code(failed.id)}" if failed else ""),
        "",
        f"Started {_when(run.started_at)} · {format_duration(run.duration)} · "
        f"run id {code(run.run_id)}{' · sandbox' if run.sandbox else ''}"
        f"{' · dry run' if run.dry_run else ''} · exit {run.exit_code}",
    ]
    if run.identity:
        lines += ["", f"AWS: {identity_cell(run.identity)}"]
    lines += warning_lines(run)
    if run.error:
        lines += ["", f"**Error:** {_cell(run.error)}"]
    lines += [
        "",
        "| | Step | Type | Status | Duration | Summary |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [_row(index, record) for index, record in enumerate(run.steps, 1)]
    for record in run.steps:
        lines += _section(record)
    if run.on_failure:
        lines += [
            "",
            f"**Diagnostics (on_failure) of {code(run.target)}**",
            "",
            "| | Step | Type | Status | Duration | Summary |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines += [_row(index, record) for index, record in enumerate(run.on_failure, 1)]
        for record in run.on_failure:
            lines += _section(record)
    return lines


def render_fleet_junit(fleet: FleetResult) -> str:
    """One ``testsuite`` per target (each as the single-target report renders it)."""
    suites = ET.Element("testsuites", name="opskit")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for run in fleet.runs:
        suite = ET.fromstring(render_junit(run)).find("testsuite")
        assert suite is not None
        for key in totals:
            totals[key] += int(suite.get(key) or 0)
        suites.append(suite)
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("time", f"{fleet.duration:.3f}")
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def write_fleet_reports(
    fleet: FleetResult,
    directory: Path | None,
    redactor: Redactor | None = None,
    *,
    step_summary: Path | None = None,
) -> list[Path]:
    """The three files (when ``directory``) and the Markdown appended to
    ``step_summary``, as ``write_reports`` does for one target. With ``redactor``,
    every target's run is redacted first (reports read back from disk are
    redacted already)."""
    if redactor is not None:
        fleet = FleetResult(
            fleet.playbook, fleet.name, [redacted(r, redactor) for r in fleet.runs], fleet.duration
        )
    return write_report_files(
        directory,
        fleet.as_dict(),
        render_fleet_markdown(fleet),
        lambda: render_fleet_junit(fleet),
        step_summary=step_summary,
    )
