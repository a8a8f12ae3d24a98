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

ROOT = Path(__file__).resolve().parent.parent
OLD_NAME = "opskit"
# Where the CI docs install opskit from: the same repository and ref as the action
# they use (`your-org/opskit@v1`), named as opskit-release (pip checks the name).
DIRECT_REFERENCE = "@ git+https://github.com/your-org/opskit@v1"
# The commands that put the distributions named on their command line into an
# environment (every requirement they name), and those that install one package
# to run it (`uvx NAME`, `pipx run NAME`: the first word, or `--from`/`--spec`'s).
_INSTALL_ALL = re.compile(
    r"\b(?:(?:pip3?|uv pip|uv tool|pipx|python3? -m pip)\s+install|(?:uv|poetry|pdm)\s+add)\b"
    r"(?P<args>[^\n]*)"
)
_INSTALL_ONE = re.compile(r"\b(?:uvx|uv tool run|pipx run)\b(?P<args>[^\n]*)")
_FROM = {"--from", "--spec", "--with"}
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)(?:\[[^\]]*\])?\s*(?P<spec>(?:[=<>~!@]).*)?$")
_FENCE = re.compile(r"^(```|~~~)")
# Where one command ends and the next (not an install) begins.
_SHELL_OPERATORS = {"&&", "||", ";", "|", "&", "#"}


def distribution_name() -> str:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config["metadata"]["name"]


def _lines(path: Path) -> list[tuple[int, str]]:
    """(number, line), a line ending in a backslash joined with the next."""
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if pending is not None:
            number, line = pending[0], pending[1] + " " + line.lstrip()
            pending = None
        if line.endswith("\\"):
            pending = (number, line[:-1])
        else:
            joined.append((number, line))
    return joined + ([pending] if pending else [])


def command_texts() -> list[tuple[str, str]]:
    """Every place a command line is written: fenced blocks of the Markdown docs,
    and the whole of every workflow, action, shell and CI file."""
    texts: list[tuple[str, str]] = []
    for path in sorted([ROOT / "README.md", *ROOT.glob("docs/**/*.md")]):
        inside = False
        for number, line in _lines(path):
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
        for number, line in _lines(path):
            texts.append((f"{path.relative_to(ROOT)}:{number}", line))
    return texts


def _words(args: str) -> list[str]:
    """The shell words of one command, up to the next command."""
    lexer = shlex.shlex(args, posix=True, punctuation_chars="&|;")
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        words = args.split()
    for index, word in enumerate(words):
        if word in _SHELL_OPERATORS or word.startswith("#"):
            return words[:index]
    return words


def _requirement(word: str) -> tuple[str, str] | None:
    if word.startswith(("-", ".", "$", "/")) or ("/" in word and "@" not in word):
        return None  # an option, a path or a URL: nothing from the index
    requirement = _REQUIREMENT.match(word)
    if requirement is None:
        return None
    return requirement["name"].lower(), (requirement["spec"] or "").strip()


def installed_names(line: str) -> list[tuple[str, str]]:
    """The (name, version spec or direct reference) of each requirement an
    install command names."""
    found = []
    for match in _INSTALL_ALL.finditer(line):
        found += [r for w in _words(match["args"]) if (r := _requirement(w))]
    for match in _INSTALL_ONE.finditer(line):
        words = _words(match["args"])
        chosen = [words[i + 1] for i, w in enumerate(words[:-1]) if w in _FROM]
        positional = [w for i, w in enumerate(words) if not w.startswith("-")
                      and (i == 0 or words[i - 1] not in _FROM)]  # fmt: skip
        chosen += positional[:1] if not any(w in ("--from", "--spec") for w in words) else []
        found += [r for w in chosen if (r := _requirement(w))]
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


def test_the_docs_install_the_new_name_from_the_actions_own_repository():
    """A job that holds AWS credentials installs opskit from where its action comes
    from; pip refuses the install if the project there is not named opskit-release."""
    pins = [
        (where, spec)
        for where, line in command_texts()
        for name, spec in installed_names(line)
        if name == distribution_name()
    ]
    assert pins, "the CI docs show how to install opskit-release"
    assert {spec for _, spec in pins} == {DIRECT_REFERENCE}, pins


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
        "uvx opskit run playbooks/redeploy.yaml",
        "pipx run opskit --version",
        "uv tool install opskit",
        "uv add opskit",
        "poetry add opskit@^0.1",
        "uvx --from opskit opskit run x.yaml",
        "pip install 'opskit @ git+https://github.com/somebody/opskit'",
    ]:
        assert OLD_NAME in {name for name, _ in installed_names(line)}, line


def test_the_install_finder_reads_a_command_continued_on_the_next_line(tmp_path: Path):
    script = tmp_path / "job.sh"
    script.write_text("python -m pip install --quiet \\\n    boto3 \\\n    opskit\n")
    ((_, line),) = _lines(script)
    assert OLD_NAME in {name for name, _ in installed_names(line)}


def test_the_install_finder_leaves_paths_and_the_new_name_alone():
    assert installed_names("pip install ./path/to/opskit") == []
    assert installed_names("pip install -e '.[test]' && opskit run x.yaml") == []
    assert installed_names("uvx --from opskit-release==0.1.0 opskit run x.yaml") == [
        ("opskit-release", "==0.1.0")
    ]
    assert installed_names(f"pip install 'opskit-release[sandbox] {DIRECT_REFERENCE}'") == [
        ("opskit-release", DIRECT_REFERENCE)
    ]
