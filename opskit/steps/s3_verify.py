"""``s3.verify``: prove a remote prefix holds a local tree, or its own manifest.

Read-only. With ``source``, every selected local file must be under the prefix
with equal content (the rules of ``opskit.s3.remote``; "cannot tell" is a
mismatch) and nothing else may be there. Without it, the prefix's manifest is
the reference: every listed file present with its size where a task reads it
(``opskit.s3.reads``: a staging key, a pinned version), its content vouched for
by the recorded ETag, a stored SHA-256, or a download and hash. ``contains``
and ``not_contains`` read those objects and look for text, as the incident's
operator did by hand; any other named object the listing does not show is
missing, unread.
"""

from __future__ import annotations

import base64
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from opskit.errors import InputError, StepFailed
from opskit.iam.needs import Need, Permissions
from opskit.iam.resources import S3Bucket, S3Objects
from opskit.manifest import MANIFEST_NAME, STAGING_DIR, Manifest, ManifestEntry, tree_digest
from opskit.s3.check import mismatched_keys
from opskit.s3.hash_cache import HashCache
from opskit.s3.local_tree import PathFilter
from opskit.s3.location import (
    S3Location,
    UnsafeKey,
    checked_destination,
    parse_s3_url,
)
from opskit.s3.plan import hash_files, scan_source
from opskit.s3.reads import Reads, task_reads
from opskit.s3.remote import Judge, Listing, RemoteObject, list_prefix, read_body, read_manifest
from opskit.steps.base import StepContext, StepResult, StepType, output, param


def _text_assertions(value: Any) -> dict[str, list[str]]:
    """``{key: [substring, ...]}``; a single string is a one-item list."""
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of key -> list of substrings")
    checked = {}
    for key, texts in value.items():
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ValueError(f"{key}: expected a string or a list of strings")
        checked[str(key)] = list(texts)
    return checked


@dataclass(frozen=True, kw_only=True)
class VerifyInputs:
    destination: str = param(
        "s3://bucket/prefix/ to check.", "string", required=True, check=checked_destination
    )
    source: str | None = param(
        "Local folder the prefix must hold; without it, the prefix's manifest is the reference.",
        "string",
    )
    exclude: list[str] = param(
        "gitignore-style globs left out of the comparison.", "string_list", default=[]
    )
    include: list[str] = param(
        "gitignore-style globs; when given, only these count.", "string_list", default=[]
    )
    follow_symlinks: bool = param("Follow symlinks inside the source.", "boolean", default=False)
    contains: dict[str, list[str]] = param(
        "{key: [text, ...]}: each object must contain each text.",
        "object",
        default={},
        check=_text_assertions,
    )
    not_contains: dict[str, list[str]] = param(
        "{key: [text, ...]}: no object may contain any text.",
        "object",
        default={},
        check=_text_assertions,
    )


@dataclass(frozen=True, kw_only=True)
class VerifyOutputs:
    mismatches: list[str] = output(
        "list of 'key: problem' lines (empty when the prefix matches)", "string_list"
    )
    checked: int = output("number of objects compared", "integer")
    digest: str = output("tree digest of the reference (local tree or manifest)", "string")


def run(ctx: StepContext, inputs: VerifyInputs) -> StepResult:
    location = parse_s3_url(inputs.destination)
    client = ctx.aws.client("s3")
    listing = list_prefix(client, location, ctx.aws.call)
    manifest, why = read_manifest(client, location, listing, ctx.aws.call)
    reads = task_reads(client, location, listing, manifest, ctx.aws.call)
    if inputs.source:
        if why:
            ctx.emit("warning", why)
        found = _against_source(
            ctx, inputs, inputs.source, client, location, listing, reads, manifest
        )
        reference = "the local tree"
    else:
        if manifest is None:
            raise StepFailed(
                why
                or f"no manifest {location.url}{MANIFEST_NAME}: sync with s3.sync first, "
                "or give source to compare with a local folder"
            )
        found = _against_manifest(ctx, client, location, listing, reads, manifest)
        reference = "its manifest"
    mismatches = found.mismatches + _text_checks(
        ctx, client, location, listing, reads, manifest, inputs
    )
    outputs = VerifyOutputs(mismatches=mismatches, checked=found.checked, digest=found.digest)
    if mismatches:
        count, shown = mismatched_keys(mismatches)
        raise StepFailed(
            f"{location.url} does not match {reference}: {count} key(s): {shown}",
            detail="\n".join(mismatches),
            outputs=outputs,
        )
    summary = (
        f"{location.url} matches {reference}: {found.checked} objects, digest {found.digest[:12]}…"
    )
    if manifest is not None and manifest.staged:
        summary += "; " + _unfinished_note(
            INTERIM, f"{manifest.staged} file(s) read from {STAGING_DIR}", found.pending
        )
    elif reads.drifted:
        summary += "; " + _unfinished_note(
            PINNED, f"{len(reads.drifted)} file(s) read from pinned versions", found.pending
        )
    ctx.emit("info", summary)
    return StepResult("ok", summary, outputs)


