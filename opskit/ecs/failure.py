"""The evidence of stopped tasks: stopped reason, exit codes, last log lines.

This is what an on-call engineer reads first after a failed deployment, so it
is gathered once, when the verdict is known. Unreadable logs are said in the
text, never a reason to lose the rest of the message.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from opskit.aws import describe_client_error
from opskit.clock import Clock
from opskit.ecs.names import short_task_definition, task_id_of
from opskit.ecs.taskdef import LogTarget
from opskit.errors import StepError
from opskit.logs.budget import shared_budget
from opskit.logs.calls import Deferred, LogsCaller, NotFound, logs_client

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

DEFAULT_LOG_LINES = 10


def tail_log(
    aws: AwsAccess, target: LogTarget, stream: str, lines: int, clock: Clock | None = None
) -> list[str]:
    """The last ``lines`` messages of one log stream; raises ``LogUnavailable``.

    One attempt, through the process's Logs budget (``clock``: the process's
    time unless a test gives its own), as the log reader sends: under
    throttling, the evidence of a failure says so at once instead of spending
    botocore's retries (real sleeps, more of the account's shared quota) or
    waiting out a backoff before on_failure goes on. Only the budget's pace (4
    GetLogEvents a second, so under a second) is waited for: ecs.describe's 5
    stopped tasks must all show their lines."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = logs_client(aws)
        clock = clock or Clock()
        caller = LogsCaller(client, shared_budget(client, clock), clock, call=_as_is)
        while True:
            try:
                response = caller.send(
                    "GetLogEvents",
                    "get_log_events",
                    f"logs GetLogEvents {target.group} {stream}",
                    logGroupName=target.group,
                    logStreamName=stream,
                    limit=lines,
                    startFromHead=False,
                )
                break
            except Deferred as held:
                if held.throttled:
                    raise LogUnavailable(
                        f"CloudWatch Logs is throttling GetLogEvents ({held.cause})"
                    ) from None
                if held.cause:  # a 5xx, a timeout: what botocore would retry
                    raise LogUnavailable(held.cause) from None
                clock.sleep(held.seconds)  # the budget's pace: its turn is kept
    except NotFound as err:
        raise NoStream(str(err)) from None
    except ClientError as err:
        raise LogUnavailable(describe_client_error(err)) from None
    except BotoCoreError as err:
        raise LogUnavailable(str(err)) from None
    except StepError as err:  # the client could not be made
        raise LogUnavailable(str(err)) from None
    return [str(e.get("message", "")).rstrip("\n") for e in response.get("events") or []]


def _as_is(what: str) -> AbstractContextManager[None]:
    """``LogsCaller``'s ``call``: AWS's errors as they are (the evidence says them
    in its own words)."""
    return nullcontext()


class LogUnavailable(Exception):
    """The log stream could not be read; ``str()`` says why."""


class NoStream(LogUnavailable):
    """GetLogEvents answered ResourceNotFoundException: the stream, or its group,
    does not exist. AWS's message says which; moto's always says "log group"."""

    def line(self, group: str, stream: str) -> str:
        if "log stream" in str(self):
            return f"no log stream {group} {stream}: it does not exist"
        return (
            f"no log stream {group} {stream}: GetLogEvents answered ResourceNotFoundException "
            f"(no such stream, or no log group {group})"
        )


def never_started(task: dict[str, Any]) -> bool:
    """The task never reached RUNNING: its containers wrote no log stream."""
    return task.get("stopCode") == "TaskFailedToStart" or not task.get("startedAt")


def container_line(container: dict[str, Any]) -> str:
    name = container.get("name", "?")
    code = container.get("exitCode")
    text = f"container {name}: " + (f"exit code {code}" if code is not None else "no exit code")
    if container.get("reason"):
        text += f" ({container['reason']})"
    return text


def task_headline(task: dict[str, Any]) -> str:
    line = (
        f"task {task_id_of(task.get('taskArn', ''))} "
        f"({short_task_definition(task.get('taskDefinitionArn', ''))}) stopped: "
        f"{task.get('stoppedReason') or 'no stopped reason'}"
    )
    if task.get("stopCode"):
        line += f" [{task['stopCode']}]"
    return line


def describe_stopped_tasks(
    aws: AwsAccess | None,
    tasks: list[dict[str, Any]],
    log_targets: dict[str, LogTarget],
    lines: int = DEFAULT_LOG_LINES,
) -> str:
    """A multi-line account of each stopped task: reason, containers' exit codes and
    reasons, then the last ``lines`` of each container's log stream (``aws`` None or
    ``lines`` 0 skips the logs)."""
    out: list[str] = []
    for task in tasks:
        out.append(task_headline(task))
        containers = task.get("containers") or []
        for container in containers:
            out.append("  " + container_line(container))
        if aws is None or lines <= 0:
            continue
        if never_started(task):
            out.append("  no log stream: the task never started")
            continue
        names = [c.get("name", "") for c in containers] or list(log_targets)
        for name in names:
            target = log_targets.get(name)
            if target is None:
                continue
            stream = target.stream(task_id_of(task.get("taskArn", "")), name)
            try:
                messages = tail_log(aws, target, stream, lines)
            except NoStream as err:
                out.append("  " + err.line(target.group, stream))
                continue
            except LogUnavailable as err:
                out.append(f"  logs of {name} unavailable ({target.group} {stream}): {err}")
                continue
            if not messages:
                out.append(f"  log stream {target.group} {stream} is empty")
                continue
            out.append(f"  last {plural_lines(len(messages))} of {target.group} {stream}:")
            out.extend(f"    | {m}" for m in messages)
    return "\n".join(out)


def plural_lines(count: int) -> str:
    return "line" if count == 1 else f"{count} lines"
