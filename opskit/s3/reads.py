"""What a task reads for each file of the live manifest, as the container's
entrypoint reads it: the staging key an interim manifest names (``key``), the
object version it pins (``version_id``), else the current object at the path.

In a versioned bucket the current objects may not be what a task reads: a sync
stopped mid-upload has put new bytes at some paths but not its manifest, so
the live manifest still pins the old versions and every task gets that release
intact. The pinned versions are found in one ``ListObjectVersions`` listing
(paginated, up to 1000 versions a page) rather than a request per file; their
ETag and size, recorded by the sync, vouch for them as a current object's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opskit.manifest import Manifest, ManifestEntry
from opskit.releases.versions import list_versions
from opskit.s3.location import S3Location
from opskit.s3.remote import Listing, RemoteObject


@dataclass
class Reads:
    """For each manifest path, the object a task GETs (``None``: it would find
    nothing there), and the paths whose current object is not the content of the
    version the manifest pins (the unfinished sync's, or gone)."""

    objects: dict[str, RemoteObject | None] = field(default_factory=dict)
    drifted: list[str] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)  # pinned versions that no longer exist

    def where(self, entry: ManifestEntry | None) -> str:
        """Where a message says the bytes are, when not simply at the path."""
        if entry is None:
            return ""
        if entry.key:
            return f" (stored at {entry.key})"
        if entry.pinned:
            return f" (version {entry.version_id})"
        return ""

    def missing(self, entry: ManifestEntry | None, relative: str) -> str:
        """``relative: ...`` when a task would find nothing for it."""
        if entry is not None and relative in self.gone:
            return f"{relative}: the version the manifest pins is gone{self.where(entry)}"
        return f"{relative}: missing{self.where(entry)}"


def task_reads(
    client: Any,
    location: S3Location,
    listing: Listing,
    manifest: Manifest | None,
    call: Callable[[str], Any],
) -> Reads:
    """The object each manifest path is read from; versions are listed only when
    the manifest pins one (a bucket with versioning)."""
    reads = Reads()
    if manifest is None:
        return reads
    pinned = [e for e in manifest.files if e.pinned and not e.key]
    versions = list_versions(client, location, call) if pinned else None
    for entry in manifest.files:
        if entry.key:
            reads.objects[entry.path] = listing.staged.get(entry.key)
        elif not entry.pinned:
            reads.objects[entry.path] = listing.objects.get(entry.path)
    if versions is None:
        return reads
    for entry in pinned:
        found = versions.by_id.get((entry.path, str(entry.version_id)))
        if found is None:
            reads.objects[entry.path] = None
            reads.gone.add(entry.path)
            continue
        reads.objects[entry.path] = RemoteObject(
            location.prefix + entry.path, found.size, found.etag, found.checksum_algorithms,
            found.version_id,
        )  # fmt: skip
        latest = versions.latest.get(entry.path)
        if latest is None or (latest.etag, latest.size) != (found.etag, found.size):
            reads.drifted.append(entry.path)
    return reads
