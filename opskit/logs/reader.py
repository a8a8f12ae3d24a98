"""An exact, incremental reader of named CloudWatch Logs streams.

Why this shape (FilterLogEvents on exact names, plus a GetLogEvents probe):

- FilterLogEvents takes up to 100 exact stream names and filters by time on the
  server, so one call per 100 streams per poll reads every task. GetLogEvents per
  stream would cost one call per stream per poll, and the group-wide read that
  ``aws logs tail`` does would also return the OLD task's lines.
- AWS fails the whole FilterLogEvents request with ResourceNotFoundException
  ("The specified log stream does not exist.") when ANY named stream is missing,
  which is normal while a task starts; moto 5.2.5 silently skips such names.
  Neither answer says which stream is missing, so a stream is named in
  FilterLogEvents only once it is known to exist: a GetLogEvents(limit=1) on its
  exact name proves it (ResourceNotFound means "not yet"). That costs one probe per
  missing stream per poll and none once it exists; it is never DescribeLogStreams
  discovery, whose timestamps are eventually consistent.
- Pagination is followed until ``nextToken`` is absent (AWS may return empty pages
  that still carry a token), so more than 10,000 events in the window are read.
- Each event is kept once, by ``eventId`` (or stream, timestamp, ingestion time
  and message when there is none).
- CloudWatch can deliver an event whose timestamp is earlier than events already
  read. While a batch of streams holds few events (``full_reread_events``), every
  poll re-reads from ``since``: nothing is missed however late it arrives. Past
  that, every poll re-reads an overlap window of ``overlap_ms`` before the newest
  timestamp seen, so events up to that late are still seen, at a bounded cost.
  The first read of a stream that just appeared always starts at ``since``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from opskit.aws import aws_errors, error_code
from opskit.errors import StepError

MAX_STREAM_NAMES = 100  # FilterLogEvents' limit on logStreamNames
OVERLAP_MS = 30_000
FULL_REREAD_EVENTS = 1_000

EventKey = tuple[Any, ...]


@dataclass(frozen=True)
class LogLine:
    """One log event of one stream."""

    stream: str
    timestamp: int  # epoch ms, as the writer stamped it
    message: str
    event_id: str | None = None
    ingestion_time: int | None = None

    @property
    def key(self) -> EventKey:
        if self.event_id:
            return (self.stream, self.event_id)
        return (self.stream, self.timestamp, self.ingestion_time, self.message)

    @property
    def text(self) -> str:
        return self.message.rstrip("\r\n")


@dataclass
class PollResult:
    """What one poll found: new lines in timestamp order, and the streams still missing."""

    lines: list[LogLine]
    missing: list[str]
    appeared: list[str]


@dataclass
class _Stream:
    name: str
    start: int  # this stream's read window starts here (epoch ms); never moves back
    state: str = "pending"  # pending (not known to exist) -> fresh (exists) -> live (read)
    newest: int | None = None
    count: int = 0
    seen: dict[EventKey, int] = field(default_factory=dict)


class _NotFound(Exception):
    """ResourceNotFoundException, kept apart from other AWS errors."""


class LogReader:
    """Reads the named streams of one log group from ``since_ms`` on, each event once.

    ``call(what)`` is a context manager that turns AWS errors into one clear
    ``StepError`` (``ctx.aws.call``); ``calls`` counts the API requests made.
    """

    def __init__(
        self,
        client: Any,
        log_group: str,
        streams: Iterable[str],
        since_ms: int,
        *,
        call: Callable[[str], AbstractContextManager[Any]] = aws_errors,
        target: str = "",
        overlap_ms: int = OVERLAP_MS,
        full_reread_events: int = FULL_REREAD_EVENTS,
    ):
        self.client = client
        self.log_group = log_group
        self.since_ms = since_ms
        self.target = target
        self.overlap_ms = overlap_ms
        self.full_reread_events = full_reread_events
        self.calls = 0
        self.lines_read = 0
        self._call = call
        self._streams: dict[str, _Stream] = {}
        self.add_streams(streams)

    def add_streams(self, names: Iterable[str]) -> None:
        """Start reading more streams (a tail picks up tasks that started since)."""
        for name in names:
            if name not in self._streams:
                self._streams[name] = _Stream(name, start=self.since_ms)

    @property
    def missing(self) -> list[str]:
        return [s.name for s in self._streams.values() if s.state == "pending"]

    def check_group(self) -> None:
        """Raise ``StepError`` when the log group does not exist: a typo or a wrong
        target must not look like "no marker yet" until the timeout."""
        with self._call(f"logs DescribeLogGroups {self.log_group}"):
            paginator = self.client.get_paginator("describe_log_groups")
            for page in paginator.paginate(logGroupNamePrefix=self.log_group):
                self.calls += 1
                if any(g.get("logGroupName") == self.log_group for g in page["logGroups"]):
                    return
        where = f" (target {self.target!r})" if self.target else ""
        raise StepError(f"log group {self.log_group} does not exist{where}")

    def poll(self) -> PollResult:
        appeared = self._probe_missing()
        lines: list[LogLine] = []
        fresh = [s for s in self._streams.values() if s.state == "fresh"]
        live = [s for s in self._streams.values() if s.state == "live"]
        for batch in _chunks(fresh, MAX_STREAM_NAMES):
            lines += self._read_batch(batch)
        for batch in _chunks(live, MAX_STREAM_NAMES):
            lines += self._read_batch(batch)
        lines.sort(key=lambda line: line.timestamp)  # stable: keeps API order on ties
        self.lines_read += len(lines)
        return PollResult(lines=lines, missing=self.missing, appeared=appeared)

    def _probe_missing(self) -> list[str]:
        appeared = []
        for stream in self._streams.values():
            if stream.state != "pending":
                continue
            try:
                self._request(
                    "get_log_events",
                    f"logs GetLogEvents {self.log_group} {stream.name}",
                    logGroupName=self.log_group,
                    logStreamName=stream.name,
                    limit=1,
                    startFromHead=True,
                )
            except _NotFound:
                continue
            stream.state = "fresh"
            appeared.append(stream.name)
        return appeared

    def _read_batch(self, batch: list[_Stream]) -> list[LogLine]:
        by_name = {s.name: s for s in batch}
        request: dict[str, Any] = {
            "logGroupName": self.log_group,
            "logStreamNames": list(by_name),
            "startTime": min(s.start for s in batch),
        }
        found: list[LogLine] = []
        tokens: set[str] = set()
        try:
            while True:
                page = self._request(
                    "filter_log_events", f"logs FilterLogEvents {self.log_group}", **request
                )
                for event in page.get("events", []):
                    line = self._accept(by_name, event)
                    if line is not None:
                        found.append(line)
                token = page.get("nextToken")
                if not token or token in tokens:
                    break
                tokens.add(token)
                request["nextToken"] = token
        except _NotFound:
            # A stream was deleted, or the group: tell the two apart, then wait again.
            self.check_group()
            for stream in batch:
                stream.state = "pending"
            return found
        self._advance_windows(batch)
        return found

    def _accept(self, by_name: dict[str, _Stream], event: dict[str, Any]) -> LogLine | None:
        stream = by_name.get(event.get("logStreamName", ""))
        if stream is None:
            return None
        line = LogLine(
            stream=stream.name,
            timestamp=int(event["timestamp"]),
            message=str(event.get("message", "")),
            event_id=event.get("eventId"),
            ingestion_time=event.get("ingestionTime"),
        )
        # Below this stream's window: seen already (and pruned), or later than the
        # overlap allows; the batch's window is the lowest of its streams'.
        if line.timestamp < stream.start or line.key in stream.seen:
            return None
        stream.seen[line.key] = line.timestamp
        stream.count += 1
        if stream.newest is None or line.timestamp > stream.newest:
            stream.newest = line.timestamp
        return line

    def _advance_windows(self, batch: list[_Stream]) -> None:
        for stream in batch:
            stream.state = "live"
        if sum(s.count for s in batch) <= self.full_reread_events:
            return  # cheap: keep re-reading from since
        newest = max((s.newest for s in batch if s.newest is not None), default=None)
        for stream in batch:
            anchor = stream.newest if stream.newest is not None else newest
            if anchor is None:
                continue
            stream.start = max(stream.start, self.since_ms, anchor - self.overlap_ms)
            if stream.seen and min(stream.seen.values()) < stream.start:
                stream.seen = {k: ts for k, ts in stream.seen.items() if ts >= stream.start}

    def _request(self, operation: str, what: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.calls += 1
        with self._call(what):
            try:
                return getattr(self.client, operation)(**params)
            except ClientError as err:
                if error_code(err) == "ResourceNotFoundException":
                    raise _NotFound(str(err)) from None
                raise


def _chunks(items: list[_Stream], size: int) -> Iterator[list[_Stream]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]
