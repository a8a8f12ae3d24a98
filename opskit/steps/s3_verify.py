"""``s3.verify``: prove a remote prefix holds a local tree, or its own manifest.

Read-only. With ``source``, every selected local file must be under the prefix
with equal content (the rules of ``opskit.s3.remote``; "cannot tell" is a
mismatch) and nothing else may be there. Without it, the prefix's manifest is
the reference: every listed file present with its size, and its content vouched
for by the recorded ETag, a stored SHA-256, or a download and hash. ``contains``
and ``not_contains`` read named objects and look for text, as the incident's
operator did by hand; a named object the prefix's listing does not show is
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
    check_relative_path,
    checked_destination,
    parse_s3_url,
)
from opskit.s3.plan import hash_files, scan_source
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
    if inputs.source:
        if why:
            ctx.emit("warning", why)
        found = _against_source(ctx, inputs, inputs.source, client, location, listing, manifest)
        reference = "the local tree"
    else:
        if manifest is None:
            raise StepFailed(
                why
                or f"no manifest {location.url}{MANIFEST_NAME}: sync with s3.sync first, "
                "or give source to compare with a local folder"
            )
        found = _against_manifest(ctx, client, location, listing, manifest)
        reference = "its manifest"
    mismatches = found.mismatches + _text_checks(ctx, client, location, listing, inputs)
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
        summary += "; " + _interim_note(manifest.staged, found.pending)
    ctx.emit("info", summary)
    return StepResult("ok", summary, outputs)


INTERIM = "interim: staged objects not yet in place; run the sync again"


def _interim_note(staged: int, pending: list[str]) -> str:
    """What an interim manifest means for the prefix: the release it names is
    live and intact, but the sync that wrote it has not finished."""
    left = ""
    if pending:
        count, shown = mismatched_keys([f"{key}: not in the release" for key in pending])
        left = f", {count} key(s) not in the release: {shown}"
    return f"{INTERIM} ({staged} file(s) read from {STAGING_DIR}{left})"


@dataclass
class Found:
    """A comparison's verdict: the mismatches, how many files the reference has,
    its digest, and (interim manifest only) the keys outside the release that the
    unfinished sync has not deleted yet: named, not mismatches."""

    mismatches: list[str]
    checked: int
    digest: str
    pending: list[str] = field(default_factory=list)


def _stored(listing: Listing, entry: ManifestEntry | None, relative: str) -> RemoteObject | None:
    """The object a task reads for ``relative``: the staging key an interim
    manifest names for it (``ManifestEntry.key``), else the key at its path, as
    the container's entrypoint reads it."""
    if entry is not None and entry.key:
        return listing.staged.get(entry.key)
    return listing.objects.get(relative)


def _where(entry: ManifestEntry | None) -> str:
    return f" (stored at {entry.key})" if entry is not None and entry.key else ""


def _extras(
    listing: Listing, wanted: set[str], manifest: Manifest | None, selects: Any
) -> tuple[list[str], list[str]]:
    """(mismatches, pending): keys under the prefix that are not ``wanted``. While
    an interim manifest is live, a key it does not list either is the old
    release's, which the sync deletes once its files are in place: pending."""
    interim = set(manifest.by_path()) if manifest is not None and manifest.staged else None
    extra = [rel for rel in sorted(listing.objects) if rel not in wanted and selects(rel)]
    if interim is None:
        return extra, []
    return [rel for rel in extra if rel in interim], [rel for rel in extra if rel not in interim]


