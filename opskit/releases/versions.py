"""Object versions: what makes a release restorable by server-side copy.

A release can be put back only from the object versions it recorded, so the
bucket needs S3 versioning; ``ListObjectVersions`` then tells, in one paginated
listing, both the prefix's current state and whether each recorded version
still exists (a lifecycle rule may have expired it).

``s3.sync`` seldom needs to ask: S3's answer to each upload carries the new
object's version id (only when versioning is enabled), and the current manifest
already records the version of every object it vouches for. It lists versions
(``recorded_versions``) only when versioning was turned on since the manifest
was written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opskit.errors import StepFailed
from opskit.manifest import MANIFEST_NAME, RESERVED_DIR, Manifest, ManifestEntry
from opskit.s3.check import mismatched_keys
from opskit.s3.location import S3Location


def versioning_fix(bucket: str) -> str:
    return (
        f"aws s3api put-bucket-versioning --bucket {bucket} "
        "--versioning-configuration Status=Enabled"
    )


def bucket_versioning(client: Any, bucket: str, call: Callable[[str], Any]) -> str:
    """``Enabled``, ``Suspended`` or ``""`` (never enabled)."""
    with call(f"s3 GetBucketVersioning {bucket}"):
        return str(client.get_bucket_versioning(Bucket=bucket).get("Status") or "")


def require_versioning(client: Any, bucket: str, call: Callable[[str], Any]) -> None:
    status = bucket_versioning(client, bucket, call)
    if status != "Enabled":
        state = "suspended" if status == "Suspended" else "not enabled"
        raise StepFailed(
            f"bucket {bucket} has versioning {state}: a release is restored from the "
            f"object versions it recorded; turn versioning on with: {versioning_fix(bucket)} "
            "(releases synced after that can be restored)"
        )


@dataclass(frozen=True)
class ObjectVersion:
    relative: str
    version_id: str
    etag: str
    size: int
    checksum_algorithms: tuple[str, ...] = ()


@dataclass
class Versions:
    """The prefix's objects by version (manifest and ``.opskit/`` left out)."""

    latest: dict[str, ObjectVersion] = field(default_factory=dict)  # current objects
    existing: set[tuple[str, str]] = field(default_factory=set)  # (relative, version id)
    by_id: dict[tuple[str, str], ObjectVersion] = field(default_factory=dict)  # same keys
    requests: int = 0


def list_versions(client: Any, location: S3Location, call: Callable[[str], Any]) -> Versions:
    """Every version under the prefix; a key whose latest entry is a delete marker
    is not current."""
    found = Versions()
    manifest_key = location.prefix + MANIFEST_NAME
    reserved = location.prefix + RESERVED_DIR
    with call(f"s3 ListObjectVersions {location.url}"):
        paginator = client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix):
            found.requests += 1
            for item in page.get("Versions", []):
                key = item["Key"]
                if key in (manifest_key, location.prefix) or key.startswith(reserved):
                    continue  # the prefix's own folder marker is the folder, not an object
                version = ObjectVersion(
                    location.relative(key), str(item.get("VersionId")), item.get("ETag", ""),
                    int(item.get("Size", 0)), tuple(item.get("ChecksumAlgorithm") or ()),
                )  # fmt: skip
                found.existing.add((version.relative, version.version_id))
                found.by_id[version.relative, version.version_id] = version
                if item.get("IsLatest"):
                    found.latest[version.relative] = version
    return found


def known_versions(
    old: Manifest | None, unchanged: dict[str, str], uploaded: dict[str, str | None]
) -> dict[str, str]:
    """Version ids known without a request: the old manifest's for objects left
    unchanged (``unchanged``: relative path -> the ETag judged equal, which must be
    the recorded one) and S3's answers to this sync's uploads."""
    recorded = old.by_path() if old is not None else {}
    known = {
        relative: str(entry.version_id)
        for relative, etag in unchanged.items()
        if (entry := recorded.get(relative)) is not None and entry.version_id and entry.etag == etag
    }
    known.update({relative: v for relative, v in uploaded.items() if v})
    return known


def recorded_versions(
    client: Any, location: S3Location, manifest: Manifest, call: Callable[[str], Any]
) -> Manifest:
    """The manifest with each object's current version id (one ``ListObjectVersions``).
    An object whose latest version is not the one just verified (same ETag and
    size) was changed by another writer meanwhile: the sync fails rather than
    record the wrong version."""
    latest = list_versions(client, location, call).latest
    entries, changed = [], []
    for entry in manifest.files:
        found = latest.get(entry.path)
        if found is None or found.etag != entry.etag or found.size != entry.size:
            changed.append(entry.path)
            continue
        entries.append(
            ManifestEntry(entry.path, entry.size, entry.sha256, entry.etag, found.version_id)
        )
    if changed:
        count, shown = mismatched_keys([f"{path}: changed" for path in changed])
        raise StepFailed(
            f"verification failed under {location.url}: {count} key(s) changed by another "
            f"writer right after verification: {shown}"
        )
    return Manifest(entries, manifest.generator, manifest.created_at)
