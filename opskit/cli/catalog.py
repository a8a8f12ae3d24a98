"""``opskit validate``, ``opskit steps`` and ``opskit schema``: what a playbook may say."""

from __future__ import annotations

import json
from pathlib import Path

import click

from opskit.cli.group import cli
from opskit.errors import OpskitError


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
        click.echo("  outputs:")
        for out in step_type.output_specs:
            click.echo(f"    {out.name:<{name_width}} {out.type:<{type_width}} {out.help}")
    return 0


@cli.command()
def schema() -> int:
    """Print the JSON Schema of the playbook format (for editors)."""
    from opskit.schema import playbook_schema

    click.echo(json.dumps(playbook_schema(), indent=2))
    return 0
