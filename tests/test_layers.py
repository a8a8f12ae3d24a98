"""The import rules of docs/architecture.md, checked: no module imports a layer above it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "opskit"

# Top-level name under opskit/ -> its layer (lower numbers sit higher in the stack).
LAYERS = {
    "cli": 0,
    "__main__": 0,
    "api": 1,
    "ci": 1,
    "runner": 2,
    "marks": 2,
    "asking": 2,
    "start": 2,
    "fleet": 2,
    "watchdog": 2,
    "playbook": 2,
    "templating": 2,
    "context": 2,
    "permissions": 2,
    "schema": 2,
    "yamlload": 5,  # only yaml and errors: the domain reads task definition files with it
    "report": 2,
    "steps": 3,
    "s3": 4,
    "ecs": 4,
    "logs": 4,
    "cloudwatch": 4,
    "streamlit": 4,
    "manifest": 4,
    "releases": 4,
    "iam": 4,
    "aws": 5,
    "credentials": 5,
    "clock": 5,
    "events": 5,
    "inputs": 5,
    "shapes": 5,
    "errors": 5,
    "durations": 5,
    "redact": 5,
    "outside": 5,
    "model": 5,
    "version": 5,
}
# Beside the stack: the sandbox may use the domain and base layers; only the
# run's start (for every run and fleet, and what opskit iam knows of it) and the
# CLI (opskit sandbox ...) may start it.
SANDBOX_USERS = {"cli", "start"}


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "opskit":  # from opskit import steps, __version__, ...
                found += [f"opskit.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.startswith("opskit.")]


def top(name: str) -> str:
    return name.split(".")[1]


def test_no_module_imports_a_layer_above_it() -> None:
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if (
            relative.parts[0] == "stack"
            or relative.name == "__init__.py"
            and len(relative.parts) == 1
        ):
            continue
        own = relative.parts[0].removesuffix(".py")
        for name in imported_modules(path):
            target = top(name)
            if target == own:
                continue
            if target == "sandbox":
                if own != "sandbox" and own not in SANDBOX_USERS:
                    violations.append(f"{relative} imports {name}")
                continue
            if own == "sandbox":
                if LAYERS[target] < LAYERS["steps"]:
                    violations.append(f"{relative} imports {name}")
                continue
            if LAYERS[target] < LAYERS[own]:
                violations.append(f"{relative} imports {name}")
    assert violations == []


def test_the_bundled_app_imports_nothing_from_opskit() -> None:
    app = PACKAGE / "stack" / "src"
    offenders = [str(p.relative_to(app)) for p in app.rglob("*.py") if imported_modules(p)]
    assert offenders == []


def test_every_top_level_module_has_a_layer() -> None:
    names = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if not p.name.startswith("_")}
    names -= {"stack", "sandbox", "py.typed"}
    names = {n for n in names if (PACKAGE / n).is_dir() or (PACKAGE / f"{n}.py").exists()}
    assert sorted(names - set(LAYERS)) == []
