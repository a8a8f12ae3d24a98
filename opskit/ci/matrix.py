"""``opskit matrix``: a fleet's targets as the job matrix a CI system fans out.

GitHub Actions reads ``{"include": [{"target": NAME}, ...]}`` through
``strategy.matrix: ${{ fromJSON(...) }}`` (one job per entry); GitLab's
``parallel:matrix`` takes ``[{"OPSKIT_TARGET": [NAME, ...]}]`` (one job per
value), which a generated child pipeline embeds as it is (JSON is YAML).
Targets come from the loaded playbook (inline or ``targets_from:``), in its
order; ``-t`` selects them by name or glob as ``opskit run -t`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from opskit.errors import InputError
from opskit.playbook import Playbook

MatrixFormat = Literal["github", "gitlab"]
GITLAB_VARIABLE = "OPSKIT_TARGET"
# GitHub: "A matrix will generate a maximum of 256 jobs per workflow run";
# GitLab: parallel:matrix "cannot create more than 200 jobs".
MAX_JOBS: dict[MatrixFormat, int] = {"github": 256, "gitlab": 200}


def select_targets(playbook: Playbook, patterns: Sequence[str] = ()) -> list[str]:
    """The names of the targets that ``patterns`` select, as ``opskit run -t``
    selects them (names or globs, in the patterns' order); every target, in the
    playbook's order, without a pattern. Selecting nothing is bad input."""
    if not playbook.targets:
        raise InputError("the playbook defines no targets", source=playbook.source)
    if not patterns:
        return list(playbook.targets)
    return [target.name for target in playbook.select_targets(patterns)]


def matrix(names: Sequence[str], form: MatrixFormat = "github") -> Any:
    if len(names) > MAX_JOBS[form]:
        raise InputError(
            f"{len(names)} targets: a {form} matrix runs at most {MAX_JOBS[form]} jobs; "
            "split them with -t"
        )
    if form == "gitlab":
        return [{GITLAB_VARIABLE: list(names)}]
    return {"include": [{"target": name} for name in names]}
