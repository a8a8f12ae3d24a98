"""CI's floor job takes its pins from setup.cfg (.ci/floors.py): one source of truth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOORS = ROOT / ".ci" / "floors.py"


def floors(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FLOORS), *args], capture_output=True, text=True, check=False
    )


def test_the_floor_job_pins_exactly_the_floors_setup_cfg_declares() -> None:
    printed = floors()
    assert (printed.returncode, printed.stderr) == (0, "")
    assert printed.stdout.splitlines() == [
        "boto3==1.43.0",
        "botocore==1.43.10",
        "s3transfer==0.17.0",
        "jinja2==3.1.6",
    ]
    declared = (ROOT / "setup.cfg").read_text().lower().splitlines()
    for pin in printed.stdout.splitlines():
        assert "    " + pin.replace("==", ">=") in declared


def test_a_setup_cfg_without_a_floor_stops_the_job_naming_it(tmp_path: Path) -> None:
    setup_cfg = tmp_path / "setup.cfg"
    setup_cfg.write_text("[options]\ninstall_requires =\n    boto3>=1.35.0\n    click>=8.1\n")
    refused = floors(str(setup_cfg))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"{setup_cfg}: no floor (NAME>=VERSION) for botocore, s3transfer, jinja2\n"
    )
