"""``logs.wait``: read the NEW tasks' CloudWatch logs until every success marker
has appeared, failing at once on any failure marker.

This is the check that tells the truth when HTTP 200 lies: it reads exactly the
streams of the tasks a deployment started (``PREFIX/CONTAINER/TASK_ID``), from the
moment it started, so an error in the OLD task's stream can neither fail nor pass
the release. Reading is exact (see ``opskit.logs.reader``); Live Tail is never
used because it samples above 500 events/s.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opskit.clock import poll_until
from opskit.durations import format_duration
from opskit.errors import InputError, StepFailed, StepTimeout
from opskit.iam.needs import Need, Permissions
from opskit.iam.resources import AllLogGroups, LogGroup
from opskit.logs.calls import logs_client
from opskit.logs.patterns import (
    ANY_TASK,
    EVERY_TASK,
    Pattern,
    SuccessTracker,
    check_patterns,
    first_match,
    parse_patterns,
)
from opskit.logs.reader import LogLine, LogReader
from opskit.logs.selection import StreamSelection, emit_line, emit_notes, positive
from opskit.logs.streams import StreamTarget, short_id
from opskit.logs.targets import check_since, resolve_since, resolve_targets
from opskit.logs.times import iso_ms
from opskit.steps.base import StepContext, StepResult, StepType, at_least, output, param

LINES_AFTER = 20  # a traceback's frames and its exception line
RECENT_LINES_KEPT = 200  # per stream, for the context of a failure
# A pattern short and plain enough to name a marker on the report's timeline.
_PLAIN = re.compile(r"[A-Za-z0-9 _.-]{1,30}")


@dataclass(frozen=True, kw_only=True)
class WaitInputs(StreamSelection):
    log_group: str = param("CloudWatch Logs group, e.g. /ecs/chatbot.", "string", required=True)
    since: str | None = param(
        "Read events from this time: a duration ago (10m) or an ISO 8601 time; "
        "default: started_at of the newest earlier step that has it (ecs.redeploy), else "
        "the run's start.",
        "string",
        check=check_since,
    )
    success: list[str] = param(
        "Markers that must all appear; substrings, or regular expressions as re:...",
        "string_list",
        default=[],
        check=check_patterns,
    )
    require: str = param(
        "every_task: each task logs every success marker; any_task: some task does.",
        "string",
        default=EVERY_TASK,
        choices=(EVERY_TASK, ANY_TASK),
    )
    failure: list[str] = param(
        "Markers that fail the step as soon as one appears (substrings or re:...).",
        "string_list",
        default=[],
        check=check_patterns,
    )
    poll_interval: float = param("Time between reads.", "duration", default=2.0, check=positive)
    context_lines: int = param(
        "Lines before a failure to include.", "integer", default=5, check=at_least(0)
    )


@dataclass(frozen=True, kw_only=True)
class WaitOutputs:
    matched: dict[str, dict[str, str]] = output(
        "pattern -> task id -> the line that matched", "object"
    )
    first_failure: dict[str, Any] | None = output(
        "task_id, timestamp, line and context of the first failure (or null)", "object"
    )
    lines_read: int = output("number of log lines read", "integer")
    streams: list[str] = output("the exact stream names read", "string_list")


@dataclass
class _Watch:
    """The state of one wait: what was read, what matched, what is still missing."""

    ctx: StepContext
    reader: LogReader
    targets: dict[str, StreamTarget]  # stream -> target
    tracker: SuccessTracker
    failure: list[Pattern]
    context_lines: int
    announced: set[str] = field(default_factory=set)
    recent: dict[str, deque[LogLine]] = field(default_factory=dict)

    def check(self) -> StepResult | None:
        result = self.reader.poll()
        emit_notes(self.ctx.emit, result.notes)
        for name in result.appeared:
            if name in self.announced:
                self.ctx.emit("info", f"stream {name} appeared", stream=name)
        for name in result.missing:
            if name not in self.announced:
                self.announced.add(name)
                self.ctx.emit("progress", f"waiting for stream {name} to appear", stream=name)
        failed: tuple[Pattern, StreamTarget, LogLine] | None = None
        for line in result.lines:
            target = self.targets[line.stream]
            emit_line(self.ctx.emit, target, line)
            self.recent.setdefault(line.stream, deque(maxlen=RECENT_LINES_KEPT)).append(line)
            pattern = first_match(self.failure, line.text)
            if pattern is not None and failed is None:
                failed = (pattern, target, line)
                self.mark("failure marker", self.failure, pattern, target, line, "failure")
            for hit in self.tracker.observe(target.task_id, line):
                self.ctx.emit(
                    "info",
                    f"matched {hit.text!r} in task {target.short_id} ({target.age})",
                    task_id=target.task_id,
                    pattern=hit.text,
                )
                self.mark("marker", self.tracker.patterns, hit, target, line)
        if failed is not None:
            raise self.failed(*failed)
        if self.tracker.patterns and self.tracker.satisfied():
            return self.passed()
        if not self.tracker.patterns and self.reader.all_read:
            return self.passed()
        self.ctx.emit("progress", self.waiting_for(), lines_read=self.reader.lines_read)
        return None

    def mark(
        self,
        kind: str,
        patterns: Sequence[Pattern],
        hit: Pattern,
        target: StreamTarget,
        line: LogLine,
        what: str = "log_marker",
    ) -> None:
        """The timeline's moment: when the line was logged (its event's timestamp;
        a failure marker's line is where the step failed, so it is the run's
        failure mark). Its label names the playbook's pattern when short and plain
        ("marker 1" otherwise), never the line."""
        name = hit.text if _PLAIN.fullmatch(hit.text) else f"{list(patterns).index(hit) + 1}"
        self.ctx.emit(
            "mark",
            f"{kind} {name} matched in task {target.short_id}",
            at=line.timestamp / 1000,
            what=what,
        )

    def waiting_for(self) -> str:
        parts = []
        missing = self.tracker.describe_missing()
        if missing:
            parts.append(f"these patterns never matched: {missing}")
        if self.reader.missing:
            parts.append("these streams never appeared: " + ", ".join(self.reader.missing))
        return "; ".join(parts) or "waiting for the first read"

    def timed_out(self, waited: str) -> str:
        """The step's own timeout message: when CloudWatch Logs was throttling the
        reads, that comes first (the patterns did not match because they could not
        be read), with how many requests and since when."""
        read = f"{self.reader.lines_read} lines read"
        throttling = self.reader.throttling
        if throttling.mostly():
            return (
                f"timed out after {waited} while CloudWatch Logs was throttling "
                f"{throttling.describe()}; {read}; {self.waiting_for()}"
            )
        return f"timed out after {waited} ({read}): {self.waiting_for()}"

    def outputs(self, first_failure: dict[str, Any] | None = None) -> WaitOutputs:
        return WaitOutputs(
            matched=self.tracker.matched_output(),
            first_failure=first_failure,
            lines_read=self.reader.lines_read,
            streams=list(self.targets),
        )

    def failed(self, pattern: Pattern, target: StreamTarget, line: LogLine) -> StepFailed:
        context = self.context_before(line)
        after = self.read_after(line)
        when = iso_ms(line.timestamp)
        first_failure = {
            "task_id": target.task_id,
            "age": target.age,
            "stream": line.stream,
            "pattern": pattern.text,
            "timestamp": when,
            "line": line.text,
            "context": [c.text for c in context],
            "after": [c.text for c in after],
        }
        detail = [f"task {target.task_id} ({target.age}), stream {line.stream}:"]
        detail += [f"  {iso_ms(c.timestamp)}  {c.text}" for c in context]
        detail.append(f"> {when}  {line.text}")
        detail += [f"  {iso_ms(c.timestamp)}  {c.text}" for c in after]
        summary = (
            f"failure pattern {pattern.text!r} in task {target.short_id} at {when}: {line.text}"
        )
        raised = exception_line(line, after)
        if raised:
            summary += f" … {raised}"
        return StepFailed(summary, detail="\n".join(detail), outputs=self.outputs(first_failure))

    def read_after(self, line: LogLine) -> list[LogLine]:
        """Lines of the same stream already read after the failure: a Python
        traceback's matching first line says little, its last line says what broke."""
        ordered = sorted(self.recent.get(line.stream, ()), key=lambda c: c.timestamp)
        index = next(i for i, c in enumerate(ordered) if c is line)
        return ordered[index + 1 : index + 1 + LINES_AFTER]

    def context_before(self, line: LogLine) -> list[LogLine]:
        ordered = sorted(self.recent.get(line.stream, ()), key=lambda c: c.timestamp)
        index = next(i for i, c in enumerate(ordered) if c is line)
        return ordered[max(0, index - self.context_lines) : index] if self.context_lines else []

    def passed(self) -> StepResult:
        tasks = len(set(t.task_id for t in self.targets.values()))
        read = self.reader.lines_read
        if not self.tracker.patterns:
            summary = f"no failure pattern in {read} lines from {tasks} task(s)"
            return StepResult("ok", summary, outputs=self.outputs())
        # The summary stays one short line; which line matched each pattern is
        # in the detail (reports) and was shown live as "matched ..." lines.
        evidence = self.tracker.evidence()
        names = ", ".join(sorted({short_id(t.task_id) for t in self.targets.values()}))
        summary = (
            f"{len(self.tracker.patterns)} pattern(s) matched in {tasks} task(s) ({names}), "
            f"{read} lines read"
        )
        return StepResult("ok", summary, outputs=self.outputs(), detail="\n".join(evidence))


