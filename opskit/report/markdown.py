"""``report.md``: what a person pastes into a release or incident ticket."""

from __future__ import annotations

import json
import time
from typing import Any

from opskit.durations import format_duration
from opskit.model import Identity, RunResult, RunStatus, StepRecord
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


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _value(value: Any) -> str:
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
    text = text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
    return f"`{text}`" if "`" not in text else text


def _short(key: object) -> str:
    text = str(key)
    return f"`{text}`" if len(text) <= 80 and "`" not in text else text


def identity_cell(identity: Identity) -> str:
    """Who the run acted as, for a table cell: the principal's ARN, its account,
    the region and where the credentials came from."""
    region = f" in {identity.region}" if identity.region else ""
    return (
        f"{_cell(_value(identity.arn))} (account {_cell(_value(identity.account))}){region}; "
        f"credentials from {_cell(identity.credentials)}"
    )


def warning_lines(result: RunResult) -> list[str]:
    """The run's start's warnings (whose credentials it used), one paragraph each."""
    return [line for text in result.warnings for line in ("", f"**Warning:** {_cell(text)}")]


def render_markdown(result: RunResult) -> str:
    failed = result.failed_step
    headline = _HEADLINE[result.status]
    lines = [
        f"# {result.name}: {headline}",
        "",
        "| | |",
        "| --- | --- |",
        f"| Playbook | `{result.playbook}` |",
        f"| Target | `{result.target}`{' (sandbox)' if result.sandbox else ''} |",
        *([f"| AWS | {identity_cell(result.identity)} |"] if result.identity else []),
        f"| Result | {headline}"
        + (f" at step `{failed.id}`" if failed else "")
        + f" (exit {result.exit_code}) |",
        f"| Started | {_when(result.started_at)} |",
        f"| Duration | {format_duration(result.duration)} |",
        f"| Run id | `{result.run_id}` |",
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
    return (
        f"| {index} | `{record.id}` | {record.uses} | {_ICON.get(record.status, '')} "
        f"{record.status} | {format_duration(record.duration)} | {_cell(record.summary)} |"
    )


def _section(record: StepRecord) -> list[str]:
    if record.status == "skipped" and not record.outputs:
        return []
    lines = ["", f"### `{record.id}` — {record.uses} — {record.status}", "", _cell(record.summary)]
    if record.attempts > 1:
        lines += ["", f"Attempts: {record.attempts}"]
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
            lines.append(f"| `{name}` | {_cell(_value(value))} |")
    if record.detail:
        fence = "````" if "```" in record.detail else "```"
        lines += [
            "",
            "<details open><summary>Detail</summary>",
            "",
            fence,
            record.detail.rstrip(),
            fence,
            "",
            "</details>",
        ]
    return lines
