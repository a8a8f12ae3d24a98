"""Write ``report.json``, ``report.md`` and ``junit.xml``; feed GitHub's step summary
(the file the caller names: the CLI passes ``$GITHUB_STEP_SUMMARY``; the library
never reads it from the environment)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opskit.model import RunResult
from opskit.redact import Redactor

REPORT_FILES = ("report.json", "report.md", "junit.xml")


def redacted(result: RunResult, redactor: Redactor) -> RunResult:
    return RunResult.from_dict(redactor.value(result.as_dict()))


def write_reports(
    result: RunResult,
    directory: Path | None,
    redactor: Redactor,
    *,
    step_summary: Path | None = None,
) -> list[Path]:
    """Write the three files (when ``directory``) and append the Markdown to
    ``step_summary`` (when given)."""
    from opskit.report.junit import render_junit
    from opskit.report.markdown import render_markdown

    clean = redacted(result, redactor)
    return write_report_files(
        directory,
        clean.as_dict(),
        render_markdown(clean),
        lambda: render_junit(clean),
        step_summary=step_summary,
    )


def write_report_files(
    directory: Path | None,
    document: dict[str, Any],
    markdown: str,
    junit: Callable[[], str],
    *,
    step_summary: Path | None = None,
) -> list[Path]:
    """The three files of a report (one run or a fleet) when ``directory`` is given,
    and the Markdown appended to ``step_summary`` (GitHub's job summary)."""
    written: list[Path] = []
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        files = {
            "report.json": json.dumps(document, indent=2, default=str, ensure_ascii=False),
            "report.md": markdown,
            "junit.xml": junit(),
        }
        for name, text in files.items():
            path = directory / name
            path.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
            written.append(path)
    if step_summary is not None:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
        written.append(step_summary)
    return written
