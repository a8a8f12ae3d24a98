"""The library's front door: what the CLI calls, and what Python callers call.

Each CLI command is one call here; a program that drives opskit (a release
bot, a test) gets the same behaviour without click: events through the same
redaction, the same reports, the same result. Nothing here prints.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit import steps as step_registry
from opskit.errors import Cancelled, InputError, StepError
from opskit.events import Event, EventBus, Subscriber
from opskit.model import RunOptions, RunResult, StepRecord
from opskit.playbook import Playbook, Step, load_playbook
from opskit.redact import Redactor
from opskit.report import write_reports
from opskit.report.files import check_report_dir
from opskit.runner import Runner
from opskit.watchdog import routed_signals

if TYPE_CHECKING:  # imported where used: `opskit run` of one target starts without them
    from opskit.ci.github import GithubReport
    from opskit.ci.matrix import MatrixFormat
    from opskit.fleet import FleetOptions
    from opskit.model import FleetResult
    from opskit.permissions import PlaybookPolicy
    from opskit.steps.s3_releases import ReleasesOutputs

__all__ = [
    "LogTail",
    "TailedLine",
    "fleet_matrix",
    "iam_policy",
    "list_releases",
    "merge_run_reports",
    "run_playbook",
    "run_targets",
    "tail_logs",
    "write_github_outputs",
]

PathLike = str | os.PathLike[str]


def run_playbook(
    playbook: Playbook | PathLike,
    options: RunOptions | None = None,
    *,
    reporters: Iterable[Subscriber] = (),
    report_dir: PathLike | None = None,
    step_summary: PathLike | None = None,
    bus: EventBus | None = None,
) -> RunResult:
    """Run a playbook (a path or a loaded ``Playbook``) and return its result.

    A failed step is a result, not an exception; a bad playbook raises
    ``InputError`` (exit 2 at the CLI). ``reporters`` receive every event,
    redacted. With ``report_dir``, ``report.json``, ``report.md`` and
    ``junit.xml`` are written there; with ``step_summary`` (the CLI passes
    ``$GITHUB_STEP_SUMMARY``), the Markdown report is appended to that file.
    """
    loaded = _load(playbook)
    check_report_dir(_path(report_dir))
    bus = bus or EventBus(Redactor())
    for reporter in reporters:
        bus.subscribe(reporter)
    options = options or RunOptions()
    # One handler from the run's start until its report is written: a CI cancel's
    # signal as the run ends, or its next one while the report is written, waits.
    with routed_signals(enabled=options.handle_sigint):
        result = Runner(loaded, options, bus).run()
        write_reports(result, _path(report_dir), bus.redactor, step_summary=_path(step_summary))
    return result


def run_targets(
    playbook: Playbook | PathLike,
    patterns: Sequence[str],
    options: RunOptions | None = None,
    fleet: FleetOptions | None = None,
    *,
    reporters: Iterable[Subscriber] = (),
    report_dir: PathLike | None = None,
    step_summary: PathLike | None = None,
    bus: EventBus | None = None,
) -> FleetResult:
    """Run a playbook on every target that ``patterns`` name (names or globs, in
    their order) as one fleet: ``--parallel``, ``--canary``, ``--max-failures``.
    The reports cover every target; the exit code is the worst target's.
    ``report_dir`` and ``step_summary`` as for ``run_playbook``."""
    from opskit.fleet import FleetOptions, run_fleet
    from opskit.report.fleet import write_fleet_reports

    loaded = _load(playbook)
    targets = loaded.select_targets(patterns)
    check_report_dir(_path(report_dir))
    bus = bus or EventBus(Redactor())
    for reporter in reporters:
        bus.subscribe(reporter)
    options = options or RunOptions()
    with routed_signals(enabled=options.handle_sigint):  # as for run_playbook
        result = run_fleet(loaded, targets, options, fleet or FleetOptions(), bus)
        write_fleet_reports(
            result, _path(report_dir), bus.redactor, step_summary=_path(step_summary)
        )
    return result


@dataclass(frozen=True)
class TailedLine:
    """One log line as ``opskit logs`` shows it: whose task, NEW or OLD, when."""

    stream: str
    task_id: str
    age: str  # NEW | OLD
    timestamp: int  # epoch ms, as the container's log driver stamped it
    text: str


@dataclass
class LogTail:
    """What a tail read: the streams, and the lines (the newest ``keep_lines``)."""

    streams: list[str] = field(default_factory=list)
    lines: collections.deque[TailedLine] = field(default_factory=collections.deque)
    lines_read: int = 0


def tail_logs(
    playbook: Playbook | PathLike,
    options: RunOptions | None = None,
    *,
    with_: dict[str, Any],
    reporters: Iterable[Subscriber] = (),
    keep_lines: int = 10_000,
) -> LogTail:
    """Follow a service's task logs (``logs.tail``) with the AWS access and vars of
    the playbook's target, until ``duration`` or Ctrl-C (how a tail ends, so not an
    error). ``reporters`` see each line as it arrives; the tail keeps the newest
    ``keep_lines`` of them. Raises ``InputError`` for bad input and ``StepError``
    when the logs cannot be read."""
    tail = LogTail(lines=collections.deque(maxlen=keep_lines))

    def keep(event: Event) -> None:
        if event.kind == "log":
            data = event.data
            tail.lines.append(
                TailedLine(
                    str(data.get("stream", "")),
                    str(data.get("task_id", "")),
                    str(data.get("age", "")),
                    int(data.get("timestamp") or 0),
                    event.message,
                )
            )

    tail_only = _one_step(_load(playbook), "tail", "logs.tail", with_)
    result = run_playbook(tail_only, options, reporters=[*reporters, keep])
    record = _only_record(result, interrupted_ok=True)
    tail.streams = list(record.outputs.get("streams") or [])
    tail.lines_read = int(record.outputs.get("lines_read") or 0)
    return tail


def list_releases(
    playbook: Playbook | PathLike,
    options: RunOptions | None = None,
    *,
    destination: str = "s3://{{ vars.bucket }}/src/",
) -> ReleasesOutputs:
    """The releases recorded under the target's code prefix (``s3.releases``), with
    the AWS access and vars of the playbook's target: the records newest first,
    the live digest and the last good one. Raises ``InputError`` for bad input and
    ``StepError`` when the bucket cannot be read."""
    from opskit.steps.s3_releases import ReleasesOutputs

    listing = _one_step(_load(playbook), "releases", "s3.releases", {"destination": destination})
    record = _only_record(run_playbook(listing, options))
    return ReleasesOutputs(**record.outputs)


def _only_record(result: RunResult, *, interrupted_ok: bool = False) -> StepRecord:
    """The one step's record of a one-step run, or its failure as an exception
    (already redacted, as the run recorded it)."""
    record = result.steps[0] if result.steps else None
    if result.status == "invalid":
        raise InputError(result.error or (record.summary if record else "invalid input"))
    if result.status == "interrupted" and not interrupted_ok:
        raise Cancelled(result.error or "interrupted")
    if record is None or record.status in ("failed", "error") or result.error:
        raise StepError(result.error or (record.summary if record else result.status))
    return record


def iam_policy(playbook: Playbook | PathLike, options: RunOptions | None = None) -> PlaybookPolicy:
    """The least-privilege IAM policy the playbook's steps need on ``options.target``
    (``opskit iam``), its inputs rendered with the run's vars (``extra_vars``,
    ``vars_files``): the policy document, and notes where a resource is a
    wildcard. Calls nothing on AWS. Raises ``InputError`` for bad input."""
    from opskit.permissions import playbook_policy

    return playbook_policy(_load(playbook), options or RunOptions())


def fleet_matrix(
    playbook: Playbook | PathLike,
    patterns: Iterable[str] = (),
    form: MatrixFormat = "github",
) -> Any:
    """The CI job matrix of the playbook's targets (``opskit matrix``)."""
    loaded = _load(playbook)
    from opskit.ci.matrix import matrix, select_targets

    return matrix(select_targets(loaded, tuple(patterns)), form)


