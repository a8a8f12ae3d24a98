"""Deleting keys: the one way opskit removes objects from S3.

``DeleteObjects`` answers 200 even when it refused some keys; the refusals are
in its ``Errors`` list (``Quiet`` leaves only those in the answer). So a delete
is done only when that list is read: callers get both what went and what S3
refused, and decide whether a refusal fails them (a sync's delete) or is
reported (pruning old release records).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opskit.errors import StepError
from opskit.s3.location import S3Location

BATCH = 1000  # DeleteObjects takes at most 1,000 keys a request


@dataclass
class Deleted:
    keys: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "key: Code Message"

    def raise_refused(self, location: S3Location) -> None:
        if self.refused:
            raise StepError(
                f"could not delete {len(self.refused)} object(s) under {location.url}: "
                + "; ".join(self.refused[:5])
            )


def delete_keys(
    client: Any,
    location: S3Location,
    keys: Sequence[str],
    call: Callable[[str], Any],
    *,
    versions: Mapping[str, str] | None = None,
) -> Deleted:
    """Delete ``keys`` (whole keys, each under ``location``'s prefix), 1,000 a request;
    with ``versions`` (key -> version id), those versions of them.

    A last guard: a key outside the prefix, or the prefix itself, is refused
    before any request."""
    for key in keys:
        if not key.startswith(location.prefix) or key == location.prefix:
            raise StepError(f"refusing to delete {key!r}: not under {location.url}")
    done = Deleted()
    for start in range(0, len(keys), BATCH):
        batch = list(keys[start : start + BATCH])
        with call(f"s3 DeleteObjects {location.url} ({len(batch)} keys)"):
            answer = client.delete_objects(
                Bucket=location.bucket,
                Delete={"Objects": [_entry(k, versions) for k in batch], "Quiet": True},
            )
        errors = answer.get("Errors", [])
        refused = {str(e.get("Key")) for e in errors}
        done.refused += [
            f"{e.get('Key')}: {e.get('Code')} {e.get('Message', '')}".rstrip() for e in errors
        ]
        done.keys += [k for k in batch if k not in refused]
    return done


def _entry(key: str, versions: Mapping[str, str] | None) -> dict[str, str]:
    version = (versions or {}).get(key)
    return {"Key": key, "VersionId": version} if version else {"Key": key}
