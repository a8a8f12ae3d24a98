"""``s3.releases``: the release history under a prefix, and which release is live.

Read-only. The records ``s3.sync`` keeps (``opskit.releases``), newest first,
each with its verdict and whether its tree is the current manifest's; the
library behind ``opskit releases`` and the releases part of ``diagnose.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opskit.iam.needs import Need, Permissions
from opskit.iam.resources import S3Bucket, S3Objects
from opskit.manifest import STAGING_DIR
from opskit.releases.choose import live_manifest
from opskit.releases.store import read_records
from opskit.releases.table import release_lines
from opskit.s3.location import checked_destination, parse_s3_url
from opskit.steps.base import StepContext, StepResult, StepType, output, param


@dataclass(frozen=True, kw_only=True)
class ReleasesInputs:
    destination: str = param(
        "s3://bucket/prefix/ that s3.sync writes to.", "string", required=True,
        check=checked_destination,
    )  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ReleasesOutputs:
    releases: list[dict[str, Any]] = output(
        "the records, newest first: name, digest, synced_at, files, bytes, who, "
        "target, verdict, deployment_id, live, problem",
        "list",
    )
    destination: str = output("the s3://bucket/prefix/ listed", "string")
    live_digest: str = output("digest of the current manifest ('' when there is none)", "string")
    last_good: str = output(
        "digest of the newest release whose run passed ('' when none did)", "string"
    )
    live_staged: int = output(
        "files the current manifest reads from .opskit/staging/: more than 0 while a sync "
        "that stopped after its switch is unfinished",
        "integer",
    )


def run(ctx: StepContext, inputs: ReleasesInputs) -> StepResult:
    location = parse_s3_url(inputs.destination)
    client = ctx.aws.client("s3")
    records = read_records(client, location, ctx.aws.call, now=ctx.clock.time())
    live = live_manifest(client, location, ctx.aws.call)
    live_digest = live.digest if live is not None else ""
    # Newest first: the live release is the newest record of the current manifest's
    # digest (a re-sync of the same tree, or a rollback to it, records it again).
    live_record = next((r for r in records if r.problem is None and r.digest == live_digest), None)
    releases = [r.summary() | {"live": r is live_record} for r in records]
    last_good = next((r.digest for r in records if r.problem is None and r.status == "passed"), "")
    staged = live.staged if live is not None else 0
    lines = release_lines(releases, location.url, live_staged=staged)
    notes = []
    if live_digest and not any(r["live"] for r in releases):
        notes.append("not a recorded release")
    if staged:  # a sync stopped after its switch
        notes.append(
            "interim: staged objects not yet in place; run the sync again: "
            f"{staged} file(s) read from {STAGING_DIR}"
        )
    summary = (
        f"{len(records)} release(s) under {location.url}; live {live_digest[:12] or 'none'}"
        + (f" ({'; '.join(notes)})" if notes else "")
        + f"; last good {last_good[:12] or 'none'}"
    )
    outputs = ReleasesOutputs(
        releases=releases,
        destination=location.url,
        live_digest=live_digest,
        last_good=last_good,
        live_staged=staged,
    )
    return StepResult("ok", summary, outputs, "\n".join(lines))


PERMISSIONS = Permissions(
    Need("s3:ListBucket", S3Bucket(listing=True), "list the release records and the prefix"),
    Need("s3:GetObject", S3Objects(), "read the release records and the manifest"),
)


STEP = StepType(
    name="s3.releases",
    summary="List the releases recorded under s3://bucket/prefix/ (newest first) with their "
    "verdicts, and which one is live.",
    inputs=ReleasesInputs,
    outputs=ReleasesOutputs,
    run=run,
    read_only=True,
    permissions=PERMISSIONS,
)
