"""The engine, driven through test-only step types (no AWS, no real sleeping)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from opskit import RunOptions, RunResult, run_playbook
from opskit.clock import FakeClock
from opskit.events import Event, EventBus
from opskit.playbook import parse_playbook
from opskit.redact import Redactor
from opskit.sandbox import SandboxInfo
from tests.aws_profiles import aws_home, role_keys
from tests.engine_steps import CALLS

pytestmark = pytest.mark.usefixtures("engine_steps")


def run(text: str, tmp_path: Path, **options) -> tuple[RunResult, list[Event]]:
    path = tmp_path / "playbook.yaml"
    path.write_text(text)
    events: list[Event] = []
    bus = EventBus(Redactor())
    bus.subscribe(events.append)
    if options.get("clock", 0) is None:
        options.pop("clock")
    else:
        options.setdefault("clock", FakeClock())
    result = run_playbook(parse_playbook(text, str(path), path), RunOptions(**options), bus=bus)
    return result, events


def statuses(result: RunResult) -> dict[str, str]:
    return {s.id: s.status for s in [*result.steps, *result.on_failure]}


def test_outputs_flow_between_steps_and_keep_native_types(tmp_path: Path) -> None:
    result, _ = run(
        """
vars: {items: [1, 2, 3], port: 8080}
steps:
  - id: a
    uses: test.echo
    with: {value: "{{ vars.items }}"}
  - id: b
    uses: test.echo
    with: {value: "{{ steps.a.outputs.value }}"}
  - id: c
    uses: test.echo
    with: {value: "n={{ steps.a.outputs.value | length }} port={{ vars.port }}"}
  - id: d
    uses: test.echo
    with: {value: "{{ vars.port }}"}
""",
        tmp_path,
    )
    assert result.exit_code == 0
    outputs = {s.id: s.outputs for s in result.steps}
    assert outputs["b"] == {"value": [1, 2, 3], "type": "list"}
    assert outputs["c"]["value"] == "n=3 port=8080"
    assert outputs["d"] == {"value": 8080, "type": "int"}


def test_vars_precedence_playbook_target_file_cli(tmp_path: Path) -> None:
    (tmp_path / "vars.yaml").write_text("b: from-file\nc: from-file\n")
    result, _ = run(
        """
vars: {a: playbook, b: playbook, c: playbook, d: playbook}
targets:
  t: {vars: {b: target, c: target, d: target}}
steps:
  - id: s
    uses: test.echo
    with: {value: "{{ vars.a }} {{ vars.b }} {{ vars.c }} {{ vars.d }}"}
""",
        tmp_path,
        target="t",
        vars_files=(tmp_path / "vars.yaml",),
        extra_vars={"c": "cli"},
    )
    assert result.steps[0].outputs["value"] == "playbook from-file cli target"


def test_when_false_skips_and_true_runs(tmp_path: Path) -> None:
    result, _ = run(
        """
vars: {env: staging}
steps:
  - {id: prod_only, uses: test.echo, when: "vars.env == 'production'"}
  - {id: staging_only, uses: test.echo, when: "{{ vars.env == 'staging' }}"}
""",
        tmp_path,
    )
    assert statuses(result) == {"prod_only": "skipped", "staging_only": "ok"}
    assert "when" in result.steps[0].summary


def test_retries_with_backoff_until_success(tmp_path: Path) -> None:
    clock = FakeClock()
    result, events = run(
        """
steps:
  - {id: flaky, uses: test.flaky, with: {key: a, failures: 2}, retries: 3, retry_delay: 2s}
""",
        tmp_path,
        clock=clock,
    )
    assert result.exit_code == 0
    assert result.steps[0].attempts == 3
    assert result.steps[0].status == "changed"
    assert clock.sleeps == [2.0, 4.0]
    assert sum("retrying" in e.message for e in events) == 2


def test_retries_exhausted_fail_the_step(tmp_path: Path) -> None:
    result, _ = run(
        """
steps:
  - {id: flaky, uses: test.flaky, with: {key: b, failures: 5}, retries: 1}