def exception_line(line: LogLine, after: list[LogLine]) -> str | None:
    """The ``Type: message`` line that ends a traceback starting at ``line``."""
    if "Traceback (most recent call last)" not in line.text:
        return None
    for candidate in after:
        text = candidate.text.rstrip()
        if text and not text[0].isspace() and not text.startswith("Traceback"):
            return text
    return None


def run(ctx: StepContext, inputs: WaitInputs) -> StepResult:
    success = parse_patterns(inputs.success)
    failure = parse_patterns(inputs.failure)
    if not success and not failure:
        raise InputError(f"{ctx.uses}: give success patterns, failure patterns, or both")

    targets = resolve_targets(inputs, ctx.earlier_output, label=ctx.uses)
    since_ms = resolve_since(
        inputs.since,
        ctx.earlier_output,
        now=ctx.clock.time(),
        run_started_at=ctx.run_started_at,
        label=ctx.uses,
    )
    log_group = inputs.log_group
    reader = LogReader(
        logs_client(ctx.aws),
        log_group,
        [t.stream for t in targets],
        since_ms,
        call=ctx.aws.call,
        target=ctx.aws.target,
        clock=ctx.clock,
    )
    task_ids = list(dict.fromkeys(t.task_id for t in targets))
    watch = _Watch(
        ctx=ctx,
        reader=reader,
        targets={t.stream: t for t in targets},
        tracker=SuccessTracker(success, task_ids, inputs.require),
        failure=failure,
        context_lines=inputs.context_lines,
    )
    ctx.emit(
        "info",
        f"reading {len(targets)} stream(s) of {log_group} since {iso_ms(since_ms)}",
        streams=[t.stream for t in targets],
    )
    started = ctx.clock.monotonic()
    try:
        return poll_until(
            watch.check,
            clock=ctx.clock,
            deadline=ctx.deadline,
            interval=lambda: reader.next_poll(inputs.poll_interval),
            cancel=ctx.cancel,
            describe=watch.waiting_for,
        )
    except StepTimeout:
        waited = format_duration(ctx.clock.monotonic() - started)
        raise StepTimeout(
            watch.timed_out(waited),
            detail="\n".join(watch.tracker.evidence()),
            outputs=watch.outputs(),
        ) from None


PERMISSIONS = Permissions(
    Need("logs:DescribeLogGroups", AllLogGroups(), "the log group must exist"),
    Need("logs:GetLogEvents", LogGroup(), "has each stream appeared yet"),
    Need("logs:FilterLogEvents", LogGroup(), "read the streams"),
)


STEP = StepType(
    name="logs.wait",
    summary="Wait for success markers in the given tasks' CloudWatch logs; "
    "fail on any failure marker.",
    inputs=WaitInputs,
    outputs=WaitOutputs,
    run=run,
    read_only=True,
    permissions=PERMISSIONS,
)
