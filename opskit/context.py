"""The template contexts of a run and the variable precedence.

Precedence: playbook ``vars`` < target ``vars`` < ``--vars-file`` < ``-e k=v``.
Values from files and ``-e`` are taken literally; playbook and target vars may
be templates and may refer to each other (each rendered once, after the vars it
reads), so a target can set ``url: "{{ opskit.sandbox.app_url }}"``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from opskit import templating
from opskit.aws import AwsSettings
from opskit.errors import InputError
from opskit.playbook import AWS_KEYS, Playbook, Step, Target
from opskit.shapes import ShapeError
from opskit.version import __version__
from opskit.yamlload import load_yaml

STACK_DIR = Path(__file__).resolve().parent / "stack" / "src"


def parse_extra_vars(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"-e expects key=value, got {pair!r}")
        result[key.strip()] = value
    return result


def load_vars_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(
            f"cannot read vars file: {err.strerror or err}", source=str(path)
        ) from None
    data = load_yaml(raw, str(path)).data  # bytes: a file that is not UTF-8 names its line
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InputError("a vars file must be a mapping of names to values", source=str(path))
    return dict(data)


def base_context(
    playbook: Playbook,
    target: Target,
    *,
    run: Mapping[str, Any],
    sandbox: Mapping[str, Any] | None,
    region: str | None,
) -> dict[str, Any]:
    return {
        "vars": {},
        "steps": {},
        "target": {  # the runner sets region and profile again once the aws: block is rendered
            "name": target.name,
            "sandbox": target.sandbox,
            "region": region,
            "profile": None if templating.is_template(target.aws.profile) else target.aws.profile,
        },
        "env": dict(os.environ),
        "run": dict(run),
        "opskit": {
            "version": __version__,
            "stack_dir": str(STACK_DIR),
            "playbook_dir": str(playbook.path.resolve().parent),
            "sandbox": dict(sandbox or {}),
        },
    }


def resolve_vars(
    playbook: Playbook,
    target: Target,
    file_vars: Mapping[str, Any],
    cli_vars: Mapping[str, Any],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Merge the four layers and render the templated ones.

    Each templated var is rendered exactly once, after the vars it reads, and
    what it renders is final: text that arrives through ``-e``, a vars file,
    ``env`` or another var is inserted as data and never rendered again (issue
    21: ``-e 'x={{ env.GITHUB_TOKEN }}'`` must reach a URL as that text, not as
    the token). Rendering in repeated passes until nothing looks like a template
    would render such text on the next pass."""
    where: dict[str, tuple[Any, ...]] = {}
    merged: dict[str, Any] = {}
    for key, value in playbook.vars.items():
        merged[key], where[key] = value, ("vars", key)
    for key, value in target.vars.items():
        merged[key], where[key] = value, ("targets", target.name, "vars", key)
    literal = {**file_vars, **cli_vars}
    for key in literal:
        where.pop(key, None)
    merged.update(literal)

    templated = {k for k in where if templating.has_template(merged[k])}
    reads = {key: _vars_read(merged[key], templated - {key}) for key in templated}
    done: set[str] = set()

    def resolve(key: str, chain: tuple[str, ...]) -> None:
        if key in done:
            return
        if key in chain:
            circle = " -> ".join(f"vars.{k}" for k in (*chain[chain.index(key) :], key))
            raise playbook.error(where[key], f"refers to itself: {circle}")
        for name in sorted(reads[key]):
            resolve(name, (*chain, key))
        try:
            merged[key] = templating.render(merged[key], {**context, "vars": merged})
        except templating.TemplateProblem as err:
            raise playbook.error(where[key], str(err)) from None
        done.add(key)

    for key in sorted(templated):
        resolve(key, ())
    return merged


def _vars_read(value: Any, templated: set[str]) -> set[str]:
    """The templated vars that ``value``'s templates read; all of them when one
    reads ``vars`` as a whole or by a computed name (``vars[name]``)."""
    names: set[str] = set()
    for _, text in _templates(value, ()):
        for ref in templating.references(text):
            if ref.root != "vars":
                continue
            if ref.name is None:
                return set(templated)
            names.add(ref.name)
    return names & templated


