"""The release's timeline: ``report.md``'s Mermaid gantt and ``report.json``'s events.

Runs go through the real runner with the engine's test steps (``test.mark``
marks moments as a real step does); every emitted diagram is checked line by
line against ``tests.mermaid_gantt.gantt_line_ok`` (Mermaid's gantt grammar).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from opskit import RunOptions, RunResult, run_playbook
from opskit.clock import FakeClock
from opskit.events import EventBus
from opskit.model import FleetResult
from opskit.playbook import parse_playbook
from opskit.redact import Redactor
from opskit.report.files import fit_summary, write_reports
from opskit.report.fleet import render_fleet_markdown
from opskit.report.markdown import render_markdown
from opskit.report.merge import merge_reports
from opskit.report.timeline import MAX_MARKS, label
from tests.mermaid_gantt import diagrams, gantt_line_ok

pytestmark = pytest.mark.usefixtures("engine_steps")


def run(tmp_path: Path, steps: str, target: str = "local") -> RunResult:
    text = f"name: timeline\ntargets:\n  local: {{}}\n  other: {{}}\nsteps:\n{steps}"
    path = tmp_path / "playbook.yaml"
    path.write_text(text)
    options = RunOptions(clock=FakeClock(), target=target)
    return run_playbook(parse_playbook(text, str(path), path), options, bus=EventBus(Redactor()))


RELEASE = """\
  - id: sync
    uses: test.mark
    with: {marks: [["12 files uploaded", sync, 0.5]]}
  - id: deploy
    uses: test.mark
    with:
      took: 30
      marks:
        - ["deployment ecs-svc/1 created", deployment, 0.2]
        - ["new task 1a2b3c4d started", task_started, 5]
        - ["new task 1a2b3c4d seen healthy", task_healthy, 12]
        - ["old task 9f8e7d6c stopped", task_stopped, 25]
"""
FAILING_PROBE = """\
  - id: probe
    uses: test.mark
    with:
      fail: true
      marks: [["probe 503", probe, 0.5], ["probe error", probe, 0.8]]
  - id: after
    uses: test.mark
"""


def test_a_passing_runs_report_draws_each_step_and_moment_on_a_valid_gantt(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, RELEASE)

    markdown = render_markdown(result)
    assert "## Timeline" in markdown
    (lines,) = diagrams(markdown)
    start = 1_700_000_000_000  # FakeClock's epoch, in ms
    assert lines == [
        "gantt",
        "    dateFormat x",
        "    axisFormat %H:%M:%S",
        "    todayMarker off",
        "    section sync",
        f"    sync ok :done, {start}, 1000ms",
        f"    12 files uploaded :milestone, {start + 500}, 0ms",
        "    section deploy",
        f"    deploy ok :done, {start + 1000}, 30000ms",
        f"    deployment ecs-svc/1 created :milestone, {start + 1200}, 0ms",
        f"    new task 1a2b3c4d started :milestone, {start + 6000}, 0ms",
        f"    new task 1a2b3c4d seen healthy :milestone, {start + 13000}, 0ms",
        f"    old task 9f8e7d6c stopped :milestone, {start + 26000}, 0ms",
    ]
    assert "crit" not in markdown


def test_a_failing_run_marks_the_failure_where_it_happened_and_its_bar_is_crit(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, RELEASE + FAILING_PROBE)

    (lines,) = diagrams(render_markdown(result))
    end = 1_700_000_000_000 + 31_000 + 1_000  # the probe ran for 1 s after the deploy's 31 s
    assert "    probe failed :crit, 1700000031000, 1000ms" in lines
    assert f"    probe failed :crit, milestone, {end}, 0ms" in lines
    assert "    probe 503 :milestone, 1700000031500, 0ms" in lines
    assert "    probe error :milestone, 1700000031800, 0ms" in lines
    assert not any(line.startswith("    section after") for line in lines)  # never ran
    failures = [e for e in result.events if e["what"] == "failure"]
    assert failures == [
        {
            "at": "2023-11-14T22:13:52.000Z",
            "ts": end / 1000,
            "step": "probe",
            "what": "failure",
            "label": "probe failed",
        }
    ]


def test_a_step_that_marks_its_own_failure_is_drawn_there_and_not_again_at_its_end(
    tmp_path: Path,
) -> None:
    steps = """\
  - id: wait
    uses: test.mark
    with:
      fail: true
      took: 20
      marks: [["marker 1 matched", log_marker, 2], ["failure marker Traceback", failure, 7.25]]
