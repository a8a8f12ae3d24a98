"""``opskit run``, ``opskit logs`` and ``opskit releases``: each one call into ``opskit.api``."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from opskit.cli.group import cli, debugging, echo_outside, step_summary

# ``--vars-file``, for the commands that resolve a playbook's vars.
vars_file = click.option(
    "--vars-file",
    "vars_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="YAML file of variables. Repeatable.",
)


def target_and_vars(command: Callable[..., Any]) -> Callable[..., Any]:
    """``-t`` and ``-e`` for the commands that read a target's AWS access and vars."""
    command = click.option(
        "-e",
        "--extra-var",
        "extra_vars",
        multiple=True,
        metavar="KEY=VALUE",
        help="Set a variable. Repeatable.",
    )(command)
    return click.option("-t", "--target", help="Target whose AWS access and vars to use.")(command)


@cli.command()
@click.argument("playbook", type=click.Path(path_type=Path))
@click.option(
    "-t",
    "--target",
    "targets",
    multiple=True,
    metavar="TARGET",
    help="Target from the playbook's targets (default: default_target). Repeat it, or give "
    "a glob ('prod-*'), to run a fleet: one run per target, in the order given.",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    help="Fleet: run up to N targets at once (default 1).",
)
@click.option(
    "--canary",
    type=click.IntRange(min=1),
    help="Fleet: run the first K targets alone; the rest start only if they all pass.",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=1),
    help="Fleet: start no new target after M targets failed (running ones finish).",
)
@click.option(
    "-e",
    "--extra-var",
    "extra_vars",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a variable (highest precedence). Repeatable.",
)
@vars_file
@click.option("--dry-run", is_flag=True, help="Only read: each step says what it would change.")
@click.option("--from", "from_step", metavar="STEP", help="Start at this step.")
@click.option("--only", multiple=True, metavar="STEP", help="Run only this step. Repeatable.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write report.json, report.md and junit.xml to this folder.",
)
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON event per line on stdout.",
)
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help=(
        "Answer yes to every question: delete guards and confirm steps "
        "(which fail without a terminal otherwise)."
    ),
)
@click.option("-q", "--quiet", is_flag=True, help="Hide log lines in the terminal view.")
def run(
    playbook: Path,
    targets: tuple[str, ...],
    parallel: int | None,
    canary: int | None,
    max_failures: int | None,
    extra_vars: tuple[str, ...],
    vars_files: tuple[Path, ...],
    dry_run: bool,
    from_step: str | None,
    only: tuple[str, ...],
    report_dir: Path | None,
    output: str,
    yes: bool,
    quiet: bool,
) -> int:
    """Run PLAYBOOK against a target, or against many (a fleet)."""
    from opskit.api import run_playbook, run_targets
    from opskit.cli.asking import answered_by
    from opskit.context import parse_extra_vars
    from opskit.fleet import FleetOptions
    from opskit.model import RunOptions
    from opskit.report.files import REPORT_FILES

    fleet = (
        len(targets) > 1
        or any(set("*?[") & set(t) for t in targets)
        or (parallel, canary, max_failures) != (None, None, None)
    )
    reporter = _reporter(output, quiet, fleet=fleet)
    options = RunOptions(
        target=targets[0] if targets and not fleet else None,
        extra_vars=parse_extra_vars(extra_vars),
        vars_files=vars_files,
        dry_run=dry_run,
        from_step=from_step,
        only=only,
        yes=yes,
        debug=debugging(),
        ask=_confirmation(yes=yes, fleet=fleet),
        person=_person(reporter, yes=yes, fleet=fleet, json_lines=output == "json"),
        nobody="a fleet never prompts" if fleet else "no terminal",
        answer_by=answered_by(yes=yes, environ=dict(os.environ)),
    )
    if fleet:
        fleet_result = run_targets(
            playbook,
            targets or ("*",),
            options,
            FleetOptions(parallel=parallel or 1, canary=canary or 0, max_failures=max_failures),
            reporters=[reporter],
            report_dir=report_dir,
            step_summary=step_summary(),
        )
        code = fleet_result.exit_code
    else:
        result = run_playbook(
            playbook,
            options,
            reporters=[reporter],
            report_dir=report_dir,
            step_summary=step_summary(),
        )
        code = _finish(result)
    if output == "text" and report_dir is not None:
        click.echo(f"report: {', '.join(str(report_dir / name) for name in REPORT_FILES)}")
    return code