INTERIM = "interim: staged objects not yet in place; run the sync again"
PINNED = (
    "pinned: the current objects differ from the live release's pinned versions "
    "(a sync stopped before its manifest); run the sync again"
)


def _unfinished_note(state: str, reads: str, pending: list[str]) -> str:
    """What an unfinished sync means for the prefix: the release the live
    manifest names is intact, as tasks read it (from staging keys, or from the
    versions it pins), but the sync that was to replace it has not finished."""
    left = ""
    if pending:
        count, shown = mismatched_keys([f"{key}: not in the release" for key in pending])
        left = f", {count} key(s) not in the release: {shown}"
    return f"{state} ({reads}{left})"


@dataclass
class Found:
    """A comparison's verdict: the mismatches, how many files the reference has,
    its digest, and (an unfinished sync only) the keys outside the release that it
    has put or not deleted yet: named, not mismatches."""

    mismatches: list[str]
    checked: int
    digest: str
    pending: list[str] = field(default_factory=list)


def _stored(
    listing: Listing, reads: Reads, entry: ManifestEntry | None, relative: str
) -> RemoteObject | None:
    """The object a task reads for ``relative`` (``opskit.s3.reads``); a path
    the manifest does not list, at its key."""
    if entry is not None:
        return reads.objects.get(relative)
    return listing.objects.get(relative)


def _extras(
    listing: Listing, reads: Reads, wanted: set[str], manifest: Manifest | None, selects: Any
) -> tuple[list[str], list[str]]:
    """(mismatches, pending): keys under the prefix that are not ``wanted``. While
    a sync is unfinished (an interim manifest is live, or current objects differ
    from the versions the live manifest pins), a key the manifest does not list
    either is the old release's, which the sync deletes once its files are in
    place, or one the sync put before its manifest: pending."""
    unfinished = manifest is not None and (manifest.staged or reads.drifted)
    listed = set(manifest.by_path()) if manifest is not None and unfinished else None
    extra = [rel for rel in sorted(listing.objects) if rel not in wanted and selects(rel)]
    if listed is None:
        return extra, []
    return [rel for rel in extra if rel in listed], [rel for rel in extra if rel not in listed]


def _against_source(
    ctx: StepContext,
    inputs: VerifyInputs,
    source_path: str,
    client: Any,
    location: S3Location,
    listing: Listing,
    reads: Reads,
    manifest: Manifest | None,
) -> Found:
    source = ctx.resolve_path(source_path)
    path_filter = PathFilter(inputs.exclude, inputs.include)
    scan, warnings = scan_source(source, path_filter, inputs.follow_symlinks)
    for warning in warnings:
        ctx.emit("warning", warning)
    hashes = HashCache(source)
    sha256 = hash_files(scan.files, hashes, 4)
    hashes.save()
    entries = manifest.by_path() if manifest else {}
    judge = Judge(client, location, hashes, entries, call=ctx.aws.call)

    def compare(local: Any) -> str | None:
        entry = entries.get(local.relative)
        remote = _stored(listing, reads, entry, local.relative)
        where = reads.where(entry)
        if remote is None:
            return reads.missing(entry, local.relative)
        verdict = judge.same(local, sha256[local.relative], remote)
        if verdict.equal:
            return None
        if verdict.rule == "size":
            return f"{local.relative}: size {remote.size}, local {local.size}{where}"
        if verdict.rule == "unknown":
            return (
                f"{local.relative}: content cannot be confirmed "
                f"(no stored SHA-256, ETag not comparable){where}"
            )
        return f"{local.relative}: content differs ({verdict.rule}){where}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        mismatches = [m for m in pool.map(compare, scan.files) if m]
    wanted = {f.relative for f in scan.files}
    extra, pending = _extras(listing, reads, wanted, manifest, path_filter.selects)
    mismatches += [f"{rel}: present but not in the source" for rel in extra]
    digest = tree_digest(ManifestEntry(f.relative, f.size, sha256[f.relative]) for f in scan.files)
    return Found(mismatches, len(scan.files), digest, pending)


def _against_manifest(
    ctx: StepContext,
    client: Any,
    location: S3Location,
    listing: Listing,
    reads: Reads,
    manifest: Manifest,
) -> Found:
    def compare(entry: ManifestEntry) -> str | None:
        remote = _stored(listing, reads, entry, entry.path)
        where = reads.where(entry)
        if remote is None:
            return reads.missing(entry, entry.path)
        if remote.size != entry.size:
            return f"{entry.path}: size {remote.size}, manifest says {entry.size}{where}"
        if entry.etag and entry.etag == remote.etag:
            return None
        if _remote_sha256(ctx, client, location, remote) != entry.sha256:
            return f"{entry.path}: content differs from the manifest{where}"
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        mismatches = [m for m in pool.map(compare, manifest.files) if m]
    listed = {entry.path for entry in manifest.files}
    extra, pending = _extras(listing, reads, listed, manifest, lambda _: True)
    mismatches += [f"{rel}: present but not in the manifest" for rel in extra]
    return Found(mismatches, len(manifest.files), manifest.digest, pending)


