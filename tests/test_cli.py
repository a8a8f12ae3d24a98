"""The command line's own words (``opskit --help``)."""

from __future__ import annotations

import pytest

from tests.cli_helpers import run_cli


def test_help_lists_every_exit_code_a_run_can_end_with(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(["--help"], capsys)

    assert code == 0
    assert (
        "Exit codes: 0 all steps passed, 1 a step failed, 2 bad input, 130 interrupted "
        "(Ctrl-C, SIGINT), 143 interrupted by SIGTERM (a CI cancel, kill)."
    ) in " ".join(out.split())  # as wrapped to the terminal's width
