"""The sync pipeline behind ``s3.sync``: a local tree to ``s3://bucket/prefix/``.

``plan_sync`` (read calls only: the exact ``--dry-run``) → ``apply_sync``:
upload with S3-checked SHA-256 → confirm S3's answers → delete (guarded) →
re-list and verify → object versions → write the manifest → keep it as a
release record and prune old ones. The manifest is written only after
verification passed, so its digest always describes a tree that is really
there. With bucket versioning on, the manifest records each object's version,
so the release can later be restored by ``s3.restore``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit.clock import Clock
from opskit.errors import StepError, StepFailed
from opskit.events import Emit
from opskit.manifest import MANIFEST_NAME, Manifest
from opskit.releases.format import Origin
from opskit.releases.store import prune_records, write_record
from opskit.releases.versions import bucket_versioning, known_versions, recorded_versions
from opskit.s3.check import (
    Expected,
    compare_listing,
    confirm_uploads,
    mismatched_keys,
    verify_remote,
)
from opskit.s3.delete import Deleted, delete_keys
from opskit.s3.local_tree import PathFilter
from opskit.s3.location import S3Location
from opskit.s3.plan import SyncPlan, build_plan, check_delete_limit, read_local, read_remote
from opskit.s3.remote import same_manifest, write_manifest
from opskit.s3.transfer import Progress, Receipt, UploadOptions, upload_files
from opskit.version import __version__


@dataclass(frozen=True)
class SyncRequest:
    """What to sync, as the step's inputs say it (paths resolved, URL parsed)."""

    source: Path
    location: S3Location
    path_filter: PathFilter
    upload: UploadOptions
    delete: bool
    follow_symlinks: bool
    max_delete: int | str
    keep_releases: int  # release records kept; 0 writes none

    @property
    def manifest_key(self) -> str:
        return self.location.prefix + MANIFEST_NAME


@dataclass(frozen=True)
class Synced:
    """What a sync did; the manifest is the one now under the prefix."""

    uploaded: int
    deleted: int
    unchanged: int
    bytes: int
    manifest: Manifest
    release_record: str | None  # s3:// URL of the record written
    pruned: Deleted


def plan_sync(client: Any, request: SyncRequest, call: Callable[[str], Any]) -> SyncPlan:
    """Read both sides, then plan. The source is scanned and hashed in a thread
    while the prefix is listed (mostly waiting on the network), so a no-op
    re-sync costs about the listing alone. A problem with the source is
    reported first, as if it had been read first. Refuses a plan that deletes
    more than ``max_delete``."""
    source, path_filter, follow = request.source, request.path_filter, request.follow_symlinks
    with ThreadPoolExecutor(max_workers=1) as pool:
        local_side = pool.submit(read_local, source, path_filter, follow)
        try:
            remote = read_remote(client, request.location, call)
        except BaseException:
            local_side.result()  # the source's problem, if it has one, is the one to report
            raise
        local = local_side.result()
    plan = build_plan(
        client=client,
        location=request.location,
        local=local,
        remote=remote,
        path_filter=path_filter,
        delete=request.delete,
        part_size=request.upload.part_size,
        concurrency=request.upload.concurrency,
        call=call,
    )
    problem = local.hashes.save()
    plan.warnings[:0] = local.warnings
    if problem:
        plan.warnings.append(problem)
    check_delete_limit(plan, request.max_delete)
    return plan


def apply_sync(
    client: Any,
    plan: SyncPlan,
    request: SyncRequest,
    *,
    call: Callable[[str], Any],
    emit: Emit,
    clock: Clock,
    cancel: threading.Event,
    target: str,
    origin: Origin,
) -> Synced:
    """Carry out ``plan`` and prove the prefix holds it. ``StepFailed`` names every
    key that does not match; nothing is recorded then."""
    location = request.location
    mismatches: list[str] = []
    etags = dict(plan.unchanged)
    receipts: dict[str, Receipt] = {}
    if plan.uploads:
        progress = Progress(emit, clock.monotonic, len(plan.uploads), plan.upload_bytes)
        receipts = upload_files(
            client, location, plan.uploads, plan.sha256, request.upload, progress, cancel, target
        )
        pairs = [(f, plan.sha256[f.relative]) for f in plan.uploads]
        problems, confirmed = confirm_uploads(
            client, location, pairs, receipts, request.upload.part_size, call
        )
        mismatches += problems
        etags.update(confirmed)
    deleted = 0
    if plan.deletes:
        done = delete_keys(client, location, plan.delete_keys(), call)
        done.raise_refused(location)
        deleted = len(done.keys)
    expected = {
        f.relative: Expected(f.size, etags[f.relative]) for f in plan.files if f.relative in etags
    }
    extra_rule = request.path_filter.selects if request.delete else None
    if plan.uploads or plan.deletes:
        found, listing = verify_remote(client, location, expected, extra_rule, call)
    else:  # nothing was written: the listing the plan was made from is the state now
        listing = plan.listing
        found = compare_listing(listing, expected, extra_rule)
    mismatches += found
    if mismatches:
        count, shown = mismatched_keys(mismatches)
        raise StepFailed(
            f"verification failed under {location.url}: {count} key(s) do not match: {shown}",
            detail="\n".join(mismatches),
        )
    manifest = _versioned_manifest(client, plan, etags, receipts, location, call, emit)
    if not same_manifest(plan.old_manifest, manifest):
        write_manifest(client, location.bucket, request.manifest_key, manifest, call)
    record, pruned = None, Deleted()
    if request.keep_releases:
        written = write_record(
            client, location, manifest, origin=origin, target=target, now=clock.time(), call=call
        )
        record = f"s3://{location.bucket}/{written.key}"
        # the records are under the prefix: the listing above has them, the new one aside
        records = [*listing.reserved, written.key]
        pruned = prune_records(client, location, records, request.keep_releases, call)
    return Synced(
        uploaded=len(plan.uploads),
        deleted=deleted,
        unchanged=len(plan.unchanged),
        bytes=plan.upload_bytes if plan.uploads else 0,
        manifest=manifest,
        release_record=record,
        pruned=pruned,
    )


def _versioned_manifest(
    client: Any,
    plan: SyncPlan,
    etags: dict[str, str],
    receipts: dict[str, Receipt],
    location: S3Location,
    call: Callable[[str], Any],
    emit: Emit,
) -> Manifest:
    """The manifest of the verified tree, with each object's version when the
    bucket keeps versions (asked once: ``GetBucketVersioning``). The versions come
    from S3's answers to the uploads and the old manifest; only when some are
    still unknown (versioning turned on since the last sync) is the prefix's
    ``ListObjectVersions`` read."""
    generator = f"opskit {__version__}"
    try:
        versioning = bucket_versioning(client, location.bucket, call)
    except StepError as err:
        emit("warning", f"{err}; the release record will not pin object versions")
        versioning = ""
    if versioning != "Enabled":
        return plan.manifest(etags, generator)
    answers = {key: receipt.version_id for key, receipt in receipts.items()}
    uploaded = {f.relative: answers.get(location.key_for(f.relative)) for f in plan.uploads}
    versions = known_versions(plan.old_manifest, plan.unchanged, uploaded)
    manifest = plan.manifest(etags, generator, versions)
    if len(versions) < len(plan.files):
        manifest = recorded_versions(client, location, manifest, call)
    return manifest
