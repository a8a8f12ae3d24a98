"""Benchmark: how fast opskit's log reader reports a marker, and at what API cost,
beside ``aws logs tail --follow``-style polling of the whole group.

One command from a clean checkout::

    python benchmarks/bench_logs_wait.py                 # 60 s, poll every 2 s
    python benchmarks/bench_logs_wait.py --duration 30 --interval 1

It starts moto's server on loopback as its own process, creates a log group with
several streams (the NEW task's, the OLD task's and other services'), and runs a
writer thread that puts events at a steady rate into all of them and writes a
marker line into the NEW task's stream at known times. Two readers poll at the
same interval, at the same time:

- opskit: ``opskit.logs.reader.LogReader`` on the NEW task's exact stream name
  (what ``logs.wait`` uses);
- peer: the ``aws logs tail --follow`` algorithm: FilterLogEvents on the whole
  group without stream names, from the newest timestamp seen, pagination
  followed, duplicates dropped by event id.

Detection latency is the time from just before the marker's PutLogEvents call to
the end of the poll that returned it. The peer's "lines from other streams" are
lines a marker check would have matched against although they are not the NEW
task's (the OLD task's error is how the incident's false alarm happened).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from opskit.logs.reader import LogReader  # noqa: E402
from opskit.sandbox.ports import free_port  # noqa: E402

GROUP = "/ecs/chatbot"
NEW_STREAM = "ecs/app/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
OTHER_STREAMS = [
    "ecs/app/0ddba11cafe44d7e8f9a0b1c2d3e4f50",  # the OLD task
    "ecs/worker/5b5b5b5b5b5b4b5b8b5b5b5b5b5b5b5b",
    "ecs/worker/6c6c6c6c6c6c4c6c8c6c6c6c6c6c6c6c",
    "ecs/cron/7d7d7d7d7d7d4d7d8d7d7d7d7d7d7d7d",
]
ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return server, url
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("moto server did not start")


def logs_client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=16)
    return boto3.client(
        "logs",
        endpoint_url=url,
        region_name=ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"],
        config=config,
    )


class Counted:
    """A logs client that counts the requests made and the events they returned."""

    def __init__(self, client: Any):
        self.client = client
        self.calls = 0
        self.events = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if name in ("get_paginator",):
            return method

        def counted(**params: Any) -> Any:
            self.calls += 1
            response = method(**params)
            self.events += len(response.get("events", []))
            return response

        return counted


@dataclass
class Markers:
    written: dict[str, float] = field(default_factory=dict)  # marker -> wall time of the put
    lock: threading.Lock = field(default_factory=threading.Lock)


def writer(client: Any, args: argparse.Namespace, markers: Markers, stop: threading.Event) -> None:
    """Steady load into every stream, and a marker into the NEW stream every few seconds."""
    streams = [NEW_STREAM, *OTHER_STREAMS]
    tick = 0.1
    budget = 0.0  # events owed to each stream (fractional rates accumulate)
    next_marker = time.time() + 1.0
    count = 0
    while not stop.is_set():
        started = time.time()
        budget += args.rate * tick / len(streams)
        per_tick, budget = int(budget), budget - int(budget)
        for stream in streams if per_tick else []:
            stamp = int(time.time() * 1000)
            events = [
                {"timestamp": stamp, "message": f"{stream} request {count + i} ok"}
                for i in range(per_tick)
            ]
            if stream == OTHER_STREAMS[0] and count % 50 < per_tick:
                events.append({"timestamp": stamp, "message": "Traceback (most recent call last):"})
            client.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)
        count += per_tick
        if time.time() >= next_marker:
            name = f"MARKER-{len(markers.written):04d} health check passed"
            with markers.lock:
                markers.written[name] = time.time()
            client.put_log_events(
                logGroupName=GROUP,
                logStreamName=NEW_STREAM,
                logEvents=[{"timestamp": int(time.time() * 1000), "message": name}],
            )
            next_marker += args.marker_every
        stop.wait(max(0.0, tick - (time.time() - started)))


@dataclass
class Result:
    name: str
    seen: dict[str, float] = field(default_factory=dict)
    client: Counted | None = None
    lines: int = 0
    foreign_lines: int = 0


def note_lines(result: Result, lines: list[tuple[str, str]], markers: Markers) -> None:
    now = time.time()
    for stream, message in lines:
        result.lines += 1
        if stream != NEW_STREAM:
            result.foreign_lines += 1
        elif message.startswith("MARKER-") and message not in result.seen:
            result.seen[message] = now


def run_opskit(
    client: Any,
    since: int,
    args: argparse.Namespace,
    markers: Markers,
    stop: threading.Event,
    result: Result,
) -> None:
    # The first poll checks the group (DescribeLogGroups), as in logs.wait; the
    # client counts it like every request.
    reader = LogReader(client, GROUP, [NEW_STREAM], since)
    while not stop.is_set():
        polled = reader.poll()
        note_lines(result, [(line.stream, line.message) for line in polled.lines], markers)
        stop.wait(args.interval)


def run_peer(
    client: Any,
    since: int,
    args: argparse.Namespace,
    markers: Markers,
    stop: threading.Event,
    result: Result,
) -> None:
    start = since
    ids_at_start: set[str] = set()
    while not stop.is_set():
        request: dict[str, Any] = {"logGroupName": GROUP, "startTime": start}
        found: list[tuple[str, str]] = []
        newest, newest_ids = start, set(ids_at_start)
        while True:
            page = client.filter_log_events(**request)
            for event in page.get("events", []):
                if event["eventId"] in ids_at_start:
                    continue
                found.append((event["logStreamName"], event["message"]))
                if event["timestamp"] > newest:
                    newest, newest_ids = event["timestamp"], set()
                if event["timestamp"] == newest:
                    newest_ids.add(event["eventId"])
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
        start, ids_at_start = newest, newest_ids
        note_lines(result, found, markers)
        stop.wait(args.interval)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval, both readers")
    parser.add_argument("--rate", type=float, default=50.0, help="events/s over all streams")
    parser.add_argument("--marker-every", type=float, default=2.7, help="seconds between markers")
    args = parser.parse_args()
    os.environ.update(ENV)

    server, url = start_moto()
    try:
        setup = logs_client(url)
        setup.create_log_group(logGroupName=GROUP)
        for stream in [NEW_STREAM, *OTHER_STREAMS]:
            setup.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        since = int(time.time() * 1000) - 1000
        markers, stop = Markers(), threading.Event()
        results = [
            Result("opskit (exact stream names)", client=Counted(logs_client(url))),
            Result("peer (whole group, aws logs tail)", client=Counted(logs_client(url))),
        ]
        readers = (run_opskit, run_peer)
        threads = [threading.Thread(target=writer, args=(logs_client(url), args, markers, stop))]
        for read, result in zip(readers, results, strict=True):
            threads.append(
                threading.Thread(
                    target=read, args=(result.client, since, args, markers, stop, result)
                )
            )
        started = time.time()
        for thread in threads:
            thread.start()
        time.sleep(args.duration)
        # let both readers pick up the last marker before stopping
        stop_writes_at = time.time()
        time.sleep(args.interval + 1.0)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed_min = (time.time() - started) / 60
    finally:
        server.terminate()
        server.wait()

    written = {m: t for m, t in markers.written.items() if t < stop_writes_at - args.interval}
    print(
        f"{len(written)} markers, {args.rate:.0f} events/s into {1 + len(OTHER_STREAMS)} streams, "
        f"poll interval {args.interval:g}s, {args.duration:.0f}s run\n"
    )
    header = (
        "| reader | markers seen | median latency | p95 latency | max latency "
        "| API calls/min | events received/min | lines from other streams |"
    )
    print(header)
    print("|" + " --- |" * 8)
    rows = []
    for result in results:
        latencies = [result.seen[m] - t for m, t in written.items() if m in result.seen]
        rows.append(
            (
                result,
                statistics.median(latencies) if latencies else float("nan"),
                percentile(latencies, 0.95) if latencies else float("nan"),
                max(latencies) if latencies else float("nan"),
                result.client.calls / elapsed_min,
                result.client.events / elapsed_min,
                len(latencies),
            )
        )
    for result, median, p95, worst, calls, lines, seen in rows:
        print(
            f"| {result.name} | {seen}/{len(written)} | {median:.2f} s | {p95:.2f} s "
            f"| {worst:.2f} s | {calls:.0f} | {lines:.0f} | {result.foreign_lines} |"
        )
    (_, *o), (_, *p) = rows
    print(
        f"| ratio peer/opskit | | {p[0] / o[0]:.2f}x | {p[1] / o[1]:.2f}x | {p[2] / o[2]:.2f}x "
        f"| {p[3] / o[3]:.2f}x | {p[4] / o[4]:.2f}x | |"
    )
    bound = args.interval + 1.0
    late = [m for m, t in written.items() if results[0].seen.get(m, float("inf")) - t > bound]
    print(f"\nopskit markers later than poll_interval + 1 s ({bound:g} s): {len(late)}")


if __name__ == "__main__":
    main()
