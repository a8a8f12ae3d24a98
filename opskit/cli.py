"""The command line: a thin layer over the library. The one place that imports
click, prints errors and turns exceptions into exit codes (0/1/2/130)."""

from __future__ import annotations

import gc
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from opskit import __version__
from opskit.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_STEP_FAILED, OpskitError

_debug = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="opskit")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """Run deployment playbooks that prove, step by step, that a release is live.

    Exit codes: 0 all steps passed, 1 a step failed, 2 bad input, 130 interrupted.
    """
    global _debug
    _debug = _debug or debug


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
@click.option(
    "--vars-file",
    "vars_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="YAML file of variables. Repeatable.",
)
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
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation on a terminal.")
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
    from opskit.context import parse_extra_vars
    from opskit.fleet import FleetOptions
    from opskit.model import RunOptions
    from opskit.report.files import REPORT_FILES

    fleet = (
        len(targets) > 1
        or any(set("*?[") & set(t) for t in targets)
        or (parallel, canary, max_failures) != (None, None, None)
    )
    options = RunOptions(
        target=targets[0] if targets and not fleet else None,
        extra_vars=parse_extra_vars(extra_vars),
        vars_files=vars_files,
        dry_run=dry_run,
        from_step=from_step,
        only=only,
        yes=yes,
        debug=_debug,
        # a fleet never prompts (targets run in parallel); the delete guards still apply
        ask=_ask if (not yes and not fleet and _interactive()) else None,
    )
    if fleet:
        fleet_result = run_targets(
            playbook,
            targets or ("*",),
            options,
            FleetOptions(parallel=parallel or 1, canary=canary or 0, max_failures=max_failures),
            reporters=[_reporter(output, quiet, fleet=True)],
            report_dir=report_dir,
        )
        code = fleet_result.exit_code
    else:
        code = _finish(
            run_playbook(
                playbook, options, reporters=[_reporter(output, quiet)], report_dir=report_dir
            )
        )
    if output == "text" and report_dir is not None:
        click.echo(f"report: {', '.join(str(report_dir / name) for name in REPORT_FILES)}")
    return code


def _finish(result: Any) -> int:
    """Print a run's error (already redacted by the run) and return its exit code."""
    if result.error:
        click.echo(f"opskit: error: {result.error}", err=True)
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
@click.option("-t", "--target", help="Target whose AWS access and vars to use.")
@click.option(
    "-e",
    "--extra-var",
    "extra_vars",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a variable. Repeatable.",
)
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
    options = RunOptions(target=target, extra_vars=parse_extra_vars(extra_vars), debug=_debug)
    return _finish(
        tail_logs(playbook, options, with_=with_, reporters=[_reporter(output, quiet=False)])
    )


@cli.command()
@click.argument("playbook", type=click.Path(path_type=Path))
@click.option("-t", "--target", help="Target whose AWS access and vars to use.")
@click.option(
    "-e",
    "--extra-var",
    "extra_vars",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a variable. Repeatable.",
)
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

    options = RunOptions(target=target, extra_vars=parse_extra_vars(extra_vars), debug=_debug)
    result = list_releases(
        playbook, options, **({"destination": destination} if destination else {})
    )
    step = result.steps[0] if result.steps else None
    if step is None or step.failed or result.error:
        click.echo(f"opskit: error: {result.error or (step.summary if step else '')}", err=True)
        return int(result.exit_code) or EXIT_STEP_FAILED
    if output == "json":
        click.echo(json.dumps(step.outputs, indent=1))
    else:
        outputs = step.outputs
        click.echo("\n".join(release_lines(outputs["releases"], outputs["destination"])))
    return 0


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _ask(prompt: str) -> bool:
    return click.confirm(prompt, default=False)


