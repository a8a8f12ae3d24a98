"""The command line: a thin layer over the library. The one place that imports
click, prints errors and turns exceptions into exit codes (0/1/2/130; a run stopped by SIGTERM 143).

One module a family of commands (``run``, ``catalog``, ``ci``, ``sandbox``), each
command one call into the library; ``main`` is the boundary.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback

import click

from opskit.cli import catalog, ci, run, sandbox  # noqa: F401 - registers the commands
from opskit.cli.group import State, cli, echo_outside
from opskit.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_STEP_FAILED, OpskitError

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the one boundary from exceptions to exit codes."""
    # What exists now (interpreter, click, opskit.cli) lives as long as the process:
    # exempting it from the cyclic GC spares each collection a scan of it (about
    # 30 ms over a no-op s3.sync run). Later objects are collected, less often: a
    # run's objects mostly live until its end (botocore's service models, a
    # listing, the plan), so with the default threshold (700 allocations) the
    # collector scans them again and again. 700 → 50,000 took a no-op s3.sync of
    # 2,000 files from ~260 collections (1 full) to ~2 (0 full), ~9 % less CPU; a
    # long run still collects its cycles. Only for the console script: a
    # caller's process (tests) keeps its normal GC.
    if argv is None:
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
    args = list(sys.argv[1:] if argv is None else argv)
    # read before click parses: a usage error's traceback is shown with --debug too
    state = State(debug="--debug" in args or bool(os.environ.get("OPSKIT_DEBUG")))
    try:
        code = cli.main(args=args, prog_name="opskit", standalone_mode=False, obj=state)
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
        if state.debug:
            traceback.print_exc()
        echo_outside("opskit: error: ", err, err=True)
        code = err.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - the last boundary before the user
        if state.debug:
            traceback.print_exc()
        echo_outside(
            "opskit: internal error: ",
            f"{type(err).__name__}: {err} (run with --debug for the traceback)",
            err=True,
        )
        code = EXIT_STEP_FAILED
    sys.exit(code or 0)
