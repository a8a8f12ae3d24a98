"""The playbook format: its schema as data, and the one loader.

``load_playbook`` reads a file, checks the whole document (unknown keys,
unknown step types, wrong types, missing inputs, duplicate ids, durations,
template syntax and names) and returns frozen dataclasses; the runner never
re-checks a dict. Every error says ``file:line: path: message``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit import steps as step_registry
from opskit import templating
from opskit.aws import AwsSettings
from opskit.errors import InputError
from opskit.inputs import Input, InvalidInput
from opskit.shapes import (
    Checked,
    Map,
    OneOf,
    Optional,
    Scalar,
    ShapeError,
    type_name,
    unknown_message,
)
from opskit.steps.base import StepType
from opskit.yamlload import Located, format_path, load_yaml

STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A target's name travels into $GITHUB_OUTPUT, CI job names, matrix entries, report
# file names and the -t option: plain ASCII only, never starting like an option or
# being a '.'/'..' path component.
TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

TOP_LEVEL = (
    Input("name", "string", "What the playbook does, shown in reports."),
    Input("description", "string", "A longer explanation for people reading the playbook."),
    Input("default_target", "string", "The target used when --target is not given."),
    Input("vars", "object", "Variables, overridden by the target's vars, --vars-file and -e."),
    Input("secrets", "string_list", "Names of vars whose values are redacted in all output."),
    Input("targets", "object", "Named environments (sandbox, production, ...)."),
    Input(
        "targets_from",
        "string",
        "A YAML file (relative to the playbook) whose `targets:` are added to these: "
        "a fleet of many services kept as data.",
    ),
    Input("steps", "list", "The steps, run in order.", required=True),
    Input("on_failure", "list", "Steps run after a failure or interrupt (diagnostics)."),
)
# ECS's deployment strategies a sandbox service can have (the sandbox plays each).
SANDBOX_STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")


def _strategy(value: str) -> str:
    if value not in SANDBOX_STRATEGIES:
        raise ValueError(f"expected one of {', '.join(SANDBOX_STRATEGIES)}, got {value!r}")
    return value


# ``sandbox:`` is false, true (one service) or {services: N, strategy: S} (a fleet
# on a laptop; a service on one of ECS's native strategies, with a test listener).
SANDBOX = OneOf(
    Scalar("boolean"),
    Map(
        Optional("services", Scalar("integer", minimum=1), "Services the sandbox hosts.", 1),
        Optional(
            "strategy",
            Checked(Scalar("string"), _strategy),
            "The services' deployment strategy: ROLLING, BLUE_GREEN, LINEAR or CANARY.",
            "ROLLING",
        ),
    ),
    expected="true, false or {services: N, strategy: S}",
)
TARGET_KEYS = (
    Input("description", "string", "What this target is."),
    Input(
        "sandbox",
        SANDBOX,
        "Run against the embedded local stack (moto + local ECS agent): true, or "
        "{services: N} for a sandbox that hosts N services (a fleet on a laptop), "
        "{strategy: BLUE_GREEN | LINEAR | CANARY} for services on ECS's native strategies.",
    ),
    Input("aws", "object", "AWS access: region, profile, endpoint_url, account_id."),
    Input("vars", "object", "Variables for this target."),
)


def _account_id(value: str) -> str:
    if not (len(value) == 12 and value.isascii() and value.isdigit()):
        raise ValueError(
            f"expected an AWS account id of 12 digits (quoted, so YAML keeps leading zeros), "
            f"got {value!r}"
        )
    return value


# Each may be a template (rendered once when the run starts, with vars, env, target
# and opskit); an empty value means "not set".
AWS_KEYS = (
    Input("region", "string", "AWS region, e.g. ap-northeast-1."),
    Input(
        "profile",
        "string",
        "Named profile of ~/.aws/config or ~/.aws/credentials, used wherever this machine "
        "has it (a warning names credentials the environment also names); where it has "
        "not, credentials the environment names serve instead (AWS_ACCESS_KEY_ID, "
        "AWS_WEB_IDENTITY_TOKEN_FILE, AWS_PROFILE, ...), with a warning.",
    ),
    Input("endpoint_url", "string", "Custom endpoint (e.g. a local emulator)."),
    Input(
        "account_id",
        "string",
        "The AWS account (12 digits) the credentials must be in; a run in another "
        "account stops before any step.",
        check=_account_id,
    ),
)
TARGETS_FILE = (
    Input("targets", "object", "Named environments, as under a playbook's targets.", required=True),
)
STEP_KEYS = (
    Input("id", "string", "Unique id; outputs are read as steps.ID.outputs.NAME.", required=True),
    Input("name", "string", "A human title for the step."),
    Input("uses", "string", "The step type, e.g. s3.sync.", required=True),
    Input("with", "object", "The step type's inputs."),
    Input("when", "any", "Run only when this expression is true."),
    Input("timeout", "duration", "Fail the step after this long, e.g. 90s, 10m."),
    Input("retries", "integer", "Retry a failed step this many times, with backoff."),
    Input("retry_delay", "duration", "Delay before the first retry (doubles each time)."),
    Input("continue_on_error", "boolean", "A failure of this step does not fail the run."),
)


@dataclass(frozen=True)
class Step:
    id: str
    uses: str
    type: StepType[Any]  # resolved once, by the loader
    with_: Mapping[str, Any]
    path: tuple[Any, ...]  # where it is in the document, for error lines
    name: str | None = None
    when: Any = None
    # As written: a template (``"{{ vars.to }}"``) is rendered and checked by
    # ``start.step_limits`` when the run starts.
    timeout: float | str | None = None
    retries: int | str = 0
    retry_delay: float | str = 1.0
    continue_on_error: bool = False

    @property
    def title(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class Target:
    name: str
    sandbox: bool = False
    sandbox_services: int = 1  # services the sandbox must host (sandbox: {services: N})
    sandbox_strategy: str = "ROLLING"  # their deployment strategy (sandbox: {strategy: S})
    aws: AwsSettings = field(default_factory=AwsSettings)
    vars: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Playbook:
    path: Path
    name: str
    description: str
    default_target: str | None
    vars: Mapping[str, Any]
    secrets: tuple[str, ...]
    targets: Mapping[str, Target]
    steps: tuple[Step, ...]
    on_failure: tuple[Step, ...]
    located: Located

    @property
    def source(self) -> str:
        return self.located.source

    def line(self, path: tuple[Any, ...]) -> int | None:
        return self.located.line(path)

    def error(self, path: tuple[Any, ...], message: str) -> InputError:
        prefix = f"{format_path(path)}: " if path else ""
        return InputError(prefix + message, source=self.source, line=self.line(path))

    def select_targets(self, patterns: Sequence[str]) -> list[Target]:
        """The targets named by ``patterns`` (names or globs such as ``prod-*``), in the
        order the patterns give them, each once. A pattern that matches nothing is
        bad input naming the targets the playbook has."""
        names = list(self.targets)
        chosen: dict[str, Target] = {}
        for pattern in patterns:
            matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
            if not matched:
                what = "no target matches" if set("*?[") & set(pattern) else "unknown target"
                raise InputError(
                    f"{what} {pattern!r}; this playbook has: {', '.join(names) or 'none'}",
                    source=self.source,
                )
            chosen.update((n, self.targets[n]) for n in matched)
        return list(chosen.values())

    def target(self, name: str | None) -> Target:
        name = name or self.default_target
        if not self.targets:
            if name and name != "default":
                raise InputError(f"unknown target {name!r}: the playbook defines no targets")
            return Target("default")
        if name is None:
            if len(self.targets) == 1:
                return next(iter(self.targets.values()))
            raise InputError(
                f"{self.source}: choose a target with --target ({', '.join(self.targets)})"
            )
        if name not in self.targets:
            raise InputError(
                f"unknown target {name!r}; this playbook has: {', '.join(self.targets)}"
            )
        return self.targets[name]


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_playbook(path: str | Path) -> Playbook:
    path = Path(path)
    source = display_path(path)
    try:
        data = path.read_bytes()  # decoded by the YAML loader, which names a bad byte's line
    except FileNotFoundError:
        raise InputError("no such file", source=source) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a playbook file", source=source) from None
    except OSError as err:
        raise InputError(f"cannot read: {err}", source=source) from None
    return parse_playbook(data, source, base=path)


def parse_playbook(text: str | bytes, source: str, base: Path | None = None) -> Playbook:
    located = load_yaml(text, source)
    return _Checker(located, base or Path(source)).playbook()


class _Checker:
    def __init__(self, located: Located, path: Path):
        self.located = located
        self.path = path

    def fail(self, path: tuple[Any, ...], message: str) -> InputError:
        prefix = f"{format_path(path)}: " if path else ""
        return InputError(
            prefix + message, source=self.located.source, line=self.located.line(path)
        )

    def mapping(self, value: Any, path: tuple[Any, ...], fields: tuple[Input, ...]) -> dict:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {type_name(value)}")
        known = {f.name: f for f in fields}
        for key in value:
            if key not in known:
                raise self.fail((*path, key), unknown_message("key", key, known))
        for f in fields:
            if f.required and f.name not in value:
                raise self.fail(path, f"missing required key {f.name!r}")
        checked = {}
        for key, raw in value.items():
            checked[key] = self.typed(raw, (*path, key), known[key])
        return checked

    def typed(self, raw: Any, path: tuple[Any, ...], spec: Input) -> Any:
        """The value checked against its declaration, an error naming the line of
        the nested key at fault. A value with templates inside is checked around
        them and kept as written: the runner checks it again after rendering."""
        self.templates(raw, path)
        try:
            if templating.has_template(raw):
                spec.coerce(raw, keep=templating.is_template)
                return raw
            return spec.coerce(raw)
        except ShapeError as err:
            raise self.fail((*path, *err.path), err.message) from None

    def templates(
        self, value: Any, path: tuple[Any, ...], step_ids: set[str] | None = None
    ) -> None:
        """Syntax and names of every template inside ``value``."""
        if isinstance(value, Mapping):
            for k, v in value.items():
                self.templates(v, (*path, k), step_ids)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.templates(v, (*path, i), step_ids)
        elif templating.is_template(value):
            try:
                refs = list(templating.references(value))
            except templating.TemplateProblem as err:
                raise self.fail(path, str(err)) from None
            for ref in refs:
                if ref.root not in templating.CONTEXTS and ref.root not in _JINJA_GLOBALS:
                    raise self.fail(
                        path,
                        f"unknown name {ref.root!r} in {value!r}; "
                        f"use one of: {', '.join(templating.CONTEXTS)}",
                    )
                unknown_step = ref.root == "steps" and ref.name not in (
                    step_ids if step_ids is not None else {ref.name}
                )
                if unknown_step and ref.name is not None:
                    raise self.fail(path, f"reads step {ref.name!r}, which is not an earlier step")

    def playbook(self) -> Playbook:
        data = self.located.data
        if data is None:
            raise InputError("playbook is empty", source=self.located.source, line=1)
        top = self.mapping(data, (), TOP_LEVEL)
        targets = {
            str(name): self.target(name, raw) for name, raw in (top.get("targets") or {}).items()
        }
        if top.get("targets_from"):
            for name, target in self.targets_from(str(top["targets_from"])).items():
                if name in targets:
                    raise self.fail(
                        ("targets_from",),
                        f"target {name!r} is defined both here and in {top['targets_from']}",
                    )
                targets[name] = target
        default_target = top.get("default_target")
        if default_target is not None and default_target not in targets:
            raise self.fail(
                ("default_target",), f"names no target; defined: {', '.join(targets) or 'none'}"
            )
        steps = self.step_list(top["steps"], ("steps",), set())
        if not steps:
            raise self.fail(("steps",), "a playbook needs at least one step")
        main_ids = {s.id for s in steps}
        on_failure = self.step_list(top.get("on_failure") or [], ("on_failure",), main_ids)
        return Playbook(
            path=self.path,
            name=str(top.get("name") or self.path.stem),
            description=str(top.get("description") or ""),
            default_target=default_target,
            vars=dict(top.get("vars") or {}),
            secrets=tuple(top.get("secrets") or ()),
            targets=targets,
            steps=tuple(steps),
            on_failure=tuple(on_failure),
            located=self.located,
        )

    def targets_from(self, relative: str) -> dict[str, Target]:
        """The targets of another file, each error naming that file and its line."""
        path = self.path.parent / relative
        source = display_path(path)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise self.fail(
                ("targets_from",), f"cannot read {relative}: {err.strerror or err}"
            ) from None
        other = _Checker(load_yaml(data, source), self.path)
        top = other.mapping(other.located.data or {}, (), TARGETS_FILE)
        return {str(name): other.target(name, raw) for name, raw in top["targets"].items()}

    def target(self, name: Any, raw: Any) -> Target:
        path = ("targets", name)
        plain = isinstance(name, str) or (isinstance(name, int) and not isinstance(name, bool))
        if not plain or not TARGET_NAME.fullmatch(str(name)):
            raise InputError(
                f"targets: target name {name!r}: use letters, digits, '.', '_' and '-', "
                "starting with a letter or digit (the name goes into $GITHUB_OUTPUT and CI "
                "job names)",
                source=self.located.source,
                line=self.located.line(path),
            )
        if raw is None:
            raw = {}
        checked = self.mapping(raw, path, TARGET_KEYS)
        aws = self.mapping(checked.get("aws") or {}, (*path, "aws"), AWS_KEYS)
        for key, value in aws.items():  # rendered when the run starts, before any step
            refs = templating.references(value) if templating.is_template(value) else ()
            if any(ref.root == "steps" for ref in refs):
                raise self.fail(
                    (*path, "aws", key),
                    "is rendered when the run starts, before any step: it cannot read steps",
                )
        sandbox = checked.get("sandbox", False)
        if templating.has_template(sandbox):  # a target is never rendered
            raise self.fail((*path, "sandbox"), f"expected {SANDBOX.expected}, not a template")
        return Target(
            name=str(name),
            sandbox=bool(sandbox),
            sandbox_services=sandbox["services"] if isinstance(sandbox, dict) else 1,
            sandbox_strategy=sandbox["strategy"] if isinstance(sandbox, dict) else "ROLLING",
            aws=AwsSettings(**{k: v for k, v in aws.items() if v != ""}),
            vars=dict(checked.get("vars") or {}),
            description=str(checked.get("description") or ""),
        )

    def step_list(self, raw: Any, path: tuple[Any, ...], earlier: set[str]) -> list[Step]:
        if not isinstance(raw, list):
            raise self.fail(path, f"expected a list of steps, got {type_name(raw)}")
        seen = set(earlier)
        result = []
        for index, item in enumerate(raw):
            step = self.step(item, (*path, index), seen)
            if step.id in seen:
                raise self.fail((*path, index, "id"), f"duplicate step id {step.id!r}")
            seen.add(step.id)
            result.append(step)
        return result

    def step(self, raw: Any, path: tuple[Any, ...], earlier: set[str]) -> Step:
        if not isinstance(raw, Mapping):
            raise self.fail(path, f"expected a step mapping, got {type_name(raw)}")
        checked = self.mapping(raw, path, STEP_KEYS)
        step_id = checked["id"]
        if not isinstance(step_id, str) or not STEP_ID.match(step_id):
            raise self.fail(
                (*path, "id"),
                f"step id {step_id!r} must be letters, digits and _ (it is used as steps.ID)",
            )
        uses = checked["uses"]
        step_type = step_registry.get(uses)
        if step_type is None:
            raise self.fail(
                (*path, "uses"), unknown_message("step type", uses, step_registry.names())
            )
        with_raw = checked.get("with") or {}
        if not isinstance(with_raw, Mapping):
            raise self.fail((*path, "with"), f"expected a mapping, got {type_name(with_raw)}")
        self.mapping(with_raw, (*path, "with"), step_type.specs)
        self.templates(with_raw, (*path, "with"), earlier)
        if not templating.has_template(dict(with_raw)):
            try:  # the rules between inputs too, when nothing is left to render
                step_type.coerce_inputs(with_raw)
            except InvalidInput as err:
                raise self.fail((*path, "with", err.name, *err.path), str(err)) from None
        if step_type.check_files is not None:  # a template's syntax only: no vars here
            with contextlib.suppress(templating.NotRenderedYet):
                step_type.check_files(with_raw, self.path.resolve().parent, _syntax_only)
        self.templates(checked.get("when"), (*path, "when"), earlier)
        if isinstance(checked.get("when"), str) and not templating.is_template(checked["when"]):
            try:
                templating.parse("{{ " + checked["when"] + " }}")
            except templating.TemplateProblem as err:
                raise self.fail((*path, "when"), str(err)) from None
        retries = checked.get("retries", 0)
        if isinstance(retries, int) and retries < 0:
            raise self.fail((*path, "retries"), "must be 0 or more")
        return Step(
            id=step_id,
            uses=uses,
            type=step_type,
            with_=dict(with_raw),  # as written: the runner renders it, then coerces it
            path=path,
            name=checked.get("name"),
            when=checked.get("when"),
            timeout=checked.get("timeout"),
            retries=retries,
            retry_delay=checked.get("retry_delay", 1.0),
            continue_on_error=checked.get("continue_on_error", False),
        )


def _syntax_only(text: str, source: str) -> str:
    """``render`` when loading a playbook: a file's template is parsed (a syntax
    error names its line) but not rendered, as the playbook's own templates."""
    if not templating.is_template(text):
        return text
    try:
        templating.render_text(text, _NO_CONTEXT)
    except templating.TemplateProblem as err:
        if "syntax error" in str(err):
            raise InputError(str(err), source=source, line=err.line) from None
    raise templating.NotRenderedYet(source)


_NO_CONTEXT: dict[str, Any] = {}
_JINJA_GLOBALS = {
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "true",
    "false",
    "none",
}
