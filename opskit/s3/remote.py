"""The remote side: list a prefix, read its manifest, decide "same content?".

How an existing object is judged equal to a local file (first rule that applies):

1. sizes differ: not equal.
2. the manifest records this key with the listed ETag and size: equal iff the
   manifest's SHA-256 is the local one (no request per object).
3. the listing says a SHA-256 checksum is stored: HEAD with ``ChecksumMode``
   gives it; compare the full-object value, or the composite one (SHA-256 of the
   parts' digests) computed locally with the object's part size.
4. a single-part ETag (no ``-N``): equal iff it is the local MD5.
5. a multipart ETag ``…-N``: equal iff recomputing it locally with the object's
   part size (HEAD ``PartNumber=1``) or the common sizes gives the same value.
6. otherwise unknown, which is never equal: the file is uploaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opskit.errors import StepError
from opskit.manifest import (
    MANIFEST_NAME,
    RESERVED_DIR,
    STAGING_DIR,
    Manifest,
    ManifestEntry,
    path_problem,
)
from opskit.s3 import digests
from opskit.s3.hash_cache import HashCache
from opskit.s3.local_tree import LocalFile
from opskit.s3.location import S3Location

MiB = 1 << 20
COMMON_PART_SIZES = (8 * MiB, 16 * MiB, 5 * MiB, 64 * MiB, 100 * MiB)


@dataclass(frozen=True)
class RemoteObject:
    key: str
    size: int
    etag: str  # with the quotes S3 puts around it
    checksum_algorithms: tuple[str, ...] = ()
    # a version a manifest pins (``opskit.s3.pinned``): every read names it, as the
    # container's entrypoint does; ``None`` for the current object at ``key``
    version_id: str | None = None

    @property
    def request(self) -> dict[str, str]:
        """The ``Key`` (and ``VersionId``) of a GetObject or HeadObject of it."""
        return {"Key": self.key} | ({"VersionId": self.version_id} if self.version_id else {})

    @property
    def url_suffix(self) -> str:
        return f"?versionId={self.version_id}" if self.version_id else ""

    @property
    def etag_hex(self) -> str:
        return self.etag.strip('"')

    @property
    def parts(self) -> int:
        """Parts of a multipart upload (from ``…-N``), 0 for a single-part ETag."""
        _, dash, count = self.etag_hex.partition("-")
        return int(count) if dash and count.isdigit() else 0


@dataclass
class Listing:
    objects: dict[str, RemoteObject]  # relative path -> object (manifest, .opskit/ excluded)
    manifest: RemoteObject | None = None
    requests: int = 0
    # keys of opskit's own objects under ``<prefix>.opskit/`` (release records): carried
    # so that pruning them needs no listing of its own; never compared, deleted or verified
    reserved: list[str] = field(default_factory=list)
    # relative paths in ``objects`` that no local file can have (``location.path_problem``):
    # folder markers, ``//``, ``.``/``..`` components, backslashes; relative path -> why
    odd: dict[str, str] = field(default_factory=dict)
    # the staging objects among ``reserved`` (relative key -> object): where an interim
    # manifest's ``key`` points (``opskit.s3.staging``)
    staged: dict[str, RemoteObject] = field(default_factory=dict)

    def odd_keys(self, location: S3Location) -> list[str]:
        """Each odd key, quoted as ``repr`` quotes it (a key may hold any character),
        with why no file can have it."""
        return [f"{location.listed_key(r)!r} ({why})" for r, why in sorted(self.odd.items())]


def list_prefix(client: Any, location: S3Location, call: Callable[[str], Any]) -> Listing:
    """Every object under the prefix (ListObjectsV2, paginated). The manifest is
    kept apart and opskit's own ``.opskit/`` objects (release records) are kept
    apart too, in ``reserved``, so no sync, delete or verification ever counts or
    removes them. The prefix's own folder marker (the key ``prefix/`` itself) is
    the folder, not an object of the tree: left out. Keys that no file can have
    are listed (a delete sync deletes them) and named in ``odd``."""
    listing = Listing(objects={})
    manifest_key = location.prefix + MANIFEST_NAME
    reserved = location.prefix + RESERVED_DIR
    staging = location.prefix + STAGING_DIR
    with call(f"s3 ListObjectsV2 {location.url}"):
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix):
            listing.requests += 1
            for item in page.get("Contents", []):
                obj = RemoteObject(
                    item["Key"],
                    int(item["Size"]),
                    item.get("ETag", ""),
                    tuple(item.get("ChecksumAlgorithm") or ()),
                )
                if obj.key == manifest_key:
                    listing.manifest = obj
                elif obj.key.startswith(reserved):
                    listing.reserved.append(obj.key)
                    if obj.key.startswith(staging):
                        listing.staged[location.relative(obj.key)] = obj
                elif obj.key != location.prefix:
                    relative = location.relative(obj.key)
                    listing.objects[relative] = obj
                    why = path_problem(relative)
                    if why:
                        listing.odd[relative] = why
    return listing


def read_manifest(
    client: Any, location: S3Location, listing: Listing, call: Callable[[str], Any]
) -> tuple[Manifest | None, str | None]:
    """The manifest under the prefix and why it cannot be used (``None`` when fine)."""
    if listing.manifest is None:
        return None, None
    key = listing.manifest.key
    with call(f"s3 GetObject s3://{location.bucket}/{key}"):
        body = read_body(client, location.bucket, key)
    try:
        return Manifest.from_json(body), None
    except ValueError as err:
        return None, f"ignoring s3://{location.bucket}/{key}: {err}"


def read_body(
    client: Any, bucket: str, key: str, attempts: int = 4, version_id: str | None = None
) -> bytes:
    """GET a whole object (that version of it, when given). botocore retries the
    request but not a body cut off while streaming, so that read is retried here."""
    from botocore.exceptions import IncompleteReadError, ResponseStreamingError
    from urllib3.exceptions import HTTPError

    version = {"VersionId": version_id} if version_id else {}
    for attempt in range(attempts):
        response = client.get_object(Bucket=bucket, Key=key, **version)
        try:
            return response["Body"].read()
        except (IncompleteReadError, ResponseStreamingError, HTTPError, OSError):
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Verdict:
    equal: bool
    rule: str  # which rule decided: "size", "manifest", "checksum", "md5", "multipart", "unknown"


@dataclass
class Judge:
    """Applies the rules above. ``head`` is only called for rules 3 and 5."""

    client: Any
    location: S3Location
    hashes: HashCache
    manifest: dict[str, ManifestEntry] = field(default_factory=dict)
    part_size: int = 8 * MiB
    call: Callable[[str], Any] | None = None
    heads: int = 0
    _first_parts: dict[str, int | None] = field(default_factory=dict)

    def quick(self, local: LocalFile, sha256: str, remote: RemoteObject) -> Verdict | None:
        """Rules 1 and 2, which need no request and no extra hashing."""
        if remote.size != local.size:
            return Verdict(False, "size")
        entry = self.manifest.get(local.relative)
        if entry is not None and entry.etag == remote.etag and entry.size == remote.size:
            return Verdict(entry.sha256 == sha256, "manifest")
        return None

    def same(self, local: LocalFile, sha256: str, remote: RemoteObject) -> Verdict:
        verdict = self.quick(local, sha256, remote)
        if verdict is not None:
            return verdict
        if "SHA256" in remote.checksum_algorithms:
            verdict = self._by_checksum(local, sha256, remote)
            if verdict is not None:
                return verdict
        if remote.parts == 0:
            return Verdict(self.hashes.md5(local) == remote.etag_hex, "md5")
        for part_size in self._part_sizes(remote):
            if digests.part_count(local.size, part_size) != remote.parts:
                continue
            if digests.multipart_etag(local.path, part_size) == remote.etag_hex:
                return Verdict(True, "multipart")
        return Verdict(False, "unknown")

    def _head(self, remote: RemoteObject, **extra: Any) -> dict[str, Any]:
        assert self.call is not None
        where = f"s3://{self.location.bucket}/{remote.key}{remote.url_suffix}"
        with self.call(f"s3 HeadObject {where}"):
            self.heads += 1
            return self.client.head_object(Bucket=self.location.bucket, **remote.request, **extra)

    def _by_checksum(self, local: LocalFile, sha256: str, remote: RemoteObject) -> Verdict | None:
        head = self._head(remote, ChecksumMode="ENABLED")
        if head.get("ETag") != remote.etag:
            return Verdict(False, "checksum")  # replaced since the listing: upload
        stored = head.get("ChecksumSHA256")
        if not stored:
            return None
        value = stored.partition("-")[0]
        if value == digests.b64(sha256):
            return Verdict(True, "checksum")
        if remote.parts:
            for part_size in self._part_sizes(remote):
                if digests.part_count(local.size, part_size) != remote.parts:
                    continue
                composite, full = digests.composite_sha256(local.path, part_size)
                if composite == value and full == sha256:
                    return Verdict(True, "checksum")
        return Verdict(False, "checksum")

    def _part_sizes(self, remote: RemoteObject) -> list[int]:
        sizes = [self.part_size]
        if remote.parts > 1:
            which = remote.key + remote.url_suffix
            if which not in self._first_parts:
                try:
                    length = self._head(remote, PartNumber=1).get("ContentLength")
                except StepError:
                    length = None  # not every S3-compatible store answers PartNumber
                self._first_parts[which] = length if isinstance(length, int) else None
            first = self._first_parts[which]
            if first:
                sizes.insert(0, first)
        sizes += [s for s in COMMON_PART_SIZES if s not in sizes]
        return sizes


def write_manifest(
    client: Any, bucket: str, key: str, manifest: Manifest, call: Callable[[str], Any]
) -> dict[str, Any]:
    """PUT a manifest with a SHA-256 checked by S3; returns S3's answer."""
    import hashlib

    body = manifest.to_json().encode("utf-8")
    with call(f"s3 PutObject s3://{bucket}/{key}"):
        response = client.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            CacheControl="no-cache",
            ChecksumAlgorithm="SHA256",
        )
    stored = response.get("ChecksumSHA256")
    if stored and stored != digests.b64(hashlib.sha256(body).hexdigest()):
        raise StepError(f"manifest s3://{bucket}/{key}: S3 stored a different SHA-256")
    return dict(response)


def object_version(answer: Mapping[str, Any]) -> str | None:
    """The version id in a PUT's (or CompleteMultipartUpload's) answer. S3 returns
    one only when the bucket has versioning enabled; with versioning suspended the
    object is the ``null`` version, which the next PUT replaces: nothing to restore
    from, so no version either."""
    version = answer.get("VersionId")
    return str(version) if version and version != "null" else None


def same_manifest(old: Manifest | None, new: Manifest) -> bool:
    """Same files with the same sizes, SHA-256 and ETags (dates aside)."""
    if old is None:
        return False
    return sorted(old.files, key=lambda e: e.path) == sorted(new.files, key=lambda e: e.path)
