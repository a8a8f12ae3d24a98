"""Benchmark: the redactor's cost per line, which every event and report pays.

One command from a clean checkout::

    python benchmarks/bench_redact.py                # 20,000 lines, 5 rounds
    python benchmarks/bench_redact.py --lines 5000 --secrets 20 --baseline REF

It builds a ``Redactor`` as a run does (a few declared secrets plus the session's
access key, secret key and session token), then times ``Redactor.text`` over
container-log-like lines: most plain, one in fifty holding a secret in some
encoded form, one in a hundred a presigned URL. With ``--baseline REF`` (a git
revision, e.g. ``main``) it times that revision's ``opskit/redact.py`` on the
same lines too, so a change to the patterns shows its cost beside the old one.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]


def load_redact(revision: str | None) -> ModuleType:
    """This checkout's ``opskit/redact.py``, or ``revision``'s (a standalone module)."""
    path = ROOT / "opskit" / "redact.py"
    if revision is not None:
        text = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{revision}:opskit/redact.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        path = Path(tempfile.mkdtemp()) / "redact_baseline.py"
        path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"redact_{revision or 'here'}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_lines(count: int, secrets: list[str], seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = ["request", "served", "status", "200", "path", "/api/chat", "latency", "ok"]
    lines = []
    for i in range(count):
        line = f"2025-01-01T00:00:{i % 60:02d}Z INFO " + " ".join(rng.choices(words, k=12))
        if i % 50 == 0:
            line += " token=" + quote(rng.choice(secrets), safe="")
        if i % 100 == 0:
            line += (
                " https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250101"
                "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=" + "ab" * 32
            )
        lines.append(line)
    return lines


def time_per_line(module: ModuleType, secrets: list[str], lines: list[str], rounds: int) -> float:
    redactor = module.Redactor(secrets)
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for line in lines:
            redactor.text(line)
        timings.append((time.perf_counter() - started) / len(lines))
    return statistics.median(timings)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--secrets", type=int, default=3, help="declared secrets")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="a git revision to compare with (e.g. main)")
    args = parser.parse_args(argv)
    rng = random.Random(1)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+=&% '\"\\"
    secrets = ["".join(rng.choices(alphabet, k=24)) for _ in range(args.secrets)]
    secrets += ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]
    secrets.append("FQoGZXIvYXdzEBYaD" + "x" * 300)
    lines = make_lines(args.lines, secrets)
    print(f"{len(lines)} lines, {len(secrets)} secrets, median of {args.rounds} rounds")
    here = time_per_line(load_redact(None), secrets, lines, args.rounds)
    print(f"this checkout: {here * 1e6:.2f} µs per line")
    if args.baseline:
        base = time_per_line(load_redact(args.baseline), secrets, lines, args.rounds)
        print(f"{args.baseline}: {base * 1e6:.2f} µs per line ({here / base:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