def _remote_sha256(
    ctx: StepContext, client: Any, location: S3Location, remote: RemoteObject
) -> str:
    """The object's SHA-256: its stored full-object checksum when there is one,
    else downloaded and hashed (a composite checksum cannot be compared with the
    manifest's whole-file SHA-256)."""
    where = f"s3://{location.bucket}/{remote.key}{remote.url_suffix}"
    if "SHA256" in remote.checksum_algorithms and remote.parts == 0:
        with ctx.aws.call(f"s3 HeadObject {where}"):
            head = client.head_object(
                Bucket=location.bucket, **remote.request, ChecksumMode="ENABLED"
            )
        stored = head.get("ChecksumSHA256") or ""
        if stored and "-" not in stored:
            return base64.b64decode(stored).hex()
    with ctx.aws.call(f"s3 GetObject {where}"):
        response = client.get_object(Bucket=location.bucket, **remote.request)
        digest = hashlib.sha256()
        for chunk in response["Body"].iter_chunks(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _text_checks(
    ctx: StepContext,
    client: Any,
    location: S3Location,
    listing: Listing,
    reads: Reads,
    manifest: Manifest | None,
    inputs: VerifyInputs,
) -> list[str]:
    """Read the objects ``contains``/``not_contains`` name, as a task reads them: a
    file the manifest stores elsewhere (a staging key, a pinned version) from
    there; any other key only when the listing shows it: S3 answers a GET of a
    missing key with 403, not 404, to a caller who may list only under the prefix
    (what ``opskit iam`` prints), so a key the listing lacks is "missing" without a
    read (GetObject, "Permissions")."""
    contains, not_contains = inputs.contains, inputs.not_contains
    listed = {remote.key for remote in listing.objects.values()} | set(listing.reserved)
    if listing.manifest is not None:
        listed.add(listing.manifest.key)
    entries = manifest.by_path() if manifest is not None else {}
    mismatches = []
    for relative in sorted({*contains, *not_contains}):
        try:
            key = location.key_for(relative)
        except UnsafeKey as err:
            raise InputError(f"contains/not_contains key {relative!r}: {err}") from None
        entry = entries.get(relative)
        if entry is not None and (entry.key or entry.pinned):
            remote = reads.objects.get(relative)
        else:
            remote = RemoteObject(key, 0, "") if key in listed else None
        text = _read_text(ctx, client, location.bucket, remote) if remote is not None else None
        if text is None:  # not listed, or deleted since
            mismatches.append(f"{relative}: missing (needed by contains/not_contains)")
            continue
        mismatches += [
            f"{relative}: does not contain {t!r}"
            for t in contains.get(relative, [])
            if t not in text
        ]
        mismatches += [
            f"{relative}: contains {t!r}" for t in not_contains.get(relative, []) if t in text
        ]
    return mismatches


def _read_text(ctx: StepContext, client: Any, bucket: str, remote: RemoteObject) -> str | None:
    from botocore.exceptions import ClientError

    from opskit.aws import error_code

    try:
        body = read_body(client, bucket, remote.key, version_id=remote.version_id)
    except ClientError as err:
        if error_code(err) in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
            return None
        with ctx.aws.call(f"s3 GetObject s3://{bucket}/{remote.key}{remote.url_suffix}"):
            raise
    return body.decode("utf-8", errors="replace")


# HeadObject (an object's stored checksum) needs s3:GetObject, as GetObject does;
# either with a versionId needs s3:GetObjectVersion ("Actions, resources, and
# condition keys for Amazon S3"), and ListObjectVersions s3:ListBucketVersions.
PERMISSIONS = Permissions(
    Need("s3:ListBucket", S3Bucket(listing=True), "list the prefix"),
    Need(
        "s3:GetObject",
        S3Objects(),
        "read the manifest; HEAD or download objects to learn their SHA-256; "
        "read the listed objects contains/not_contains name",
    ),
    Need(
        "s3:ListBucketVersions",
        S3Bucket(listing=True),
        "find the object versions the manifest pins (a bucket with versioning)",
    ),
    Need(
        "s3:GetObjectVersion",
        S3Objects(),
        "HEAD or download a pinned version to learn its SHA-256; read the pinned "
        "version of a file contains/not_contains name",
    ),
)


STEP = StepType(
    name="s3.verify",
    summary="Check that s3://bucket/prefix/ matches a local folder or its manifest, "
    "and that named objects contain (or not) given text.",
    inputs=VerifyInputs,
    outputs=VerifyOutputs,
    run=run,
    read_only=True,
    permissions=PERMISSIONS,
)
