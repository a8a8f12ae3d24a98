"""setup.cfg's floors of boto3, botocore, s3transfer and Jinja2, as exact pins for CI's floor job.

Prints one requirement a line (``botocore==1.35.2``). With ``--check``, compares them with
the versions installed in this interpreter instead, and fails naming any that differ (pip
may resolve something else than what was asked). One source of truth: setup.cfg.
"""

from __future__ import annotations

import configparser
import re
import sys
from importlib.metadata import version
from pathlib import Path

FLOORED = ("boto3", "botocore", "s3transfer", "jinja2")
FLOOR = re.compile(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)")


def floors(setup_cfg: Path) -> dict[str, str]:
    config = configparser.ConfigParser()
    config.read(setup_cfg, encoding="utf-8")
    found = {}
    for line in config["options"]["install_requires"].splitlines():
        match = FLOOR.fullmatch(line.strip())
        if match and match.group(1).lower() in FLOORED:
            found[match.group(1).lower()] = match.group(2)
    missing = [name for name in FLOORED if name not in found]
    if missing:
        sys.exit(f"{setup_cfg}: no floor (NAME>=VERSION) for {', '.join(missing)}")
    return found


def main(args: list[str]) -> int:
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    setup_cfg = Path(paths[0]) if paths else Path(__file__).resolve().parents[1] / "setup.cfg"
    pins = floors(setup_cfg)
    if not check:
        print("\n".join(f"{name}=={floor}" for name, floor in pins.items()))
        return 0
    wrong = [f"{n} {version(n)} (floor {f})" for n, f in pins.items() if version(n) != f]
    if wrong:
        print(f"not the floors: {', '.join(wrong)}", file=sys.stderr)
        return 1
    print("floors installed: " + ", ".join(f"{n} {f}" for n, f in pins.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
