"""``opskit sandbox``: the embedded local stack, and the faults it plays (its Bedrock
endpoint's, and the AWS behaviours of ECS and CloudWatch Logs that moto does not show)."""

from __future__ import annotations

from typing import Any

import click

from opskit.cli.group import cli
from opskit.errors import EXIT_STEP_FAILED


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
@click.option(
    "--strategy",
    default="ROLLING",
    show_default=True,
    type=click.Choice(["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"]),
    help="The services' deployment strategy; a native one (BLUE_GREEN, LINEAR, CANARY) "
    "adds a test URL (--port + 1000) and plays ECS's service deployments.",
)
def sandbox_up(port: int, foreground: bool, aws_port: int, services: int, strategy: str) -> int:
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
        app_port=port,
        aws_port=aws_port,
        foreground=foreground,
        on_ready=ready,
        services=services,
        strategy=strategy,
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
    from opskit.sandbox.aws_faults.control import aws_status_lines
    from opskit.sandbox.bedrock.control import status_lines

    click.echo(f"  AWS endpoint:  {info.endpoint_url}  (region {info.region})")
    click.echo(f"  app URL:       {info.app_url}")
    if info.test_url:
        click.echo(f"  test URL:      {info.test_url}  ({info.strategy}: the test listener)")
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
    for label, value in [*status_lines(info), *aws_status_lines(info)]:
        click.echo(f"  {label + ':' if label else '':<14} {value}")


@sandbox.group("fault")
def sandbox_fault() -> None:
    """Switch faults on and off while the sandbox runs: its Bedrock endpoint's, and
    the AWS behaviours of ECS and CloudWatch Logs that moto does not show."""


@sandbox_fault.command("bedrock")
@click.argument("model")
@click.argument("kind", metavar="KIND")
@click.option("--calls", type=int, help="throttled: fail only the next N calls (default: all).")
@click.option("--seconds", type=float, help="slow_first_token: seconds before the first text.")
@click.option("--after", type=int, help="stream_error: text chunks sent before the error (1).")
@click.option(
    "--event",
    help="stream_error: the error event (modelStreamErrorException, throttlingException, "
    "validationException, internalServerException, serviceUnavailableException, "
    "modelTimeoutException).",
)
def sandbox_fault_bedrock(
    model: str,
    kind: str,
    calls: int | None,
    seconds: float | None,
    after: int | None,
    event: str | None,
) -> int:
    """Switch fault KIND on for MODEL: a model or profile id, an alias (nova-pro,
    claude-sonnet-4-5, ...), a family (nova, claude) or all.

    KIND: access_denied, throttled, slow_first_token, stream_error, or
    unavailable (connections refused; MODEL must be all).
    """
    from opskit.sandbox.bedrock.control import set_fault

    change = set_fault(model, kind, calls=calls, seconds=seconds, after_chunks=after, event=event)
    click.echo("\n".join(change.lines()))
    return 0


@sandbox_fault.command("ecs")
@click.argument("kind", metavar="KIND")
@click.option(
    "--calls",
    type=int,
    help="stale_reads: stale answers after each change (1); placement: attempts that "
    "fail (default: all); spot: tasks reclaimed (1).",
)
def sandbox_fault_ecs(kind: str, calls: int | None) -> int:
    """Switch ECS's fault KIND on: what the ECS API and scheduler do on AWS and moto does not.

    KIND: stale_reads (DescribeServices shows the service as before an
    UpdateService, DescribeTasks answers a new task MISSING), placement (no task
    starts: "Capacity is unavailable at this time"), spot (new tasks reclaimed
    once RUNNING: SpotInterruption).
    """
    from opskit.sandbox.aws_faults import FaultOptions
    from opskit.sandbox.aws_faults.control import set_aws_fault

    click.echo("\n".join(set_aws_fault("ecs", kind, FaultOptions(calls=calls)).lines()))
    return 0


@sandbox_fault.command("logs")
@click.argument("kind", metavar="KIND")
@click.option("--rate", type=float, help="throttle: FilterLogEvents requests a second (5).")
@click.option("--always", is_flag=True, help="throttle: every read request throttled.")
@click.option("--seconds", type=float, help="late: seconds before a line is readable.")
@click.option("--match", multiple=True, help="late: only lines holding TEXT (repeatable).")
def sandbox_fault_logs(
    kind: str, rate: float | None, always: bool, seconds: float | None, match: tuple[str, ...]
) -> int:
    """Switch CloudWatch Logs' fault KIND on.

    KIND: throttle (ThrottlingException "Rate exceeded" above the read quotas:
    FilterLogEvents 5 a second), late (the tasks' lines readable --seconds late,
    with their original timestamps).
    """
    from opskit.sandbox.aws_faults import FaultOptions
    from opskit.sandbox.aws_faults.control import set_aws_fault

    options = FaultOptions(rate=rate, always=always, seconds=seconds, match=match)
    change = set_aws_fault("logs", kind, options)
    click.echo("\n".join(change.lines()))
    return 0


@sandbox_fault.command("clear")
@click.argument("target", metavar="[MODEL|ecs|logs]", required=False)
def sandbox_fault_clear(target: str | None) -> int:
    """Clear every fault, or MODEL's only, or ECS's or CloudWatch Logs' only."""
    from opskit.sandbox.aws_faults.control import clear_aws_faults
    from opskit.sandbox.bedrock.control import clear_faults

    lines = []
    if target not in ("ecs", "logs"):
        lines += clear_faults(target).lines()
    if target is None or target in ("ecs", "logs"):
        lines += clear_aws_faults(target).lines()
    click.echo("\n".join(lines))
    return 0
