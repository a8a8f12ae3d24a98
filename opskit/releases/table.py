"""The release history as a person reads it (``opskit releases``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opskit.manifest import STAGING_DIR
from opskit.outside import printable
from opskit.s3.transfer import format_bytes

_HEADER = ("SYNCED (UTC)", "DIGEST", "FILES", "SIZE", "VERDICT", "DEPLOYMENT", "WHO", "")


def release_lines(
    releases: Sequence[Mapping[str, Any]], url: str, *, live_staged: int = 0
) -> list[str]:
    """Newest first, one line each; the live release (the current manifest's) is
    marked ``<- live``; a record this opskit cannot read or refuses says why; an
    interim live manifest (``live_staged`` files read from staging) is said last."""
    interim = (
        [
            f"the live manifest is interim: it reads {live_staged} file(s) from "
            f"{STAGING_DIR} (a sync stopped before moving them into place); run the sync "
            "again to finish"
        ]
        if live_staged
        else []
    )
    if not releases:
        return [
            f"no release recorded under {url} yet (each verified s3.sync records one)",
            *interim,
        ]
    rows = [_HEADER]
    notes = []
    for release in releases:
        if release.get("problem"):
            why = release["problem"]
            notes.append(printable(f"{release['name']}: refused, never restored: {why}"))
            continue
        rows.append(
            (
                str(release["synced_at"]).replace("T", " ").rstrip("Z"),
                str(release["digest"])[:12],
                str(release["files"]),
                format_bytes(int(release["bytes"])),
                printable(release["verdict"]),
                printable(release.get("deployment_id") or "-"),
                printable(release["who"]),  # a record's text: one line, never a command
                "<- live" if release.get("live") else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return [f"releases under {url} (newest first):", *lines, *notes, *interim]