@cli.command()
@click.argument("playbooks", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(playbooks: tuple[Path, ...]) -> int:
    """Check playbooks without running anything."""
    from opskit.playbook import load_playbook

    worst = 0
    for path in playbooks:
        try:
            loaded = load_playbook(path)
        except OpskitError as err:
            click.echo(f"{err}", err=True)
            worst = max(worst, err.exit_code)
            continue
        click.echo(
            f"{loaded.source}: ok ({len(loaded.steps)} steps"
            + (f", {len(loaded.on_failure)} on_failure" if loaded.on_failure else "")
            + (f"; targets: {', '.join(loaded.targets)}" if loaded.targets else "")
            + ")"
        )
    return worst


@cli.command(name="steps")
@click.argument("names", nargs=-1)
def steps_command(names: tuple[str, ...]) -> int:
    """List step types with their inputs and outputs."""
    from opskit import steps as registry

    wanted = list(names) or registry.names()
    for index, name in enumerate(wanted):
        step_type = registry.get(name)
        if step_type is None:
            raise click.UsageError(
                f"unknown step type {name!r}; known: {', '.join(registry.names())}"
            )
        if index:
            click.echo("")
        click.echo(click.style(step_type.name, bold=True) + f"  {step_type.summary}")
        click.echo("  inputs:")
        for spec in step_type.specs:
            flags = (
                "required"
                if spec.required
                else (
                    f"default {json.dumps(spec.default)}"
                    if spec.default is not None
                    else "optional"
                )
            )
            choices = f" [{'|'.join(str(c) for c in spec.choices)}]" if spec.choices else ""
            click.echo(f"    {spec.name:<18} {spec.type:<14} {flags}{choices}. {spec.help}")
        click.echo("  outputs:")
        for output_name, help_text in step_type.outputs.items():
            click.echo(f"    {output_name:<18} {help_text}")
    return 0


@cli.command()
def schema() -> int:
    """Print the JSON Schema of the playbook format (for editors)."""
    from opskit.schema import playbook_schema

    click.echo(json.dumps(playbook_schema(), indent=2))
    return 0


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
    from opskit.report.fleet import REPORT_FILES, one_line_reason

    fleet = merge_run_reports(reports, report_dir)
    for run in fleet.runs:
        reason = "" if run.status == "passed" else f": {one_line_reason(run)}"
        click.echo(f"{run.target}: {run.status}{reason}")
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


@cli.group()
def sandbox() -> None:
    """The embedded local stack: moto's server plus a local ECS agent."""


@sandbox.command("up")
@click.option("--port", default=8501, show_default=True, help="Port of the app URL (as the ALB).")
@click.option("--foreground", is_flag=True, help="Stay attached; Ctrl-C stops the sandbox.")
@click.option("--aws-port", default=0, hidden=True, help="Port of the AWS endpoint (0: any).")
@click.option(
    "--services",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="ECS services, each with its own code prefix, tasks, log group and app URL "
    "(on --port, --port + 1, ...).",
)
def sandbox_up(port: int, foreground: bool, aws_port: int, services: int) -> int:
    """Start the sandbox (in the background unless --foreground)."""
    from opskit import sandbox as sandbox_mod

    running = sandbox_mod.find_running()
    if running is not None:
        click.echo(f"sandbox already running (pid {running.pid})")
        _print_sandbox(running)
        return 0

    def ready(info: Any) -> None:
        click.echo("sandbox running in the foreground (Ctrl-C stops it)")
        _print_sandbox(info)

    info = sandbox_mod.up(
        app_port=port, aws_port=aws_port, foreground=foreground, on_ready=ready, services=services
    )
    if info is not None and not foreground:
        click.echo("sandbox started (stop it with: opskit sandbox down)")
        _print_sandbox(info)
    return 0


@sandbox.command("down")
def sandbox_down() -> int:
    """Stop the sandbox and every task process it started."""
    from opskit import sandbox as sandbox_mod

    click.echo("sandbox stopped" if sandbox_mod.down() else "no sandbox running")
    return 0


@sandbox.command("status")
def sandbox_status() -> int:
    """Show whether a sandbox runs, and where. Exit 1 when none runs."""
    from opskit import sandbox as sandbox_mod

    info = sandbox_mod.status()
    if info is None:
        click.echo("no sandbox running")
        return EXIT_STEP_FAILED
    click.echo(f"sandbox running (pid {info.pid})")
    _print_sandbox(info)
    return 0


def _print_sandbox(info: Any) -> None:
    from opskit.sandbox.bedrock.control import status_lines

    click.echo(f"  AWS endpoint:  {info.endpoint_url}  (region {info.region})")
    click.echo(f"  app URL:       {info.app_url}")
    for key, value in dict(info.names).items():
        click.echo(f"  {key + ':':<14} {value}")
    services = info.service_list()
    if len(services) > 1:
        click.echo(f"  services:      {len(services)}")
        for service in services:
            click.echo(
                f"    {service['service']:<12} {service['app_url']}  logs {service['log_group']}"
                f"  code s3://{service['bucket']}/{service['code_prefix']}"
            )
    for label, value in status_lines(info):
        click.echo(f"  {label + ':' if label else '':<14} {value}")


@sandbox.group("fault")
def sandbox_fault() -> None:
    """Switch faults of the sandbox's Bedrock endpoint on and off while it runs."""


@sandbox_fault.command("bedrock")
@click.argument("model")
@click.argument("kind", metavar="KIND")
@click.option("--calls", type=int, help="throttled: fail only the next N calls (default: all).")
@click.option("--seconds", type=float, help="slow_first_token: seconds before the first text.")
@click.option("--after", type=int, help="stream_error: text chunks sent before the error (1).")
def sandbox_fault_bedrock(
    model: str, kind: str, calls: int | None, seconds: float | None, after: int | None
) -> int:
    """Switch fault KIND on for MODEL (amazon.nova-pro-v1:0, nova-pro, ... or all).

    KIND: access_denied, throttled, slow_first_token, stream_error, or
    unavailable (connections refused; MODEL must be all).
    """
    from opskit.sandbox.bedrock.control import set_fault

    change = set_fault(model, kind, calls=calls, seconds=seconds, after_chunks=after)
    click.echo("\n".join(change.lines()))
    return 0


@sandbox_fault.command("clear")
@click.argument("model", required=False)
def sandbox_fault_clear(model: str | None) -> int:
    """Clear every fault, or MODEL's only."""
    from opskit.sandbox.bedrock.control import clear_faults

    click.echo("\n".join(clear_faults(model).lines()))
    return 0


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the one boundary from exceptions to exit codes."""
    global _debug
    # What exists now (interpreter, click, opskit.cli) lives as long as the process:
    # exempting it from the cyclic GC spares each collection a scan of it (about
    # 30 ms over a no-op s3.sync run). Later objects are collected as usual. Only
    # for the console script: a caller's process (tests) keeps its normal GC.
    if argv is None:
        gc.freeze()
    args = list(sys.argv[1:] if argv is None else argv)
    _debug = "--debug" in args or bool(os.environ.get("OPSKIT_DEBUG"))
    try:
        code = cli.main(args=args, prog_name="opskit", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        code = exit_.exit_code
    except click.UsageError as err:
        err.show()
        code = EXIT_BAD_INPUT
    except click.ClickException as err:
        err.show()
        code = err.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        code = EXIT_INTERRUPTED
    except OpskitError as err:
        if _debug:
            traceback.print_exc()
        click.echo(f"opskit: error: {err}", err=True)
        code = err.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - the last boundary before the user
        if _debug:
            traceback.print_exc()
        click.echo(
            f"opskit: internal error: {type(err).__name__}: {err} "
            "(run with --debug for the traceback)",
            err=True,
        )
        code = EXIT_STEP_FAILED
    sys.exit(code or 0)
