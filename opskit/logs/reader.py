"""An exact, incremental reader of named CloudWatch Logs streams, within the quotas.

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
  that still carry a token), so more than 10,000 events in the window are read;
  but one poll sends at most ``max_pages`` FilterLogEvents requests and carries on
  from the ``nextToken`` at the next poll. Every request goes through the
  process's budget (``opskit.logs.budget``); when it says wait, or AWS throttles,
  the poll ends there and ``PollResult.wait`` says when to come back.
- Each event is kept once, by ``eventId`` (or stream, timestamp, ingestion time
  and message when there is none).
- CloudWatch can deliver an event whose timestamp is earlier than events already
  read. While a batch of streams holds few events (``full_reread_events``), every
  pass re-reads from ``since``: nothing is missed however late it arrives. Past
  that, every pass re-reads an overlap window of ``overlap_ms`` (2 minutes:
  events can become readable "seconds to minutes late", DESIGN.md) before the
  newest timestamp seen in that stream, so an event at most that much older than
  the newest event already read from its stream when it becomes readable is
  still seen. A stream with no event read yet stays at ``since``, whatever its
  batch-mates read. A window moves only when a pass has read its batch to the
  end, so a poll cut short (the page cap, the budget, throttling) delays a late
  event but never loses it. The first read of a stream that just appeared
  always starts at ``since``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from opskit.aws import aws_errors
from opskit.clock import Clock, Deadline
from opskit.durations import format_duration
from opskit.errors import StepError
from opskit.logs.budget import LogsBudget, shared_budget
from opskit.logs.calls import Deferred, LogsCaller, Note, NotFound, Throttling

MAX_STREAM_NAMES = 100  # FilterLogEvents' limit on logStreamNames
MAX_PAGES_PER_POLL = 2  # FilterLogEvents requests per poll; the budget's 2 per second
OVERLAP_MS = 120_000  # a line this far behind its stream's newest still counts: bytes, not requests
FULL_REREAD_EVENTS = 1_000
READ_LIMIT = 60.0  # seconds a one-off read (read_through) may take, if the step's timeout is later

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
    """What one poll found: new lines in timestamp order, the streams still
    missing, and whether it read all there was to read."""

    lines: list[LogLine]
    missing: list[str]
    appeared: list[str]
    notes: list[Note] = field(default_factory=list)  # throttling began or ended, ...
    wait: float | None = None  # come back after this long (budget, backoff), not at the usual pace
    complete: bool = True  # False: the page cap, the budget or throttling cut it short


@dataclass
class _Stream:
    name: str
    start: int  # this stream's read window starts here (epoch ms); never moves back
    state: str = "pending"  # pending (not known to exist) -> fresh (exists) -> live (read)
    newest: int | None = None
    count: int = 0
    seen: dict[EventKey, int] = field(default_factory=dict)
    probed: int = 0  # when it was last probed (a counter): the longest-waiting goes first


@dataclass
class _Batch:
    """Up to 100 streams read together, from one start time, page by page."""

    streams: list[_Stream]
    request: dict[str, Any]
    newest_before: list[int | None]  # each stream's newest timestamp when the pass began
    tokens: set[str] = field(default_factory=set)


class LogReader:
    """Reads the named streams of one log group from ``since_ms`` on, each event once.

    ``call(what)`` is a context manager that turns AWS errors into one clear
    ``StepError`` (``ctx.aws.call``); ``clock`` is the step's (the budget counts
    on it); ``budget`` defaults to the process's for the client's endpoint.
    ``calls`` counts the API requests sent, ``throttling`` what AWS refused.
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
        clock: Clock | None = None,
        budget: LogsBudget | None = None,
        overlap_ms: int = OVERLAP_MS,
        full_reread_events: int = FULL_REREAD_EVENTS,
        max_pages: int = MAX_PAGES_PER_POLL,
    ):
        self.log_group = log_group
        self.since_ms = since_ms
        self.target = target
        self.overlap_ms = overlap_ms
        self.full_reread_events = full_reread_events
        self.max_pages = max_pages
        self.clock = clock or Clock()
        self.lines_read = 0
        self._caller = LogsCaller(
            client, budget or shared_budget(client, self.clock), self.clock, call
        )
        self._streams: dict[str, _Stream] = {}
        self._queue: list[_Batch] = []  # this pass's batches still to read; the head may be paging
        self._group_known = False
        self._group_token: str | None = None
        self._probes = 0
        self._wait: float | None = None  # what the last poll said: come back sooner or later
        self.add_streams(streams)

    @property
    def calls(self) -> int:
        return self._caller.throttling.requests

    @property
    def throttling(self) -> Throttling:
        return self._caller.throttling

    def add_streams(self, names: Iterable[str]) -> None:
        """Start reading more streams (a tail picks up tasks that started since)."""
        for name in names:
            if name not in self._streams:
                self._streams[name] = _Stream(name, start=self.since_ms)

    @property
    def missing(self) -> list[str]:
        return [s.name for s in self._streams.values() if s.state == "pending"]

    @property
    def all_read(self) -> bool:
        """Every stream exists and was read to the end at least once."""
        return all(s.state == "live" for s in self._streams.values())

    def next_poll(self, interval: float) -> float:
        """How long to wait before the next poll: ``interval``, unless the last
        poll said otherwise (the budget, a backoff)."""
        return interval if self._wait is None else self._wait

    def unfinished(self, waited: float, *, at_timeout: bool = False) -> str:
        """Why a read stopped before its end (``read_through``'s limit): throttling
        first, with the API, counts and since when, as a ``logs.wait`` timeout
        says it, e.g. ``CloudWatch Logs was throttling FilterLogEvents
        (ThrottlingException: Rate exceeded) since ..., 25 of 27 requests
        throttled (stopped after 1m00s)``."""
        when = format_duration(waited)
        stopped = (
            f"stopped at the step's timeout, after {when}"
            if at_timeout
            else f"stopped after {when}"
        )
        if self.throttling.mostly():
            return f"CloudWatch Logs was throttling {self.throttling.describe()} ({stopped})"
        return f"more pages were left to read ({stopped})"

    def poll(self) -> PollResult:
        lines: list[LogLine] = []
        appeared: list[str] = []
        wait: float | None = None
        complete = False
        try:
            if not self._group_known:
                self._check_group()
            probed_all = self._probe_missing(appeared)
            self._plan()
            complete = self._read(lines) and probed_all
        except Deferred as deferred:
            wait = deferred.seconds
        lines.sort(key=lambda line: line.timestamp)  # stable: keeps API order on ties
        self.lines_read += len(lines)
        self._wait = wait
        return PollResult(
            lines=lines,
            missing=self.missing,
            appeared=appeared,
            notes=self._caller.take_notes(),
            wait=wait,
            complete=complete,
        )

    def _check_group(self) -> None:
        what = f"logs DescribeLogGroups {self.log_group}"
        while True:
            request: dict[str, Any] = {"logGroupNamePrefix": self.log_group}
            if self._group_token:
                request["nextToken"] = self._group_token
            page = self._caller.send("DescribeLogGroups", "describe_log_groups", what, **request)
            if any(g.get("logGroupName") == self.log_group for g in page.get("logGroups", [])):
                self._group_known, self._group_token = True, None
                return
            token = page.get("nextToken")
            if not token or token == self._group_token:
                break
            self._group_token = token
        self._group_token = None
        where = f" (target {self.target!r})" if self.target else ""
        raise StepError(f"log group {self.log_group} does not exist{where}")

    def _probe_missing(self, appeared: list[str]) -> bool:
        """Probe the streams not known to exist, longest-waiting first; False when
        the budget stopped it (the rest wait for the next poll, reading goes on)."""
        pending = [s for s in self._streams.values() if s.state == "pending"]
        for stream in sorted(pending, key=lambda s: s.probed):
            self._probes += 1
            stream.probed = self._probes
            try:
                self._caller.send(
                    "GetLogEvents",
                    "get_log_events",
                    f"logs GetLogEvents {self.log_group} {stream.name}",
                    keep_place=False,  # a probe that must wait waits for the next poll
                    logGroupName=self.log_group,
                    logStreamName=stream.name,
                    limit=1,
                    startFromHead=True,
                )
            except NotFound:
                continue
            except Deferred:
                return False
            stream.state = "fresh"
            appeared.append(stream.name)
        return True

    def _plan(self) -> None:
        """Queue the streams that just appeared (read at once, from ``since``) and,
        once the previous pass is read to the end, a new pass over the others."""
        queued = {id(s) for batch in self._queue for s in batch.streams}
        fresh = [s for s in self._streams.values() if s.state == "fresh" and id(s) not in queued]
        batches = list(_chunks(fresh, MAX_STREAM_NAMES))
        if not self._queue:
            live = [s for s in self._streams.values() if s.state == "live"]
            batches += _chunks(live, MAX_STREAM_NAMES)
        at = 1 if self._queue and "nextToken" in self._queue[0].request else 0
        self._queue[at:at] = [self._batch(streams) for streams in batches]

    def _batch(self, streams: list[_Stream]) -> _Batch:
        request = {
            "logGroupName": self.log_group,
            "logStreamNames": [s.name for s in streams],
            "startTime": min(s.start for s in streams),
        }
        return _Batch(streams, request, [s.newest for s in streams])

    def _read(self, lines: list[LogLine]) -> bool:
        """Read queued pages into ``lines``; True when the queue is empty."""
        pages = 0
        while self._queue:
            if pages >= self.max_pages:
                return False
            batch = self._queue[0]
            pages += 1
            try:
                page = self._caller.send(
                    "FilterLogEvents",
                    "filter_log_events",
                    f"logs FilterLogEvents {self.log_group}",
                    **batch.request,
                )
            except NotFound:
                # A stream was deleted, or the group: the next poll checks the
                # group first (a clear error if it is gone), then probes again.
                self._queue.pop(0)
                self._group_known = False
                for stream in batch.streams:
                    stream.state = "pending"
                return False
            by_name = {s.name: s for s in batch.streams}
            for event in page.get("events", []):
                line = self._accept(by_name, event)
                if line is not None:
                    lines.append(line)
            token = page.get("nextToken")
            if token and token not in batch.tokens:
                batch.tokens.add(token)
                batch.request["nextToken"] = token
                continue
            self._queue.pop(0)
            self._advance_windows(batch)
        return True

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

    def _advance_windows(self, batch: _Batch) -> None:
        """Move each window to ``overlap_ms`` before the newest event read BEFORE
        this pass began. Anchoring on what the pass itself read would let a pass
        that spans polls (the page cap, the budget, a backoff) move the window
        past an event that became readable, late, after its range was paged."""
        for stream in batch.streams:
            stream.state = "live"
        if sum(s.count for s in batch.streams) <= self.full_reread_events:
            return  # cheap: keep re-reading from since
        # CloudWatch accepts events stamped up to two hours ahead (a writer's clock
        # skew; PutLogEvents' rules): one such event must not carry the window past
        # the correctly stamped lines still to come, so no anchor is later than now.
        now_ms = int(self.clock.time() * 1000)
        for stream, before in zip(batch.streams, batch.newest_before, strict=True):
            if before is None:
                # Nothing of this stream read before the pass: it stays at since,
                # whatever its batch-mates read (a quiet task's first line may be
                # stamped long before a busy one's newest).
                continue
            anchor = min(before, now_ms)
            stream.start = max(stream.start, self.since_ms, anchor - self.overlap_ms)
            if stream.seen and min(stream.seen.values()) < stream.start:
                stream.seen = {k: ts for k, ts in stream.seen.items() if ts >= stream.start}


def read_through(
    reader: LogReader,
    poll: Callable[[], PollResult],
    *,
    deadline: Deadline,
    cancel: threading.Event | None,
    interval: float,
    limit: float = READ_LIMIT,
) -> str | None:
    """Call ``poll`` (``reader.poll``, or a step's function around it) until one
    poll completes what the earlier ones began (a one-off read: ``logs.tail``
    with ``follow: false``, ``release.diagnose``), waiting on the reader's clock
    as ``reader.next_poll(interval)`` says. Returns None when the read
    completed, else why it stopped before its end (``LogReader.unfinished``):
    ``limit`` seconds or ``deadline`` came first. Under persistent throttling a
    read never completes, and a step without a timeout must still end."""
    clock = reader.clock
    started = clock.monotonic()
    at = started + limit
    stop = Deadline(clock, at if deadline.at is None else min(at, deadline.at))
    while True:
        result = poll()
        if result.complete:
            return None
        remaining = stop.remaining() or 0.0
        if remaining <= 0:
            waited = clock.monotonic() - started
            return reader.unfinished(waited, at_timeout=deadline.expired())
        clock.sleep(min(reader.next_poll(interval), remaining), cancel)


def _chunks(items: list[_Stream], size: int) -> Iterator[list[_Stream]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]
