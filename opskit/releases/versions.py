"""Object versions: what makes a release restorable by server-side copy.

A release can be put back only from the object versions it recorded, so the
bucket needs S3 versioning; ``ListObjectVersions`` then tells, in one paginated
listing, both the prefix's current state and whether each recorded version
still exists (a lifecycle rule may have expired it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opskit.errors import StepFailed
from opskit.manifest import MANIFEST_NAME, RESERVED_DIR
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


@dataclass
class Versions:
    """The prefix's objects by version (manifest and ``.opskit/`` left out)."""

    latest: dict[str, ObjectVersion] = field(default_factory=dict)  # current objects
    existing: set[tuple[str, str]] = field(default_factory=set)  # (relative, version id)
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
                if key == manifest_key or key.startswith(reserved):
                    continue
                version = ObjectVersion(
                    location.relative(key), str(item.get("VersionId")), item.get("ETag", ""),
                    int(item.get("Size", 0)),
                )  # fmt: skip
                found.existing.add((version.relative, version.version_id))
                if item.get("IsLatest"):
                    found.latest[version.relative] = version
    return found
