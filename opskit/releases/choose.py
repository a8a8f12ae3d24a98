"""Which release: ``last_good``, ``previous`` or a digest prefix, from the records.

``last_good`` is the newest record whose run passed. ``previous`` is the newest
release older than the live one (the current manifest's) with another digest:
"the one before this". A digest prefix must name one tree: several records of
the same digest are the same release (the newest is used); two digests are
ambiguous and listed. A record that cannot be read is never chosen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from opskit.errors import StepFailed
from opskit.manifest import Manifest
from opskit.releases.format import ReleaseRecord
from opskit.s3.location import S3Location
from opskit.s3.remote import list_prefix, read_manifest

KEYWORDS = ("last_good", "previous")
_PREFIX = re.compile(r"^[0-9a-f]{4,64}$")


def check_release(value: Any) -> str:
    """``Input.check`` for ``release``."""
    text = str(value).strip().lower()
    if text in KEYWORDS or _PREFIX.match(text):
        return text
    raise ValueError(
        f"release {value!r}: expected last_good, previous, or a digest prefix "
        "(4 to 64 hex characters, as `opskit releases` shows)"
    )


def live_manifest(client: Any, location: S3Location, call: Callable[[str], Any]) -> Manifest | None:
    """The current manifest (what the container runs on its next start)."""
    manifest, _ = read_manifest(client, location, list_prefix(client, location, call), call)
    return manifest


def describe(record: ReleaseRecord) -> str:
    return f"{record.digest[:12]} (synced {record.synced_at} by {record.who}, {record.status})"


def choose_release(
    records: Sequence[ReleaseRecord], which: str, live_digest: str | None, url: str
) -> ReleaseRecord:
    """The record ``which`` names; ``StepFailed`` says why none fits."""
    readable = [r for r in records if r.problem is None]
    if which == "last_good":
        found = next((r for r in readable if r.status == "passed"), None)
        if found is None:
            raise StepFailed(
                f"no release under {url} has passed yet ({len(readable)} recorded): "
                "there is no last good release to restore"
            )
        return found
    if which == "previous":
        live_at = next((i for i, r in enumerate(readable) if r.digest == live_digest), None)
        if live_at is None:
            raise StepFailed(
                f"the live release under {url} ({(live_digest or 'no manifest')[:12]}) is not "
                "among the recorded releases, so there is no 'previous' to it; name one by digest"
            )
        found = next((r for r in readable[live_at:] if r.digest != live_digest), None)
        if found is None:
            raise StepFailed(f"no release under {url} is older than the live one")
        return found
    matches: dict[str, ReleaseRecord] = {}
    for record in readable:  # newest first: the first record of a digest is its newest
        if record.digest.startswith(which):
            matches.setdefault(record.digest, record)
    if len(matches) > 1:
        candidates = "; ".join(describe(r) for r in matches.values())
        raise StepFailed(
            f"release {which!r} is ambiguous under {url}: {len(matches)} releases match: "
            f"{candidates}; give more digest characters"
        )
    if not matches:
        raise StepFailed(
            f"no release under {url} has a digest starting {which!r} "
            f"({len(readable)} recorded; see opskit releases)"
        )
    return next(iter(matches.values()))
