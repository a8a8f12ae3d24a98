"""The registry of step types: ``uses:`` name -> module.

Explicit on purpose (pre-commit's ``all_languages.py``): the catalog is
readable in one place, and an unknown ``uses:`` can list every known name.
"""

from __future__ import annotations

import importlib
import importlib.util

from opskit.steps.base import Input, StepContext, StepResult, StepType

__all__ = ["Input", "StepContext", "StepResult", "StepType", "get", "names", "register"]

_MODULES: dict[str, str] = {
    "http.probe": "opskit.steps.http_probe",
    "s3.sync": "opskit.steps.s3_sync",
    "s3.verify": "opskit.steps.s3_verify",
    "s3.restore": "opskit.steps.s3_restore",
    "s3.releases": "opskit.steps.s3_releases",
    "release.diagnose": "opskit.steps.release_diagnose",
    "ecs.redeploy": "opskit.steps.ecs_redeploy",
    "ecs.deployment": "opskit.steps.ecs_deployment",
    "ecs.describe": "opskit.steps.ecs_describe",
    "ecs.run_task": "opskit.steps.ecs_run_task",
    "logs.wait": "opskit.steps.logs_wait",
    "logs.tail": "opskit.steps.logs_tail",
    "cloudwatch.alarms": "opskit.steps.cloudwatch_alarms",
    "streamlit.session": "opskit.steps.streamlit_session",
    "confirm": "opskit.steps.confirm",
    "note": "opskit.steps.note",
}
_EXTRA: dict[str, StepType] = {}


def _available() -> dict[str, str]:
    found = {}
    for name, module in _MODULES.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = module
    return found


def names() -> list[str]:
    return sorted({*_available(), *_EXTRA})


def get(name: str) -> StepType | None:
    if name in _EXTRA:
        return _EXTRA[name]
    module = _available().get(name)
    if module is None:
        return None
    return importlib.import_module(module).STEP


def register(step_type: StepType) -> None:
    """Add a step type at run time (tests use it for their own step types)."""
    _EXTRA[step_type.name] = step_type


def unregister(name: str) -> None:
    _EXTRA.pop(name, None)