""",
        tmp_path,
    )
    assert result.exit_code == 1
    assert result.steps[0].attempts == 2
    assert result.steps[0].summary == "failure 2 of b"


def test_timeout_fails_with_the_last_state(tmp_path: Path) -> None:
    clock = FakeClock()
    start = clock.now
    result, _ = run("steps:\n  - {id: w, uses: test.wait, timeout: 30s}\n", tmp_path, clock=clock)
    assert result.exit_code == 1
    assert result.steps[0].status == "failed"
    assert result.steps[0].summary == "timed out: still waiting for nothing"
    assert clock.now - start == pytest.approx(30.0)


def test_templated_timeout_retries_and_retry_delay_render_and_hold(tmp_path: Path) -> None:
    """``timeout: "{{ vars.to }}"`` once crashed the run (TypeError) after the
    terminal had said PASSED: it is rendered and checked like an input."""
    clock = FakeClock()
    start = clock.now
    result, events = run(
        """
vars: {to: 7s, again: 2, pause: 3}
steps:
  - {id: w, uses: test.wait, timeout: "{{ vars.to }}"}
""",
        tmp_path,
        clock=clock,
    )
    assert (result.status, result.exit_code) == ("failed", 1)
    assert result.steps[0].summary == "timed out: still waiting for nothing"
    assert clock.now - start == pytest.approx(7.0)

    CALLS.pop("tpl", None)
    result, events = run(
        """
vars: {again: 2, pause: 3}
steps:
  - id: f
    uses: test.flaky
    with: {key: tpl, failures: 2}
    retries: "{{ vars.again }}"
    retry_delay: "{{ vars.pause }}s"
""",
        tmp_path,
    )
    assert (result.status, result.steps[0].attempts) == ("passed", 3)
    retrying = [e.message for e in events if e.kind == "warning"]
    assert retrying == [
        "attempt 1 failed: failure 1 of tpl; retrying in 3s",
        "attempt 2 failed: failure 2 of tpl; retrying in 6s",
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("timeout", "soon", "expected a duration like 90s or 10m, got 'soon' (after rendering)"),
        ("retries", "many", "expected an integer, got string 'many' (after rendering)"),
        ("retries", -1, "must be 0 or more, got -1 (after rendering)"),
        ("retry_delay", "[1]", "expected a duration"),
    ],
)
def test_a_templated_step_limit_that_renders_wrong_is_bad_input_with_its_line(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    CALLS.pop("never", None)
    result, _ = run(
        f"""vars: {{bad: {value}}}
steps:
  - id: first
    uses: test.flaky
    with: {{key: never}}
  - id: w
    uses: test.wait
    {key}: "{{{{ vars.bad }}}}"
""",
        tmp_path,
    )
    assert (result.status, result.exit_code) == ("invalid", 2)
    assert result.error is not None
    assert result.error.startswith(f"{tmp_path / 'playbook.yaml'}:8: steps[1].{key}: {message}")
    assert "never" not in CALLS  # found before the first step ran


def test_continue_on_error_keeps_going_and_passes(tmp_path: Path) -> None:
    result, _ = run(
        """
steps:
  - {id: bad, uses: test.flaky, with: {key: c, failures: 9}, continue_on_error: true}
  - {id: after, uses: test.echo, with: {value: "{{ steps.bad.status }}"}}
""",
        tmp_path,
    )
    assert result.exit_code == 0
    assert statuses(result) == {"bad": "failed", "after": "ok"}
    assert result.steps[1].outputs["value"] == "failed"
    assert "continue_on_error" in result.steps[0].summary


def test_on_failure_runs_after_a_failure_and_sees_outputs(tmp_path: Path) -> None:
    result, _ = run(
        """
steps:
  - {id: ok1, uses: test.echo, with: {value: 1}}
  - {id: bad, uses: test.flaky, with: {key: d, failures: 9}}
  - {id: never, uses: test.echo}
on_failure:
  - {id: diag, uses: test.echo, with: {value: "{{ steps.bad.outputs.calls }}"}}
""",
        tmp_path,
    )
    assert result.exit_code == 1
    assert result.status == "failed"
    assert statuses(result) == {"ok1": "ok", "bad": "failed", "never": "skipped", "diag": "ok"}
    assert result.on_failure[0].outputs["value"] == 1
    assert result.steps[2].summary == "not run: an earlier step failed"


def test_on_failure_does_not_run_when_all_pass(tmp_path: Path) -> None:
    result, _ = run(
        """
