"""Task definitions as code: a file in the repository is the revision to deploy.

``ecs.redeploy task_definition_file:`` reads a JSON or YAML file (``.j2`` at
the end: a Jinja template rendered with the playbook's context), checks it
against ECS's model (``taskfile_schema``), compares it with the service's
current revision (``taskfile_diff``), registers a new revision only when
something differs, and reads that revision back: a field ECS dropped or
changed (a peer's render action silently lost ``secrets``) fails the step
before the service is updated.

Line numbers of a template: errors in the template itself (an undefined var)
name the template's line. An error in the rendered document names the
template's line whose text is the rendered line's, or that holds its key, when
exactly one does; otherwise, when rendering changed the number of lines
(``{%- -%}`` eats newlines, a loop adds them), the rendered text's line, quoted.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.ecs.names import short_task_definition
from opskit.ecs.taskdef import (
    Changes,
    Undescribable,
    apply_changes,
    describe_task_definition,
    register_revision,
)
from opskit.ecs.taskfile_diff import diff_lines, mismatches, normalize
from opskit.ecs.taskfile_schema import register_shape, validate
from opskit.errors import InputError, StepFailed
from opskit.yamlload import load_yaml

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

_KEY = re.compile(r"""^-?\s*("[^"]+"|'[^']+'|[A-Za-z_][\w-]*)\s*:""")  # a line's key
SUFFIXES = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}
_SHOWN_PATHS = 6


@dataclass(frozen=True)
class TaskFile:
    """A rendered, checked task definition file: the RegisterTaskDefinition arguments."""

    source: str  # as the playbook names it
    args: dict[str, Any]

    @property
    def family(self) -> str:
        return str(self.args.get("family", "?"))

    def normalized(self, definition: dict[str, Any]) -> dict[str, Any]:
        """``definition`` normalized as this file compares (tags only if it has them)."""
        fields = tuple(register_shape().members)
        return normalize(definition, fields, tags="tags" in self.args)


def load_task_file(path: Path, source: str, render: Callable[[str, str], str]) -> TaskFile:
    """Read, render (``.j2``), parse and check the file; ``InputError`` with ``source:line``."""
    name = path.name.removesuffix(".j2")
    kind = SUFFIXES.get(Path(name).suffix.lower())
    if kind is None:
        raise InputError(
            f"task_definition_file: {source!r} is neither .json nor .yaml/.yml (.j2 may follow)"
        )
    try:
        template = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise InputError(f"task_definition_file: cannot read {source!r}: {reason}") from None
    templated = path.name.endswith(".j2")
    text = render(template, source) if templated else template
    try:
        args = _parse(text, kind, source)
    except InputError as err:
        if not templated or err.line is None:
            raise
        raise _rendered_error(err, text, template, source) from None
    return TaskFile(source, args)


def check_task_file(
    with_: Mapping[str, Any], base_dir: Path, render: Callable[[str, str], str]
) -> None:
    """A step's ``check_files``: the ``task_definition_file`` its inputs name, read,
    rendered and checked before the run changes anything (a templated path waits)."""
    name = with_.get("task_definition_file")
    if not isinstance(name, str) or not name or "{{" in name or "{%" in name:
        return
    path = Path(name).expanduser()
    load_task_file(path if path.is_absolute() else base_dir / path, name, render)


def _parse(text: str, kind: str, source: str) -> dict[str, Any]:
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON: {err.msg}", source=source, line=err.lineno) from None
        # JSON forbids raw tabs inside strings, so spaces keep every line and value.
        located = load_yaml(text.replace("\t", " "), source)
    else:
        located = load_yaml(text, source)
        data = located.data
    return validate(data, source, located.line)


def _rendered_error(err: InputError, text: str, template: str, source: str) -> InputError:
    """The error at the template's line: the one whose text is the rendered line's
    (stripped), or that holds its key (``"memoryReservaton"``), when exactly one
    does; else the rendered text's line, quoted."""
    rendered = text.splitlines()
    line = err.line or 0
    quoted = rendered[line - 1].strip() if 0 < line <= len(rendered) else ""
    found = _template_line(quoted, template.splitlines())
    if found is not None:
        return InputError(err.message, source=source, line=found)
    if len(rendered) == len(template.splitlines()):
        return err
    return InputError(
        f"{err.message} (line {line} of the rendered text, whose lines differ from the "
        f"template's: {quoted[:80]!r})",
        source=source,
        line=line,
    )


def _template_line(quoted: str, template: list[str]) -> int | None:
    if not quoted:
        return None
    same = [n for n, text in enumerate(template, 1) if text.strip() == quoted]
    if len(same) == 1:
        return same[0]
    key = _KEY.match(quoted)
    if key is None:
        return None
    holding = [n for n, text in enumerate(template, 1) if key.group(1) in text]
    if len(holding) == 1 and sum(t.count(key.group(1)) for t in template) == 1:
        return holding[0]
    return None


