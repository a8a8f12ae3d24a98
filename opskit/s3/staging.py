"""Stage, then switch: a sync that stops halfway never breaks the live release.

The live manifest is what every task that starts reads (``opskit.manifest``). A
key it reads *unpinned* (no object version: a bucket without versioning, or a
manifest written before versioning was turned on) must not change until a new
manifest no longer reads it. So, for a sync whose uploads or deletes touch such
keys:

1. the new content of those keys is uploaded to staging keys,
   ``<prefix>.opskit/staging/<sync>/<path>`` (files the live manifest does not
   read, and keys it pins by version, are uploaded in place: nothing reads them);
2. an interim manifest of the new release is PUT, naming each staged file's
   ``key``: from this moment the new release is live, and every object it names
   is intact;
3. the staged objects are copied into place (``CopyObject`` with
   ``CopySourceIfMatch`` and an S3-computed SHA-256 that must be the planned one)
   and the keys the release does not have are deleted;
4. after verification, the final manifest (in-place keys) is PUT and the staging
   objects of earlier syncs are deleted (finished ones, and those cut off after
   step 2). This sync's stay for the next sync to sweep: a task that read the
   interim manifest a moment before step 4 may still be downloading them (and
   the entrypoint, finding a file gone, reads the manifest again).

At every moment the live manifest names intact objects: before step 2 the old
release's, which no write touched; after it the new one's. A sync cut off at
any step (a signal, a step ``timeout:``, a lost connection) leaves a prefix the
next sync finishes. With versioning on and a manifest that pins every version,
nothing needs staging: overwriting a key leaves the pinned version readable.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from opskit.clock import Deadline
from opskit.errors import Cancelled, StepError
from opskit.manifest import STAGING_DIR, Manifest, ManifestEntry
from opskit.s3 import digests
from opskit.s3.delete import Deleted, delete_keys
from opskit.s3.local_tree import LocalFile
from opskit.s3.location import S3Location
from opskit.s3.remote import object_version
from opskit.s3.transfer import Progress, Receipt

MAX_COPY_SIZE = 5 * 1024**3  # CopyObject's limit: a larger file is uploaded in place


def exposed_paths(live: Manifest | None) -> set[str]:
    """The paths whose own key the live manifest reads without a version pin: a
    write or delete there would change the live release."""
    if live is None:
        return set()
    return {entry.path for entry in live.files if entry.key is None and not entry.pinned}


def staging_location(location: S3Location, clock_time: float) -> S3Location:
    """This sync's staging folder under the prefix (time first: they list in order)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock_time))
    return S3Location(
        location.bucket, f"{location.prefix}{STAGING_DIR}{stamp}-{secrets.token_hex(4)}/"
    )


def split_uploads(
    uploads: Sequence[LocalFile], exposed: set[str]
) -> tuple[list[LocalFile], list[LocalFile]]:
    """(in place, staged): a file is staged when the live manifest reads its key."""
    staged = [f for f in uploads if f.relative in exposed and f.size <= MAX_COPY_SIZE]
    names = {f.relative for f in staged}
    return [f for f in uploads if f.relative not in names], staged


def interim_manifest(
    final: Manifest, staging: S3Location, location: S3Location, staged: dict[str, Receipt]
) -> Manifest:
    """The new release with each staged file read from its staging key (and version)."""
    entries = []
    for entry in final.files:
        receipt = staged.get(entry.path)
        if receipt is None:
            entries.append(entry)
            continue
        key = location.relative(staging.key_for(entry.path))
        entries.append(
            ManifestEntry(
                entry.path, entry.size, entry.sha256, receipt.etag, receipt.version_id, key
            )
        )
    return Manifest(entries, generator=final.generator, created_at=final.created_at)


@dataclass(frozen=True)
class Moved:
    """S3's answers to the copies into place (by relative path), and what failed."""

    receipts: dict[str, Receipt]
    problems: list[str]


