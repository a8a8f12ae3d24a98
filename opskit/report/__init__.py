"""Reporters: what a person or a machine sees of a run.

Live reporters (terminal, JSON lines) read events; report files (JSON,
Markdown, JUnit) read the final ``RunResult``. None of them reaches into a step.
"""

from __future__ import annotations

from opskit.report.files import write_reports
from opskit.report.jsonlines import JsonLinesReporter
from opskit.report.junit import render_junit
from opskit.report.markdown import render_markdown
from opskit.report.terminal import TerminalReporter

__all__ = [
    "JsonLinesReporter",
    "TerminalReporter",
    "render_junit",
    "render_markdown",
    "write_reports",
]