steps: [{id: a, uses: test.echo}]
on_failure: [{id: diag, uses: test.echo}]
""",
        tmp_path,
    )
    assert result.exit_code == 0
    assert result.on_failure == []


def test_from_and_only_select_steps(tmp_path: Path) -> None:
    text = "steps:\n" + "".join(f"  - {{id: s{i}, uses: test.echo}}\n" for i in range(4))
    result, _ = run(text, tmp_path, from_step="s2")
    assert statuses(result) == {"s0": "skipped", "s1": "skipped", "s2": "ok", "s3": "ok"}
    result, _ = run(text, tmp_path, only=("s1", "s3"))
    assert statuses(result) == {"s0": "skipped", "s1": "ok", "s2": "skipped", "s3": "ok"}
    assert result.steps[0].summary == "not selected (--from/--only)"


def test_dry_run_plans_and_never_runs_a_changing_step(tmp_path: Path) -> None:
    result, _ = run(
        """
steps:
  - {id: change, uses: test.mutate}
  - {id: use, uses: test.echo, with: {value: "{{ steps.change.outputs.token }}"}}
  - {id: noplan, uses: test.flaky, with: {key: e}}
""",
        tmp_path,
        dry_run=True,
    )
    assert result.exit_code == 0
    assert "mutate" not in CALLS and "e" not in CALLS
    assert result.steps[0].summary == "would mutate"
    assert result.steps[1].summary == "skipped: needs outputs that a dry run does not produce"
    assert result.steps[2].summary == "skipped: this step type has no dry-run plan"


def test_ctrl_c_stops_the_step_runs_diagnostics_and_exits_130(tmp_path: Path) -> None:
    result, _ = run(
        """
steps:
  - {id: wait, uses: test.wait, with: {interrupt: true}, timeout: 1h}
  - {id: after, uses: test.echo}
on_failure:
  - {id: diag, uses: test.echo, with: {value: diagnostics}}