def render_aws_settings(
    playbook: Playbook, target: Target, context: Mapping[str, Any]
) -> AwsSettings:
    """The target's ``aws:`` block with its templates rendered (once, when the run
    starts, with the run's vars): ``region: "{{ vars.region }}"`` lets ``-e
    region=...`` move a run. An empty value means "not set"; a value that is not a
    string after rendering, or an ``account_id`` that is not 12 digits, names its
    line."""
    rendered: dict[str, Any] = {}
    for spec in AWS_KEYS:
        raw = getattr(target.aws, spec.name)
        if not templating.is_template(raw):
            continue
        path = ("targets", target.name, "aws", spec.name)
        try:
            value = templating.render(raw, context)
            value = None if value in (None, "") else spec.coerce(value)
        except templating.TemplateProblem as err:
            raise playbook.error(path, str(err)) from None
        except ShapeError as err:
            raise playbook.error(path, f"{err.message} (after rendering)") from None
        rendered[spec.name] = value
    return dataclasses.replace(target.aws, **rendered)


def calls_aws(playbook: Playbook, selected: set[str] | None, context: Mapping[str, Any]) -> bool:
    """Whether a step the run may run calls AWS (so the run says whom it acts as):
    a selected step, or an ``on_failure`` step, whose type does, unless its
    ``when`` is already false (``verify.yaml``'s ``local`` target runs only HTTP
    checks and needs no credentials)."""
    steps = [s for s in playbook.steps if selected is None or s.id in selected]
    for step in (*steps, *playbook.on_failure):
        if step.type.uses_aws and may_run(step, context):
            return True
    return False


def may_run(step: Step, context: Mapping[str, Any]) -> bool:
    """Whether ``step`` may run, as far as is known before the run: its ``when`` is
    absent or true, or reads what only the run will know (earlier steps)."""
    if step.when is None:
        return True
    try:
        return templating.evaluate_condition(step.when, context)
    except templating.TemplateProblem:  # it reads earlier steps: it may run
        return True


def reads_steps(value: Any) -> bool:
    """Whether a template inside ``value`` reads ``steps`` (known only as the run goes)."""
    return _reads(value, "steps")


def vars_read_target(playbook: Playbook, target: Target, literal: Collection[str]) -> bool:
    """Whether a var that ``resolve_vars`` renders (a playbook or target var that no
    name in ``literal``, from ``--vars-file`` or ``-e``, replaces) reads ``target``:
    only then must the vars be rendered again once the session's region and
    profile are known."""
    layered = {**playbook.vars, **target.vars}
    return any(_reads(value, "target") for key, value in layered.items() if key not in literal)


def _reads(value: Any, root: str) -> bool:
    return any(
        ref.root == root for _, text in _templates(value, ()) for ref in templating.references(text)
    )


def check_var_references(
    playbook: Playbook, variables: Mapping[str, Any], context: Mapping[str, Any]
) -> None:
    """Fail before anything runs when a step reads a var that no layer defines.

    A step whose ``when`` is already false (it reads only vars, env, target)
    is left alone: ``when: vars.check_release`` guards exactly such vars.
    """
    with_vars = {**context, "vars": variables}
    for step in (*playbook.steps, *playbook.on_failure):
        if not may_run(step, with_vars):
            continue
        for path, text in _templates(step.with_, (*step.path, "with")):
            _check_text(playbook, path, text, variables)
        if isinstance(step.when, str):
            text = step.when if templating.is_template(step.when) else "{{ " + step.when + " }}"
            _check_text(playbook, (*step.path, "when"), text, variables)


def _check_text(playbook: Playbook, path: tuple[Any, ...], text: str, variables: Mapping) -> None:
    for ref in templating.references(text):
        if ref.root == "vars" and ref.name is not None and ref.name not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise playbook.error(
                path, f"undefined variable vars.{ref.name} (defined: {known}; set it with -e)"
            )


def _templates(value: Any, path: tuple[Any, ...]):
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _templates(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _templates(v, (*path, i))
    elif templating.is_template(value):
        yield path, value


def secret_values(names: tuple[str, ...], variables: Mapping[str, Any]) -> list[Any]:
    return [variables[name] for name in names if name in variables]
