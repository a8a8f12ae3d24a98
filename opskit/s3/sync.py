"""The sync pipeline behind ``s3.sync``: a local tree to ``s3://bucket/prefix/``.

``plan_sync`` (read calls only: the exact ``--dry-run``) → ``apply_sync``:
upload with S3-checked SHA-256 → confirm S3's answers → (when the live manifest
reads a key this sync changes unpinned: an interim manifest naming staged
copies, then the copies into place; ``opskit.s3.staging``) → delete (guarded) →
re-list and verify → object versions → write the manifest → delete earlier
syncs' staging objects (this sync's stay until the next: a task may still read
them) → keep it as a release record and prune old ones. The live manifest
always names objects that are intact, however the sync stops; the final
manifest is written only after verification passed. With bucket versioning on,
the manifest records each object's version, so the release can later be
restored by ``s3.restore``, and a reader gets exactly those versions.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit.clock import Clock, Deadline
from opskit.errors import Cancelled, StepError, StepFailed
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
from opskit.s3.staging import (
    PrefixState,
    exposed_paths,
    interim_manifest,
    move_into_place,
    remove_staging,
    split_uploads,
    staging_location,
)
from opskit.s3.transfer import Progress, Receipt, UploadOptions, upload_files
from opskit.version import __version__

GENERATOR = f"opskit {__version__}"


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
    deadline: Deadline | None = None,
) -> Synced:
    """Carry out ``plan`` and prove the prefix holds it. ``StepFailed`` names every
    key that does not match; nothing is recorded then.

    The live release stays intact whatever stops the sync (``opskit.s3.staging``):
    keys the live manifest reads unpinned are staged and switched, never
    overwritten first. A sync that stops raises with what the prefix holds and
    what to run next (``PrefixState``)."""
    location = request.location
    versioning = _versioning(client, location, call, emit)
    exposed = exposed_paths(plan.old_manifest)
    in_place, staged_files = split_uploads(plan.uploads, exposed)
    protected_deletes = [relative for relative in plan.deletes if relative in exposed]
    staging = staging_location(location, clock.time())
    state = PrefixState(location, plan.old_manifest, len(plan.uploads))
    with state.explaining_a_stop():
        mismatches: list[str] = []
        etags = dict(plan.unchanged)
        receipts: dict[str, Receipt] = {}
        staged: dict[str, Receipt] = {}
        if plan.uploads:
            progress = Progress(emit, clock.monotonic, len(plan.uploads), plan.upload_bytes)
            state.progress = progress
            uploads = [(location, in_place), (staging, staged_files)]
            for where, files in uploads:
                if not files:
                    continue
                answers = upload_files(
                    client, where, files, plan.sha256, request.upload, progress, cancel, target,
                    deadline,
                )  # fmt: skip
                pairs = [(f, plan.sha256[f.relative]) for f in files]
                problems, confirmed = confirm_uploads(
                    client, where, pairs, answers, request.upload.part_size, call
                )
                mismatches += problems
                if where is staging:
                    staged = {
                        rel: dataclasses.replace(answers.get(staging.key_for(rel)) or
                                                 Receipt(staging.key_for(rel), "", None), etag=etag)
                        for rel, etag in confirmed.items()
                    }  # fmt: skip
                    state.staged = len(staged)
                else:
                    receipts.update(answers)
                    etags.update(confirmed)
        if mismatches:
            count, shown = mismatched_keys(mismatches)
            raise StepFailed(
                f"verification failed under {location.url}: {count} key(s) do not match: {shown}",
                detail="\n".join(mismatches),
            )
        if staged or protected_deletes:
            # The switch: from here on the new release is live, read from its staged keys.
            release = plan.manifest({**etags, **{r: s.etag for r, s in staged.items()}}, GENERATOR)
            interim = interim_manifest(release, staging, location, staged)
            write_manifest(client, location.bucket, request.manifest_key, interim, call)
            state.switched(interim)
            emit("info", f"release {interim.digest[:12]} is live (interim manifest); "
                         f"moving {len(staged)} staged object(s) into place")  # fmt: skip
        if staged:
            staged_local = [f for f in staged_files if f.relative in staged]
            moved = move_into_place(
                client, location, staging, staged_local, plan.sha256, staged,
                concurrency=request.upload.concurrency, cancel=cancel, deadline=deadline,
            )  # fmt: skip
            if cancel.is_set() or (deadline is not None and deadline.expired()):
                raise Cancelled("interrupted while moving staged objects into place")
            if moved.problems:
                raise StepError(
                    f"moving {len(moved.problems)} staged object(s) into place under "
                    f"{location.url} failed: " + "; ".join(moved.problems[:5]),
                    detail="\n".join(moved.problems),
                )
            for relative, receipt in moved.receipts.items():
                receipts[receipt.key] = receipt
                etags[relative] = receipt.etag
        deleted = 0
        if plan.deletes:
            done = delete_keys(client, location, plan.delete_keys(), call)
            done.raise_refused(location)
            deleted = len(done.keys)
        expected = {
            f.relative: Expected(f.size, etags[f.relative])
            for f in plan.files
            if f.relative in etags
        }
        extra_rule = request.path_filter.selects if request.delete else None
        if plan.uploads or plan.deletes:
            found, listing = verify_remote(client, location, expected, extra_rule, call)
        else:  # nothing was written: the listing the plan was made from is the state now
            listing = plan.listing
            found = compare_listing(listing, expected, extra_rule)
        if found:
            count, shown = mismatched_keys(found)
            raise StepFailed(
                f"verification failed under {location.url}: {count} key(s) do not match: {shown}",
                detail="\n".join(found),
            )
        final = _versioned_manifest(client, plan, etags, receipts, location, call, versioning)
        if not same_manifest(state.live, final):
            write_manifest(client, location.bucket, request.manifest_key, final, call)
        state.done(final)
        # Earlier syncs' staging only: a task that read this sync's interim manifest a
        # moment ago may still be downloading from this sync's; the next sync sweeps it.
        earlier = [key for key in listing.reserved if not key.startswith(staging.prefix)]
        leftovers = remove_staging(client, location, earlier, call)
        if leftovers.refused:
            emit("warning", f"S3 refused to delete {len(leftovers.refused)} staging object(s): "
                            + "; ".join(leftovers.refused[:5]))  # fmt: skip
        record, pruned = None, Deleted()
        if request.keep_releases:
            written = write_record(
                client, location, final, origin=origin, target=target, now=clock.time(), call=call
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
            manifest=final,
            release_record=record,
            pruned=pruned,
        )


def _versioning(client: Any, location: S3Location, call: Callable[[str], Any], emit: Emit) -> str:
    """``Enabled``, ``Suspended`` or ``""``; asked once, before any write."""
    try:
        return bucket_versioning(client, location.bucket, call)
    except StepError as err:
        emit("warning", f"{err}; the release record will not pin object versions")
        return ""


def _versioned_manifest(
    client: Any,
    plan: SyncPlan,
    etags: dict[str, str],
    receipts: dict[str, Receipt],
    location: S3Location,
    call: Callable[[str], Any],
    versioning: str,
) -> Manifest:
    """The manifest of the verified tree, with each object's version when the
    bucket keeps versions (asked once: ``GetBucketVersioning``). The versions come
    from S3's answers to the uploads and the old manifest; only when some are
    still unknown (versioning turned on since the last sync) is the prefix's
    ``ListObjectVersions`` read."""
    generator = GENERATOR
    if versioning != "Enabled":
        return plan.manifest(etags, generator)
    answers = {key: receipt.version_id for key, receipt in receipts.items()}
    uploaded = {f.relative: answers.get(location.key_for(f.relative)) for f in plan.uploads}
    versions = known_versions(plan.old_manifest, plan.unchanged, uploaded)
    manifest = plan.manifest(etags, generator, versions)
    if len(versions) < len(plan.files):
        manifest = recorded_versions(client, location, manifest, call)
    return manifest
