"""``report.md``: what a person pastes into a release or incident ticket.

Every string of a run's result may quote outside text (a log line, an app's
answer, an S3 key, an error's message): each goes through ``mdtext`` (escaped
text, a code span, a fenced block), so the report shows it and never renders
it as Markdown or HTML. Only the report's own markup is Markdown.
"""

from __future__ import annotations

import json
import time
from typing import Any

from opskit.durations import format_duration
from opskit.model import Identity, RunResult, RunStatus, StepRecord
from opskit.report import mdtext
from opskit.report.timeline import timeline_section
from opskit.version import __version__

_ICON = {"ok": "✅", "changed": "✅", "skipped": "⏭️", "failed": "❌", "error": "❌"}
_HEADLINE: dict[RunStatus, str] = {
    "passed": "✅ passed",
    "skipped": "⏭️ not started",
    "failed": "❌ FAILED",
    "interrupted": "⚠️ interrupted",
    "error": "❌ could not run",
    "invalid": "❌ input error",
}
MAX_LIST = 12
MAX_VALUE = 400


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _cell(text: object) -> str:
    """Outside text in a table cell or a paragraph: shown, never rendered."""
    return mdtext.text(text)


def _value(value: Any) -> str:
    """An output's value for a table cell: code spans, lists joined, maps one row a key."""
    if isinstance(value, list):
        shown = [_value(v) for v in value[:MAX_LIST]]
        more = f" … and {len(value) - MAX_LIST} more" if len(value) > MAX_LIST else ""
        return ", ".join(shown) + more if shown else "(none)"
    if isinstance(value, dict):
        if not value:
            return "(none)"
        rows = [f"{_short(k)} → {_value(v)}" for k, v in list(value.items())[:MAX_LIST]]
        if len(value) > MAX_LIST:
            rows.append(f"… and {len(value) - MAX_LIST} more")
        return "<br>".join(rows)
    text = json.dumps(value) if value is None or isinstance(value, bool) else str(value)
    return mdtext.code(text, MAX_VALUE)


def _long(value: Any) -> bool:
    """A multi-line string output (``ecs.redeploy``'s ``diff``)."""
    return isinstance(value, str) and "\n" in value.strip()


def _short(key: object) -> str:
    return mdtext.code(key, 80)


def identity_cell(identity: Identity) -> str:
    """Who the run acted as, for a table cell: the principal's ARN, its account,
    the region and where the credentials came from."""
    region = f" in {_cell(identity.region)}" if identity.region else ""
    return (
        f"{_value(identity.arn)} (account {_value(identity.account)}){region}; "
        f"credentials from {_cell(identity.credentials)}"
    )


def warning_lines(result: RunResult) -> list[str]:
    """The run's start's warnings (whose credentials it used), one paragraph each."""
    return [line for text in result.warnings for line in ("", f"**Warning:** {_cell(text)}")]


def render_markdown(result: RunResult) -> str:
    failed = result.failed_step
    headline = _HEADLINE[result.status]
    lines = [
        f"# {_cell(result.name)}: {headline}",
        "",
        "| | |",
        "| --- | --- |",
        f"| Playbook | {mdtext.code(result.playbook)} |",
        f"| Target | {mdtext.code(result.target)}{' (sandbox)' if result.sandbox else ''} |",
        *([f"| AWS | {identity_cell(result.identity)} |"] if result.identity else []),
        f"| Result | {headline}"
        + (f" at step {mdtext.code(failed.id)}" if failed else "")
        + f" (exit {result.exit_code}) |",
        f"| Started | {_when(result.started_at)} |",
        f"| Duration | {format_duration(result.duration)} |",
        f"| Run id | {mdtext.code(result.run_id)} |",
        f"| opskit | {__version__}{' · dry run' if result.dry_run else ''} |",
    ]
    lines += warning_lines(result)
    if result.error:
        lines += ["", f"**Error:** {_cell(result.error)}"]
    lines += [
        "",
        "## Steps",
        "",
        "| | Step | Type | Status | Duration | Summary |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for index, record in enumerate(result.steps, 1):
        lines.append(_row(index, record))
    lines += timeline_section(result)
    for record in result.steps:
        lines += _section(record)
    if result.on_failure:
        lines += ["", "## Diagnostics (on_failure)", ""]
        lines += [
            "| | Step | Type | Status | Duration | Summary |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for index, record in enumerate(result.on_failure, 1):
            lines.append(_row(index, record))
        for record in result.on_failure:
            lines += _section(record)
    return "\n".join(lines) + "\n"


def _row(index: int, record: StepRecord) -> str:
    warned = "".join(  # what the run left behind stands out where the steps are read
        f"<br>⚠️ at the run's end: {_cell(note.message)}"
        for note in record.finish_notes
        if note.kind == "warning"
    )
    return (
        f"| {index} | {mdtext.code(record.id)} | {_cell(record.uses)} | "
        f"{_ICON.get(record.status, '')} {_cell(record.status)} | "
        f"{format_duration(record.duration)} | {_cell(record.summary)}{warned} |"
    )


def _finish_notes(record: StepRecord) -> list[str]:
    """What the step's type said after every step (a deployment rolled back or
    left paused, a release's verdict recorded), one item each, warnings marked."""
    if not record.finish_notes:
        return []
    return ["", "**At the run's end**", ""] + [
        f"- {'⚠️ **Warning:** ' if note.kind == 'warning' else ''}{_cell(note.message)}"
        for note in record.finish_notes
    ]


def _section(record: StepRecord) -> list[str]:
    if record.status == "skipped" and not record.outputs:
        return []
    lines = [
        "",
        f"### {mdtext.code(record.id)} — {_cell(record.uses)} — {_cell(record.status)}",
        "",
        _cell(record.summary),
    ]
    if record.attempts > 1:
        lines += ["", f"Attempts: {record.attempts}"]
    lines += _finish_notes(record)
    findings = record.outputs.get("findings")
    if isinstance(findings, list) and findings:  # a step that says what the facts mean
        lines += ["", "**What this means**", ""] + [f"- {_cell(str(f))}" for f in findings]
    shown = {  # every declared output is recorded; null means "not in this run"
        name: value
        for name, value in record.outputs.items()
        if name != "findings" and value is not None
    }
    if shown:
        lines += ["", "| Output | Value |", "| --- | --- |"]
        for name, value in shown.items():
            cell = f"({len(value.splitlines())} lines, below)" if _long(value) else _value(value)
            lines.append(f"| {_short(name)} | {cell} |")
        for name, value in shown.items():
            if _long(value):  # a table cell would flatten it: a block of its own
                info = "diff" if name == "diff" else ""
                lines += ["", f"**{_short(name)}**", "", *mdtext.fenced(value.rstrip(), info=info)]
    if record.detail:
        lines += [
            "",
            "<details open><summary>Detail</summary>",
            "",
            *mdtext.fenced(record.detail.rstrip()),
            "",
            "</details>",
        ]
    return lines