def _against_source(
    ctx: StepContext,
    inputs: VerifyInputs,
    source_path: str,
    client: Any,
    location: S3Location,
    listing: Listing,
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
        remote = _stored(listing, entry, local.relative)
        if remote is None:
            return f"{local.relative}: missing{_where(entry)}"
        verdict = judge.same(local, sha256[local.relative], remote)
        if verdict.equal:
            return None
        if verdict.rule == "size":
            return f"{local.relative}: size {remote.size}, local {local.size}{_where(entry)}"
        if verdict.rule == "unknown":
            return (
                f"{local.relative}: content cannot be confirmed "
                f"(no stored SHA-256, ETag not comparable){_where(entry)}"
            )
        return f"{local.relative}: content differs ({verdict.rule}){_where(entry)}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        mismatches = [m for m in pool.map(compare, scan.files) if m]
    wanted = {f.relative for f in scan.files}
    extra, pending = _extras(listing, wanted, manifest, path_filter.selects)
    mismatches += [f"{rel}: present but not in the source" for rel in extra]
    digest = tree_digest(ManifestEntry(f.relative, f.size, sha256[f.relative]) for f in scan.files)
    return Found(mismatches, len(scan.files), digest, pending)


def _against_manifest(
    ctx: StepContext, client: Any, location: S3Location, listing: Listing, manifest: Manifest
) -> Found:
    def compare(entry: ManifestEntry) -> str | None:
        try:
            check_relative_path(entry.path)
        except UnsafeKey as err:
            return f"{entry.path}: {err}"
        remote = _stored(listing, entry, entry.path)
        if remote is None:
            return f"{entry.path}: missing{_where(entry)}"
        if remote.size != entry.size:
            return f"{entry.path}: size {remote.size}, manifest says {entry.size}{_where(entry)}"
        if entry.etag and entry.etag == remote.etag:
            return None
        if _remote_sha256(ctx, client, location, remote) != entry.sha256:
            return f"{entry.path}: content differs from the manifest{_where(entry)}"
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        mismatches = [m for m in pool.map(compare, manifest.files) if m]
    listed = {entry.path for entry in manifest.files}
    extra, pending = _extras(listing, listed, manifest, lambda _: True)
    mismatches += [f"{rel}: present but not in the manifest" for rel in extra]
    return Found(mismatches, len(manifest.files), manifest.digest, pending)


def _remote_sha256(
    ctx: StepContext, client: Any, location: S3Location, remote: RemoteObject
) -> str:
    """The object's SHA-256: its stored full-object checksum when there is one,
    else downloaded and hashed (a composite checksum cannot be compared with the
    manifest's whole-file SHA-256)."""
    where = f"s3://{location.bucket}/{remote.key}"
    if "SHA256" in remote.checksum_algorithms and remote.parts == 0:
        with ctx.aws.call(f"s3 HeadObject {where}"):
            head = client.head_object(
                Bucket=location.bucket, Key=remote.key, ChecksumMode="ENABLED"
            )
        stored = head.get("ChecksumSHA256") or ""
        if stored and "-" not in stored:
            return base64.b64decode(stored).hex()
    with ctx.aws.call(f"s3 GetObject {where}"):
        response = client.get_object(Bucket=location.bucket, Key=remote.key)
        digest = hashlib.sha256()
        for chunk in response["Body"].iter_chunks(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _text_checks(
    ctx: StepContext, client: Any, location: S3Location, listing: Listing, inputs: VerifyInputs
) -> list[str]:
    """Read the objects ``contains``/``not_contains`` name, but only those the
    listing shows: S3 answers a GET of a missing key with 403, not 404, to a caller
    who may list only under the prefix (what ``opskit iam`` prints), so a key the
    listing lacks is "missing" without a read (GetObject, "Permissions")."""
    contains, not_contains = inputs.contains, inputs.not_contains
    listed = {remote.key for remote in listing.objects.values()} | set(listing.reserved)
    if listing.manifest is not None:
        listed.add(listing.manifest.key)
    mismatches = []
    for relative in sorted({*contains, *not_contains}):
        try:
            key = location.key_for(relative)
        except UnsafeKey as err:
            raise InputError(f"contains/not_contains key {relative!r}: {err}") from None
        text = _read_text(ctx, client, location.bucket, key) if key in listed else None
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


def _read_text(ctx: StepContext, client: Any, bucket: str, key: str) -> str | None:
    from botocore.exceptions import ClientError

    from opskit.aws import error_code

    try:
        body = read_body(client, bucket, key)
    except ClientError as err:
        if error_code(err) in ("NoSuchKey", "404", "NotFound"):
            return None
        with ctx.aws.call(f"s3 GetObject s3://{bucket}/{key}"):
            raise
    return body.decode("utf-8", errors="replace")


# HeadObject (an object's stored checksum) needs s3:GetObject, as GetObject does.
PERMISSIONS = Permissions(
    Need("s3:ListBucket", S3Bucket(listing=True), "list the prefix"),
    Need(
        "s3:GetObject",
        S3Objects(),
        "read the manifest; HEAD or download objects to learn their SHA-256; "
        "read the listed objects contains/not_contains name",
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
