"""Release history under a code prefix: records, verdicts, choosing one, restoring it.

Every ``s3.sync`` that verifies keeps its manifest as a release record in
``<prefix>.opskit/releases/<UTC time>-<digest 12>.json`` (the manifest plus a
``release`` section: who synced, where, the object versions); at the end of the
run the run's verdict is written on it. "The last release that passed" is then
a fact read from the bucket (``records``, ``choose``), which ``s3.restore``
puts back by server-side copies of the recorded versions (``restore``).
"""

from __future__ import annotations

from opskit.releases.format import RECORD_FORMAT, ReleaseRecord, Verdict
from opskit.releases.store import RELEASES_DIR, read_records, write_record

__all__ = [
    "RECORD_FORMAT",
    "RELEASES_DIR",
    "ReleaseRecord",
    "Verdict",
    "read_records",
    "write_record",
]