"""
    result = run(tmp_path, steps)

    failures = [(e["label"], e["ts"]) for e in result.events if e["what"] == "failure"]
    assert failures == [("failure marker Traceback", 1_700_000_007.25)]
    (lines,) = diagrams(render_markdown(result))
    assert lines[-3:] == [
        "    wait failed :crit, 1700000000000, 20000ms",
        "    marker 1 matched :milestone, 1700000002000, 0ms",
        "    failure marker Traceback :crit, milestone, 1700000007250, 0ms",
    ]


def test_a_step_that_timed_out_or_was_interrupted_is_labelled_so_at_its_end(
    tmp_path: Path,
) -> None:
    timed_out = run(tmp_path, "  - {id: w, uses: test.wait, timeout: 30s}\n")
    interrupted = run(tmp_path, "  - {id: w, uses: test.wait, with: {interrupt: true}}\n")

    assert [(e["label"], e["ts"]) for e in timed_out.events if e["what"] == "failure"] == [
        ("w timed out", 1_700_000_030.0)
    ]
    assert interrupted.status == "interrupted"
    assert [e["label"] for e in interrupted.events if e["what"] == "failure"] == ["w interrupted"]
    (lines,) = diagrams(render_markdown(timed_out))
    assert "    w timed out :crit, milestone, 1700000030000, 0ms" in lines


def test_report_json_at_and_ts_are_the_same_millisecond(tmp_path: Path) -> None:
    """Rounded and truncated, they once disagreed by 1 ms (.9996 s: .000 and .999)."""
    steps = """\
  - id: sync
    uses: test.mark
    with: {marks: [["a", sync, 0.9996], ["b", sync, 0.0004], ["c", sync, 0.1235]]}
"""
    write_reports(run(tmp_path, steps), tmp_path / "r", Redactor())

    events = json.loads((tmp_path / "r" / "report.json").read_text())["events"]
    marks = {e["label"]: (e["at"], e["ts"]) for e in events if e["what"] == "sync"}
    assert marks == {
        "a": ("2023-11-14T22:13:21.000Z", 1_700_000_001.0),
        "b": ("2023-11-14T22:13:20.000Z", 1_700_000_000.0),
        "c": ("2023-11-14T22:13:20.124Z", 1_700_000_000.124),
    }
    for event in events:
        at = datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()
        assert round(at * 1000) == round(event["ts"] * 1000), event


def test_report_json_has_the_events_sorted_with_utc_times_and_their_kinds(tmp_path: Path) -> None:
    result = run(tmp_path, RELEASE + FAILING_PROBE)
    write_reports(result, tmp_path / "r", Redactor())

    events = json.loads((tmp_path / "r" / "report.json").read_text())["events"]
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert [(e["step"], e["what"], e["label"]) for e in events[:4]] == [
        ("sync", "step_start", "sync started"),
        ("sync", "sync", "12 files uploaded"),
        ("sync", "step_end", "sync ok"),
        ("deploy", "step_start", "deploy started"),
    ]
    assert events[1]["at"] == "2023-11-14T22:13:20.500Z"
    assert events[1]["ts"] == 1_700_000_000.5
    assert {e["what"] for e in events} == {
        "step_start", "step_end", "sync", "deployment", "task_started", "task_healthy",
        "task_stopped", "probe", "failure",
    }  # fmt: skip


def test_a_report_written_before_events_existed_still_merges_without_a_timeline(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, RELEASE)
    write_reports(result, tmp_path / "r", Redactor())
    document = json.loads((tmp_path / "r" / "report.json").read_text())
    del document["events"]
    (tmp_path / "r" / "report.json").write_text(json.dumps(document))

    merged = merge_reports([tmp_path / "r"])

    assert merged.runs[0].events == []
    assert "## Timeline" not in render_fleet_markdown(merged)


def test_a_fleets_report_has_one_lane_per_target(tmp_path: Path) -> None:
    one = run(tmp_path, RELEASE, target="local")
    two = run(tmp_path, RELEASE + FAILING_PROBE, target="other")
    fleet = FleetResult("playbook.yaml", "timeline", [one, two])

    (lines,) = diagrams(render_fleet_markdown(fleet))
    assert [line for line in lines if "section" in line] == [
        "    section local",
        "    section other",
    ]
    other = lines[lines.index("    section other") :]
    assert "    probe failed :crit, 1700000031000, 1000ms" in other
    # a label that starts with its step says it once; the others get their step first
    assert "    probe 503 :milestone, 1700000031500, 0ms" in other
    assert "    probe failed :crit, milestone, 1700000032000, 0ms" in other
    assert "    sync 12 files uploaded :milestone, 1700000000500, 0ms" in other
    assert "    deploy deployment ecs-svc/1 created :milestone, 1700000001200, 0ms" in other
    assert not any(" probe probe " in line or "    sync sync" in line for line in lines)
    assert json.loads(json.dumps(fleet.as_dict()))["targets"][1]["events"] == two.events


def test_hostile_labels_stay_inert_in_the_diagram_and_the_markdown(tmp_path: Path) -> None:
    hostile = "```\\n:#;--> <b>x</b> %%{init} section y"
    steps = f"""\
  - id: step
    uses: test.mark
    with:
      marks:
        - ["{hostile}", note, 0.1]
        - ["section evil", note, 0.2]
        - ["2024-01-01 is a date", note, 0.3]
        - ["click here", note, 0.4]
        - ["", note, 0.5]
