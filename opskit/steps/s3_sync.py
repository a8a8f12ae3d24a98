"""``s3.sync``: a local folder to ``s3://bucket/prefix/``, decided by content.

A thin step over ``opskit.s3.sync`` (plan → upload → verify → manifest →
release record). At the end of the run it writes the run's verdict on the
release record it wrote (``finish``), so "the last release that passed" is a
fact in the bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

from opskit.errors import StepFailed
from opskit.iam.needs import Need, Permissions, Remark, When, flag
from opskit.iam.resources import KmsKey, S3Bucket, S3Objects
from opskit.manifest import STAGING_DIR
from opskit.releases.format import origin_from_env
from opskit.releases.store import RELEASES_DIR
from opskit.releases.verdict import record_verdict, verdict_of
from opskit.s3.local_tree import PathFilter
from opskit.s3.location import checked_destination, parse_s3_url
from opskit.s3.plan import MAX_DELETE, SyncPlan
from opskit.s3.sync import SyncRequest, apply_sync, plan_sync
from opskit.s3.transfer import PART_SIZE, UploadOptions, format_bytes
from opskit.steps.base import (
    InvalidInput,
    RunEnd,
    StepContext,
    StepResult,
    StepType,
    at_least,
    output,
    param,
)

DEFAULT_MAX_DELETE = "50%"
SSE_CHOICES = ("AES256", "aws:kms", "aws:kms:dsse")


def _concurrency(value: int) -> int:
    if not 1 <= value <= 64:
        raise ValueError("concurrency must be between 1 and 64")
    return value


@dataclass(frozen=True, kw_only=True)
class SyncInputs:
    source: str = param(
        "Local folder to upload (relative to the playbook).", "string", required=True
    )
    destination: str = param(
        "s3://bucket/prefix/ to sync to.", "string", required=True, check=checked_destination
    )
    delete: bool = param(
        "Delete keys under the prefix that are not in the source.", "boolean", default=False
    )
    exclude: list[str] = param(
        "gitignore-style globs to leave out (never deleted).", "string_list", default=[]
    )
    include: list[str] = param(
        "gitignore-style globs; when given, only these are synced.", "string_list", default=[]
    )
    max_delete: int | str = param(
        "Most objects a run may delete: a count (100) or a share of the objects "
        "under the prefix ('50%').",
        MAX_DELETE,
        default=DEFAULT_MAX_DELETE,
    )
    allow_bucket_root: bool = param("Allow a destination with no prefix.", "boolean", default=False)
    follow_symlinks: bool = param(
        "Follow symlinks that stay inside the source (others are refused).",
        "boolean",
        default=False,
    )
    content_type: str = param(
        "'guess' from the file name, 'none', or one MIME type for every file.",
        "string",
        default="guess",
    )
    cache_control: str | None = param("Cache-Control header for every object.", "string")
    sse: str | None = param("Server-side encryption.", "string", choices=SSE_CHOICES)
    sse_kms_key_id: str | None = param("KMS key for sse: aws:kms.", "string")
    concurrency: int = param("Parallel requests.", "integer", default=16, check=_concurrency)
    keep_releases: int = param(
        "Release records kept under PREFIX/.opskit/releases/ (oldest pruned); 0 keeps none.",
        "integer",
        default=50,
        check=at_least(0),
    )

    def __post_init__(self) -> None:
        # Checked with the other inputs, before any file is hashed or S3 asked.
        if self.sse_kms_key_id and self.sse not in ("aws:kms", "aws:kms:dsse"):
            raise InvalidInput("sse_kms_key_id", "needs sse: aws:kms (or aws:kms:dsse)")
        check_prefix(self.destination, self.allow_bucket_root)


def check_prefix(destination: str, allow_bucket_root: bool) -> None:
    """A bucket root is refused unless asked for: ``delete`` there could reach
    everything in the bucket (``s3.restore`` shares the rule)."""
    location = parse_s3_url(destination)
    if location.is_bucket_root and not allow_bucket_root:
        raise InvalidInput(
            "destination",
            f"{location.url} is a bucket root; use a prefix (s3://bucket/prefix/) "
            "or set allow_bucket_root: true",
        )


@dataclass(frozen=True, kw_only=True)
class SyncOutputs:
    uploaded: int = output("number of objects uploaded", "integer")
    deleted: int = output("number of objects deleted", "integer")
    unchanged: int = output("number of objects already up to date", "integer")
    bytes: int = output("bytes uploaded", "integer")
    digest: str = output("tree digest of the synced files (the manifest's digest)", "string")
    manifest_key: str = output("key of the manifest object under the prefix", "string")
    release_record: str | None = output(
        "s3:// URL of the release record this sync wrote (the run's verdict is recorded on "
        "it); null in a dry run or with keep_releases: 0",
        "string",
    )
    planned_uploads: list[str] | None = output(
        "dry run: relative paths that would be uploaded (null in a real run)", "string_list"
    )
    planned_deletes: list[str] | None = output(
        "dry run: relative paths that would be deleted (null in a real run)", "string_list"
    )


def _request(ctx: StepContext, inputs: SyncInputs) -> SyncRequest:
    upload = UploadOptions(
        content_type=inputs.content_type,
        cache_control=inputs.cache_control,
        sse=inputs.sse,
        sse_kms_key_id=inputs.sse_kms_key_id,
        concurrency=inputs.concurrency,
        part_size=PART_SIZE,
    )
    return SyncRequest(
        source=ctx.resolve_path(inputs.source),
        location=parse_s3_url(inputs.destination),
        path_filter=PathFilter(inputs.exclude, inputs.include),
        upload=upload,
        delete=inputs.delete,
        follow_symlinks=inputs.follow_symlinks,
        max_delete=inputs.max_delete,
        keep_releases=inputs.keep_releases,
    )


def _plan(ctx: StepContext, request: SyncRequest) -> SyncPlan:
    # the client first: building it is CPU-bound, and reading the source would only slow it
    sync_plan = plan_sync(ctx.aws.client("s3"), request, ctx.aws.call)
    for warning in sync_plan.warnings:
        ctx.emit("warning", warning)
    return sync_plan


def _rules_detail(sync_plan: SyncPlan) -> str:
    if not sync_plan.rules:
        return ""
    parts = ", ".join(f"{count} by {rule}" for rule, count in sorted(sync_plan.rules.items()))
    return f"unchanged decided: {parts}; files hashed: {sync_plan.hashed}"


def plan(ctx: StepContext, inputs: SyncInputs) -> StepResult:
    """The dry run: the exact plan, from read calls only."""
    request = _request(ctx, inputs)
    sync_plan = _plan(ctx, request)
    url = request.location.url
    for local in sync_plan.uploads:
        ctx.emit("info", f"would upload {url}{local.relative}", key=local.relative)
    for relative in sync_plan.deletes:
        ctx.emit("info", sync_plan.delete_line(relative), key=relative)
    digest = sync_plan.digest()
    summary = (
        f"would upload {len(sync_plan.uploads)}, delete {len(sync_plan.deletes)}, "
        f"unchanged {len(sync_plan.unchanged)} ({format_bytes(sync_plan.upload_bytes)}) "
        f"digest {digest[:12]}…"
    )
    ctx.emit("info", summary)
    if inputs.keep_releases:
        ctx.emit("info", f"would record release {digest[:12]} under {url}.opskit/releases/")
    outputs = SyncOutputs(
        uploaded=0,
        deleted=0,
        unchanged=len(sync_plan.unchanged),
        bytes=0,
        digest=digest,
        manifest_key=request.manifest_key,
        release_record=None,
        planned_uploads=[f.relative for f in sync_plan.uploads],
        planned_deletes=list(sync_plan.deletes),
    )
    changes = bool(sync_plan.uploads or sync_plan.deletes)
    return StepResult("changed" if changes else "ok", summary, outputs, _rules_detail(sync_plan))


def run(ctx: StepContext, inputs: SyncInputs) -> StepResult:
    request = _request(ctx, inputs)
    sync_plan = _plan(ctx, request)
    url = request.location.url
    deletes = len(sync_plan.deletes)
    if deletes and not ctx.confirm(f"Delete {deletes} object(s) under {url}?"):
        raise StepFailed(
            f"deleting {deletes} object(s) under {url} was not confirmed; nothing was "
            "changed (run with --yes to confirm)"
        )
    synced = apply_sync(
        ctx.aws.client("s3"), sync_plan, request, call=ctx.aws.call, emit=ctx.emit,
        clock=ctx.clock, cancel=ctx.cancel, target=ctx.aws.target, origin=origin_from_env(),
        deadline=ctx.deadline,
    )  # fmt: skip
    if synced.pruned.keys:
        ctx.emit(
            "info",
            f"pruned {len(synced.pruned.keys)} release record(s) beyond {request.keep_releases}",
        )
    if synced.pruned.refused:
        ctx.emit(
            "warning",
            f"S3 refused to prune {len(synced.pruned.refused)} old release record(s): "
            + "; ".join(synced.pruned.refused[:5]),
        )
    digest = synced.manifest.digest
    summary = (
        f"uploaded {synced.uploaded}, deleted {synced.deleted}, unchanged {synced.unchanged} "
        f"({format_bytes(synced.bytes)}) digest {digest[:12]}…"
    )
    ctx.emit("info", summary)
    ctx.emit("mark", f"{synced.uploaded} files uploaded", at=ctx.clock.time(), what="sync")
    outputs = SyncOutputs(
        uploaded=synced.uploaded,
        deleted=synced.deleted,
        unchanged=synced.unchanged,
        bytes=synced.bytes,
        digest=digest,
        manifest_key=request.manifest_key,
        release_record=synced.release_record,
        planned_uploads=None,
        planned_deletes=None,
    )
    # writing the release record (or versions into the manifest) changes no release
    changed = bool(synced.uploaded or synced.deleted)
    return StepResult("changed" if changed else "ok", summary, outputs, _rules_detail(sync_plan))


def finish(end: RunEnd) -> list[tuple[str, str]]:
    """The run's verdict on the release record this sync wrote."""
    url = end.record.outputs.get("release_record")
    if not url or end.result.dry_run:
        return []
    return record_verdict(end.aws, str(url), verdict_of(end.result))


