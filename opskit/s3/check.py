"""The verification pass: prove the remote prefix holds what was meant.

Two checks, both after the changes:

- ``confirm_uploads``: each uploaded file must still have the stat it was
  scanned with (a file edited while the sync ran fails here, whatever the
  server checks), and S3's answer to each upload carries the SHA-256 of the body
  it stored; it must be the SHA-256 the plan was made with. Single-part uploads
  send that SHA-256 and S3 refuses a body that does not match it; multipart
  uploads store a composite checksum (SHA-256 of the parts' digests): one HEAD
  each fetches it, and it is recomputed locally with the part size used.
- ``verify_remote``: a fresh listing must show every expected key with the
  expected size and ETag (the ETag S3 gave the upload, or the one the plan
  judged equal), and, with ``delete``, no other selected key under the prefix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opskit.s3 import digests
from opskit.s3.local_tree import LocalFile
from opskit.s3.location import S3Location
from opskit.s3.remote import Listing, list_prefix
from opskit.s3.transfer import Receipt


@dataclass(frozen=True)
class Expected:
    size: int
    etag: str


def confirm_uploads(
    client: Any,
    location: S3Location,
    uploaded: Sequence[tuple[LocalFile, str]],
    receipts: dict[str, Receipt],
    part_size: int,
    call: Callable[[str], Any],
) -> tuple[list[str], dict[str, str]]:
    """Mismatches, and the ETag of every upload confirmed (relative path -> ETag)."""
    mismatches: list[str] = []
    etags: dict[str, str] = {}
    for local, sha256 in uploaded:
        key = location.key_for(local.relative)
        if changed_since_scan(local):
            mismatches.append(f"{local.relative}: the file changed during the sync")
            continue
        receipt = receipts.get(key)
        multipart = local.size >= part_size  # s3transfer: size >= threshold
        if receipt and receipt.checksum_sha256 and not multipart:
            if receipt.checksum_sha256 == digests.b64(sha256):
                etags[local.relative] = receipt.etag
            else:
                mismatches.append(
                    f"{local.relative}: S3 stored a different SHA-256 than planned "
                    "(was the file changed during the sync?)"
                )
            continue
        with call(f"s3 HeadObject s3://{location.bucket}/{key}"):
            head = client.head_object(Bucket=location.bucket, Key=key, ChecksumMode="ENABLED")
        problem = _confirm_by_head(local, sha256, head, receipt, part_size)
        if problem:
            mismatches.append(f"{local.relative}: {problem}")
        else:
            etags[local.relative] = head["ETag"]
    return mismatches, etags


def changed_since_scan(local: LocalFile) -> bool:
    """Whether the file's stat differs from the scan's. Any write changes ctime, so
    this catches an edit even when the server only echoes the checksum it was sent
    (moto does; S3 itself recomputes it)."""
    try:
        stat = os.stat(local.path)
    except OSError:
        return True
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino) != (
        local.size,
        local.mtime_ns,
        local.ctime_ns,
        local.inode,
    )


def _confirm_by_head(
    local: LocalFile, sha256: str, head: dict[str, Any], receipt: Receipt | None, part_size: int
) -> str | None:
    if receipt is not None and head.get("ETag") != receipt.etag:
        return "replaced by another writer right after the upload"
    if head.get("ContentLength") != local.size:
        return f"size {head.get('ContentLength')} after upload, expected {local.size}"
    stored = (head.get("ChecksumSHA256") or "").partition("-")[0]
    if stored:
        if stored == digests.b64(sha256):
            return None
        if local.size >= part_size:
            composite, full = digests.composite_sha256(local.path, part_size)
            if composite == stored and full == sha256:
                return None
        return "S3 stored a different SHA-256 than planned (was the file changed during the sync?)"
    etag = str(head.get("ETag", "")).strip('"')
    if "-" in etag:
        local_etag = digests.multipart_etag(local.path, part_size)
        if local_etag == etag and digests.file_sha256(local.path) == sha256:
            return None
    elif etag == digests.file_md5(local.path) and digests.file_sha256(local.path) == sha256:
        return None
    return "S3 returned no checksum and its ETag does not confirm the content"


def verify_remote(
    client: Any,
    location: S3Location,
    expected: dict[str, Expected],
    extra_is_mismatch: Callable[[str], bool] | None,
    call: Callable[[str], Any],
) -> tuple[list[str], Listing]:
    """Re-list the prefix and compare it with ``expected``.

    ``extra_is_mismatch(relative)`` says whether an unexpected key fails the check
    (with ``delete``: every key the filters select); ``None`` allows extras.
    """
    listing = list_prefix(client, location, call)
    return compare_listing(listing, expected, extra_is_mismatch), listing


def compare_listing(
    listing: Listing,
    expected: dict[str, Expected],
    extra_is_mismatch: Callable[[str], bool] | None,
) -> list[str]:
    mismatches = []
    for relative, want in sorted(expected.items()):
        found = listing.objects.get(relative)
        if found is None:
            mismatches.append(f"{relative}: missing")
        elif found.size != want.size:
            mismatches.append(f"{relative}: size {found.size}, expected {want.size}")
        elif found.etag != want.etag:
            mismatches.append(
                f"{relative}: changed after upload (ETag {found.etag}, expected {want.etag})"
            )
    if extra_is_mismatch is not None:
        for relative in sorted(set(listing.objects) - set(expected)):
            if extra_is_mismatch(relative):
                mismatches.append(f"{relative}: present but not in the source")
    return mismatches


def mismatched_keys(mismatches: list[str]) -> tuple[int, str]:
    """How many keys the ``key: problem`` lines name, and the first ten of them."""
    names = sorted({m.split(": ", 1)[0] for m in mismatches})
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return len(names), ", ".join(names[:10]) + more
