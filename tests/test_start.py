"""The run's start, as `opskit run` and `opskit iam` both make it (opskit/start.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit import context as ctxmod
from opskit.aws import AwsSettings
from opskit.errors import InputError
from opskit.model import RunOptions
from opskit.playbook import Playbook, parse_playbook
from opskit.redact import Redactor
from opskit.start import SandboxSide, selected_steps, start_run
from tests.aws_profiles import aws_home

RUN = {"id": "r-1", "started_at": 0.0, "dry_run": False}
SANDBOX = SandboxSide(
    AwsSettings(
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="opskit-sandbox",
        secret_access_key="opskit-sandbox-secret",
    ),
    {"app_url": "http://127.0.0.1:8501"},
)


def playbook(tmp_path: Path, text: str) -> Playbook:
    path = tmp_path / "playbook.yaml"
    path.write_text(text)
    return parse_playbook(text, str(path), path)


def test_templates_read_the_region_and_profile_of_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No aws.region: the profile's region, as boto3 reads it; vars that read
    target.region are rendered with it."""
    aws_home(tmp_path, monkeypatch, "[profile prod]\nregion = ap-south-1\n")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    loaded = playbook(
        tmp_path,
        """
targets:
  prod: {aws: {profile: prod}, vars: {group: "/ecs/{{ target.region }}/{{ target.profile }}"}}
steps:
  - {id: echo, uses: http.probe, with: {url: "http://127.0.0.1:9/"}}
""",
    )
    began = start_run(loaded, loaded.target("prod"), RunOptions(), run=RUN, sandbox=None)

    assert (began.context["target"]["region"], began.context["target"]["profile"]) == (
        "ap-south-1",
        "prod",
    )
    assert began.context["vars"]["group"] == "/ecs/ap-south-1/prod"


def test_a_when_that_reads_the_sessions_region_decides_which_vars_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No var reads target, but a step's when: does: it is decided with the
    session's region, so the var its inputs lack is found before the run."""
    aws_home(tmp_path, monkeypatch, "[profile prod]\nregion = ap-south-1\n")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    loaded = playbook(
        tmp_path,
        """
targets:
  prod: {aws: {profile: prod}}
steps:
  - id: echo
    uses: http.probe
    when: "target.region == 'ap-south-1'"
    with: {url: "http://127.0.0.1:9/{{ vars.path }}"}
""",
    )
    with pytest.raises(InputError) as failure:
        start_run(loaded, loaded.target("prod"), RunOptions(), run=RUN, sandbox=None)
    assert str(failure.value) == (
        f"{tmp_path / 'playbook.yaml'}:8: steps[0].with.url: undefined variable vars.path "
        "(defined: none; set it with -e)"
    )


def test_vars_that_read_no_target_are_rendered_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session's region differs from the playbook's (none), but no var that is
    rendered reads target: the one that does is replaced by -e."""
    aws_home(tmp_path, monkeypatch, "[profile prod]\nregion = ap-south-1\n")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    passes = []
    resolve_vars = ctxmod.resolve_vars
    monkeypatch.setattr(
        ctxmod, "resolve_vars", lambda *args: passes.append(args) or resolve_vars(*args)
    )
    loaded = playbook(
        tmp_path,
        """
vars: {service: web, group: "/ecs/{{ vars.service }}", where: "{{ target.region }}"}
targets:
  prod: {aws: {profile: prod}}
steps:
  - {id: echo, uses: http.probe, with: {url: "http://127.0.0.1:9/{{ vars.group }}"}}
""",
    )
    options = RunOptions(extra_vars={"where": "here"})
    began = start_run(loaded, loaded.target("prod"), options, run=RUN, sandbox=None)

    assert began.context["target"]["region"] == "ap-south-1"
    assert began.context["vars"] == {"service": "web", "group": "/ecs/web", "where": "here"}
    assert len(passes) == 1


def test_a_sandbox_target_acts_as_the_sandbox_held_to_its_declared_account(
    tmp_path: Path,
) -> None:
    loaded = playbook(
        tmp_path,
        """
targets:
  sandbox: {sandbox: true, aws: {account_id: "210987654321"}, vars: {where: "{{ target.region }}"}}
steps:
  - {id: echo, uses: http.probe, with: {url: "{{ opskit.sandbox.app_url }}"}}
""",
    )
    began = start_run(loaded, loaded.target("sandbox"), RunOptions(), run=RUN, sandbox=SANDBOX)

    assert began.aws.settings == AwsSettings(
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="opskit-sandbox",
        secret_access_key="opskit-sandbox-secret",
        account_id="210987654321",
    )
    assert began.context["vars"]["where"] == "us-east-1"
    assert began.aws.credentials.source == "the sandbox"


def test_the_redactor_learns_the_secrets_and_the_sessions_keys(tmp_path: Path) -> None:
    loaded = playbook(
        tmp_path,
        """
secrets: [token]
vars: {token: s3cr3t-value}
steps:
  - {id: echo, uses: http.probe, with: {url: "http://127.0.0.1:9/"}}
""",
    )
    redactor = Redactor()
    start_run(
        loaded, loaded.target(None), RunOptions(), run=RUN, sandbox=SANDBOX, redactor=redactor
    )
    assert redactor.text("s3cr3t-value and opskit-sandbox-secret") == "*** and ***"


def test_a_step_that_from_or_only_names_must_exist(tmp_path: Path) -> None:
    loaded = playbook(tmp_path, "steps:\n  - {id: a, uses: http.probe, with: {url: 'x'}}\n")
    with pytest.raises(InputError) as failure:
        selected_steps(loaded, RunOptions(only=("b",)))
    assert str(failure.value) == f"no step 'b' in {tmp_path / 'playbook.yaml'}; steps: a"
    assert selected_steps(loaded, RunOptions(from_step="a")) == {"a"}
