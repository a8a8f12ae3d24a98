"""The library's front door: what the CLI calls, and what Python callers call.

Each CLI command is one call here; a program that drives opskit (a release
bot, a test) gets the same behaviour without click: events through the same
redaction, the same reports, the same result. Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit import steps as step_registry
from opskit.errors import InputError
from opskit.events import EventBus, Subscriber
from opskit.model import RunOptions, RunResult
from opskit.playbook import Playbook, Step, load_playbook
from opskit.redact import Redactor
from opskit.report import write_reports
from opskit.runner import Runner

if TYPE_CHECKING:  # imported where used: `opskit run` of one target starts without them
    from opskit.ci.github import GithubReport
    from opskit.ci.matrix import MatrixFormat
    from opskit.fleet import FleetOptions
    from opskit.model import FleetResult

__all__ = [
    "fleet_matrix",
    "list_releases",
    "merge_run_reports",
    "run_playbook",
    "run_targets",
    "tail_logs",
    "write_github_outputs",
]


def run_playbook(
    playbook: Playbook | str | os.PathLike[str],
    options: RunOptions | None = None,
    *,
    reporters: Iterable[Subscriber] = (),
    report_dir: str | os.PathLike[str] | None = None,
    bus: EventBus | None = None,
) -> RunResult:
    """Run a playbook (a path or a loaded ``Playbook``) and return its result.

    A failed step is a result, not an exception; a bad playbook raises
    ``InputError`` (exit 2 at the CLI). ``reporters`` receive every event,
    redacted. With ``report_dir``, ``report.json``, ``report.md`` and
    ``junit.xml`` are written there; under GitHub Actions the Markdown report is
    appended to ``$GITHUB_STEP_SUMMARY`` either way.
    """
    loaded = _load(playbook)
    bus = bus or EventBus(Redactor())
    for reporter in reporters:
        bus.subscribe(reporter)
    result = Runner(loaded, options or RunOptions(), bus).run()
    write_reports(result, Path(report_dir) if report_dir is not None else None, bus.redactor)
    return result


def run_targets(
    playbook: Playbook | str | os.PathLike[str],
    patterns: Sequence[str],
    options: RunOptions | None = None,
    fleet: FleetOptions | None = None,
    *,
    reporters: Iterable[Subscriber] = (),
    report_dir: str | os.PathLike[str] | None = None,
    bus: EventBus | None = None,
) -> FleetResult:
    """Run a playbook on every target that ``patterns`` name (names or globs, in
    their order) as one fleet: ``--parallel``, ``--canary``, ``--max-failures``.
    The reports cover every target; the exit code is the worst target's."""
    from opskit.fleet import FleetOptions, run_fleet
    from opskit.report.fleet import write_fleet_reports

    loaded = _load(playbook)
    targets = loaded.select_targets(patterns)
    bus = bus or EventBus(Redactor())
    for reporter in reporters:
        bus.subscribe(reporter)
    result = run_fleet(loaded, targets, options or RunOptions(), fleet or FleetOptions(), bus)
    write_fleet_reports(result, Path(report_dir) if report_dir is not None else None, bus.redactor)
    return result


def tail_logs(
    playbook: Playbook | str | os.PathLike[str],
    options: RunOptions | None = None,
    *,
    with_: dict[str, Any],
    reporters: Iterable[Subscriber] = (),
) -> RunResult:
    """Follow a service's task logs (``logs.tail``) with the AWS access and vars of
    the playbook's target. Ctrl-C is how a tail ends, so it ends ``passed``."""
    tail_only = _one_step(_load(playbook), "tail", "logs.tail", with_)
    result = run_playbook(tail_only, options, reporters=reporters)
    if result.status == "interrupted":
        result.status = "passed"
    return result


def list_releases(
    playbook: Playbook | str | os.PathLike[str],
    options: RunOptions | None = None,
    *,
    destination: str = "s3://{{ vars.bucket }}/src/",
) -> RunResult:
    """The releases recorded under the target's code prefix (``s3.releases``), with
    the AWS access and vars of the playbook's target; the step's outputs hold them."""
    listing = _one_step(_load(playbook), "releases", "s3.releases", {"destination": destination})
    return run_playbook(listing, options)


def fleet_matrix(
    playbook: Playbook | str | os.PathLike[str],
    patterns: Iterable[str] = (),
    form: MatrixFormat = "github",
) -> Any:
    """The CI job matrix of the playbook's targets (``opskit matrix``)."""
    loaded = _load(playbook)
    from opskit.ci.matrix import matrix, select_targets

    return matrix(select_targets(loaded, tuple(patterns)), form)


def merge_run_reports(paths: Iterable[Path], report_dir: Path | None) -> FleetResult:
    """Merge the reports of a CI matrix's jobs into one fleet report written to
    ``report_dir`` (and ``$GITHUB_STEP_SUMMARY``); its exit code is the worst."""
    from opskit.report.fleet import write_fleet_reports
    from opskit.report.merge import merge_reports

    fleet = merge_reports(paths)
    write_fleet_reports(fleet, report_dir)
    return fleet


def write_github_outputs(
    report_dir: Path, *, exit_code: int | None = None, output_file: Path | None = None
) -> GithubReport:
    """Append a report's outputs to ``$GITHUB_OUTPUT`` (or ``output_file``) and
    return it, for its annotations and exit code."""
    named = os.environ.get("GITHUB_OUTPUT")
    target = output_file or (Path(named) if named else None)
    if target is None:
        raise InputError("GITHUB_OUTPUT is not set (run this in a GitHub Actions step)")
    from opskit.ci.github import github_report

    report = github_report(report_dir, exit_code=exit_code)
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(report.github_output())
    return report


def _load(playbook: Playbook | str | os.PathLike[str]) -> Playbook:
    return playbook if isinstance(playbook, Playbook) else load_playbook(Path(playbook))


def _one_step(playbook: Playbook, step_id: str, uses: str, with_: dict[str, Any]) -> Playbook:
    """The playbook's targets, vars and AWS access around one built-in step: how a
    command such as ``opskit logs`` reads the same file that deploys."""
    step_type = step_registry.get(uses)
    assert step_type is not None  # a built-in step type
    step = Step(id=step_id, uses=uses, type=step_type, with_=with_, path=(step_id,))
    return dataclasses.replace(playbook, steps=(step,), on_failure=())
