"""Where release records live: ``<prefix>.opskit/releases/<name>.json`` in the bucket.

Writing, listing, reading, the verdict, the ``last-good`` pointer and pruning;
the document itself is ``opskit.releases.format``'s. A record is written with
``If-None-Match: *``: two syncs in the same millisecond get two records, never
one overwriting the other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from opskit.manifest import RESERVED_DIR, Manifest
from opskit.releases.format import (
    Origin,
    ReleaseRecord,
    Verdict,
    parse_record,
    record_document,
    record_name,
    refuse_future,
    with_verdict,
)
from opskit.s3.delete import Deleted, delete_keys
from opskit.s3.location import S3Location
from opskit.s3.remote import object_version, read_body

RELEASES_DIR = RESERVED_DIR + "releases/"
# Names the newest record whose run passed: pruning never deletes it, so the
# last good release survives any number of failed syncs after it.
LAST_GOOD_NAME = RESERVED_DIR + "last-good.json"
_WRITE_ATTEMPTS = 20


def records_location(location: S3Location) -> S3Location:
    return S3Location(location.bucket, location.prefix + RELEASES_DIR)


@dataclass(frozen=True)
class WrittenRecord:
    key: str
    version_id: str | None  # the record's object version: S3 returns one only with versioning on


class _Taken(Exception):
    pass


def write_record(
    client: Any,
    location: S3Location,
    manifest: Manifest,
    *,
    origin: Origin,
    target: str,
    now: float,
    call: Callable[[str], Any],
) -> WrittenRecord:
    """Write a new record of ``manifest``; never overwrites one."""
    from botocore.exceptions import ClientError

    from opskit.aws import error_code

    where = records_location(location)
    for attempt in range(_WRITE_ATTEMPTS):
        name = record_name(now + attempt / 1000, manifest.digest)
        key = f"{where.prefix}{name}.json"
        body = record_document(manifest, name, origin=origin, target=target, now=now)
        try:
            with call(f"s3 PutObject s3://{location.bucket}/{key}"):
                try:
                    answer = client.put_object(
                        Bucket=location.bucket,
                        Key=key,
                        Body=body.encode("utf-8"),
                        ContentType="application/json",
                        ChecksumAlgorithm="SHA256",
                        IfNoneMatch="*",
                    )
                except ClientError as err:
                    if error_code(err) in ("PreconditionFailed", "ConditionalRequestConflict"):
                        raise _Taken() from None
                    raise
        except _Taken:
            continue  # another sync wrote a record with this name: take the next millisecond
        return WrittenRecord(key, object_version(answer))
    raise RuntimeError(f"no free release record name under s3://{location.bucket}/{where.prefix}")


def record_keys(location: S3Location, keys: Iterable[str]) -> list[str]:
    """Of ``keys`` (e.g. a listing's ``reserved`` keys), the records', oldest first."""
    where = records_location(location).prefix
    return sorted({k for k in keys if k.startswith(where) and k.endswith(".json")})


def list_record_keys(client: Any, location: S3Location, call: Callable[[str], Any]) -> list[str]:
    """Keys of the records under the prefix, oldest first (a listing of their own)."""
    where = records_location(location)
    keys: list[str] = []
    with call(f"s3 ListObjectsV2 {where.url}"):
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=location.bucket, Prefix=where.prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
    return record_keys(location, keys)


def read_records(
    client: Any,
    location: S3Location,
    call: Callable[[str], Any],
    *,
    now: float | None = None,
    workers: int = 8,
) -> list[ReleaseRecord]:
    """Every record under the prefix, newest first (one listing, one GET each).

    Anyone who may write the bucket may plant a record: one whose paths leave the
    prefix, or dated after ``now`` (the wall clock unless given) beyond the skew
    S3 allows, says why in ``problem``, so it is never chosen, restored or taken
    for the last good release."""
    keys = list_record_keys(client, location, call)
    checked_at = time.time() if now is None else now

    def read(key: str) -> ReleaseRecord:
        with call(f"s3 GetObject s3://{location.bucket}/{key}"):
            body = read_body(client, location.bucket, key)
        return refuse_future(parse_record(key, body), checked_at)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(keys) or 1))) as pool:
        records = list(pool.map(read, keys))
    return list(reversed(records))


def set_verdict(
    client: Any, bucket: str, key: str, verdict: Verdict, call: Callable[[str], Any]
) -> None:
    """Write ``verdict`` on the record at ``key`` (read, change, write back); a
    passed verdict also makes it the ``last-good`` record."""
    with call(f"s3 GetObject s3://{bucket}/{key}"):
        body = read_body(client, bucket, key)
    document = with_verdict(parse_record(key, body), verdict)
    with call(f"s3 PutObject s3://{bucket}/{key}"):
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=document.encode("utf-8"),
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
        )
    if verdict.status == "passed":
        pointer = key.split(RELEASES_DIR, 1)[0] + LAST_GOOD_NAME
        with call(f"s3 PutObject s3://{bucket}/{pointer}"):
            client.put_object(
                Bucket=bucket,
                Key=pointer,
                Body=(json.dumps({"record": key}) + "\n").encode("utf-8"),
                ContentType="application/json",
            )


def last_good_record(client: Any, location: S3Location, call: Callable[[str], Any]) -> str | None:
    """The key of the newest record whose run passed, as its verdict named it."""
    from botocore.exceptions import ClientError

    from opskit.aws import error_code

    key = location.prefix + LAST_GOOD_NAME
    with call(f"s3 GetObject s3://{location.bucket}/{key}"):
        try:
            body = read_body(client, location.bucket, key)
        except ClientError as err:  # no run has passed yet: nothing to protect
            if error_code(err) in ("NoSuchKey", "404"):
                return None
            raise
    try:
        record = json.loads(body).get("record")
    except (ValueError, AttributeError):
        return None
    if not isinstance(record, str) or record not in record_keys(location, [record]):
        return None  # a pointer elsewhere than to a record under this prefix protects nothing
    return record


def prune_records(
    client: Any, location: S3Location, keys: Iterable[str], keep: int, call: Callable[[str], Any]
) -> Deleted:
    """Delete the oldest records beyond the newest ``keep`` of ``keys`` (the keys
    under ``.opskit/`` the sync's own listing showed plus the record it wrote: no
    listing of their own). A record another sync writes meanwhile is counted by
    the next sync's pruning. The last good record is never deleted.

    ``last-good.json`` is read only when ``keys`` show it: under a policy that
    lets the caller list only the prefix (what ``opskit iam`` prints), S3 answers
    a GET of a missing key with 403, not 404, since the caller may not list the
    bucket at large, and no passing run would then be a denied sync."""
    keys = list(keys)
    known = record_keys(location, keys)
    old = known[: max(0, len(known) - keep)]
    if old and location.prefix + LAST_GOOD_NAME in keys:  # one GET, only when needed
        protected = last_good_record(client, location, call)
        old = [k for k in old if k != protected]
    return delete_keys(client, location, old, call)
