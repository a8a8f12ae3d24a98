"""Put a recorded release back under its prefix by server-side copies.

Plan (read calls only, so ``--dry-run`` shows exactly this): the bucket must
have versioning; the chosen record must name a version for every file, and each
must still exist; a key whose current version already holds the recorded
content is left alone; keys the release did not have are deleted (under
``max_delete``). Then every copy is made with ``CopySourceIfMatch`` on the
recorded ETag and a SHA-256 computed by S3 that must be the recorded one. If
any copy fails, the versions this restore created are deleted again, so the
prefix is left exactly as it was (versioning makes that undo exact).

Whatever stops a restore (a signal, a step ``timeout:``, a lost connection that
also stops the undo), the live release stays intact: the live manifest pins
each object's version, which a copy over the key does not change, and the
container's entrypoint fetches those versions. A live manifest that does not
pin them (written before versioning was on) is pinned first (``pin_live``):
the same release, each file's current version, which matches it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from opskit.errors import Cancelled, StepError, StepFailed
from opskit.manifest import Manifest
from opskit.releases.choose import choose_release, live_manifest
from opskit.releases.format import ReleaseRecord
from opskit.releases.store import read_records
from opskit.releases.versions import ObjectVersion, Versions, list_versions, require_versioning
from opskit.s3 import digests
from opskit.s3.delete import delete_keys
from opskit.s3.location import S3Location
from opskit.s3.plan import check_delete_count
from opskit.s3.staging import exposed_paths

MAX_COPY_SIZE = 5 * 1024**3  # CopyObject's limit; larger objects need a multipart copy


@dataclass(frozen=True)
class Copy:
    relative: str
    version_id: str
    size: int
    etag: str
    sha256: str


@dataclass
class RestorePlan:
    location: S3Location
    record: ReleaseRecord
    manifest: Manifest
    copies: list[Copy]
    deletes: list[str]
    unchanged: dict[str, ObjectVersion]
    existing: int  # objects under the prefix now
    # records never chosen: planted (paths leaving the prefix, dated in the future) or unreadable
    refused: list[ReleaseRecord] = field(default_factory=list)
    pinned_live: Manifest | None = None  # the live manifest, pinned, when it needs it
    live: Manifest | None = None  # the live manifest as read

    @property
    def live_digest(self) -> str | None:
        return self.live.digest if self.live is not None else None

    def live_note(self) -> str:
        """What the live release is while this restore has not finished."""
        if self.live is None:
            return f"{self.location.url} had no live manifest"
        live = self.pinned_live or self.live
        if all(entry.pinned for entry in live.files):
            return (
                f"the live release {live.digest[:12]} is intact (its manifest pins its "
                "object versions); run the restore again to finish"
            )
        return (
            f"the live manifest ({live.digest[:12]}) names objects changed before this "
            "restore; run the restore again"
        )

    @property
    def digest(self) -> str:
        return self.manifest.digest


def plan_restore(
    client: Any,
    location: S3Location,
    which: str,
    max_delete: int | str,
    call: Callable[[str], Any],
) -> RestorePlan:
    require_versioning(client, location.bucket, call)
    records = read_records(client, location, call)
    live = live_manifest(client, location, call)
    record = choose_release(records, which, live.digest if live else None, location.url)
    manifest = record.manifest
    assert manifest is not None  # chosen records are readable
    unversioned = [e.path for e in manifest.files if not e.version_id]
    if unversioned:
        raise StepFailed(
            f"release {record.digest[:12]} was recorded without object versions (the bucket "
            f"had no versioning when it was synced), e.g. {unversioned[0]}: it cannot be "
            "restored by copy; sync its source again instead"
        )
    versions = list_versions(client, location, call)
    missing = [e.path for e in manifest.files if (e.path, e.version_id) not in versions.existing]
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise StepFailed(
            f"release {record.digest[:12]} cannot be restored: the recorded version of "
            f"{shown} no longer exists under {location.url} (deleted, or expired by a "
            "lifecycle rule); nothing was changed"
        )
    copies, unchanged = [], {}
    for entry in manifest.files:
        now = versions.latest.get(entry.path)
        same = now is not None and (
            now.version_id == entry.version_id
            or (now.etag == entry.etag and now.size == entry.size)
        )
        if same and now is not None:
            unchanged[entry.path] = now
            continue
        if entry.size > MAX_COPY_SIZE:
            raise StepFailed(
                f"{entry.path} is larger than 5 GiB: s3.restore copies with CopyObject, "
                "which cannot copy it; nothing was changed"
            )
        copies.append(
            Copy(entry.path, str(entry.version_id), entry.size, entry.etag or "", entry.sha256)
        )
    wanted = {e.path for e in manifest.files}
    deletes = sorted(rel for rel in versions.latest if rel not in wanted)
    check_delete_count(len(deletes), len(versions.latest), location, max_delete)
    touched = {c.relative for c in copies} | set(deletes)
    refused = [r for r in records if r.problem is not None]
    return RestorePlan(
        location, record, manifest, copies, deletes, unchanged, len(versions.latest),
        refused=refused,
        pinned_live=_pinned(live, versions, touched), live=live,
    )  # fmt: skip


def _pinned(live: Manifest | None, versions: Versions, touched: set[str]) -> Manifest | None:
    """The live manifest with each file's current version, when it reads a key the
    restore changes without a pin and every current object matches it (otherwise
    it names objects that are not there already: nothing to keep intact)."""
    if live is None or not exposed_paths(live) & touched:
        return None
    entries = []
    for entry in live.files:
        now = versions.latest.get(entry.path)
        if entry.pinned:
            entries.append(entry)
        elif now is not None and now.etag == entry.etag and now.size == entry.size:
            entries.append(dataclasses.replace(entry, version_id=now.version_id))
        else:
            return None
    return Manifest(entries, generator=live.generator, created_at=live.created_at)


@dataclass(frozen=True)
class CopyReceipt:
    relative: str
    version_id: str
    etag: str


@dataclass
class _Outcome:
    made: list[CopyReceipt] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def copy_versions(
    client: Any,
    plan: RestorePlan,
    call: Callable[[str], Any],
    *,
    concurrency: int,
    cancel: threading.Event,
) -> dict[str, CopyReceipt]:
    """Copy each planned version over its key; on any failure undo every copy made
    and raise ``StepFailed`` naming the keys."""
    from botocore.exceptions import BotoCoreError, ClientError

    from opskit.aws import describe_client_error, error_code

    location = plan.location
    outcome = _Outcome()

    def one(copy: Copy) -> None:
        if cancel.is_set():
            return
        key = location.key_for(copy.relative)
        try:
            response = client.copy_object(
                Bucket=location.bucket,
                Key=key,
                CopySource={"Bucket": location.bucket, "Key": key, "VersionId": copy.version_id},
                CopySourceIfMatch=copy.etag,
                MetadataDirective="COPY",
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as err:
            code = error_code(err)
            if code in ("NoSuchVersion", "NoSuchKey", "404"):
                problem = "the recorded version no longer exists"
            elif code in ("PreconditionFailed", "412"):
                problem = "the recorded version's ETag is not the one the release recorded"
            else:
                problem = describe_client_error(err)
            with outcome.lock:
                outcome.problems.append(f"{copy.relative}: {problem}")
            return
        except BotoCoreError as err:
            with outcome.lock:
                outcome.problems.append(f"{copy.relative}: {err}")
            return
        result = response.get("CopyObjectResult") or {}
        receipt = CopyReceipt(
            copy.relative, str(response.get("VersionId") or ""), result.get("ETag", "")
        )
        with outcome.lock:
            outcome.made.append(receipt)
            stored = result.get("ChecksumSHA256")
            if stored and stored != digests.b64(copy.sha256):
                outcome.problems.append(
                    f"{copy.relative}: the copy's SHA-256 is not the recorded one"
                )

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(one, plan.copies))  # each copy's error is kept per key, above
    if outcome.problems or cancel.is_set():
        note = undo_copies(client, location, outcome.made, call)
        if cancel.is_set() and not outcome.problems:
            raise Cancelled(f"interrupted while restoring {location.url}; {note}")
        names = sorted(p.split(": ", 1)[0] for p in outcome.problems)
        raise StepFailed(
            f"restoring release {plan.record.digest[:12]} failed at {', '.join(names[:10])}: "
            f"{outcome.problems[0].split(': ', 1)[1]}; {note}",
            detail="\n".join(sorted(outcome.problems)),
        )
    return {r.relative: r for r in outcome.made}


def undo_copies(
    client: Any, location: S3Location, made: list[CopyReceipt], call: Callable[[str], Any]
) -> str:
    """Delete the versions a failed restore created, so each key's earlier version
    is current again; says what the prefix holds now."""
    if not made:
        return "nothing was changed"
    versions = {location.key_for(r.relative): r.version_id for r in made}
    try:
        done = delete_keys(client, location, list(versions), call, versions=versions)
        failed = [location.relative(refused.split(": ", 1)[0]) for refused in done.refused]
    except StepError:
        failed = [r.relative for r in made]
    if failed:
        return (
            f"the prefix is partly restored: {len(made) - len(failed)} of {len(made)} copies "
            f"were undone, not {', '.join(failed[:5])}; run the restore again"
        )
    return f"nothing was changed (the {len(made)} copies already made were removed)"
