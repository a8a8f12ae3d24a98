"""The click group and the state every command reads (``--debug``), carried on
click's context object (``ctx.obj``), never in a module global."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

from opskit.version import __version__


@dataclass
class State:
    debug: bool = False


def step_summary() -> Path | None:
    """GitHub's job summary file, when the command runs in GitHub Actions: the CLI
    appends its Markdown report there (the library only when asked)."""
    named = os.environ.get("GITHUB_STEP_SUMMARY")
    return Path(named) if named else None


def echo_outside(head: str, text: object, *, err: bool = False) -> None:
    """Print outside text (an error's message, a report's reason) as
    ``opskit.outside`` shows it: each of its lines after ``head``, never a CI
    workflow command or an escape sequence."""
    from opskit.outside import printable_lines

    for piece in printable_lines(text):
        click.echo(head + piece, err=err)


def debugging() -> bool:
    """``--debug`` (or ``OPSKIT_DEBUG``) for the command running now."""
    state = click.get_current_context().find_object(State)
    return state is not None and state.debug


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="opskit")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Run deployment playbooks that prove, step by step, that a release is live.

    Exit codes: 0 all steps passed, 1 a step failed, 2 bad input, 130 interrupted (Ctrl-C,
    SIGINT), 143 interrupted by SIGTERM (a CI cancel, kill).
    """
    state = ctx.ensure_object(State)
    state.debug = state.debug or debug
