"""The run's start, one for ``opskit run`` and ``opskit iam``.

Before any step, a run knows: the sandbox (when the target is one), the
templates' context with the run's vars (playbook < target < ``--vars-file`` <
``-e``), the target's ``aws:`` block rendered with them, and the session those
settings make, whose region and profile templates then read as
``target.region`` and ``target.profile`` (the target's region, else
``AWS_REGION``, ``AWS_DEFAULT_REGION`` or the profile's, as the AWS CLI v2
reads them). ``start_run`` makes all of it; the runner goes on to check
the inputs (``check_inputs``), ask who the credentials are and hold them to the
target's account (``check_account``); ``opskit iam`` reads the same context and
settings and asks AWS nothing. One function, so the policy is always for the
run that would happen.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit import context as ctxmod
from opskit import templating
from opskit.aws import AwsAccess, AwsSettings
from opskit.errors import InputError, OpskitError, StepError
from opskit.events import EventBus
from opskit.model import Identity, RunOptions
from opskit.playbook import STEP_KEYS, Playbook, Step, Target
from opskit.redact import Redactor
from opskit.shapes import ShapeError
from opskit.steps.base import InvalidInput

__all__ = [
    "RunStart",
    "SandboxSide",
    "check_account",
    "check_inputs",
    "known_sandbox",
    "run_sandbox",
    "sandbox_side",
    "selected_steps",
    "start_run",
    "step_inputs",
    "step_limits",
]


@contextlib.contextmanager
def run_sandbox(
    bus: EventBus, options: RunOptions, services: int, strategy: str = "ROLLING"
) -> Iterator[tuple[Any, bool]]:
    """The engine's one way to the sandbox: ``(info, started)`` of the sandbox with
    at least ``services`` services that a run (or a fleet, for all its targets)
    uses; started here unless one is up, stopped when its last user ends."""
    from opskit import sandbox as sandbox_mod

    with sandbox_mod.sandbox_for_run(
        lambda message: bus.emit("info", message),
        app_port=options.sandbox_app_port,
        services=services,
        strategy=strategy,
    ) as found:
        yield found


def known_sandbox(services: int, strategy: str = "ROLLING") -> dict[str, Any]:
    """What a sandbox target is before a sandbox starts (its region, account, names
    and task definitions), without starting one: how ``opskit iam`` renders a
    sandbox target. See ``opskit.sandbox.known_before_start``."""
    from opskit import sandbox as sandbox_mod

    return sandbox_mod.known_before_start(services, strategy)


@dataclass(frozen=True)
class SandboxSide:
    """What the run's start takes from the sandbox: the AWS settings its runs use
    (region, endpoint, its own user's keys) and what templates read as
    ``opskit.sandbox``."""

    settings: AwsSettings
    details: Mapping[str, Any]


def sandbox_side(info: Any, started: bool) -> SandboxSide:
    """The side of a sandbox that is up (``info``: its ``SandboxInfo``); templates
    also read whether it was ``started_for_run``."""
    settings = AwsSettings(
        region=info.region,
        endpoint_url=info.endpoint_url,
        access_key_id=info.access_key_id,
        secret_access_key=info.secret_access_key,
    )
    return SandboxSide(settings, {**info.template_context(), "started_for_run": started})


@dataclass
class RunStart:
    """The templates' context (vars resolved, ``target.region`` and
    ``target.profile`` as the session has them) and the target's AWS access."""

    context: dict[str, Any]
    aws: AwsAccess


def start_run(
    playbook: Playbook,
    target: Target,
    options: RunOptions,
    *,
    run: Mapping[str, Any],
    sandbox: SandboxSide | None,
    redactor: Redactor | None = None,
) -> RunStart:
    """The context and AWS access a run on ``target`` starts with (``run``: what
    templates read as ``run``). A sandbox target's session is the sandbox's, held
    to the target's ``account_id`` like any other. ``redactor`` learns the
    playbook's secret values and the credentials as soon as they are known.
    Raises ``InputError`` naming the file and line."""
    if sandbox is not None:
        region = sandbox.settings.region
    else:
        region = None if templating.is_template(target.aws.region) else target.aws.region
    details = dict(sandbox.details) if sandbox is not None else None
    context = ctxmod.base_context(playbook, target, run=run, sandbox=details, region=region)
    file_vars: dict[str, Any] = {}
    for path in options.vars_files:
        file_vars.update(ctxmod.load_vars_file(Path(path)))

    def resolve_vars() -> None:
        variables = ctxmod.resolve_vars(playbook, target, file_vars, options.extra_vars, context)
        ctxmod.check_var_references(playbook, variables, context)
        if redactor is not None:
            redactor.add(ctxmod.secret_values(playbook.secrets, variables))
        context["vars"] = variables

    resolve_vars()
    settings = ctxmod.render_aws_settings(playbook, target, context)
    if sandbox is not None:
        settings = dataclasses.replace(sandbox.settings, account_id=settings.account_id)
    aws = AwsAccess(target.name, settings)
    # The session's own region and profile; the rendered ones when it cannot be
    # made (a profile this machine lacks): a run that calls no AWS needs none.
    acting = {**context["target"], "region": settings.region, "profile": settings.profile}
    with contextlib.suppress(OpskitError):
        acting.update(region=aws.region, profile=aws.profile)
    if acting != context["target"]:
        context["target"] = acting
        if ctxmod.vars_read_target(playbook, target, {*file_vars, *options.extra_vars}):
            resolve_vars()  # rendered again with the session's region and profile
        else:  # the vars stand; a step's when: may read target
            ctxmod.check_var_references(playbook, context["vars"], context)
    if redactor is not None:
        with contextlib.suppress(Exception):
            redactor.add(aws.secret_values())
    return RunStart(context, aws)


