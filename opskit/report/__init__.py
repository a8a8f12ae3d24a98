"""Reporters: what a person or a machine sees of a run.

Live reporters (terminal, JSON lines) read events; report files (JSON,
Markdown, JUnit) read the final ``RunResult``. None of them reaches into a step.
"""

from __future__ import annotations

from opskit.report.files import write_reports

__all__ = ["write_reports"]