""",
        tmp_path,
        clock=None,
    )
    assert result.exit_code == 130
    assert result.status == "interrupted"
    assert statuses(result) == {"wait": "failed", "after": "skipped", "diag": "ok"}
    assert result.steps[0].summary.startswith("interrupted")
    assert result.steps[1].summary == "not run: interrupted"


class Terminated(Exception):
    """SIGTERM in this test process when the run does not handle it."""


@pytest.fixture
def sigterm_guard():
    """SIGTERM's default would end the test process: outside a run, it raises."""

    def terminated(*_: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_is_handled_like_ctrl_c_and_exits_143(tmp_path: Path, sigterm_guard) -> None:
    result, events = run(
        """
steps:
  - {id: wait, uses: test.wait, with: {signals: [SIGTERM]}, timeout: 1h}
  - {id: after, uses: test.echo}
on_failure:
  - {id: diag, uses: test.echo, with: {value: diagnostics}}
""",
        tmp_path,
        clock=None,
    )
    assert (result.status, result.signal, result.exit_code) == ("interrupted", "SIGTERM", 143)
    assert statuses(result) == {"wait": "failed", "after": "skipped", "diag": "ok"}
    assert result.steps[0].summary == "interrupted"
    assert result.steps[1].summary == "not run: interrupted"
    assert [e.message for e in events if e.kind == "warning"] == [
        "terminated (SIGTERM): stopping the running step (Ctrl-C or SIGTERM again to abort)"
    ]


def test_a_second_signal_ends_the_run_at_once_and_the_report_is_still_written(
    tmp_path: Path, sigterm_guard
) -> None:
    """A CI cancel: SIGINT, then SIGTERM (GitHub: 7.5 s later), then SIGKILL."""
    path = tmp_path / "playbook.yaml"
    path.write_text(
        """
steps:
  - {id: wait, uses: test.wait, with: {signals: [SIGINT, SIGTERM]}, timeout: 1h}
on_failure:
  - {id: diag, uses: test.echo, with: {value: diagnostics}}
"""
    )
    result = run_playbook(path, RunOptions(), report_dir=tmp_path / "report")

    assert (result.status, result.signal, result.exit_code) == ("interrupted", "SIGINT", 130)
    assert result.error == "aborted by a second SIGTERM"
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert (report["status"], report["exit_code"], report["error"]) == (
        "interrupted", 130, "aborted by a second SIGTERM",
    )  # fmt: skip
    assert report["on_failure"] == []


@pytest.mark.parametrize(
    ("steps", "verdict"),
    [
        ("  - {id: hello, uses: test.echo, with: {value: hi}}", ("passed", None, 0)),
        # a CI cancel: SIGINT stopped the step; SIGTERM comes as the run ends
        ("  - {id: wait, uses: test.wait, with: {interrupt: true}, timeout: 1h}",
         ("interrupted", "SIGINT", 130)),
    ],
    ids=["passed", "interrupted"],
)  # fmt: skip
def test_a_signal_as_the_run_ends_is_held_until_the_report_is_written(
    tmp_path: Path, sigterm_guard, steps: str, verdict: tuple[str, str | None, int]
) -> None:
    """From the run's first step until its report is written, one handler takes
    SIGINT and SIGTERM: a signal while ``run_end`` is announced (a reporter
    writing it) neither ends the process without a report nor changes a verdict
    the run already reached."""
    path = tmp_path / "playbook.yaml"
    path.write_text(f"steps:\n{steps}\n")
    ends: list[str] = []

    def terminate_at_the_end(event: Event) -> None:
        if event.kind == "run_end":
            ends.append(event.message)
            os.kill(os.getpid(), signal.SIGTERM)

    result = run_playbook(
        path, RunOptions(), reporters=[terminate_at_the_end], report_dir=tmp_path / "report"
    )

    assert ends == [verdict[0]]
    assert (result.status, result.signal, result.exit_code) == verdict
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert (report["status"], report["signal"], report["exit_code"]) == verdict


def test_a_step_left_out_by_only_says_so_even_after_a_failure(tmp_path: Path) -> None:
    result, _ = run(
        """
steps:
  - {id: bad, uses: test.flaky, with: {key: f, failures: 9}}
  - {id: later, uses: test.echo}
""",
        tmp_path,
        only=("bad",),
    )
    assert result.exit_code == 1
    assert [s.summary for s in result.steps][1] == "not selected (--from/--only)"


def test_a_step_whose_outputs_are_not_its_declared_dataclass_is_an_internal_error(
    tmp_path: Path,
) -> None:
    result, _ = run(
        """
steps:
  - {id: ok, uses: test.rogue, with: {value: 1}}
""",
        tmp_path,
    )
    assert statuses(result) == {"ok": "error"}
    assert result.steps[0].summary == (
        "internal error: UndeclaredOutputs: step type test.rogue returned dict outputs, "
        "not its declared EchoOutputs"
    )
    assert result.steps[0].outputs == {}
    assert result.exit_code == 1


def test_a_failure_with_undeclared_outputs_is_an_internal_error_too(tmp_path: Path) -> None:
    result, _ = run("steps:\n  - {id: bad, uses: test.rogue, with: {value: fail}}\n", tmp_path)
    assert result.steps[0].status == "error"
    assert result.steps[0].summary.startswith(
        "internal error: UndeclaredOutputs: step type test.rogue returned dict outputs"
    )


def test_every_declared_output_is_in_the_record_even_when_null(tmp_path: Path) -> None:
    result, _ = run("steps:\n  - {id: change, uses: test.mutate}\n", tmp_path, dry_run=True)
    assert result.steps[0].outputs == {"token": None}


def test_step_errors_kinds_are_siblings_with_their_own_status() -> None:
    from opskit.errors import StepError, StepFailed, StepProblem, StepTimeout

    kinds = (StepFailed, StepError, StepTimeout)
    assert all(issubclass(kind, StepProblem) for kind in kinds)
    assert [
        kind for kind in kinds if any(issubclass(kind, o) for o in kinds if o is not kind)
    ] == []
    assert [kind("x").status for kind in kinds] == ["failed", "error", "failed"]


# -- who the run acts as: one caller identity per run, before any step -------------------

MOTO_USER = "arn:aws:sts::123456789012:user/moto"


def aws_playbook(endpoint: str, aws: str = "", steps: str = "", vars_: str = "{}") -> str:
    """A target on moto's server (``aws`` adds to its aws: block) and steps that call
    AWS (``test.buckets``) around one that changes something (``test.mutate``)."""
    return f"""
vars: {vars_}
targets:
  prod:
    aws: {{endpoint_url: "{endpoint}", region: us-east-1{aws}}}
steps:
{
        steps
        or '''  - {id: mutate, uses: test.mutate}
  - {id: buckets, uses: test.buckets}'''
    }
"""


def identity_lines(events: list[Event]) -> list[str]:
    return [e.message for e in events if e.kind == "info" and "identity" in e.data]


def test_a_run_says_who_it_acts_as_before_any_step(tmp_path: Path, aws_endpoint: str) -> None:
    result, events = run(aws_playbook(aws_endpoint), tmp_path)

    assert result.status == "passed"
    line = (
        f"acting as {MOTO_USER} (account 123456789012) in us-east-1; "
        "credentials from the environment (AWS_ACCESS_KEY_ID)"
    )
    assert [e.kind for e in events][:3] == ["run_start", "info", "step_start"]
    assert events[1].message == line
    assert events[1].data["identity"] == {
        "account": "123456789012",
        "arn": MOTO_USER,
        "region": "us-east-1",
        "credentials": "the environment (AWS_ACCESS_KEY_ID)",
    }
    assert result.identity is not None and result.identity.describe() == line


def test_a_dry_run_says_who_it_acts_as_too(tmp_path: Path, aws_endpoint: str) -> None:
    result, events = run(aws_playbook(aws_endpoint), tmp_path, dry_run=True)
    assert result.status == "passed"
    assert len(identity_lines(events)) == 1
    assert "mutate" not in CALLS


def test_a_run_whose_steps_call_no_aws_asks_no_identity_and_needs_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify.yaml's `local` target: HTTP checks only; its AWS steps' when is false."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result, events = run(
        """
vars: {check_release: false}
steps:
  - {id: buckets, uses: test.buckets, when: vars.check_release}
  - {id: echo, uses: test.echo, with: {value: 1}}
""",
        tmp_path,
    )
    assert (result.status, result.identity, identity_lines(events)) == ("passed", None, [])


