"""opskit: YAML playbooks that deploy an AWS container stack and prove the release is live.

The library API, for programs that drive opskit from Python::

    from opskit import RunOptions, run_playbook

    result = run_playbook("playbooks/redeploy.yaml", RunOptions(target="sandbox"))
    print(result.status, result.exit_code)

The front door is the one table below: each name and the module it comes from.
Names are imported on first use, so ``import opskit`` (and the CLI's start-up)
stays cheap. Reporters and report writers are in ``opskit.report``.
"""

from __future__ import annotations

import importlib
from typing import Any

from opskit.version import __version__

_EXPORTS = {
    "load_playbook": "opskit.playbook",
    "Playbook": "opskit.playbook",
    "run_playbook": "opskit.api",
    "run_targets": "opskit.api",
    "tail_logs": "opskit.api",
    "list_releases": "opskit.api",
    "LogTail": "opskit.api",
    "TailedLine": "opskit.api",
    "FleetOptions": "opskit.fleet",
    "RunOptions": "opskit.model",
    "RunResult": "opskit.model",
    "FleetResult": "opskit.model",
    "StepRecord": "opskit.model",
    "EventBus": "opskit.events",
    "Event": "opskit.events",
    "OpskitError": "opskit.errors",
    "InputError": "opskit.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'opskit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
