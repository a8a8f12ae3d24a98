"""Walk the source folder: which files to sync, under which relative paths.

Filters are gitignore-style (``pathspec``), matched against the path relative to
the source with ``/`` separators, and apply to both sides: a remote key that the
filters do not select is neither compared nor deleted (``aws s3 sync`` does the
same; Ansible's ``s3_sync`` deletes excluded keys, a known surprise).

Symlinks are skipped unless ``follow_symlinks``; followed links must resolve
inside the source (checked on the real path), so a sync never reads outside it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from opskit.errors import InputError
from opskit.manifest import MANIFEST_NAME, RESERVED_DIR
from opskit.s3.location import UnsafeKey, check_relative_path


@dataclass(frozen=True)
class LocalFile:
    relative: str  # "/"-separated path under the source: the key suffix
    path: Path
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


class PathFilter:
    """``include`` (when given) must match and ``exclude`` must not."""

    def __init__(self, exclude: Sequence[str] = (), include: Sequence[str] = ()):
        self.exclude = pathspec.GitIgnoreSpec.from_lines(list(exclude))
        self.include = pathspec.GitIgnoreSpec.from_lines(list(include)) if include else None

    def selects(self, relative: str) -> bool:
        if self.exclude.match_file(relative):
            return False
        return self.include is None or self.include.match_file(relative)


@dataclass
class TreeScan:
    files: list[LocalFile]
    skipped_symlinks: list[str] = field(default_factory=list)
    skipped_other: list[str] = field(default_factory=list)  # sockets, fifos, devices


def scan_tree(root: Path, path_filter: PathFilter, *, follow_symlinks: bool = False) -> TreeScan:
    """Every selected regular file under ``root``, sorted by relative path.

    Raises ``InputError`` for a missing source, a followed link leading outside
    it, or a file name that cannot become a safe key.
    """
    if not root.exists():
        raise InputError(f"source {root} does not exist")
    if not root.is_dir():
        raise InputError(f"source {root} is not a folder")
    real_root = root.resolve()
    scan = TreeScan(files=[])
    visited = {real_root}
    _walk(root, "", real_root, path_filter, follow_symlinks, scan, visited)
    scan.files.sort(key=lambda f: f.relative.encode("utf-8", "surrogateescape"))
    return scan


def _walk(
    folder: Path,
    base: str,
    real_root: Path,
    path_filter: PathFilter,
    follow: bool,
    scan: TreeScan,
    visited: set[Path],
) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as err:
        raise InputError(f"cannot read folder {folder}: {err.strerror or err}") from None
    for entry in entries:
        relative = base + entry.name
        is_link = entry.is_symlink()
        if is_link and not follow:
            scan.skipped_symlinks.append(relative)
            continue
        target = Path(entry.path)
        if is_link:
            real = target.resolve()
            if real != real_root and real_root not in real.parents:
                raise InputError(
                    f"symlink {target} points outside the source ({real}); "
                    "exclude it, or set follow_symlinks: false to skip every symlink"
                )
            if not real.exists():
                scan.skipped_other.append(relative)
                continue
        if entry.is_dir(follow_symlinks=True):
            reserved = base == "" and entry.name + "/" == RESERVED_DIR
            if reserved and not path_filter.exclude.match_file(relative + "/"):
                raise InputError(
                    f"source {target} is a folder named {RESERVED_DIR}, where opskit keeps "
                    "its release records under the prefix; exclude it or rename it"
                )
            if path_filter.exclude.match_file(relative + "/"):
                continue  # as in git, nothing below an excluded folder comes back
            real = target.resolve()
            if real in visited:  # a followed link back up the tree
                continue
            visited.add(real)
            _walk(target, relative + "/", real_root, path_filter, follow, scan, visited)
            visited.discard(real)
            continue
        if not entry.is_file(follow_symlinks=True):
            scan.skipped_other.append(relative)
            continue
        if base == "" and entry.name == MANIFEST_NAME:
            raise InputError(
                f"source {target} has a file named {MANIFEST_NAME}, the name opskit "
                "writes its manifest to; exclude it or rename it"
            )
        if not path_filter.selects(relative):
            continue
        _check_name(relative, target)
        stat = entry.stat(follow_symlinks=True)
        scan.files.append(
            LocalFile(
                relative, target, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino
            )
        )


def _check_name(relative: str, path: Path) -> None:
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"file name {path} is not valid UTF-8; rename it") from None
    try:
        check_relative_path(relative)
    except UnsafeKey as err:
        raise InputError(f"{path}: {err}") from None
