"""``opskit validate``, ``opskit steps``, ``opskit schema`` and ``opskit iam``: what a
playbook may say, and the IAM permissions it needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from opskit.cli.group import cli
from opskit.cli.run import target_and_vars, vars_file
from opskit.errors import OpskitError

if TYPE_CHECKING:
    from opskit.iam.needs import Permissions


@cli.command()
@click.argument("playbooks", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(playbooks: tuple[Path, ...]) -> int:
    """Check playbooks without running anything."""
    from opskit.playbook import load_playbook

    worst = 0
    for path in playbooks:
        try:
            loaded = load_playbook(path)
        except OpskitError as err:
            click.echo(f"{err}", err=True)
            worst = max(worst, err.exit_code)
            continue
        click.echo(
            f"{loaded.source}: ok ({len(loaded.steps)} steps"
            + (f", {len(loaded.on_failure)} on_failure" if loaded.on_failure else "")
            + (f"; targets: {', '.join(loaded.targets)}" if loaded.targets else "")
            + ")"
        )
    return worst


@cli.command(name="steps")
@click.argument("names", nargs=-1)
def steps_command(names: tuple[str, ...]) -> int:
    """List step types with their inputs and outputs."""
    from opskit import steps as registry

    wanted = list(names) or registry.names()
    for index, name in enumerate(wanted):
        step_type = registry.get(name)
        if step_type is None:
            raise click.UsageError(
                f"unknown step type {name!r}; known: {', '.join(registry.names())}"
            )
        if index:
            click.echo("")
        click.echo(click.style(step_type.name, bold=True) + f"  {step_type.summary}")
        rows = [(s.name, s.type_name) for s in step_type.specs]
        rows += [(o.name, o.type) for o in step_type.output_specs]
        name_width = max(18, *(len(n) for n, _ in rows))
        type_width = max(14, *(len(t) for _, t in rows))
        click.echo("  inputs:")
        for spec in step_type.specs:
            flags = (
                "required"
                if spec.required
                else (
                    f"default {json.dumps(spec.default)}"
                    if spec.default is not None
                    else "optional"
                )
            )
            choices = f" [{'|'.join(str(c) for c in spec.choices)}]" if spec.choices else ""
            click.echo(
                f"    {spec.name:<{name_width}} {spec.type_name:<{type_width}} "
                f"{flags}{choices}. {spec.help}"
            )
        _echo_permissions(step_type.permissions)
        click.echo("  outputs:")
        for out in step_type.output_specs:
            click.echo(f"    {out.name:<{name_width}} {out.type:<{type_width}} {out.help}")
    return 0


def _echo_permissions(permissions: Permissions | None) -> None:
    """The IAM actions of the step's code paths, when they apply (docs/iam.md)."""
    if permissions is None:
        click.echo("  permissions: not declared")
        return
    if not permissions.needs:
        click.echo("  permissions: none (it calls no AWS API)")
        return
    click.echo("  permissions (opskit iam, docs/iam.md):")
    width = max(len(need.action) for need in permissions.needs)
    for need in permissions.needs:
        when = f" [{need.when.text}]" if need.when.text else ""
        click.echo(f"    {need.action:<{width}}  {need.why}{when}")


@cli.command()
def schema() -> int:
    """Print the JSON Schema of the playbook format (for editors)."""
    from opskit.schema import playbook_schema

    click.echo(json.dumps(playbook_schema(), indent=2))
    return 0


@cli.command()
@click.argument("playbook", type=click.Path(path_type=Path))
@target_and_vars
@vars_file
def iam(
    playbook: Path, target: str | None, extra_vars: tuple[str, ...], vars_files: tuple[Path, ...]
) -> int:
    """Print the least-privilege IAM policy PLAYBOOK needs on a target (JSON on stdout;
    notes on stderr say where a resource had to be a wildcard). Calls nothing on AWS."""
    from opskit.api import iam_policy
    from opskit.context import parse_extra_vars
    from opskit.model import RunOptions

    options = RunOptions(
        target=target, extra_vars=parse_extra_vars(extra_vars), vars_files=vars_files
    )
    policy = iam_policy(playbook, options)
    click.echo(json.dumps(policy.document, indent=2))
    for note in policy.notes:
        click.echo(f"note: {note}", err=True)
    return 0
