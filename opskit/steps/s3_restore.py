"""``s3.restore``: make ``s3://bucket/prefix/`` hold exactly a recorded release again.

The on-call engineer's way back: ``release: last_good`` (the newest release
whose run passed), ``previous`` (the one before the live one) or a digest
prefix. Server-side copies of the recorded object versions (nothing is
downloaded), deletes of the keys the release did not have under the same
``max_delete`` guard and exact ``--dry-run`` as ``s3.sync``, then the same
verification (a fresh listing against every key's size and ETag, each copy's
SHA-256 computed by S3) and the release's manifest made current. Its outputs
carry ``s3.sync``'s names, so the steps after it read ``digest`` the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from opskit.errors import Cancelled, StepFailed, StepProblem
from opskit.iam.needs import Need, Permissions
from opskit.iam.resources import S3Bucket, S3Objects
from opskit.manifest import MANIFEST_NAME, Manifest, ManifestEntry
from opskit.releases.choose import check_release
from opskit.releases.restore import RestorePlan, copy_versions, plan_restore
from opskit.s3.check import Expected, mismatched_keys, verify_remote
from opskit.s3.delete import delete_keys
from opskit.s3.location import checked_destination, parse_s3_url
from opskit.s3.plan import MAX_DELETE
from opskit.s3.remote import write_manifest
from opskit.s3.transfer import format_bytes
from opskit.steps.base import StepContext, StepResult, StepType, at_least, output, param
from opskit.steps.s3_sync import DEFAULT_MAX_DELETE, check_prefix
from opskit.version import __version__


@dataclass(frozen=True, kw_only=True)
class RestoreInputs:
    destination: str = param(
        "s3://bucket/prefix/ whose release to restore (where s3.sync wrote it).",
        "string",
        required=True,
        check=checked_destination,
    )
    release: str = param(
        "last_good (the newest release whose run passed), previous (the one before the "
        "live one), or a digest prefix as `opskit releases` shows it.",
        "string",
        default="last_good",
        check=check_release,
    )
    max_delete: int | str = param(
        "Most objects a restore may delete: a count or a share ('50%') of the objects "
        "under the prefix.",
        MAX_DELETE,
        default=DEFAULT_MAX_DELETE,
    )
    allow_bucket_root: bool = param("Allow a destination with no prefix.", "boolean", default=False)
    concurrency: int = param("Parallel copies.", "integer", default=16, check=at_least(1))

    def __post_init__(self) -> None:
        check_prefix(self.destination, self.allow_bucket_root)


@dataclass(frozen=True, kw_only=True)
class RestoreOutputs:
    digest: str = output(
        "tree digest of the restored release (now the manifest's digest)", "string"
    )
    release: str = output("name of the release record restored (<UTC time>-<digest12>)", "string")
    restored: int = output("number of objects copied from their recorded versions", "integer")
    deleted: int = output("number of objects deleted (not in the release)", "integer")
    unchanged: int = output("number of objects that already held the release's content", "integer")
    manifest_key: str = output("key of the manifest made current", "string")
    planned_copies: list[str] | None = output(
        "dry run: relative paths that would be copied (null in a real run)", "string_list"
    )
    planned_deletes: list[str] | None = output(
        "dry run: relative paths that would be deleted (null in a real run)", "string_list"
    )


def _plan(ctx: StepContext, inputs: RestoreInputs) -> tuple[RestorePlan, Any]:
    location = parse_s3_url(inputs.destination)
    client = ctx.aws.client("s3")
    plan = plan_restore(client, location, inputs.release, inputs.max_delete, ctx.aws.call)
    for refused in plan.refused:
        where = f"s3://{location.bucket}/{refused.key}"
        ctx.emit("warning", f"release record {where} refused: {refused.problem}", key=refused.key)
    record = plan.record
    deployment = record.verdict.deployment_id if record.verdict else None
    ctx.emit(
        "info",
        f"release {record.digest[:12]} ({inputs.release}): synced {record.synced_at} by "
        f"{record.who}, {record.status}" + (f", deployment {deployment}" if deployment else ""),
    )
    return plan, client


def _outputs(plan: RestorePlan, *, restored: int = 0, deleted: int = 0) -> RestoreOutputs:
    return RestoreOutputs(
        digest=plan.digest,
        release=plan.record.name,
        restored=restored,
        deleted=deleted,
        unchanged=len(plan.unchanged),
        manifest_key=plan.location.prefix + MANIFEST_NAME,
        planned_copies=None,
        planned_deletes=None,
    )


def plan(ctx: StepContext, inputs: RestoreInputs) -> StepResult:
    """The dry run: every copy and delete, from read calls only."""
    restore, _ = _plan(ctx, inputs)
    url = restore.location.url
    for copy in restore.copies:
        ctx.emit("info", f"would copy {url}{copy.relative} from version {copy.version_id}")
    for relative in restore.deletes:
        ctx.emit("info", f"would delete {url}{relative}")
    live = restore.live_digest == restore.digest
    summary = (
        f"would copy {len(restore.copies)}, delete {len(restore.deletes)}, unchanged "
        f"{len(restore.unchanged)}; release {restore.digest[:12]}"
        + (" is already the live manifest" if live else " would become the live manifest")
    )
    changes = bool(restore.copies or restore.deletes or not live)
    outputs = dataclasses.replace(
        _outputs(restore),
        planned_copies=[c.relative for c in restore.copies],
        planned_deletes=list(restore.deletes),
    )
    return StepResult("changed" if changes else "ok", summary, outputs)


def run(ctx: StepContext, inputs: RestoreInputs) -> StepResult:
    restore, client = _plan(ctx, inputs)
    location = restore.location
    if restore.deletes and not ctx.confirm(
        f"Delete {len(restore.deletes)} object(s) under {location.url} (not in the release)?"
    ):
        raise StepFailed(
            f"deleting {len(restore.deletes)} object(s) under {location.url} was not "
            "confirmed; nothing was changed (run with --yes to confirm)"
        )
    try:
        return _apply(ctx, inputs, restore, client)
    except Cancelled as err:  # what the prefix holds, and what to run next
        raise Cancelled(f"{err}; {restore.live_note()}") from None
    except StepProblem as err:
        err.summary = f"{err.summary}; {restore.live_note()}"
        err.args = (err.summary,)
        raise


def _apply(
    ctx: StepContext, inputs: RestoreInputs, restore: RestorePlan, client: Any
) -> StepResult:
    location = restore.location
    if restore.pinned_live is not None:  # a copy over its keys must not change it
        write_manifest(
            client, location.bucket, location.prefix + MANIFEST_NAME, restore.pinned_live,
            ctx.aws.call,
        )  # fmt: skip
        live = restore.pinned_live.digest[:12]
        ctx.emit("info", f"pinned the live release {live} to its object versions first")
    receipts = {}
    if restore.copies:
        receipts = copy_versions(
            client, restore, ctx.aws.call, concurrency=inputs.concurrency, cancel=ctx.cancel
        )
        ctx.emit("info", f"copied {len(receipts)} object(s) from their recorded versions")
    deleted = 0
    if restore.deletes:
        keys = [location.listed_key(relative) for relative in restore.deletes]
        done = delete_keys(client, location, keys, ctx.aws.call)
        done.raise_refused(location)
        deleted = len(done.keys)
    outputs = _outputs(restore, restored=len(receipts), deleted=deleted)
    manifest = _current_manifest(restore, receipts)
    if restore.copies or restore.deletes:
        expected = {e.path: Expected(e.size, e.etag or "") for e in manifest.files}
        mismatches, _ = verify_remote(client, location, expected, lambda _: True, ctx.aws.call)
        if mismatches:
            count, shown = mismatched_keys(mismatches)
            raise StepFailed(
                f"verification failed under {location.url} after restoring "
                f"{restore.digest[:12]}: {count} key(s) do not match: {shown}",
                detail="\n".join(mismatches),
                outputs=outputs,
            )
    wrote = restore.live_digest != restore.digest or bool(restore.copies or restore.deletes)
    if wrote:
        write_manifest(client, location.bucket, outputs.manifest_key, manifest, ctx.aws.call)
    summary = (
        f"restored release {restore.digest[:12]} ({inputs.release}): copied "
        f"{outputs.restored}, deleted {outputs.deleted}, unchanged {outputs.unchanged} "
        f"({format_bytes(sum(c.size for c in restore.copies))})"
    )
    ctx.emit("info", summary)
    return StepResult("changed" if wrote else "ok", summary, outputs)


def _current_manifest(restore: RestorePlan, receipts: dict[str, Any]) -> Manifest:
    """The release's manifest with each key's ETag and version as they are now."""
    entries = []
    for entry in restore.manifest.files:
        receipt = receipts.get(entry.path)
        if receipt is not None:
            etag, version_id = receipt.etag or entry.etag, receipt.version_id
        else:
            now = restore.unchanged[entry.path]
            etag, version_id = now.etag, now.version_id
        entries.append(ManifestEntry(entry.path, entry.size, entry.sha256, etag, version_id))
    return Manifest(entries, generator=f"opskit {__version__} (restored {restore.record.name})")


# CopyObject of a recorded version reads it with s3:GetObjectVersion (a source
# with a versionId) and writes the key with s3:PutObject (CopyObject, S3 API
# Reference); undoing a failed restore deletes the versions it made.
PERMISSIONS = Permissions(
    Need("s3:GetBucketVersioning", S3Bucket(), "the bucket must keep versions"),
    Need(
        "s3:ListBucket",
        S3Bucket(listing=True),
        "list the release records and the prefix; verify after the copies",
    ),
    Need("s3:GetObject", S3Objects(), "read the release records and the manifest"),
    Need("s3:ListBucketVersions", S3Bucket(listing=True), "which recorded versions still exist"),
    Need("s3:GetObjectVersion", S3Objects(), "copy a recorded version (the copy's source)"),
    Need("s3:PutObject", S3Objects(), "copy over the key; write the manifest"),
    Need("s3:DeleteObject", S3Objects(), "delete keys the release does not have"),
    Need(
        "s3:DeleteObjectVersion",
        S3Objects(),
        "a copy failed: delete the versions this restore made",
    ),
)


STEP = StepType(
    name="s3.restore",
    summary="Make s3://bucket/prefix/ hold a recorded release again (last_good, previous or a "
    "digest) by server-side copies of its object versions; verified like s3.sync.",
    inputs=RestoreInputs,
    outputs=RestoreOutputs,
    run=run,
    plan=plan,
    permissions=PERMISSIONS,
)
