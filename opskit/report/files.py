"""Write ``report.json``, ``report.md`` and ``junit.xml``; feed GitHub's step summary
(the file the caller names: the CLI passes ``$GITHUB_STEP_SUMMARY``; the library
never reads it from the environment).

A report folder may be shared (``/tmp``, a workspace another job writes): a
report file there that is a symlink out of the folder is refused before the run
(``check_report_dir``), and each file is written to a new file in the folder,
then renamed over its name, so a symlink planted meanwhile is replaced, never
written through. Text that is not valid Unicode (a lone surrogate, from a byte
decoded with ``surrogateescape``) is written as its ``\\udcff`` escape, which
``report.json`` reads back as the same string. The job summary stays under
``SUMMARY_LIMIT``, cut with a note that names ``report.json``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opskit.errors import InputError
from opskit.model import RunResult
from opskit.redact import Redactor

REPORT_FILES = ("report.json", "report.md", "junit.xml")
# GitHub rejects a step's summary over 1 MiB whole ("$GITHUB_STEP_SUMMARY upload
# aborted, supports content up to a size of 1024k"); opskit keeps its own to
# 128 KiB (issue 21), in bytes of UTF-8, what was in the file before included.
SUMMARY_LIMIT = 128 * 1024
_UNENCODABLE = "backslashreplace"  # a lone surrogate → \udcff (a JSON escape too)


def check_report_dir(directory: Path | None) -> None:
    """Refuse a report folder whose report files are symlinks leading out of it
    (``report.md -> ~/.bashrc``): bad input, before anything runs."""
    if directory is None:
        return
    inside = directory.resolve()
    for name in REPORT_FILES:
        path = directory / name
        if path.is_symlink() and not path.resolve().is_relative_to(inside):
            raise InputError(
                f"a symlink to {path.resolve()}, outside the report folder; opskit does not "
                "write through it (remove it or choose another --report)",
                source=str(path),
            )


def redacted(result: RunResult, redactor: Redactor) -> RunResult:
    return RunResult.from_dict(redactor.value(result.as_dict()))


def write_reports(
    result: RunResult,
    directory: Path | None,
    redactor: Redactor,
    *,
    step_summary: Path | None = None,
) -> list[Path]:
    """Write the three files (when ``directory``) and append the Markdown to
    ``step_summary`` (when given)."""
    from opskit.report.junit import render_junit
    from opskit.report.markdown import render_markdown

    clean = redacted(result, redactor)
    return write_report_files(
        directory,
        clean.as_dict(),
        render_markdown(clean),
        lambda: render_junit(clean),
        step_summary=step_summary,
    )


def write_report_files(
    directory: Path | None,
    document: dict[str, Any],
    markdown: str,
    junit: Callable[[], str],
    *,
    step_summary: Path | None = None,
) -> list[Path]:
    """The three files of a report (one run or a fleet) when ``directory`` is given,
    and the Markdown appended to ``step_summary`` (GitHub's job summary)."""
    written: list[Path] = []
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        files = {
            "report.json": json.dumps(document, indent=2, default=str, ensure_ascii=False),
            "report.md": markdown,
            "junit.xml": junit(),
        }
        for name, text in files.items():
            written.append(_replace(directory / name, text + ("" if text.endswith("\n") else "\n")))
    if step_summary is not None:
        try:
            before = step_summary.stat().st_size
        except FileNotFoundError:
            before = 0
        whole = directory / "report.json" if directory is not None else None
        with open(step_summary, "a", encoding="utf-8", errors=_UNENCODABLE) as handle:
            handle.write(fit_summary(markdown + "\n", SUMMARY_LIMIT - before, whole))
        written.append(step_summary)
    return written


def _replace(path: Path, text: str) -> Path:
    """Write ``path`` as a new file renamed over it: whatever ``path`` is now (a
    symlink planted after ``check_report_dir``) is replaced, not written through.
    ``O_EXCL`` never follows a link; the mode is the umask's, as ``open`` gives."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(descriptor, "w", encoding="utf-8", errors=_UNENCODABLE) as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


_DIAGRAM_LEFT_OUT = "(The timeline is left out of this summary to keep it under its limit.)"


def without_diagrams(markdown: str) -> str:
    """``markdown`` with each ``mermaid`` block replaced by one line saying so: a
    diagram cut short would draw a wrong timeline or none."""
    lines: list[str] = []
    fence = ""  # the code block the line is in (a detail's fence may quote "```mermaid")
    diagram = False
    for line in markdown.splitlines():
        if diagram:
            diagram = line != "```"
            continue
        if not fence and line == "```mermaid":
            diagram = True
            lines.append(_DIAGRAM_LEFT_OUT)
            continue
        if line and set(line) == {"`"} and len(line) >= 3 and len(line) >= len(fence):
            fence = "" if fence else line
        lines.append(line)
    return "\n".join(lines) + ("\n" if markdown.endswith("\n") else "")


def fit_summary(markdown: str, budget: int, whole: Path | None) -> str:
    """``markdown`` whole when it fits in ``budget`` bytes of UTF-8; else without
    its timeline diagram when that fits; else its first lines (without the
    diagram), any code fence and ``<details>`` left open closed, and a note
    saying where the whole report is."""
    from opskit.report.mdtext import code

    if len(markdown.encode("utf-8", _UNENCODABLE)) <= budget:
        return markdown
    markdown = without_diagrams(markdown)  # a diagram is drawn whole or not at all
    if len(markdown.encode("utf-8", _UNENCODABLE)) <= budget:
        return markdown
    where = (
        f"The whole report: {code(whole)}."
        if whole is not None
        else "Run with `--report DIR` to keep the whole report."
    )
    note = (
        "\n**This summary is cut here** to stay under GitHub's job summary limit "
        f"({SUMMARY_LIMIT // 1024} KiB). {where}\n"
    )
    room = budget - len(note.encode("utf-8")) - 64  # the closing fence and </details>
    kept: list[str] = []
    fence = ""
    details = 0
    for line in markdown.splitlines():
        room -= len(line.encode("utf-8", _UNENCODABLE)) + 1
        if room < 0:
            break
        kept.append(line)
        if (
            line
            and set(line) == {"`"}
            and len(line) >= 3
            and (not fence or len(line) >= len(fence))
        ):
            fence = "" if fence else line
        elif not fence and line.startswith("<details"):
            details += 1
        elif not fence and line == "</details>":
            details -= 1
    closing = ([fence] if fence else []) + ["", "</details>"] * details
    return "\n".join(kept + closing) + "\n" + note
