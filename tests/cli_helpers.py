"""Running the CLI in-process, as the console script does, for tests."""

from __future__ import annotations

import pytest

from opskit.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``opskit ARGS`` through ``main``, the one exit-code boundary: (code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code), out, err
