"""The release manifest that ``s3.sync`` writes and the container entrypoint checks.

The format is defined here once, and in the README for programs in other
languages. The bundled stack's entrypoint re-implements the same few lines
(it may not import opskit: its container holds only the app).

``.opskit-manifest.json`` under the destination prefix::

    {"format": "opskit-manifest/1", "generator": "opskit 0.1.0",
     "created_at": "2026-11-24T03:10:00Z", "digest": "<64 hex>",
     "files": [{"path": "core/aws_clients.py", "size": 1234,
                "sha256": "<64 hex>", "etag": "\"<md5 hex>\""}, ...]}

``path`` is relative to the prefix, with ``/`` separators; ``files`` is sorted
by path. Two optional fields say where a file's bytes are, when not simply at
``prefix + path``; a reader (the container's entrypoint) must follow them:

- ``version_id``: the object version (the bucket keeps versions). The reader
  GETs that version, so a sync or restore that overwrites the key later, or is
  cut off halfway, never changes what this manifest names;
- ``key``: the object's key relative to the prefix, when the file's bytes sit
  at a staging key under ``.opskit/staging/`` (a bucket without versioning,
  while a sync moves them into place: see ``opskit.s3.sync``).

Both are absent in manifests of older opskit versions, which stay valid.
Neither is part of the tree digest: the lowercase hex SHA-256 of the UTF-8
text made of one line per file, in ascending order of the path's UTF-8 bytes::

    <sha256 hex><two spaces><size in decimal><two spaces><path>\\n

(the ``sha256sum`` layout with the size added), so an empty tree's digest is
the SHA-256 of the empty string.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = ".opskit-manifest.json"
# Under the prefix, beside the manifest: opskit's own objects (release records in
# ``.opskit/releases/``). Never part of the tree: no sync uploads, deletes, counts
# or verifies them, and the container downloads only what the manifest lists.
RESERVED_DIR = ".opskit/"
# Where a sync stages the new content of keys the live manifest reads, in a bucket
# without versioning (``opskit.s3.sync``): ``<prefix>.opskit/staging/<run>/<path>``.
STAGING_DIR = RESERVED_DIR + "staging/"
FORMAT = "opskit-manifest/1"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    size: int
    sha256: str
    etag: str | None = None  # as S3 reported it after upload; lets a later sync trust it
    version_id: str | None = None  # the object version, when the bucket has versioning
    key: str | None = None  # relative to the prefix, when not ``path`` (a staged upload)

    @property
    def stored_at(self) -> str:
        """Where the bytes are, relative to the prefix."""
        return self.key or self.path

    @property
    def pinned(self) -> bool:
        """Whether a reader gets exactly these bytes however the key changes later:
        a real version id (S3's ``null`` version of an unversioned write is
        overwritten by the next write)."""
        return bool(self.version_id) and self.version_id != "null"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(entries: Iterable[ManifestEntry]) -> str:
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.path.encode("utf-8")):
        digest.update(f"{entry.sha256}  {entry.size}  {entry.path}\n".encode())
    return digest.hexdigest()


@dataclass
class Manifest:
    files: list[ManifestEntry]
    generator: str = ""
    created_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )

    @property
    def digest(self) -> str:
        return tree_digest(self.files)

    @property
    def staged(self) -> int:
        """How many files it reads from staging keys: more than 0 is an interim
        manifest, a sync that has not moved them into place yet."""
        return sum(1 for entry in self.files if entry.key)

    def by_path(self) -> dict[str, ManifestEntry]:
        return {entry.path: entry for entry in self.files}

    def document(self) -> dict[str, Any]:
        files = sorted(self.files, key=lambda e: e.path.encode("utf-8"))
        return {
            "format": FORMAT,
            "generator": self.generator,
            "created_at": self.created_at,
            "digest": tree_digest(files),
            "files": [
                {"path": e.path, "size": e.size, "sha256": e.sha256}
                | ({"etag": e.etag} if e.etag else {})
                | ({"version_id": e.version_id} if e.version_id else {})
                | ({"key": e.key} if e.key else {})
                for e in files
            ],
        }

    def to_json(self) -> str:
        return document_json(self.document())

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and check a manifest; ``ValueError`` says what is wrong with it."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"manifest is not valid JSON: {err}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"manifest format is not {FORMAT}")
        try:
            files = [
                ManifestEntry(
                    str(f["path"]),
                    int(f["size"]),
                    str(f["sha256"]),
                    f.get("etag"),
                    f.get("version_id"),
                    _staging_key(f.get("key")),
                )
                for f in document["files"]
            ]
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"manifest has a malformed file entry: {err}") from None
        for entry in files:
            if path_problem(entry.path):
                raise ValueError(f"manifest names a path that leaves its prefix: {entry.path!r}")
        manifest = cls(
            files, str(document.get("generator", "")), str(document.get("created_at", ""))
        )
        if document.get("digest") != manifest.digest:
            raise ValueError("manifest digest does not match its file list")
        return manifest


def _staging_key(key: Any) -> str | None:
    """A file's ``key``: only ever a staging key under the prefix."""
    if key is None:
        return None
    if not str(key).startswith(STAGING_DIR) or path_problem(str(key)):
        raise ValueError(f"file key {key!r} is not under {STAGING_DIR}")
    return str(key)


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a file of a tree under a prefix (``None`` when it
    can): a folder marker (``dir/``, as the S3 console makes), an empty (``//``,
    a leading ``/``), ``.`` or ``..`` component, a backslash (a separator on
    Windows) or a NUL. S3 keys may hold all of these; joined to a prefix or a
    download folder, none is a file of the tree, and some would leave it."""
    if path.endswith("/"):
        return "a folder marker"
    parts = path.split("/")
    if "" in parts:
        return "an empty component ('//')"
    if "." in parts or ".." in parts:
        return "a '.' or '..' component"
    if "\\" in path:
        return "a backslash"
    if "\0" in path:
        return "a NUL character"
    return None


def document_json(document: dict[str, Any]) -> str:
    """A manifest (or a release record, which holds one) as stored: a top-level key
    a line and one file entry a line, readable in a diff and in ``aws s3 cp -``.
    Written by hand from ``json.dumps`` pieces: with ``indent=`` json uses its
    pure-Python encoder (~35 ms for 2,000 files, a sync writes two such documents);
    without it, its C encoder (~3 ms)."""
    lines = []
    for key, value in document.items():
        if key == "files" and isinstance(value, list):
            entries = ",\n".join(f"  {json.dumps(entry)}" for entry in value)
            lines.append(f' "files": [\n{entries}\n ]' if value else ' "files": []')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