def test_a_step_left_out_by_only_does_not_ask_for_an_identity(
    tmp_path: Path, aws_endpoint: str
) -> None:
    _, events = run(aws_playbook(aws_endpoint), tmp_path, only=("mutate",))
    assert identity_lines(events) == []


def test_no_credentials_stop_the_run_before_any_step_naming_the_target(
    tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result, events = run(aws_playbook(aws_endpoint), tmp_path, target="prod")

    assert (result.status, result.exit_code) == ("error", 1)
    assert result.error == (
        "target 'prod': sts GetCallerIdentity: no AWS credentials found (set AWS_PROFILE, "
        "the target's aws.profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    )
    assert result.steps == [] and "mutate" not in CALLS
    assert [e.kind for e in events] == ["run_start", "run_end"]


def test_a_run_in_another_account_than_the_target_declares_changes_nothing(
    tmp_path: Path, aws_endpoint: str
) -> None:
    result, events = run(
        aws_playbook(aws_endpoint, aws=', account_id: "210987654321"'), tmp_path, target="prod"
    )

    assert (result.status, result.exit_code) == ("error", 1)
    assert result.error == (
        "target 'prod' declares account 210987654321, but the credentials are for account "
        f"123456789012 ({MOTO_USER}); nothing was changed"
    )
    assert result.steps == [] and CALLS == {}
    assert len(identity_lines(events)) == 1  # who it is, then why it stops


def test_a_run_in_the_declared_account_goes_on(tmp_path: Path, aws_endpoint: str) -> None:
    result, _ = run(aws_playbook(aws_endpoint, aws=", account_id: '123456789012'"), tmp_path)
    assert result.status == "passed"
    assert CALLS == {"mutate": 1, "buckets": 1}


def test_the_target_aws_settings_are_rendered_with_the_runs_vars(
    tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-e region=...` moves the run: the session, the identity line and
    target.region all follow; a template that renders empty means "not set"."""
    monkeypatch.setenv("MOTO_URL", aws_endpoint)
    text = """
targets:
  prod:
    aws:
      region: "{{ vars.region }}"
      profile: "{{ vars.profile }}"
      endpoint_url: "{{ env.MOTO_URL }}"
      account_id: "{{ vars.account }}"
    vars: {region: ap-northeast-1, profile: "", account: "123456789012"}
steps:
  - {id: buckets, uses: test.buckets}
  - {id: where, uses: test.echo, with: {value: "{{ target.region }}"}}
"""
    result, events = run(text, tmp_path, extra_vars={"region": "eu-west-1"})

    assert result.status == "passed"
    assert identity_lines(events) == [
        f"acting as {MOTO_USER} (account 123456789012) in eu-west-1; "
        "credentials from the environment (AWS_ACCESS_KEY_ID)"
    ]
    assert result.steps[1].outputs["value"] == "eu-west-1"


def test_a_target_aws_value_that_renders_wrong_is_bad_input_with_its_line(
    tmp_path: Path, aws_endpoint: str
) -> None:
    text = aws_playbook(
        aws_endpoint, aws=', account_id: "{{ vars.account }}"', vars_="{account: 42}"
    )
    result, _ = run(text, tmp_path)
    assert (result.status, result.exit_code) == ("invalid", 2)
    assert result.error == (
        f"{tmp_path / 'playbook.yaml'}:5: targets.prod.aws.account_id: expected an AWS account id "
        "of 12 digits (quoted, so YAML keeps leading zeros), got '42' (after rendering)"
    )


def test_bad_input_the_vars_show_is_found_before_aws_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No credentials and no endpoint: the input error, not an AWS error, and exit 2."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result, _ = run(
        """
vars: {n: many}
steps:
  - {id: buckets, uses: test.buckets}
  - {id: flaky, uses: test.flaky, with: {key: k, failures: "{{ vars.n }}"}}
""",
        tmp_path,
    )
    assert (result.status, result.exit_code) == ("invalid", 2)
    assert (
        result.error is not None and "steps[1].with.failures: expected an integer" in result.error
    )


# -- whose credentials, said at the run's start ---------------------------------------


def test_a_targets_configured_profile_is_used_and_the_environments_credentials_are_named(
    tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_PROFILE=dev exported in the shell, the production target's profile on
    this machine: the run acts as the profile, and warns before it says so."""
    keys = role_keys(aws_endpoint, "111111111111")
    aws_home(tmp_path, monkeypatch, "[profile prod]\n", keys.credentials_section("prod"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_PROFILE", "dev")

    result, events = run(aws_playbook(aws_endpoint, aws=", profile: prod"), tmp_path)

    warning = (
        "the environment names credentials (AWS_PROFILE=dev); target 'prod' uses its profile 'prod'"
    )
    assert result.status == "passed"
    assert [(e.kind, e.message) for e in events[:3]] == [
        ("run_start", "playbook · target prod"),
        ("warning", warning),
        (
            "info",
            f"acting as {keys.arn} (account 111111111111) in us-east-1; "
            "credentials from the target's profile 'prod'",
        ),
    ]
    assert result.warnings == [warning]


def test_a_profile_this_machine_lacks_gives_way_to_the_environments_credentials(
    tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_home(tmp_path, monkeypatch, "")

    result, events = run(aws_playbook(aws_endpoint, aws=", profile: prod"), tmp_path)

    warning = (
        "target 'prod' names profile 'prod', which is not configured here; "
        "using the credentials the environment names (AWS_ACCESS_KEY_ID)"
    )
    assert result.status == "passed"
    assert [e.message for e in events if e.kind == "warning"] == [warning]
    assert identity_lines(events) == [
        f"acting as {MOTO_USER} (account 123456789012) in us-east-1; "
        "credentials from the environment (AWS_ACCESS_KEY_ID)"
    ]
    assert result.warnings == [warning]


def test_a_profile_templated_from_aws_profile_lets_the_environment_choose(
    tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's way to let an exported AWS_PROFILE win every time."""
    keys = {"prod": role_keys(aws_endpoint, "111111111111"),
            "dev": role_keys(aws_endpoint, "222222222222")}  # fmt: skip
    aws_home(tmp_path, monkeypatch, "", "".join(k.credentials_section(n) for n, k in keys.items()))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    profile = "{{ env.AWS_PROFILE | default('prod') }}"
    text = aws_playbook(aws_endpoint, aws=f', profile: "{profile}"')

    monkeypatch.setenv("AWS_PROFILE", "dev")
    on_dev, events = run(text, tmp_path)
    monkeypatch.delenv("AWS_PROFILE")
    on_prod, _ = run(text, tmp_path)

    assert [e.kind for e in events if e.kind == "warning"] == []
    assert [r.identity.arn if r.identity else None for r in (on_dev, on_prod)] == [
        keys["dev"].arn,
        keys["prod"].arn,
    ]


def test_a_run_that_calls_no_aws_says_nothing_about_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_home(tmp_path, monkeypatch, "")
    result, events = run(
        """
targets:
  prod: {aws: {profile: prod}}
steps:
  - {id: echo, uses: test.echo, with: {value: 1}}
""",
        tmp_path,
    )
    assert (result.status, result.warnings) == ("passed", [])
    assert [e.kind for e in events if e.kind == "warning"] == []


# -- the account guard on a sandbox target --------------------------------------------


@pytest.fixture
def sandbox_up(tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sandbox as `opskit sandbox up` leaves it: a state file naming a live
    process and an AWS endpoint that answers (moto's server stands for it)."""
    state = tmp_path / "sandbox.json"
    info = SandboxInfo(
        endpoint_url=aws_endpoint,
        app_url="http://127.0.0.1:9",
        region="us-east-1",
        access_key_id="opskit-sandbox",
        secret_access_key="opskit-sandbox-secret",
        pid=os.getpid(),
    )
    state.write_text(json.dumps(info.to_json()))
    state.chmod(0o600)  # as a sandbox writes it: a state file others may read is ignored
    monkeypatch.setenv("OPSKIT_SANDBOX_STATE", str(state))


def sandbox_playbook(account: str) -> str:
    return f"""
targets:
  sandbox:
    sandbox: true
    aws: {{account_id: "{account}"}}
steps:
  - {{id: mutate, uses: test.mutate}}
  - {{id: buckets, uses: test.buckets}}
"""


@pytest.mark.usefixtures("sandbox_up")
def test_a_sandbox_target_that_declares_another_account_changes_nothing(tmp_path: Path) -> None:
    result, events = run(sandbox_playbook("210987654321"), tmp_path)

    assert (result.status, result.exit_code) == ("error", 1)
    assert result.error == (
        "target 'sandbox' declares account 210987654321, but the credentials are for account "
        f"123456789012 ({MOTO_USER}); nothing was changed"
    )
    assert result.steps == [] and CALLS == {}
    assert identity_lines(events) == [
        f"acting as {MOTO_USER} (account 123456789012) in us-east-1; credentials from the sandbox"
    ]


@pytest.mark.usefixtures("sandbox_up")
def test_a_sandbox_target_in_its_declared_account_goes_on(tmp_path: Path) -> None:
    result, _ = run(sandbox_playbook("123456789012"), tmp_path)
    assert result.status == "passed"
    assert CALLS == {"mutate": 1, "buckets": 1}


def test_an_output_carrying_template_syntax_reaches_later_steps_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside text in an output (an app's answer, a log line) is data: a later
    step's ``{{ steps.a.outputs.value }}`` inserts it, never renders it."""
    monkeypatch.setenv("OPSKIT_TEST_TOKEN", "the-real-token")
    result, _ = run(
        """
steps:
  - id: a
    uses: test.echo
    with: {value: "{{ vars.answer }}"}
  - id: b
    uses: test.echo
    with: {value: "answer: {{ steps.a.outputs.value }}"}
  - id: c
    uses: test.echo
    with: {value: "{{ steps.a.outputs.value }}"}
    when: "{{ steps.a.outputs.value }}"
""",
        tmp_path,
        extra_vars={"answer": "{{ env.OPSKIT_TEST_TOKEN }}"},
    )
    assert [s.outputs["value"] for s in result.steps] == [
        "{{ env.OPSKIT_TEST_TOKEN }}",
        "answer: {{ env.OPSKIT_TEST_TOKEN }}",
        "{{ env.OPSKIT_TEST_TOKEN }}",
    ]
