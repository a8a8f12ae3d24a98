"""opskit: YAML playbooks that deploy an AWS container stack and prove the release is live.

The library API, for programs that drive opskit from Python::

    from opskit import RunOptions, run_playbook

    result = run_playbook("playbooks/redeploy.yaml", RunOptions(target="sandbox"))
    print(result.status, result.exit_code)

Names are imported on first use, so ``import opskit`` (and the CLI's start-up)
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_playbook": "opskit.playbook",
    "Playbook": "opskit.playbook",
    "run_playbook": "opskit.api",
    "run_targets": "opskit.api",
    "tail_logs": "opskit.api",
    "FleetOptions": "opskit.fleet",
    "FleetResult": "opskit.model",
    "RunOptions": "opskit.model",
    "RunResult": "opskit.model",
    "StepRecord": "opskit.model",
    "EventBus": "opskit.events",
    "Event": "opskit.events",
    "TerminalReporter": "opskit.report.terminal",
    "JsonLinesReporter": "opskit.report.jsonlines",
    "write_reports": "opskit.report.files",
    "render_markdown": "opskit.report.markdown",
    "render_junit": "opskit.report.junit",
    "OpskitError": "opskit.errors",
    "InputError": "opskit.errors",
}

__all__ = [
    "__version__",
    "load_playbook",
    "Playbook",
    "run_playbook",
    "run_targets",
    "tail_logs",
    "FleetOptions",
    "FleetResult",
    "RunOptions",
    "RunResult",
    "StepRecord",
    "EventBus",
    "Event",
    "TerminalReporter",
    "JsonLinesReporter",
    "write_reports",
    "render_markdown",
    "render_junit",
    "OpskitError",
    "InputError",
]

if TYPE_CHECKING:
    from opskit.api import run_playbook, run_targets, tail_logs
    from opskit.errors import InputError, OpskitError
    from opskit.events import Event, EventBus
    from opskit.fleet import FleetOptions
    from opskit.model import FleetResult, RunOptions, RunResult, StepRecord
    from opskit.playbook import Playbook, load_playbook
    from opskit.report.files import write_reports
    from opskit.report.jsonlines import JsonLinesReporter
    from opskit.report.junit import render_junit
    from opskit.report.markdown import render_markdown
    from opskit.report.terminal import TerminalReporter


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'opskit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
