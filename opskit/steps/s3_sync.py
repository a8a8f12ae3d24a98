"""``s3.sync``: a local folder to ``s3://bucket/prefix/``, decided by content.

Plan (``opskit.s3.plan``) → upload with S3-checked SHA-256 → confirm S3's
answers → delete (guarded) → re-list and verify → write the manifest → keep it
as a release record (``opskit.releases``). The manifest is written only after
verification passed, so its ``digest`` (the ``digest`` output) always describes
a tree that is really there. With bucket versioning on, the manifest records
each object's version, so the release can later be restored by ``s3.restore``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from opskit import __version__
from opskit.errors import InputError, StepFailed
from opskit.manifest import MANIFEST_NAME
from opskit.releases.records import (
    WrittenRecord,
    origin_from_env,
    prune_records,
    write_record,
)
from opskit.releases.versions import known_versions, recorded_versions
from opskit.s3.check import (
    Expected,
    compare_listing,
    confirm_uploads,
    mismatched_keys,
    verify_remote,
)
from opskit.s3.local_tree import PathFilter
from opskit.s3.location import S3Location, checked_destination, parse_s3_url
from opskit.s3.plan import (
    MAX_DELETE,
    SyncPlan,
    build_plan,
    check_delete_limit,
    read_local,
    read_remote,
)
from opskit.s3.remote import object_version, same_manifest, write_manifest
from opskit.s3.transfer import (
    PART_SIZE,
    Progress,
    Receipt,
    UploadOptions,
    delete_keys,
    format_bytes,
    upload_files,
)
from opskit.steps.base import StepContext, StepResult, StepType, at_least, param

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


OUTPUTS = {
    "uploaded": "number of objects uploaded",
    "deleted": "number of objects deleted",
    "unchanged": "number of objects already up to date",
    "bytes": "bytes uploaded",
    "digest": "tree digest of the synced files (the manifest's digest)",
    "manifest_key": "key of the manifest object written under the prefix",
    "release_record": "s3:// URL of the release record this sync wrote (the run's verdict "
    "is recorded on it)",
    "planned_uploads": "dry run: relative paths that would be uploaded",
    "planned_deletes": "dry run: relative paths that would be deleted",
}


@dataclass
class _Prepared:
    location: S3Location
    plan: SyncPlan
    options: UploadOptions
    client: Any


def _prepare(ctx: StepContext, inputs: SyncInputs) -> _Prepared:
    """Read both sides, then plan. The source is scanned and hashed in a thread
    while the S3 client is built and the prefix listed (mostly waiting on the
    network), so a no-op re-sync costs about the listing alone. A problem with
    the source is reported first, as if it had been read first."""
    location = parse_s3_url(inputs.destination)
    if location.is_bucket_root and not inputs.allow_bucket_root:
        raise InputError(
            f"destination {location.url} is a bucket root; sync into a prefix "
            "(s3://bucket/prefix/) or set allow_bucket_root: true"
        )
    source = ctx.resolve_path(inputs.source)
    path_filter = PathFilter(inputs.exclude, inputs.include)
    options = UploadOptions(
        content_type=inputs.content_type,
        cache_control=inputs.cache_control,
        sse=inputs.sse,
        sse_kms_key_id=inputs.sse_kms_key_id,
        concurrency=inputs.concurrency,
        part_size=PART_SIZE,
    )
    follow = inputs.follow_symlinks
    with ThreadPoolExecutor(max_workers=1) as pool:
        local_side = None
        try:
            kms = inputs.sse in ("aws:kms", "aws:kms:dsse")
            if inputs.sse_kms_key_id and not kms:
                raise InputError("sse_kms_key_id needs sse: aws:kms (or aws:kms:dsse)")
            client = ctx.aws.client("s3")  # CPU-bound: reading the source would only slow it
            local_side = pool.submit(read_local, source, path_filter, follow)
            remote = read_remote(client, location, ctx.aws.call)
        except BaseException:
            # the source's problem, if it has one, is the one to report
            local_side.result() if local_side else read_local(source, path_filter, follow)
            raise
        local = local_side.result()
    plan = build_plan(
        client=client,
        location=location,
        local=local,
        remote=remote,
        path_filter=path_filter,
        delete=inputs.delete,
        part_size=options.part_size,
        concurrency=options.concurrency,
        call=ctx.aws.call,
    )
    problem = local.hashes.save()
    for warning in [*local.warnings, *plan.warnings, *([problem] if problem else [])]:
        ctx.emit("warning", warning)
    check_delete_limit(plan, inputs.max_delete)
    return _Prepared(location, plan, options, client)


def _rules_detail(plan: SyncPlan) -> str:
    if not plan.rules:
        return ""
    parts = ", ".join(f"{count} by {rule}" for rule, count in sorted(plan.rules.items()))
    return f"unchanged decided: {parts}; files hashed: {plan.hashed}"


def plan(ctx: StepContext, inputs: SyncInputs) -> StepResult:
    """The dry run: the exact plan, from read calls only."""
    prepared = _prepare(ctx, inputs)
    sync_plan = prepared.plan
    location = prepared.location
    for local in sync_plan.uploads:
        ctx.emit("info", f"would upload {location.url}{local.relative}", key=local.relative)
    for relative in sync_plan.deletes:
        ctx.emit("info", f"would delete {location.url}{relative}", key=relative)
    digest = sync_plan.digest()
    summary = (
        f"would upload {len(sync_plan.uploads)}, delete {len(sync_plan.deletes)}, "
        f"unchanged {len(sync_plan.unchanged)} ({format_bytes(sync_plan.upload_bytes)}) "
        f"digest {digest[:12]}…"
    )
    ctx.emit("info", summary)
    if inputs.keep_releases:
        ctx.emit(
            "info", f"would record release {digest[:12]} under {location.url}.opskit/releases/"
        )
    changes = bool(sync_plan.uploads or sync_plan.deletes)
    return StepResult(
        status="changed" if changes else "ok",
        summary=summary,
        outputs={
            "uploaded": 0,
            "deleted": 0,
            "unchanged": len(sync_plan.unchanged),
            "bytes": 0,
            "digest": digest,
            "manifest_key": location.prefix + MANIFEST_NAME,
            "planned_uploads": [f.relative for f in sync_plan.uploads],
            "planned_deletes": list(sync_plan.deletes),
        },
        detail=_rules_detail(sync_plan),
    )


def run(ctx: StepContext, inputs: SyncInputs) -> StepResult:
    prepared = _prepare(ctx, inputs)
    sync_plan, location, client = prepared.plan, prepared.location, prepared.client
    if sync_plan.deletes and not ctx.confirm(
        f"Delete {len(sync_plan.deletes)} object(s) under {location.url}?"
    ):
        raise StepFailed(
            f"deleting {len(sync_plan.deletes)} object(s) under {location.url} was not "
            "confirmed; nothing was changed (run with --yes to confirm)"
        )
    manifest_key = location.prefix + MANIFEST_NAME
    outputs: dict[str, Any] = {
        "uploaded": 0,
        "deleted": 0,
        "unchanged": len(sync_plan.unchanged),
        "bytes": 0,
        "manifest_key": manifest_key,
    }
    mismatches: list[str] = []
    etags = dict(sync_plan.unchanged)
    receipts: dict[str, Receipt] = {}
    if sync_plan.uploads:
        progress = Progress(
            ctx.emit, ctx.clock.monotonic, len(sync_plan.uploads), sync_plan.upload_bytes
        )
        receipts = upload_files(
            client,
            location,
            sync_plan.uploads,
            sync_plan.sha256,
            prepared.options,
            progress,
            ctx.cancel,
            ctx.aws.target,
        )
        outputs["uploaded"] = len(sync_plan.uploads)
        outputs["bytes"] = sync_plan.upload_bytes
        pairs = [(f, sync_plan.sha256[f.relative]) for f in sync_plan.uploads]
        problems, confirmed = confirm_uploads(
            client, location, pairs, receipts, prepared.options.part_size, ctx.aws.call
        )
        mismatches += problems
        etags.update(confirmed)
    if sync_plan.deletes:
        outputs["deleted"] = delete_keys(client, location, sync_plan.deletes, ctx.aws.call)
    expected = {
        f.relative: Expected(f.size, etags[f.relative])
        for f in sync_plan.files
        if f.relative in etags
    }
    path_filter = PathFilter(inputs.exclude, inputs.include)
    extra_rule = path_filter.selects if inputs.delete else None
    if sync_plan.uploads or sync_plan.deletes:
        found, listing = verify_remote(client, location, expected, extra_rule, ctx.aws.call)
    else:  # nothing was written: the listing the plan was made from is the state now
        listing = sync_plan.listing
        found = compare_listing(listing, expected, extra_rule)
    mismatches += found
    if mismatches:
        count, shown = mismatched_keys(mismatches)
        raise StepFailed(
            f"verification failed under {location.url}: {count} key(s) do not match: {shown}",
            detail="\n".join(mismatches),
            outputs=outputs,
        )
    # Object versions, without asking the bucket (GetBucketVersioning) when it can
    # be helped: S3's answer to each upload carries the new version's id only when
    # versioning is enabled, and the old manifest's ids hold for what it vouched for.
    answers = {key: receipt.version_id for key, receipt in receipts.items()}
    uploaded = {f.relative: answers.get(location.key_for(f.relative)) for f in sync_plan.uploads}
    versions = known_versions(sync_plan.old_manifest, sync_plan.unchanged, uploaded)
    manifest = sync_plan.manifest(etags, f"opskit {__version__}", versions)
    versioning: bool | None = True  # every version is known
    if len(versions) < len(sync_plan.files):
        # an upload's answer tells; with none, the next PUT's answer will (below)
        versioning = any(uploaded.values()) if uploaded else None
        if versioning:  # turned on since the last sync: the older objects' versions
            manifest = recorded_versions(client, location, manifest, ctx.aws.call)

    def learn_versioning(version_id: str | None) -> bool:
        """Versioning, told by the answer to this sync's first PUT: when it is on
        (turned on since the manifest was written), record the versions in the
        manifest now; returns whether it did."""
        nonlocal manifest, versioning
        versioning = version_id is not None
        if versioning:
            manifest = recorded_versions(client, location, manifest, ctx.aws.call)
            write_manifest(client, location.bucket, manifest_key, manifest, ctx.aws.call)
        return versioning

    wrote_manifest = False
    if not same_manifest(sync_plan.old_manifest, manifest):
        answer = write_manifest(client, location.bucket, manifest_key, manifest, ctx.aws.call)
        wrote_manifest = True
        if versioning is None:
            learn_versioning(object_version(answer))
    if inputs.keep_releases:
        origin, now = origin_from_env(), ctx.clock.time()

        def record(replace: str | None = None) -> WrittenRecord:
            return write_record(
                client, location, manifest, origin=origin, target=ctx.aws.target, now=now,
                call=ctx.aws.call, replace=replace,
            )  # fmt: skip

        written = record()
        if versioning is None and learn_versioning(written.version_id):
            wrote_manifest = True
            record(replace=written.key)  # the same record, now with the versions
        outputs["release_record"] = f"s3://{location.bucket}/{written.key}"
        # the records are under the prefix: the listing above has them, the new one aside
        records = [*listing.reserved, written.key]
        pruned = prune_records(client, location, records, inputs.keep_releases, ctx.aws.call)
        if pruned:
            ctx.emit(
                "info", f"pruned {len(pruned)} release record(s) beyond {inputs.keep_releases}"
            )
    outputs["digest"] = manifest.digest
    summary = (
        f"uploaded {outputs['uploaded']}, deleted {outputs['deleted']}, "
        f"unchanged {outputs['unchanged']} ({format_bytes(outputs['bytes'])}) "
        f"digest {manifest.digest[:12]}…"
    )
    ctx.emit("info", summary)
    changed = bool(outputs["uploaded"] or outputs["deleted"] or wrote_manifest)
    return StepResult("changed" if changed else "ok", summary, outputs, _rules_detail(sync_plan))


STEP = StepType(
    name="s3.sync",
    summary="Sync a local folder to s3://bucket/prefix/ by content (SHA-256), verify, "
    "write a manifest and keep it as a release record.",
    inputs=SyncInputs,
    outputs=OUTPUTS,
    run=run,
    plan=plan,
)