def move_into_place(
    client: object,
    location: S3Location,
    staging: S3Location,
    files: Sequence[LocalFile],
    sha256: dict[str, str],
    staged: dict[str, Receipt],
    *,
    concurrency: int,
    cancel: threading.Event,
    deadline: Deadline | None = None,
) -> Moved:
    """Copy each staged object over its key; S3 computes the copy's SHA-256, which
    must be the planned one. Stops starting copies once ``cancel`` is set or the
    ``deadline`` passed."""
    from botocore.exceptions import BotoCoreError, ClientError

    from opskit.aws import describe_client_error

    receipts: dict[str, Receipt] = {}
    problems: list[str] = []
    lock = threading.Lock()

    def one(local: LocalFile) -> None:
        if cancel.is_set() or (deadline is not None and deadline.expired()):
            return
        source_key = staging.key_for(local.relative)
        key = location.key_for(local.relative)
        try:
            answer = client.copy_object(  # type: ignore[attr-defined]
                Bucket=location.bucket,
                Key=key,
                CopySource={"Bucket": location.bucket, "Key": source_key},
                CopySourceIfMatch=staged[local.relative].etag,
                MetadataDirective="COPY",
                ChecksumAlgorithm="SHA256",
            )
        except (ClientError, BotoCoreError) as err:
            problem = describe_client_error(err) if isinstance(err, ClientError) else str(err)
            with lock:
                problems.append(f"{local.relative}: {problem}")
            return
        result = answer.get("CopyObjectResult") or {}
        stored = result.get("ChecksumSHA256")
        with lock:
            if stored and stored != digests.b64(sha256[local.relative]):
                problems.append(f"{local.relative}: the copy's SHA-256 is not the planned one")
                return
            receipts[local.relative] = Receipt(
                key, result.get("ETag", ""), stored, object_version(answer)
            )

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(files)))) as pool:
        list(pool.map(one, files))
    return Moved(receipts, problems)


def staging_keys(location: S3Location, keys: Iterable[str]) -> list[str]:
    """The keys among ``keys`` that are staging objects under the prefix."""
    folder = location.prefix + STAGING_DIR
    return sorted({key for key in keys if key.startswith(folder)})


def remove_staging(
    client: object, location: S3Location, keys: Iterable[str], call: Callable[[str], object]
) -> Deleted:
    """Delete staging objects once no live manifest names them."""
    found = staging_keys(location, keys)
    return delete_keys(client, location, found, call) if found else Deleted()


@dataclass
class PrefixState:
    """What the prefix holds while a sync runs, for the message of a sync that
    stops: which release is live, whether its objects are intact, what to run."""

    location: S3Location
    live: Manifest | None
    uploads: int
    progress: Progress | None = None  # the uploads' (files done)
    staged: int = 0
    phase: str = "before"  # before the switch | "switched" | "done"

    def switched(self, interim: Manifest) -> None:
        self.live, self.phase = interim, "switched"

    def done(self, final: Manifest) -> None:
        self.live, self.phase = final, "done"

    @contextmanager
    def explaining_a_stop(self) -> Iterator[None]:
        """A sync that stops (a signal, its deadline, a lost connection) says what
        the prefix holds and what to run next."""
        try:
            yield
        except Cancelled as err:
            raise Cancelled(f"{err}; {self.describe()}") from None
        except StepError as err:  # it could not go on: where it stopped
            err.summary = f"{err.summary}; {self.describe()}"
            err.args = (err.summary,)
            raise

    def describe(self) -> str:
        url = self.location.url
        if self.phase == "done":
            return (
                f"the prefix holds release {self.live.digest[:12]}, live and in place"
                if (self.live)
                else f"the prefix {url} was synced"
            )
        if self.phase == "switched" and self.live is not None:
            return (
                f"release {self.live.digest[:12]} is live under {url} and intact: its "
                f"manifest reads {self.staged} file(s) from {STAGING_DIR} until they are "
                "in place; run the sync again to finish"
            )
        uploaded = self.progress.files_done if self.progress is not None else 0
        made = f"{uploaded} of {self.uploads} upload(s) done"
        if self.live is None:
            return f"{url} had no live release (no manifest); {made}; run the sync again"
        return (
            f"the live release {self.live.digest[:12]} under {url} is intact (no object "
            f"its manifest reads was changed); {made}; run the sync again to finish"
        )
