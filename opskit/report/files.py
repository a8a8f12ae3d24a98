"""Write ``report.json``, ``report.md`` and ``junit.xml``; feed GitHub's step summary."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opskit.model import RunResult
from opskit.redact import Redactor

REPORT_FILES = ("report.json", "report.md", "junit.xml")


def redacted(result: RunResult, redactor: Redactor) -> RunResult:
    return RunResult.from_dict(redactor.value(result.as_dict()))


def write_reports(result: RunResult, directory: Path | None, redactor: Redactor) -> list[Path]:
    """Write the three files (when ``directory``) and append to ``$GITHUB_STEP_SUMMARY``."""
    from opskit.report.junit import render_junit
    from opskit.report.markdown import render_markdown

    clean = redacted(result, redactor)
    return write_report_files(
        directory, clean.as_dict(), render_markdown(clean), lambda: render_junit(clean)
    )


def write_report_files(
    directory: Path | None,
    document: dict[str, Any],
    markdown: str,
    junit: Callable[[], str],
) -> list[Path]:
    """The three files of a report (one run or a fleet) when ``directory`` is given,
    and the Markdown appended to ``$GITHUB_STEP_SUMMARY`` under GitHub Actions."""
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
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
        written.append(Path(summary))
    return written
