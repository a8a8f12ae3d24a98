"""Local content digests in the forms S3 reports them.

S3 reports content as: a stored SHA-256 checksum (full object, or for a multipart
upload the SHA-256 of the parts' SHA-256 digests, "composite"), or an ETag that is
the MD5 for a plain single-part upload and ``md5(part md5s)-N`` for a multipart one.
Each function reads the file once; the multipart forms are only computed for the
rare object that needs them.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from opskit.manifest import file_sha256

__all__ = ["b64", "composite_sha256", "file_md5", "file_sha256", "multipart_etag", "part_count"]

_CHUNK = 1 << 20


def b64(hex_digest: str) -> str:
    """The base64 form S3 uses for checksums, from a hex digest."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _part_digests(path: Path, part_size: int, algorithm: str) -> list[bytes]:
    digests = []
    with open(path, "rb") as handle:
        while True:
            part = hashlib.new(algorithm)
            remaining = part_size
            read_any = False
            while remaining and (chunk := handle.read(min(_CHUNK, remaining))):
                part.update(chunk)
                remaining -= len(chunk)
                read_any = True
            if not read_any:
                break
            digests.append(part.digest())
    return digests


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


def multipart_etag(path: Path, part_size: int) -> str:
    """The ETag (without quotes) S3 gives a multipart upload with this part size."""
    parts = _part_digests(path, part_size, "md5")
    return f"{hashlib.md5(b''.join(parts), usedforsecurity=False).hexdigest()}-{len(parts)}"


def composite_sha256(path: Path, part_size: int) -> tuple[str, str]:
    """(base64 composite checksum, hex full SHA-256) of a multipart upload, one read."""
    full = hashlib.sha256()
    parts = []
    with open(path, "rb") as handle:
        while True:
            part = hashlib.sha256()
            remaining = part_size
            read_any = False
            while remaining and (chunk := handle.read(min(_CHUNK, remaining))):
                part.update(chunk)
                full.update(chunk)
                remaining -= len(chunk)
                read_any = True
            if not read_any:
                break
            parts.append(part.digest())
    composite = base64.b64encode(hashlib.sha256(b"".join(parts)).digest()).decode("ascii")
    return composite, full.hexdigest()