# What each code path calls (docs/iam.md, `opskit iam`): the plan and the
# verification list the prefix and read the manifest; a HEAD (which needs
# s3:GetObject) settles an object whose stored checksum or part size decides.
PERMISSIONS = Permissions(
    Need("s3:ListBucket", S3Bucket(listing=True), "list the prefix: the plan, the verification"),
    Need(
        "s3:GetObject",
        S3Objects(),
        "read the manifest and release records; HEAD objects whose checksum decides",
    ),
    Need(
        "s3:PutObject",
        S3Objects(),
        "upload files (or stage them), copy staged files into place, write the manifest, "
        "the release record and its verdict",
    ),
    Need("s3:AbortMultipartUpload", S3Objects(), "abort a failed upload of a file of 8 MiB+"),
    Need("s3:DeleteObject", S3Objects(), "delete keys not in the source", flag("delete")),
    # A bucket without versioning: keys the live manifest reads are staged, then
    # copied into place (CopyObject: s3:GetObject on the source, s3:PutObject on
    # the key, both above), then the staged copies deleted (opskit.s3.staging).
    Need(
        "s3:DeleteObject",
        S3Objects(under=STAGING_DIR),
        "delete earlier syncs' staged copies once a newer release is in place "
        "(bucket without versioning)",
    ),
    Need(
        "s3:DeleteObject",
        S3Objects(under=RELEASES_DIR),
        "prune release records beyond keep_releases",
        flag("keep_releases", "keep_releases above 0"),
    ),
    Need("s3:GetBucketVersioning", S3Bucket(), "does the bucket keep versions (pinned in records)"),
    Need(
        "s3:ListBucketVersions",
        S3Bucket(listing=True),
        "read versions the manifest does not pin yet (versioning turned on since)",
    ),
    # SSE-KMS with a customer key ("Protecting data with server-side encryption
    # using AWS KMS keys", S3 User Guide): GenerateDataKey for every upload;
    # Decrypt for multipart uploads and for a HEAD with checksum mode.
    Need(
        "kms:GenerateDataKey",
        KmsKey("sse_kms_key_id"),
        "upload with that key",
        flag("sse_kms_key_id", "sse_kms_key_id set"),
    ),
    Need(
        "kms:Decrypt",
        KmsKey("sse_kms_key_id"),
        "multipart uploads; HEAD with checksum mode of objects under that key",
        flag("sse_kms_key_id", "sse_kms_key_id set"),
    ),
    remarks=(
        Remark(
            "sse: aws:kms without sse_kms_key_id uses the AWS managed key aws/s3, whose key "
            "policy lets S3 use it for the account's principals: no KMS statement is needed",
            When(
                lambda v: v["sse"] in ("aws:kms", "aws:kms:dsse") and not v["sse_kms_key_id"],
                "sse: aws:kms without sse_kms_key_id",
                ("sse", "sse_kms_key_id"),
            ),
        ),
    ),
)


STEP = StepType(
    name="s3.sync",
    summary="Sync a local folder to s3://bucket/prefix/ by content (SHA-256), verify, "
    "write a manifest and keep it as a release record.",
    inputs=SyncInputs,
    outputs=SyncOutputs,
    run=run,
    plan=plan,
    finish=finish,
    permissions=PERMISSIONS,
)
