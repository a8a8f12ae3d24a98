"""``junit.xml``: one testcase per step, so CI systems show a release as tests."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from opskit.model import RunResult, StepRecord

# XML 1.0 forbids most control characters (log lines carry ANSI escapes) and lone
# surrogates (a byte that was not UTF-8): shown escaped (\x1b, \udcff), as the
# terminal shows them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub(_escape, text or "")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def render_junit(result: RunResult) -> str:
    records = [*result.steps, *result.on_failure]
    suite_name = _clean(f"{result.name} [{result.target}]")
    failures = sum(1 for r in records if r.status == "failed" and _counts(r))
    errors = sum(1 for r in records if r.status == "error" and _counts(r))
    skipped = sum(1 for r in records if r.status == "skipped")
    suites = ET.Element(
        "testsuites",
        name="opskit",
        tests=str(len(records)),
        failures=str(failures),
        errors=str(errors),
        time=f"{result.duration:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=suite_name,
        tests=str(len(records)),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{result.duration:.3f}",
    )
    classname = _clean(f"opskit.{result.playbook}")
    for record in records:
        name = f"{record.id} ({record.uses})"
        if record.phase == "on_failure":
            name = f"on_failure: {name}"
        case = ET.SubElement(
            suite, "testcase", classname=classname, name=_clean(name), time=f"{record.duration:.3f}"
        )
        message = _clean(record.summary)
        out = [f"at the run's end, {n.kind}: {_clean(n.message)}" for n in record.finish_notes]
        if record.status in ("failed", "error") and _counts(record):
            element = ET.SubElement(
                case,
                "failure" if record.status == "failed" else "error",
                message=message,
                type=record.status,
            )
            element.text = _clean(record.detail or record.summary)
        elif record.status == "skipped":
            ET.SubElement(case, "skipped", message=message)
        else:
            out.insert(0, message)
        if out:  # what the step's finish said (after every step) goes with it
            ET.SubElement(case, "system-out").text = "\n".join(out)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def _counts(record: StepRecord) -> bool:
    """A ``continue_on_error`` failure is reported in the text, not as a failing test."""
    return not record.continue_on_error
