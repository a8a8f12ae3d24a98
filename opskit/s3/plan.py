"""Turn a local tree and a remote listing into the exact sync plan.

Read-only by construction: it lists, reads the manifest and HEADs the few
objects whose content the manifest cannot vouch for. ``--dry-run`` shows this
plan; the real run executes the same plan, so the dry run is exact.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit.errors import InputError, StepFailed
from opskit.manifest import Manifest, ManifestEntry
from opskit.s3.hash_cache import HashCache
from opskit.s3.local_tree import LocalFile, PathFilter, TreeScan, scan_tree
from opskit.s3.location import S3Location
from opskit.s3.remote import Judge, Listing, list_prefix, read_manifest
from opskit.shapes import OneOf, Percentage, Scalar


@dataclass
class SyncPlan:
    location: S3Location
    files: list[LocalFile]
    sha256: dict[str, str]  # relative path -> local SHA-256
    uploads: list[LocalFile]
    unchanged: dict[str, str]  # relative path -> the remote ETag judged equal
    deletes: list[str]  # relative paths
    listing: Listing
    old_manifest: Manifest | None
    rules: Counter = field(default_factory=Counter)  # how "unchanged" was decided
    warnings: list[str] = field(default_factory=list)
    hashed: int = 0

    @property
    def upload_bytes(self) -> int:
        return sum(f.size for f in self.uploads)

    def manifest(
        self, etags: dict[str, str], generator: str, versions: dict[str, str] | None = None
    ) -> Manifest:
        versions = versions or {}
        return Manifest(
            [
                ManifestEntry(
                    f.relative,
                    f.size,
                    self.sha256[f.relative],
                    etags.get(f.relative),
                    versions.get(f.relative),
                )
                for f in self.files
            ],
            generator=generator,
        )

    def digest(self) -> str:
        return self.manifest({}, "").digest

    def delete_keys(self) -> list[str]:
        """The exact keys to delete: each as listed, so an odd key (``dir/``,
        ``a//b``, ``../x``) is deleted by its own name, never resolved."""
        return [self.location.listed_key(relative) for relative in self.deletes]

    def delete_line(self, relative: str) -> str:
        """What the dry run says of one delete; an odd key is quoted whole, with why."""
        why = self.listing.odd.get(relative)
        if why is None:
            return f"would delete {self.location.url}{relative}"
        key = self.location.listed_key(relative)
        return f"would delete the key {key!r} of s3://{self.location.bucket} ({why})"


def scan_source(
    source: Path, path_filter: PathFilter, follow_symlinks: bool
) -> tuple[TreeScan, list[str]]:
    scan = scan_tree(source, path_filter, follow_symlinks=follow_symlinks)
    warnings = []
    if scan.skipped_symlinks:
        shown = ", ".join(scan.skipped_symlinks[:5])
        warnings.append(
            f"skipped {len(scan.skipped_symlinks)} symlink(s) in {source}: {shown} "
            "(set follow_symlinks: true to follow those that stay inside the source)"
        )
    if scan.skipped_other:
        warnings.append(
            f"skipped {len(scan.skipped_other)} entries that are not regular files: "
            + ", ".join(scan.skipped_other[:5])
        )
    return scan, warnings


POOL_MIN_SIZE = 1 << 20  # files from this size are hashed in the thread pool


def hash_files(files: list[LocalFile], hashes: HashCache, workers: int) -> dict[str, str]:
    """SHA-256 of every file (from the cache when its stat is unchanged).

    Only files from 1 MiB go to the thread pool: hashlib releases the GIL on big
    buffers, so they hash in parallel. Smaller files are hashed in this thread,
    meanwhile: for them a pool task and the threads taking turns with the GIL
    cost more than the hashing (2,000 files of 1-16 KiB: 0.2 s in a pool of
    two, 0.04 s in one thread)."""
    found: dict[str, str] = {}
    small: list[LocalFile] = []
    large: list[LocalFile] = []
    for local in files:
        cached = hashes.cached_sha256(local)
        if cached is not None:
            found[local.relative] = cached
        elif local.size >= POOL_MIN_SIZE:
            large.append(local)
        else:
            small.append(local)

    def one(local: LocalFile) -> tuple[str, str]:
        try:
            return local.relative, hashes.sha256(local)
        except OSError as err:
            raise InputError(f"cannot read {local.path}: {err.strerror or err}") from None

    if large:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            in_pool = pool.map(one, large)
            found.update(map(one, small))
            found.update(in_pool)
    elif small:
        found.update(map(one, small))
    else:
        return found
    return {local.relative: found[local.relative] for local in files}


@dataclass
class LocalSide:
    """The source as scanned and hashed (from the cache where its stat allows)."""

    scan: TreeScan
    warnings: list[str]
    hashes: HashCache
    sha256: dict[str, str]  # relative path -> SHA-256


@dataclass
class RemoteSide:
    """The prefix as listed now, and its manifest (``problem`` says why it is unusable)."""

    listing: Listing
    manifest: Manifest | None
    problem: str | None


def read_local(source: Path, path_filter: PathFilter, follow_symlinks: bool) -> LocalSide:
    """Scan and hash the source; refuses a source with no files to sync."""
    scan, warnings = scan_source(source, path_filter, follow_symlinks)
    if not scan.files:
        raise InputError(
            f"source {source} has no files to sync (after exclude/include); "
            "check source, exclude and include"
        )
    hashes = HashCache(source)
    sha256 = hash_files(scan.files, hashes, min(4, os.cpu_count() or 1))
    return LocalSide(scan, warnings, hashes, sha256)


def read_remote(client: Any, location: S3Location, call: Callable[[str], Any]) -> RemoteSide:
    """One listing of the prefix and one GET of its manifest (when listed)."""
    listing = list_prefix(client, location, call)
    manifest, problem = read_manifest(client, location, listing, call)
    return RemoteSide(listing, manifest, problem)


def build_plan(
    *,
    client: Any,
    location: S3Location,
    local: LocalSide,
    remote: RemoteSide,
    path_filter: PathFilter,
    delete: bool,
    part_size: int,
    concurrency: int,
    call: Callable[[str], Any],
) -> SyncPlan:
    """Judge every local file against the listing (HEADs only where the manifest
    cannot vouch) and pick the keys to delete."""
    files, sha256, hashes = local.scan.files, local.sha256, local.hashes
    listing, old_manifest, why = remote.listing, remote.manifest, remote.problem
    judge = Judge(
        client, location, hashes, old_manifest.by_path() if old_manifest else {}, part_size, call
    )

    def decide(local: LocalFile) -> tuple[LocalFile, str | None, str]:
        remote = listing.objects.get(local.relative)
        if remote is None:
            return local, None, "new"
        try:
            verdict = judge.same(local, sha256[local.relative], remote)
        except OSError as err:
            raise InputError(f"cannot read {local.path}: {err.strerror or err}") from None
        return local, remote.etag if verdict.equal else None, verdict.rule

    plan = SyncPlan(location, files, sha256, [], {}, [], listing, old_manifest)
    if why:
        plan.warnings.append(why)
    decided: list[tuple[LocalFile, str | None, str]] = []
    # objects the manifest cannot vouch for: HEADs and extra hashing, in parallel
    slow: list[LocalFile] = []
    for file in files:
        listed = listing.objects.get(file.relative)
        verdict = None if listed is None else judge.quick(file, sha256[file.relative], listed)
        if listed is None:
            decided.append((file, None, "new"))
        elif verdict is not None:
            decided.append((file, listed.etag if verdict.equal else None, verdict.rule))
        else:
            slow.append(file)
    if slow:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            decided += pool.map(decide, slow)
    order = {f.relative: i for i, f in enumerate(files)}
    decided.sort(key=lambda d: order[d[0].relative])
    for file, etag, rule in decided:
        if etag is None:
            plan.uploads.append(file)
        else:
            plan.unchanged[file.relative] = etag
            plan.rules[rule] += 1
    if delete:
        wanted = {f.relative for f in files}
        plan.deletes = sorted(
            rel for rel in listing.objects if rel not in wanted and path_filter.selects(rel)
        )
    if listing.odd:
        plan.warnings.append(odd_keys_warning(listing, location, set(plan.deletes)))
    plan.hashed = hashes.hashed
    return plan


def odd_keys_warning(listing: Listing, location: S3Location, deletes: set[str]) -> str:
    """Names the keys under the prefix that no local file can have, and what the
    sync does with them: a delete sync deletes each by its exact key (it is under
    the prefix, whatever its ``..``); otherwise they are left alone. Either way none
    is compared with, or written to, a local path."""
    odd = listing.odd_keys(location)
    shown = ", ".join(odd[:10]) + (f" and {len(odd) - 10} more" if len(odd) > 10 else "")
    deleted = len(deletes & set(listing.odd))
    if deleted == len(odd):
        fate = "delete: true deletes them by their exact key"
    elif deleted:
        fate = f"delete: true deletes {deleted} by their exact key, the filters exclude the rest"
    else:
        fate = "left alone (delete: true would delete them by their exact key)"
    return (
        f"{len(odd)} key(s) under {location.url} that no file can have: {shown}; {fate}, "
        "never mapped to a local path"
    )


# ``max_delete``: the most a run may delete, a count or a share of the objects there.
MAX_DELETE = OneOf(
    Scalar("integer", minimum=0),
    Percentage(),
    expected="a count like 100 or a percentage like '50%'",
)


def check_delete_limit(plan: SyncPlan, max_delete: int | str) -> None:
    """Refuse a plan that deletes more than ``max_delete`` (a count or ``"N%"`` of
    the objects now under the prefix)."""
    check_delete_count(len(plan.deletes), len(plan.listing.objects), plan.location, max_delete)


def check_delete_count(
    count: int, existing: int, location: S3Location, max_delete: int | str
) -> None:
    """The ``max_delete`` guard for ``count`` deletes among ``existing`` objects
    (``s3.sync`` and ``s3.restore`` share it)."""
    if not count:
        return
    if isinstance(max_delete, str) and max_delete.endswith("%"):
        allowed = float(max_delete[:-1]) / 100 * existing
        share = 100 * count / existing
        if count > allowed:
            raise StepFailed(
                f"refusing to delete {count} of {existing} objects under {location.url} "
                f"({share:.0f}%), more than max_delete {max_delete}; "
                f"set max_delete: {count} (or a higher percentage) if that is intended"
            )
        return
    if count > int(max_delete):
        raise StepFailed(
            f"refusing to delete {count} objects under {location.url}, more than "
            f"max_delete {max_delete}; set max_delete: {count} if that is intended"
        )
