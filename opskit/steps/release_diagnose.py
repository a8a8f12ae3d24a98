"""``release.diagnose``: what the facts mean, for the end of ``diagnose.yaml``.

Read-only. Gathers what no other step judges together: the code digest each
running task logged (``code digest <hex> verified``, read from its own stream),
the current manifest's digest, the release records and the service's primary
deployment; takes the bucket check and the script health check from earlier
steps' results; and says in words what it means (``opskit.releases.diagnosis``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from opskit.ecs.describe import describe_service, list_service_tasks
from opskit.ecs.stops import not_a_crash
from opskit.iam.needs import Need, Permissions
from opskit.iam.resources import (
    AllLogGroups,
    EcsService,
    EcsTaskList,
    EcsTasks,
    Everything,
    LogGroup,
    S3Bucket,
    S3Objects,
)
from opskit.logs.calls import logs_client
from opskit.logs.reader import LogLine, LogReader, PollResult, read_through
from opskit.logs.selection import emit_notes
from opskit.logs.service_tasks import service_streams
from opskit.logs.targets import check_since
from opskit.logs.times import parse_since
from opskit.releases.choose import live_manifest
from opskit.releases.diagnosis import Facts, findings
from opskit.releases.store import read_records
from opskit.s3.location import checked_destination, parse_s3_url
from opskit.steps.base import StepContext, StepResult, StepType, output, param

DIGEST_LINE = re.compile(r"code digest ([0-9a-f]{64}) verified")


@dataclass(frozen=True, kw_only=True)
class DiagnoseInputs:
    cluster: str = param("ECS cluster name or ARN", "string", required=True)
    service: str = param("ECS service name or ARN", "string", required=True)
    destination: str = param(
        "s3://bucket/prefix/ the service's code comes from.", "string", required=True,
        check=checked_destination,
    )  # fmt: skip
    lookback: str = param(
        "How far back to read the running tasks' logs for their code digest.",
        "string",
        default="168h",
        check=check_since,
    )
    bucket_mismatches: list[Any] = param(
        "The bucket check's mismatches (an s3.verify step's output).", "list", default=[]
    )
    script_health: str | None = param(
        "The script health probe's status (ok, failed, ...), when it ran.", "string"
    )


@dataclass(frozen=True, kw_only=True)
class DiagnoseOutputs:
    findings: list[str] = output(
        "what the facts mean, one sentence each, with the command to run next", "string_list"
    )
    running_digests: dict[str, str | None] = output(
        "task id -> the code digest it logged (null when none was found)", "object"
    )
    live_digest: str = output("the current manifest's digest ('' when there is none)", "string")


def _running_digests(
    ctx: StepContext, inputs: DiagnoseInputs
) -> tuple[dict[str, str | None], str | None]:
    """Each running task's code digest (None: not found), and why the read of
    their logs stopped before its end (None: it was read to the end)."""
    found = service_streams(ctx.aws.client("ecs"), ctx.aws.call, inputs.cluster, inputs.service)
    digests: dict[str, str | None] = {t.task_id: None for t in found.targets}
    if not found.targets or not found.log_group:
        return digests, None
    since = parse_since(inputs.lookback, ctx.clock.time())
    reader = LogReader(
        logs_client(ctx.aws), found.log_group, [t.stream for t in found.targets], since,
        call=ctx.aws.call, target=ctx.aws.target, clock=ctx.clock,
    )  # fmt: skip
    lines: list[LogLine] = []

    def poll() -> PollResult:
        result = reader.poll()
        emit_notes(ctx.emit, result.notes)  # throttling began or ended
        lines.extend(result.lines)
        return result

    # One whole read, a few pages per poll within the process's Logs budget; it
    # gives up after READ_LIMIT (or the step's timeout): persistent throttling
    # must not hang a read-only playbook that has no timeout.
    unread = read_through(reader, poll, deadline=ctx.deadline, cancel=ctx.cancel, interval=1.0)
    by_stream = {t.stream: t.task_id for t in found.targets}
    for line in sorted(lines, key=lambda line: line.timestamp):  # the last digest logged wins
        match = DIGEST_LINE.search(line.message)
        if match:
            digests[by_stream[line.stream]] = match.group(1)
    return digests, unread


def run(ctx: StepContext, inputs: DiagnoseInputs) -> StepResult:
    location = parse_s3_url(inputs.destination)
    s3 = ctx.aws.client("s3")
    record = describe_service(ctx.aws, inputs.cluster, inputs.service)
    deployments = record.get("deployments") or []
    primary: dict[str, Any] = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    stopped = [  # ECS replacing a task (Spot, retirement, scale-in, ELB) is no problem
        t
        for t in list_service_tasks(ctx.aws, inputs.cluster, inputs.service, "STOPPED")
        if not_a_crash(t) is None
    ]
    stopped.sort(key=lambda t: str(t.get("stoppedAt") or ""), reverse=True)
    running, logs_unread = _running_digests(ctx, inputs)
    live = live_manifest(s3, location, ctx.aws.call)
    facts = Facts(
        running=running,
        live_digest=live.digest if live is not None else None,
        live_staged=live.staged if live is not None else 0,
        records=read_records(s3, location, ctx.aws.call, now=ctx.clock.time()),
        primary=primary,
        stopped_reason=stopped[0].get("stoppedReason") if stopped else None,
        stopped_count=len(stopped),
        bucket_mismatches=[str(m) for m in inputs.bucket_mismatches],
        script_health=inputs.script_health,
        lookback=inputs.lookback,
        logs_unread=logs_unread,
    )
    said = findings(facts)
    for finding in said:
        ctx.emit("info", f"- {finding}")
    outputs = DiagnoseOutputs(
        findings=said, running_digests=running, live_digest=facts.live_digest or ""
    )
    detail = "What this means:\n" + "\n".join(f"- {f}" for f in said)
    return StepResult("ok", said[0], outputs, detail)


PERMISSIONS = Permissions(
    Need("ecs:DescribeServices", EcsService(), "the service's deployments"),
    Need("ecs:ListTasks", EcsTaskList(), "the running and stopped tasks"),
    Need("ecs:DescribeTasks", EcsTasks(), "the running and stopped tasks"),
    Need(
        "ecs:DescribeTaskDefinition",
        Everything("EcsTaskDefinitions"),
        "the running tasks' awslogs settings",
    ),
    Need("logs:DescribeLogGroups", AllLogGroups(), "the log group must exist"),
    Need(
        "logs:GetLogEvents",
        LogGroup(None, "cluster", "service"),
        "does each running task's stream exist yet",
    ),
    Need(
        "logs:FilterLogEvents",
        LogGroup(None, "cluster", "service"),
        "the running tasks' code digest lines",
    ),
    Need("s3:ListBucket", S3Bucket(listing=True), "list the release records and the prefix"),
    Need("s3:GetObject", S3Objects(), "read the release records and the manifest"),
)


STEP = StepType(
    name="release.diagnose",
    summary="Say what the first-look facts mean: running code vs the synced release, the "
    "release's verdict, the bucket and script checks; with the command to run next.",
    inputs=DiagnoseInputs,
    outputs=DiagnoseOutputs,
    run=run,
    read_only=True,
    permissions=PERMISSIONS,
)
