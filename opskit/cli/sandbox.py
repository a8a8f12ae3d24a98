"""``opskit sandbox``: the embedded local stack, and its Bedrock endpoint's faults."""

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
