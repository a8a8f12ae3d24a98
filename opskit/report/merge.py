"""``opskit report merge``: the reports of a CI matrix's jobs as one fleet report.

Each job of a matrix runs one target and uploads its ``report.json``; the final
job downloads them all and merges them here into the report the same run would
have written in one process. Inputs may be single-target reports or fleet
reports (a job that ran several targets); targets keep the order of the
arguments. The merged run's duration is its wall time: from the first target's
start to the last one's end.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from opskit.errors import InputError
from opskit.model import RunResult
from opskit.report.fleet import FleetResult


def read_report(path: Path) -> list[RunResult]:
    """The runs in one report (a folder holding ``report.json``, or the file)."""
    file = path / "report.json" if path.is_dir() else path
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no report.json here", source=str(file)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", source=str(file)) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"not JSON: {err.msg}", source=str(file), line=err.lineno) from None
    try:
        return _runs(document)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputError(
            f"not an opskit report (report.json of `opskit run --report`): {err}", source=str(file)
        ) from None


def _runs(document: Any) -> list[RunResult]:
    if not isinstance(document, dict):
        raise TypeError(f"expected an object, got {type(document).__name__}")
    if document.get("kind") == "fleet":
        return FleetResult.from_dict(document).runs
    return [RunResult.from_dict(document)]


def merge_reports(paths: Iterable[Path]) -> FleetResult:
    runs: list[RunResult] = []
    seen: dict[str, Path] = {}
    for path in paths:
        for run in read_report(path):
            if run.target in seen:
                raise InputError(
                    f"target {run.target!r} is in two reports: {seen[run.target]} and {path}"
                )
            seen[run.target] = path
            runs.append(run)
    if not runs:
        raise InputError("no reports to merge")
    playbooks = list(dict.fromkeys(run.playbook for run in runs))
    names = list(dict.fromkeys(run.name for run in runs))
    start = min(run.started_at for run in runs)
    end = max(run.started_at + run.duration for run in runs)
    return FleetResult(
        playbook=", ".join(playbooks), name=" / ".join(names), runs=runs, duration=end - start
    )
