"""The click group and the state every command reads (``--debug``)."""

from __future__ import annotations

from dataclasses import dataclass

import click

from opskit import __version__


@dataclass
class State:
    debug: bool = False


state = State()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="opskit")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """Run deployment playbooks that prove, step by step, that a release is live.

    Exit codes: 0 all steps passed, 1 a step failed, 2 bad input, 130 interrupted.
    """
    state.debug = state.debug or debug