def merge_run_reports(
    paths: Iterable[Path], report_dir: PathLike | None, step_summary: PathLike | None = None
) -> FleetResult:
    """Merge the reports of a CI matrix's jobs into one fleet report written to
    ``report_dir`` (and appended to ``step_summary``); its exit code is the worst."""
    from opskit.report.fleet import write_fleet_reports
    from opskit.report.merge import merge_reports

    check_report_dir(_path(report_dir))
    fleet = merge_reports(paths)
    write_fleet_reports(fleet, _path(report_dir), step_summary=_path(step_summary))
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


def _path(value: PathLike | None) -> Path | None:
    return Path(value) if value is not None else None


def _load(playbook: Playbook | PathLike) -> Playbook:
    return playbook if isinstance(playbook, Playbook) else load_playbook(Path(playbook))


def _one_step(playbook: Playbook, step_id: str, uses: str, with_: dict[str, Any]) -> Playbook:
    """The playbook's targets, vars and AWS access around one built-in step: how a
    command such as ``opskit logs`` reads the same file that deploys."""
    step_type = step_registry.get(uses)
    assert step_type is not None  # a built-in step type
    step = Step(id=step_id, uses=uses, type=step_type, with_=with_, path=(step_id,))
    return dataclasses.replace(playbook, steps=(step,), on_failure=())
