"""``opskit iam``: the least-privilege IAM policy a playbook needs on one target.

The context comes from the run's own start (``opskit.start.start_run``): the
same vars and precedence, the same rendered ``aws:`` block, and the region the
run would act in (the target's, else ``AWS_DEFAULT_REGION`` or the profile's,
as boto3 reads them; for a sandbox target, what the sandbox is before it starts).
Each step's inputs are rendered with it, then its type's declared permissions
(``StepType.permissions``) say which actions on which resources those inputs
switch on; the grants of every step, ``on_failure`` included, are merged into
one policy. Nothing is called on AWS; the account comes from ``target_account``.

What is not known before the run gets the narrowest honest wildcard, with a
note: an input that reads an earlier step's output renders with ``*`` in its
place (``s3://{{ steps.x.outputs.bucket }}/src/`` names ``s3://*/src/``), and a
resource that comes from the service's task definition (its roles, its log
groups) is named by the declaration's documented wildcard.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Undefined

from opskit import templating
from opskit.aws import AwsSettings
from opskit.context import may_run
from opskit.iam.needs import Grant
from opskit.iam.policy import policy_document
from opskit.iam.scope import UNKNOWN, Scope
from opskit.model import RunOptions
from opskit.playbook import Playbook, Step
from opskit.start import SandboxSide, known_sandbox, start_run
from opskit.steps.base import InvalidInput

__all__ = ["PlaybookPolicy", "playbook_policy", "target_account"]


@dataclass(frozen=True)
class PlaybookPolicy:
    """The policy document (``Version`` 2012-10-17) and the notes that say where it
    had to guess (printed on stderr by the CLI)."""

    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    target: str = ""


def target_account(settings: AwsSettings, otherwise: str = UNKNOWN) -> str:
    """The one place a target's AWS account is read: its (rendered) ``account_id:``
    when it has one, else ``otherwise``: the sandbox's account for a sandbox
    target, ``*`` for others (an ARN then matches the resource in any account)."""
    return settings.account_id or otherwise


class _AnyOutput(Mapping[str, Any]):
    """Every earlier step, every output: ``*`` (a template that reads one renders
    with a wildcard in its place). Only ever rendered through, never listed."""

    def __init__(self, leaf: Any):
        self._leaf = leaf

    def __getitem__(self, key: str) -> Any:
        return self._leaf

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


_UNKNOWN_STEPS = _AnyOutput({"status": UNKNOWN, "outputs": _AnyOutput(UNKNOWN)})


def _has_undefined(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_undefined(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_undefined(v) for v in value)
    return isinstance(value, Undefined)


@dataclass
class _Planner:
    playbook: Playbook
    context: dict[str, Any]
    scope: Scope
    notes: list[str] = field(default_factory=list)

    def grants(self, step: Step) -> list[Grant]:
        permissions = step.type.permissions
        if permissions is None:
            raise self.playbook.error(
                (*step.path, "uses"),
                f"step type {step.uses} does not declare the IAM permissions it needs",
            )
        if not may_run(step, self.context):
            self.notes.append(f"step {step.id}: skipped on this target (its when: is false)")
            return []
        inputs = self._inputs(step)
        values = {f.name: getattr(inputs, f.name) for f in dataclasses.fields(inputs)}
        self.notes += [f"step {step.id}: {text}" for text in permissions.remarks_for(values)]
        return permissions.grants(values, self.scope, step.id)

    def _inputs(self, step: Step) -> Any:
        rendered: dict[str, Any] = {}
        unknown: list[str] = []
        for name, raw in step.with_.items():
            try:
                rendered[name] = templating.render(raw, self.context)
            except templating.UndefinedStepOutput:
                guessed = self._with_wildcards(raw)
                if guessed is not None:
                    rendered[name] = guessed
                unknown.append(name)
            except templating.TemplateProblem as err:
                raise self.playbook.error((*step.path, "with", name), str(err)) from None
        while True:
            try:
                inputs = step.type.coerce_inputs(rendered)
                break
            except InvalidInput as err:
                if err.name in unknown and err.name in rendered:
                    del rendered[err.name]  # unusable with a wildcard: the default, if any
                    continue
                if err.name in unknown:
                    raise self.playbook.error(
                        (*step.path, "with", err.name),
                        "needs an earlier step's output that is unknown before the run, "
                        "so the permissions it needs cannot be told",
                    ) from None
                path = (*step.path, "with", err.name, *err.path)
                raise self.playbook.error(path, f"{err} (after rendering)") from None
        permissions = step.type.permissions
        named = permissions.input_names if permissions is not None else set()
        for name in (n for n in unknown if n in named):  # only inputs that name resources
            self.notes.append(
                f"step {step.id}: input {name} reads an earlier step's output, unknown "
                "before the run: "
                + ("rendered with * in its place" if name in rendered else "left at its default")
            )
        return inputs

    def _with_wildcards(self, raw: Any) -> Any:
        try:
            value = templating.render(raw, {**self.context, "steps": _UNKNOWN_STEPS})
        except templating.TemplateProblem:
            return None
        return None if _has_undefined(value) else value


def playbook_policy(playbook: Playbook, options: RunOptions) -> PlaybookPolicy:
    """The policy ``playbook`` needs on ``options.target`` with ``options``' vars
    (``-e``, ``--vars-file``). Raises ``InputError`` for bad input, with its line."""
    target = playbook.target(options.target)
    known = (
        known_sandbox(target.sandbox_services, target.sandbox_strategy) if target.sandbox else None
    )
    sandbox = None
    if known is not None:
        sandbox = SandboxSide(AwsSettings(region=str(known["region"])), known["template_context"])
    run = {"id": "opskit-iam", "started_at": time.time(), "dry_run": False}
    # The run's own start: the same vars, target.region and rendered aws: block.
    began = start_run(playbook, target, options, run=run, sandbox=sandbox)
    context = began.context
    region = context["target"]["region"]
    account = target_account(began.aws.settings, str(known["account"]) if known else UNKNOWN)
    notes: list[str] = []
    scope = Scope(
        region=region or UNKNOWN,
        account=account,
        partition=_partition(region),
        task_definitions=dict(known["task_definitions"]) if known else {},
    )
    planner = _Planner(playbook, context, scope, notes)
    grants = [g for step in (*playbook.steps, *playbook.on_failure) for g in planner.grants(step)]
    wildcards: dict[tuple[str, str], list[str]] = {}
    for grant in grants:
        if grant.resolved.note:
            wildcards.setdefault((grant.action, grant.resolved.note), []).append(grant.step)
    for (action, note), steps in wildcards.items():
        notes.append(f"{action} (step {', '.join(dict.fromkeys(steps))}): {note}")
    document = policy_document(grants)
    if not document["Statement"]:
        notes.append("no step of this playbook calls AWS on this target: it needs no permission")
    else:
        if region is None:
            notes.insert(
                0,
                f"target {target.name} has no region (aws.region, AWS_DEFAULT_REGION or its "
                "profile's): the ARNs use * for it",
            )
        if scope.account == UNKNOWN:
            notes.insert(0, f"target {target.name} names no account_id: the ARNs use * for it")
    return PlaybookPolicy(document, list(dict.fromkeys(notes)), target.name)


def _partition(region: str | None) -> str:
    """The ARN partition of a region ("ARN format", AWS General Reference)."""
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