"""
    markdown = render_markdown(run(tmp_path, steps))

    (lines,) = diagrams(markdown)
    assert lines[6:] == [
        "    -- b x /b init section y :milestone, 1700000000100, 0ms",
        "    - section evil :milestone, 1700000000200, 0ms",
        "    - 2024-01-01 is a date :milestone, 1700000000300, 0ms",
        "    - click here :milestone, 1700000000400, 0ms",
        "    - :milestone, 1700000000500, 0ms",
    ]
    assert markdown.count("```mermaid") == 1
    assert label("x" * 500) == "x" * 57 + "..."


def test_the_grammar_check_refuses_what_mermaid_would_misread() -> None:
    """The check itself turns red on the lines a careless label would make."""
    assert gantt_line_ok("    deploy ok :done, 1700000000000, 1000ms")
    for line in (
        "    a: b :milestone, 1700000000000, 0ms",  # ':' ends the label
        "    probe 1 :milestone, 1700000000000, 0ms #1",  # '#' ends the data
        "    ok :milestone, 1700000000000, 0ms; x",  # ';' ends the data
        "    section",
        "    section done :milestone, 1700000000000, 0ms",  # read as a section
        "    50% done :milestone, 1700000000000, 0ms",  # '%' starts a comment
        "    x :milestone, 2024-01-01, 0ms",  # not Unix ms
        "    x :milestone, 1700000000000, 5 minutes",
    ):
        assert not gantt_line_ok(line), line


def test_many_marks_of_one_step_keep_the_first_last_and_changes_and_say_how_many_more(
    tmp_path: Path,
) -> None:
    attempts = [["probe 503", "probe", i / 10] for i in range(30)]
    attempts[17][0] = "probe error"
    attempts.append(["probe 200", "probe", 3.0])
    steps = f"""\
  - id: probe
    uses: test.mark
    with: {{took: 5, marks: {json.dumps(attempts)}}}
"""
    (lines,) = diagrams(render_markdown(run(tmp_path, steps)))

    milestones = [line.split(" :")[0].strip() for line in lines if "milestone" in line]
    assert len(milestones) == MAX_MARKS
    assert milestones[0] == "probe 503" and milestones[-1] == "probe 200"
    assert "probe error" in milestones
    assert f"    probe ok ({31 - MAX_MARKS} more) :done, 1700000000000, 5000ms" in lines


def test_a_job_summary_over_its_budget_drops_the_timeline_whole(tmp_path: Path) -> None:
    markdown = render_markdown(run(tmp_path, RELEASE))
    diagram = markdown[markdown.index("```mermaid") : markdown.rindex("```") + 3]

    fitted = fit_summary(markdown, len(markdown.encode()) - 10, None)

    assert "```mermaid" not in fitted and "gantt" not in fitted
    assert "The timeline is left out of this summary" in fitted
    assert "## Steps" in fitted and "**This summary is cut here**" not in fitted
    assert fit_summary(markdown, len(markdown.encode()), None) == markdown
    assert diagram in markdown


def test_a_mark_of_an_unknown_kind_or_without_a_time_is_a_bug_raised_where_emitted() -> None:
    bus = EventBus(Redactor())
    with pytest.raises(ValueError, match="unknown mark 'deploy'"):
        bus.emit("mark", "x", "step", at=1.0, what="deploy")
    with pytest.raises(ValueError, match="needs at=<epoch seconds>"):
        bus.emit("mark", "x", "step", at="now", what="note")
