"""Running the CLI in-process, as the console script does, for tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from opskit.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``opskit ARGS`` through ``main``, the one exit-code boundary: (code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code), out, err


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Cli:
    """``cli("releases", path)`` / ``cli.run(playbook, "-t", T)``: ``opskit ...`` in
    this process (the ``cli`` fixture), where the command's output is what a test
    is about and the process is not."""

    capsys: pytest.CaptureFixture[str]

    def __call__(self, *args: str) -> CliResult:
        return CliResult(*run_cli(list(args), self.capsys))

    def run(self, playbook: Path, *args: str) -> CliResult:
        return self("run", str(playbook), *args)