def _finish(result: Any) -> int:
    """Print a run's error (already redacted by the run) and return its exit code."""
    if result.error:
        echo_outside("opskit: error: ", result.error, err=True)
    return int(result.exit_code)


def _reporter(output: str, quiet: bool, *, fleet: bool = False) -> Any:
    from opskit.report.jsonlines import JsonLinesReporter
    from opskit.report.terminal import TerminalReporter, is_live, wants_color

    if output == "json":
        return JsonLinesReporter(sys.stdout)
    env = dict(os.environ)
    view = TerminalReporter
    if fleet:
        from opskit.report.fleet_view import FleetTerminalReporter

        view = FleetTerminalReporter
    return view(
        sys.stdout,
        color=wants_color(sys.stdout, env),
        live=is_live(sys.stdout, env),
        quiet=quiet,
    )


@cli.command()
@click.argument("playbook", type=click.Path(path_type=Path))
@target_and_vars
@click.option("--cluster", help="ECS cluster (default: the target's vars.cluster).")
@click.option("--service", help="ECS service (default: the target's vars.service).")
@click.option("--log-group", help="Log group (default: the target's vars.log_group).")
@click.option(
    "--since", default="5m", show_default=True, help="Start this long ago, or an ISO time."
)
@click.option("--duration", help="Stop after this long (default: until Ctrl-C).")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def logs(
    playbook: Path,
    target: str | None,
    extra_vars: tuple[str, ...],
    cluster: str | None,
    service: str | None,
    log_group: str | None,
    since: str,
    duration: str | None,
    output: str,
) -> int:
    """Print the logs of a service's running tasks (NEW/OLD) until Ctrl-C.

    For on-call use: the service, cluster and log group come from PLAYBOOK's
    target, so the same file that deploys also tails.
    """
    from opskit.api import tail_logs
    from opskit.context import parse_extra_vars
    from opskit.model import RunOptions

    with_: dict[str, Any] = {
        "cluster": cluster or "{{ vars.cluster }}",
        "service": service or "{{ vars.service }}",
        "log_group": log_group or "{{ vars.log_group }}",
        "since": since,
    }
    if duration:
        with_["duration"] = duration
    options = RunOptions(target=target, extra_vars=parse_extra_vars(extra_vars), debug=debugging())
    tail_logs(playbook, options, with_=with_, reporters=[_reporter(output, quiet=False)])
    return 0


@cli.command()
@click.argument("playbook", type=click.Path(path_type=Path))
@target_and_vars
@click.option(
    "--destination",
    help="s3://bucket/prefix/ (default: s3://<the target's vars.bucket>/src/).",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def releases(
    playbook: Path,
    target: str | None,
    extra_vars: tuple[str, ...],
    destination: str | None,
    output: str,
) -> int:
    """List the releases recorded in the target's bucket, newest first: when, digest,
    files, size, verdict, deployment, who, and which one is live."""
    from opskit.api import list_releases
    from opskit.context import parse_extra_vars
    from opskit.model import RunOptions
    from opskit.releases.table import release_lines

    options = RunOptions(target=target, extra_vars=parse_extra_vars(extra_vars), debug=debugging())
    history = list_releases(
        playbook, options, **({"destination": destination} if destination else {})
    )
    if output == "json":
        click.echo(json.dumps(dataclasses.asdict(history), indent=1))
    else:
        lines = release_lines(
            history.releases, history.destination, live_staged=history.live_staged
        )
        echo_outside("", "\n".join(lines))
    return 0


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _confirmation(*, yes: bool, fleet: bool) -> Any:
    """Who answers a step's "Delete N objects?": nobody with --yes or without a
    terminal (CI: the delete guards still apply); the person at the terminal for
    one run; for a fleet on a terminal, a refusal (its targets run in parallel and
    cannot each ask): the step fails saying to run with --yes."""
    if yes or not _interactive():
        return None
    return _refuse if fleet else _ask


def _person(reporter: Any, *, yes: bool, fleet: bool, json_lines: bool) -> Any:
    """Who answers a confirm step's question: the person at the terminal for one
    run without --yes; nobody otherwise (--yes answers yes; with no terminal or
    in a fleet the step fails rather than guess: Runner._answer). Under
    --output json the question goes to stderr: stdout stays JSON lines."""
    if yes or fleet or not _interactive():
        return None
    from opskit.cli.asking import terminal_prompt

    return terminal_prompt(reporter, sys.stdin, sys.stderr if json_lines else sys.stdout)


def _refuse(prompt: str) -> bool:
    return False


def _ask(prompt: str) -> bool:
    return click.confirm(prompt, default=False)
