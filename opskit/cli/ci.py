"""``opskit matrix``, ``opskit report merge`` and ``opskit ci``: opskit in a CI system's jobs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from opskit.cli.group import cli, step_summary


@cli.command()
@click.argument("playbook", type=click.Path(path_type=Path))
@click.option(
    "-t",
    "--target",
    "patterns",
    multiple=True,
    metavar="NAME|GLOB",
    help="Only targets matching this name or glob (e.g. 'prod-*'). Repeatable.",
)
@click.option(
    "--format",
    "form",
    type=click.Choice(["github", "gitlab"]),
    default="github",
    show_default=True,
    help="github: strategy.matrix's include list; gitlab: parallel:matrix's list.",
)
def matrix(playbook: Path, patterns: tuple[str, ...], form: str) -> int:
    """Print the CI job matrix of PLAYBOOK's targets: one JSON line, one entry a target."""
    from opskit.api import fleet_matrix

    click.echo(json.dumps(fleet_matrix(playbook, patterns, form), separators=(",", ":")))  # type: ignore[arg-type]
    return 0


@cli.group()
def report() -> None:
    """Work with run reports (report.json, report.md, junit.xml)."""


@report.command("merge")
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--report",
    "report_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the merged report.json, report.md and junit.xml to this folder.",
)
def report_merge(reports: tuple[Path, ...], report_dir: Path) -> int:
    """Merge the reports of a CI matrix's jobs (folders holding report.json) into
    one run report. Exit code: the worst target's."""
    from opskit.api import merge_run_reports
    from opskit.outside import printable
    from opskit.report.fleet import REPORT_FILES, one_line_reason

    fleet = merge_run_reports(reports, report_dir, step_summary())
    for run in fleet.runs:
        reason = "" if run.status == "passed" else f": {printable(one_line_reason(run))}"
        click.echo(f"{printable(run.target)}: {run.status}{reason}")
    click.echo(f"{fleet.status.upper()}: {len(fleet.runs)} targets (exit {fleet.exit_code})")
    click.echo(f"report: {', '.join(str(report_dir / name) for name in REPORT_FILES)}")
    return fleet.exit_code


@cli.group()
def ci() -> None:
    """Helpers for CI systems (the GitHub Action uses these)."""


@ci.command("github-outputs")
@click.argument("report_dir", type=click.Path(path_type=Path))
@click.option(
    "--exit-code",
    "exit_code",
    type=int,
    help="The run's exit code; stands in for a report the run did not write (bad input).",
)
def ci_github_outputs(report_dir: Path, exit_code: int | None) -> int:
    """Write REPORT_DIR's report to $GITHUB_OUTPUT (status, exit-code, reason,
    report-dir, outputs, and each step output as STEP-OUTPUT), print an ::error
    annotation for each failed target, and exit with the run's exit code."""
    from opskit.api import write_github_outputs

    written = write_github_outputs(report_dir, exit_code=exit_code)
    for line in written.annotations():
        click.echo(line)
    return written.exit_code