def selected_steps(playbook: Playbook, options: RunOptions) -> set[str] | None:
    """The ids of the steps ``--from``/``--only`` select (``None``: all). A step
    they name that the playbook lacks is this run's bad input (``InputError``)."""
    ids = [s.id for s in playbook.steps]
    for name in [options.from_step, *options.only]:
        if name is not None and name not in ids:
            raise InputError(f"no step {name!r} in {playbook.source}; steps: {', '.join(ids)}")
    if options.only:
        return set(options.only)
    if options.from_step:
        return set(ids[ids.index(options.from_step) :])
    return None


def check_account(aws: AwsAccess, identity: Identity) -> None:
    """Refuse credentials of another account than the target declares
    (``account_id``), before any step. Raises ``StepError``: the run stops."""
    declared = aws.settings.account_id
    if declared and identity.account != declared:
        raise StepError(
            f"target {aws.target!r} declares account {declared}, but the "
            f"credentials are for account {identity.account} ({identity.arn}); "
            "nothing was changed"
        )


def check_inputs(
    playbook: Playbook, selected: set[str] | None, context: Mapping[str, Any], *, dry_run: bool
) -> None:
    """Bad input that the vars already show is found before AWS is asked anything:
    the inputs of each selected step that reads no earlier step and whose
    ``when`` is not false, rendered and checked as the step will get them.
    Raises ``InputError`` naming the file and line."""
    for step in playbook.steps:
        left_out = selected is not None and step.id not in selected
        if left_out or ctxmod.reads_steps(step.with_):
            continue
        if not ctxmod.may_run(step, context):
            continue
        with contextlib.suppress(templating.UndefinedStepOutput):  # let through by dry_run
            inputs = step_inputs(playbook, step, context, dry_run=dry_run)
            if step.type.check_files is not None:
                with contextlib.suppress(templating.NotRenderedYet):
                    base_dir = playbook.path.resolve().parent
                    step.type.check_files(
                        vars(inputs), base_dir, file_renderer(context, before_steps=True)
                    )
        if not ctxmod.reads_steps([step.timeout, step.retries, step.retry_delay]):
            step_limits(playbook, step, context, dry_run=dry_run)


def file_renderer(
    context: Mapping[str, Any], *, before_steps: bool = False
) -> Callable[[str, str], str]:
    """A file a step reads (a task definition template) rendered with the run's
    context (``StepContext.render``); errors name ``source:line``. ``before_steps``
    (the checks at the run's start): one that reads ``steps`` raises
    ``NotRenderedYet``, and its step renders it when the earlier outputs exist."""

    def render(text: str, source: str) -> str:
        with contextlib.suppress(templating.TemplateProblem):  # render_text names its line
            if before_steps and any(ref.root == "steps" for ref in templating.references(text)):
                raise templating.NotRenderedYet(source)
        try:
            return templating.render_text(text, context)
        except templating.TemplateProblem as err:
            raise InputError(str(err), source=source, line=err.line) from None

    return render


def step_inputs(
    playbook: Playbook, step: Step, context: Mapping[str, Any], *, dry_run: bool
) -> Any:
    """The step's typed inputs, rendered and coerced. Under ``dry_run`` an
    undefined earlier output is let through as ``UndefinedStepOutput``; any
    other problem is an ``InputError`` naming the input's line."""
    rendered: dict[str, Any] = {}
    for name, raw in step.with_.items():
        try:
            rendered[name] = templating.render(raw, context)
        except templating.TemplateProblem as err:
            if dry_run and isinstance(err, templating.UndefinedStepOutput):
                raise
            raise playbook.error((*step.path, "with", name), str(err)) from None
    try:
        return step.type.coerce_inputs(rendered)
    except InvalidInput as err:
        path = (*step.path, "with", err.name, *err.path)
        raise playbook.error(path, f"{err} (after rendering)") from None


@dataclass(frozen=True)
class StepLimits:
    """A step's ``timeout``, ``retries`` and ``retry_delay`` as the runner uses them."""

    timeout: float | None
    retries: int
    retry_delay: float


_LIMIT_KEYS = {
    spec.name: spec for spec in STEP_KEYS if spec.name in ("timeout", "retries", "retry_delay")
}


def step_limits(
    playbook: Playbook, step: Step, context: Mapping[str, Any], *, dry_run: bool
) -> StepLimits:
    """The step's limits, rendered and checked as the loader checks written ones:
    ``timeout: "{{ vars.to }}"`` is kept as written by the loader (the vars are
    known only when the run starts), so a bad value is an ``InputError`` naming
    the key's line here, never a crash in the middle of the run."""
    values: dict[str, Any] = {}
    for name, spec in _LIMIT_KEYS.items():
        raw = getattr(step, name)
        path = (*step.path, name)
        try:
            rendered = templating.render(raw, context)
        except templating.TemplateProblem as err:
            if dry_run and isinstance(err, templating.UndefinedStepOutput):
                raise
            raise playbook.error(path, str(err)) from None
        if rendered is None and name == "timeout":
            values[name] = None
            continue
        try:
            value = spec.coerce(rendered)
        except ShapeError as err:
            raise playbook.error(path, f"{err.message} (after rendering)") from None
        if name == "retries" and value < 0:
            raise playbook.error(path, f"must be 0 or more, got {value} (after rendering)")
        values[name] = value
    return StepLimits(**values)
