"""A local cache of file digests, so a no-op re-sync hashes nothing.

Kept outside the source tree, under ``$XDG_CACHE_HOME/opskit/hashes/`` (or
``~/.cache/opskit/hashes/``), one JSON file per source folder. An entry is
trusted only while the file's (absolute path, size, mtime_ns, ctime_ns, inode)
are unchanged. ctime is in the key on purpose: ``touch -d``/``os.utime`` can put
an edited file's old mtime back, but nothing short of changing the system clock
restores its ctime, so a same-size edit with the old mtime is still re-hashed.
The cache only saves hashing: what to upload is always decided against the
remote state listed now.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

from opskit.s3 import digests
from opskit.s3.local_tree import LocalFile

_VERSION = 1


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opskit" / "hashes"


class HashCache:
    """Digests of the files under one source root. Thread-safe; ``save()`` writes
    only the entries seen in this run, so deleted files drop out."""

    def __init__(self, root: Path, directory: Path | None = None):
        self.root = root.resolve()
        name = hashlib.sha256(str(self.root).encode("utf-8", "surrogateescape")).hexdigest()
        self.file = (directory or cache_dir()) / f"{name[:24]}.json"
        self._loaded = False  # the file was read and holds this version's entries
        self._entries: dict[str, list] = self._load()
        self._seen: dict[str, list] = {}
        self._lock = threading.Lock()
        self._dirty = False  # a digest was computed or an entry replaced since loading
        self.hashed = 0  # files whose SHA-256 was computed in this run (not from cache)

    def _load(self) -> dict[str, list]:
        try:
            document = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(document, dict) or document.get("version") != _VERSION:
            return {}
        entries = document.get("entries")
        if not isinstance(entries, dict):
            return {}
        self._loaded = True
        return entries

    @staticmethod
    def _stamp(local: LocalFile) -> list:
        return [local.size, local.mtime_ns, local.ctime_ns, local.inode]

    def _entry(self, local: LocalFile) -> dict:
        key = str(local.path.absolute())
        stamp = self._stamp(local)
        with self._lock:
            entry = self._seen.get(key) or self._entries.get(key)
            if not (isinstance(entry, list) and len(entry) == 2 and entry[0] == stamp):
                entry = [stamp, {}]
                self._dirty = True
            self._seen[key] = entry
            return entry[1]

    def cached_sha256(self, local: LocalFile) -> str | None:
        """The SHA-256 when the cache holds it for this exact stat, without hashing."""
        cached = self._entry(local).get("sha256")
        return cached if isinstance(cached, str) else None

    def sha256(self, local: LocalFile) -> str:
        digests_of = self._entry(local)
        cached = digests_of.get("sha256")
        if isinstance(cached, str):
            return cached
        value = digests.file_sha256(local.path)
        with self._lock:
            digests_of["sha256"] = value
            self.hashed += 1
            self._dirty = True
        return value

    def md5(self, local: LocalFile) -> str:
        digests_of = self._entry(local)
        cached = digests_of.get("md5")
        if isinstance(cached, str):
            return cached
        value = digests.file_md5(local.path)
        with self._lock:
            digests_of["md5"] = value
            self._dirty = True
        return value

    def save(self) -> str | None:
        """Write atomically; returns why it could not (a cache that cannot be written
        only makes the next run slower, so the caller warns and goes on). Nothing is
        written when the file already holds exactly these entries (a no-op re-run)."""
        with self._lock:
            if self._loaded and not self._dirty and self._seen.keys() == self._entries.keys():
                return None
            document = {"version": _VERSION, "root": str(self.root), "entries": self._seen}
            text = json.dumps(document, separators=(",", ":"))
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.file.parent, prefix=".tmp-")
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(temp, self.file)
        except OSError as err:
            return f"cannot write the hash cache {self.file}: {err.strerror or err}"
        return None
