"""Nothing installs a package opskit does not own.

`opskit` on the package index is an unrelated project ("Cross-platform
diagnostics", with its own `opskit` command); a job that ran `pip install
opskit` would run its code with the job's AWS credentials. opskit's
distribution is `opskit-release` (setup.cfg).
"""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

from opskit.version import __version__

ROOT = Path(__file__).resolve().parent.parent
OLD_NAME = "opskit"
# The commands that put a distribution named on their command line into an environment.
_INSTALL = re.compile(r"\b(?:pip3?|uv pip|pipx|python3? -m pip)\s+install\b(?P<args>[^\n]*)")
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)(?:\[[^\]]*\])?(?P<spec>[=<>~!].*)?$")
_FENCE = re.compile(r"^(```|~~~)")
# Where one command ends and the next (not an install) begins.
_SHELL_OPERATORS = {"&&", "||", ";", "|", "&", "#"}


def distribution_name() -> str:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config["metadata"]["name"]


def command_texts() -> list[tuple[str, str]]:
    """Every place a command line is written: fenced blocks of the Markdown docs,
    and the whole of every workflow, action, shell and CI file."""
    texts: list[tuple[str, str]] = []
    for path in sorted([ROOT / "README.md", *ROOT.glob("docs/**/*.md")]):
        inside = False
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _FENCE.match(line.strip()):
                inside = not inside
            elif inside:
                texts.append((f"{path.relative_to(ROOT)}:{number}", line))
    candidates = [
        ROOT / "action.yml",
        *ROOT.glob(".ci/*"),
        *ROOT.glob(".github/**/*.y*ml"),
        *ROOT.glob("playbooks/**/*.y*ml"),
        *ROOT.glob("benchmarks/**/*.sh"),
    ]
    for path in sorted(p for p in candidates if p.is_file()):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            texts.append((f"{path.relative_to(ROOT)}:{number}", line))
    return texts


def installed_names(line: str) -> list[tuple[str, str]]:
    """The (name, version spec) of each requirement an install command names."""
    found = []
    for match in _INSTALL.finditer(line):
        lexer = shlex.shlex(match["args"], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            words = list(lexer)
        except ValueError:
            words = match["args"].split()
        for word in words:
            if word in _SHELL_OPERATORS:
                break
            if word.startswith("-") or "/" in word or word.startswith((".", "$")):
                continue
            requirement = _REQUIREMENT.match(word)
            if requirement:
                found.append((requirement["name"].lower(), requirement["spec"] or ""))
    return found


def test_the_distribution_is_not_the_index_name_somebody_else_owns():
    assert distribution_name() == "opskit-release"


def test_no_doc_workflow_or_ci_line_installs_the_old_name():
    offenders = [
        f"{where}: {line.strip()}"
        for where, line in command_texts()
        if any(name == OLD_NAME for name, _ in installed_names(line))
    ]
    assert offenders == []


def test_the_docs_install_the_new_name_pinned_to_this_version():
    """A job that holds AWS credentials installs the exact version it was tested with."""
    pins = [
        (where, spec)
        for where, line in command_texts()
        for name, spec in installed_names(line)
        if name == distribution_name()
    ]
    assert pins, "the CI docs show how to install opskit-release"
    assert {spec for _, spec in pins} == {f"=={__version__}"}, pins


def test_the_action_installs_its_checkout_or_a_version_of_the_new_name():
    script = (ROOT / "action.yml").read_text()
    specs = re.findall(r'^\s*spec="([^"]*)"$', script, flags=re.MULTILINE)
    assert specs == [
        f"{distribution_name()}${{extras}}==$INPUT_OPSKIT_VERSION",
        "$ACTION_PATH$extras",
    ]


def test_the_install_finder_sees_the_old_name_in_every_spelling():
    """The check above must be able to fail: each way of writing the old name is one."""
    for line in [
        "- run: pip install opskit",
        "pip install 'opskit[sandbox]'",
        "python -m pip install --quiet opskit==0.1.9",
        'pipx install "opskit>=0.1"',
        "uv pip install -U boto3 opskit",
        "pip install boto3 opskit && opskit run x.yaml",
    ]:
        assert OLD_NAME in {name for name, _ in installed_names(line)}, line
    assert installed_names("pip install ./path/to/opskit") == []
    assert installed_names("pip install -e '.[test]' && opskit run x.yaml") == []