@dataclass(frozen=True)
class FilePlan:
    """The file against the service's current revision (for ``ecs.run_task``
    without a service, the family's newest ACTIVE one): what would be registered.

    ``existing`` is the family's newest ACTIVE revision when it already holds the
    file though ``current`` does not (an earlier step, ``ecs.run_task`` before
    ``ecs.redeploy``, registered it): that revision is used and nothing is
    registered, so two steps naming one file register one revision."""

    file: TaskFile
    current: dict[str, Any]
    diff: tuple[str, ...]
    changed: tuple[str, ...]  # the paths that differ
    existing: dict[str, Any] | None = None

    def __bool__(self) -> bool:
        """A new revision must be registered."""
        return bool(self.diff) and self.existing is None

    @property
    def current_name(self) -> str:
        return short_task_definition(self.current.get("taskDefinitionArn", "")) or "(none)"

    @property
    def chosen(self) -> dict[str, Any] | None:
        """The registered revision that holds the file; ``None`` until one is registered."""
        if self.existing is not None:
            return self.existing
        return None if self.diff else self.current

    def describe(self) -> str:
        return f"task_definition_file {self.file.source}: {self._changed_text()}"

    def _changed_text(self) -> str:
        shown = list(self.changed[:_SHOWN_PATHS])
        if len(self.changed) > _SHOWN_PATHS:
            shown.append(f"{len(self.changed) - _SHOWN_PATHS} more")
        return ", ".join(shown)

    def live_lines(self) -> list[str]:
        """What a run shows as it goes: what differs first, then the diff."""
        if not self.diff:
            return self.lines()
        headline = f"{self.file.source} differs from {self.current_name}: {self._changed_text()}"
        return [headline, *self.lines()]

    def lines(self) -> list[str]:
        """What the live view, the report and the dry run show."""
        if not self.diff:
            return [f"unchanged: {self.current_name} already holds {self.file.source}"]
        if self.existing is not None:
            name = short_task_definition(self.existing.get("taskDefinitionArn", ""))
            return [*self.diff, f"{name} already holds {self.file.source} (registered earlier)"]
        return list(self.diff)


def plan_file(
    task_file: TaskFile, current: dict[str, Any], newest: dict[str, Any] | None = None
) -> FilePlan:
    """Compare the file with ``current`` (the service's revision, described with
    tags); ``newest``, the family's newest ACTIVE revision, is used instead of a
    new one when it already holds the file."""
    before, after = task_file.normalized(current), task_file.normalized(task_file.args)
    names = (
        short_task_definition(current.get("taskDefinitionArn", "")) or "(none)",
        task_file.source,
    )
    changed = tuple(mismatches(before, after))
    diff = tuple(diff_lines(before, after, names))
    existing = None
    if (
        diff
        and newest is not None
        and newest.get("taskDefinitionArn") != current.get("taskDefinitionArn")
    ):
        existing = newest if task_file.normalized(newest) == after else None
    return FilePlan(task_file, current, diff, changed, existing)


def newest_active(aws: AwsAccess, family: str) -> dict[str, Any] | None:
    """The family's newest ACTIVE revision (DescribeTaskDefinition of the bare
    family); ``None`` when the family has none yet."""
    try:
        found = describe_task_definition(aws, family)
    except Undescribable:
        return None
    return found if str(found.get("status") or "ACTIVE") == "ACTIVE" else None


def plan_file_on(aws: AwsAccess, task_file: TaskFile, current: dict[str, Any] | None) -> FilePlan:
    """Read calls only: the file against ``current`` (``None``: the family's newest
    ACTIVE revision, for a task run without a service)."""
    newest = newest_active(aws, task_file.family)
    return plan_file(task_file, (newest or {}) if current is None else current, newest)


def revision_for(aws: AwsAccess, planned: FilePlan) -> dict[str, Any]:
    """The revision that holds the file: the one found, or a new one registered
    and read back (``register_checked``)."""
    return planned.chosen or register_checked(aws, planned)


def register_checked(aws: AwsAccess, planned: FilePlan) -> dict[str, Any]:
    """Register the file's revision and read it back: ``StepFailed`` naming each field
    ECS does not hold as asked (missing or changed; what ECS adds is its defaults)."""
    registered = register_revision(aws, copy.deepcopy(planned.file.args))  # ours to compare
    arn = registered.get("taskDefinitionArn", "")
    back = describe_task_definition(aws, arn)
    asked, got = planned.file.normalized(planned.file.args), planned.file.normalized(back)
    wrong = [m for m in mismatches(asked, got) if not m.endswith(" added")]
    if wrong:
        raise StepFailed(
            f"registered {short_task_definition(arn)} does not hold what "
            f"{planned.file.source} asked: {', '.join(wrong)}; the service was not updated",
            detail="\n".join(planned.diff),
        )
    return back


def register_planned(aws: AwsAccess, base: dict[str, Any], changes: Changes | FilePlan) -> Any:
    """The new revision ``ecs.redeploy`` deploys: from the file, or ``base`` with changes."""
    if isinstance(changes, FilePlan):
        return revision_for(aws, changes)
    return register_revision(aws, apply_changes(base, changes))
