"""`opskit iam`: the policy a playbook's steps need on a target, from their rendered
inputs and their types' declarations; nothing called on AWS."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from opskit import steps as registry
from opskit.steps.base import StepType
from tests.aws_profiles import aws_home
from tests.cli_helpers import Cli

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted((ROOT / "playbooks").glob("*.yaml"))
SANDBOX_ACCOUNT = "123456789012"


def write_playbook(tmp_path: Path, steps: list[dict[str, Any]], **targets: Any) -> Path:
    document = {
        "name": "iam test",
        "targets": targets or {"prod": {"aws": {"region": "eu-west-1"}}},
        "steps": steps,
    }
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def policy(cli: Cli, *args: str) -> tuple[dict[str, Any], list[str]]:
    result = cli("iam", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr.splitlines()


def statements(document: dict[str, Any]) -> list[tuple[str, list[str], list[str], Any]]:
    return [
        (s["Sid"], s["Action"], s["Resource"], s.get("Condition")) for s in document["Statement"]
    ]


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_every_bundled_playbook_has_a_policy_for_each_of_its_targets(cli: Cli, path: Path) -> None:
    targets = yaml.safe_load(path.read_text(encoding="utf-8"))["targets"]
    for target in targets:
        document, _ = policy(cli, str(path), "-t", target)
        assert document["Version"] == "2012-10-17"
        if (path.name, target) == ("verify.yaml", "local"):
            assert document["Statement"] == []  # HTTP checks only
        else:
            assert document["Statement"], (path.name, target)


def test_the_redeploy_policy_is_the_one_docs_iam_md_shows(cli: Cli) -> None:
    docs = (ROOT / "docs" / "iam.md").read_text(encoding="utf-8")
    shown, notes = re.search(
        r"\$ opskit iam playbooks/redeploy.yaml -t production\n```\n\n```json\n(.*?)\n```"
        r"\n\n```\n(.*?)\n```",
        docs,
        re.DOTALL,
    ).groups()  # type: ignore[union-attr]

    result = cli("iam", str(ROOT / "playbooks" / "redeploy.yaml"), "-t", "production")

    assert result.stdout == shown + "\n"
    assert result.stderr == notes + "\n"


def test_the_options_of_a_step_switch_its_statements_on(cli: Cli, tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        [
            {
                "id": "upload",
                "uses": "s3.sync",
                "with": {
                    "source": ".",
                    "destination": "s3://code/app/",
                    "sse": "aws:kms",
                    "sse_kms_key_id": "alias/deploy",
                },
            },
            {
                "id": "release",
                "uses": "ecs.redeploy",
                "with": {"cluster": "web", "service": "api", "image": "repo/api:2", "log_lines": 0},
            },
        ],
        prod={"aws": {"region": "eu-west-1"}},
    )

    document, notes = policy(cli, str(path), "-t", "prod")

    ecs = "arn:aws:ecs:eu-west-1:*"
    assert statements(document) == [
        ("EcsListTasks", ["ecs:ListTasks"], ["*"],
         {"ArnEquals": {"ecs:cluster": [f"{ecs}:cluster/web"]}}),
        ("EcsReadUpdateServiceListDeployments",
         ["ecs:DescribeServices", "ecs:ListServiceDeployments", "ecs:UpdateService"],
         [f"{ecs}:service/web/api"], None),
        ("EcsReadContinueStopDeployments",
         ["ecs:ContinueServiceDeployment", "ecs:DescribeServiceDeployments",
          "ecs:StopServiceDeployment"],
         [f"{ecs}:service-deployment/web/api/*"], None),
        ("EcsTagNewRevisions", ["ecs:TagResource"], [f"{ecs}:task-definition/*:*"],
         {"StringEquals": {"ecs:CreateAction": ["RegisterTaskDefinition"]}}),
        ("EcsReadRegisterTaskDefinitions",
         ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
         ["*"], None),
        ("EcsReadTasks", ["ecs:DescribeTasks"], [f"{ecs}:task/web/*"], None),
        ("IamPassTaskRoles", ["iam:PassRole"], ["arn:aws:iam::*:role/*"],
         {"StringEquals": {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}}),
        ("KmsEncryptDecryptWithKey", ["kms:Decrypt", "kms:GenerateDataKey"],
         ["arn:aws:kms:eu-west-1:*:key/*"],
         {"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/deploy"]}}),
        ("S3ReadVersioning", ["s3:GetBucketVersioning"], ["arn:aws:s3:::code"], None),
        ("S3ListPrefixVersions", ["s3:ListBucket", "s3:ListBucketVersions"], ["arn:aws:s3:::code"],
         {"StringLike": {"s3:prefix": ["app/*"]}}),
        ("S3ReadWriteObjects", ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
         ["arn:aws:s3:::code/app/*"], None),
        # no delete: true, so deletes only to prune old release records and staged copies
        ("S3DeleteObjects", ["s3:DeleteObject"],
         ["arn:aws:s3:::code/app/.opskit/releases/*", "arn:aws:s3:::code/app/.opskit/staging/*"],
         None),
    ]  # fmt: skip
    assert notes == [
        "note: target prod names no account_id: the ARNs use * for it",
        "note: iam:PassRole (step release): the roles come from the service's task definition "
        "(taskRoleArn, executionRoleArn), read at run time: narrow the resource to those two",
        "note: ecs:TagResource (step release): the family comes from the service's task "
        "definition, read at run time: narrow the resource to task-definition/FAMILY:*",
    ]


def test_a_sandbox_target_names_what_the_sandbox_registers(cli: Cli, tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        [
            {
                "id": "release",
                "uses": "ecs.redeploy",
                "with": {"cluster": "chatbot", "service": "chatbot", "environment": {"A": "1"}},
            }
        ],
        sandbox={"sandbox": True},
    )

    document, notes = policy(cli, str(path))

    found = {s["Sid"]: s["Resource"] for s in document["Statement"]}
    assert found["IamPassTaskRoles"] == [
        f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/chatbot-task",
        f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/ecsTaskExecutionRole",
    ]
    assert found["EcsTagNewRevisions"] == [
        f"arn:aws:ecs:us-east-1:{SANDBOX_ACCOUNT}:task-definition/chatbot:*"
    ]
    assert found["LogsReadStreams"] == [
        f"arn:aws:logs:us-east-1:{SANDBOX_ACCOUNT}:log-group:/ecs/chatbot:*"
    ]
    assert notes == []


def test_an_input_read_from_an_earlier_step_is_a_wildcard_with_a_note(
    cli: Cli, tmp_path: Path
) -> None:
    path = write_playbook(
        tmp_path,
        [
            {"id": "code", "uses": "s3.releases", "with": {"destination": "s3://a/src/"}},
            {
                "id": "check",
                "uses": "s3.verify",
                "with": {"destination": "s3://{{ steps.code.outputs.live_digest }}/src/"},
            },
        ],
    )

    document, notes = policy(cli, str(path), "-t", "prod")

    # the wildcard covers the known bucket: one resource each
    assert [s["Resource"] for s in document["Statement"]] == [
        ["arn:aws:s3:::*"],
        ["arn:aws:s3:::*/src/*"],
    ]
    assert notes[1:] == [
        "note: step check: input destination reads an earlier step's output, unknown before "
        "the run: rendered with * in its place"
    ]


def test_vars_come_as_a_run_takes_them(cli: Cli, tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        [{"id": "list", "uses": "s3.releases", "with": {"destination": "s3://{{ vars.bucket }}/"}}],
        prod={"aws": {"region": "eu-west-1"}, "vars": {"bucket": "from-target"}},
    )
    (tmp_path / "vars.yaml").write_text("bucket: from-file\n")

    def bucket(*args: str) -> str:
        document, _ = policy(cli, str(path), "-t", "prod", *args)
        return document["Statement"][0]["Resource"][0]

    assert bucket() == "arn:aws:s3:::from-target"
    assert bucket("--vars-file", str(tmp_path / "vars.yaml")) == "arn:aws:s3:::from-file"
    args = ("--vars-file", str(tmp_path / "vars.yaml"), "-e", "bucket=from-e")
    assert bucket(*args) == "arn:aws:s3:::from-e"


def test_a_step_whose_when_is_false_needs_nothing(cli: Cli) -> None:
    document, notes = policy(cli, str(ROOT / "playbooks" / "verify.yaml"), "-t", "local")

    assert document == {"Version": "2012-10-17", "Statement": []}
    assert notes == [
        "note: step code: skipped on this target (its when: is false)",
        "note: step service: skipped on this target (its when: is false)",
        "note: step running_code: skipped on this target (its when: is false)",
        "note: no step of this playbook calls AWS on this target: it needs no permission",
    ]


@pytest.fixture
def undeclared() -> Iterator[str]:
    declared = registry.get("s3.releases")
    assert isinstance(declared, StepType)
    registry.register(dataclasses.replace(declared, name="test.undeclared", permissions=None))
    yield "test.undeclared"
    registry.unregister("test.undeclared")


BAD_INPUT = [
    (["-t", "staging"], "opskit: error: unknown target 'staging'; this playbook has: prod"),
    (["-t", "prod", "-e", "nothing"], "opskit: error: -e expects key=value, got 'nothing'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_is_one_line_and_exit_2(
    cli: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    path = write_playbook(tmp_path, [{"id": "x", "uses": "s3.releases",
                                      "with": {"destination": "s3://b/src/"}}])  # fmt: skip

    result = cli("iam", str(path), *args)

    assert (result.returncode, result.stdout, result.stderr) == (2, "", message + "\n")


def test_an_undefined_var_names_its_line(cli: Cli, tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        [{"id": "x", "uses": "s3.releases", "with": {"destination": "s3://{{ vars.nope }}/"}}],
    )

    result = cli("iam", str(path), "-t", "prod")

    assert result.returncode == 2
    assert result.stderr == (
        f"opskit: error: {path}:{line_of(path, 'vars.nope')}: steps[0].with.destination: "
        "undefined variable vars.nope "
        "(defined: none; set it with -e)\n"
    )


def test_a_step_type_that_declares_nothing_is_refused(
    cli: Cli, tmp_path: Path, undeclared: str
) -> None:
    path = write_playbook(
        tmp_path, [{"id": "x", "uses": undeclared, "with": {"destination": "s3://b/src/"}}]
    )

    result = cli("iam", str(path), "-t", "prod")

    assert result.returncode == 2
    assert result.stderr == (
        f"opskit: error: {path}:{line_of(path, undeclared)}: steps[0].uses: step type "
        "test.undeclared does not declare "
        "the IAM permissions it needs\n"
    )


def test_a_revision_of_a_named_family_is_tagged_in_that_family(cli: Cli, tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        [
            {
                "id": "release",
                "uses": "ecs.redeploy",
                "with": {
                    "cluster": "web",
                    "service": "api",
                    "task_definition": "arn:aws:ecs:eu-west-1:1:task-definition/api-v2:7",
                    "image": "repo/api:2",
                },
            }
        ],
    )

    document, notes = policy(cli, str(path), "-t", "prod")

    tagged = next(s for s in document["Statement"] if s["Sid"] == "EcsTagNewRevisions")
    assert tagged["Resource"] == ["arn:aws:ecs:eu-west-1:*:task-definition/api-v2:*"]
    assert not [note for note in notes if "ecs:TagResource" in note]


def test_the_targets_account_id_and_templated_region_name_the_arns(
    cli: Cli, tmp_path: Path
) -> None:
    path = write_playbook(
        tmp_path,
        [{"id": "svc", "uses": "ecs.describe", "with": {"cluster": "web", "service": "api"}}],
        prod={
            "aws": {"region": "{{ vars.region }}", "account_id": "{{ vars.account }}"},
            "vars": {"region": "eu-west-1", "account": "210987654321"},
        },
    )

    document, notes = policy(cli, str(path), "-t", "prod", "-e", "region=ap-south-1")

    resources = {r for s in document["Statement"] for r in s["Resource"]}
    assert "arn:aws:ecs:ap-south-1:210987654321:service/web/api" in resources
    assert not any("account_id" in note for note in notes)


# -- the run's start, as `opskit run` makes it -----------------------------------------


def describe_in_regional_cluster(tmp_path: Path, aws: dict[str, Any]) -> Path:
    """A target whose cluster's name reads ``target.region``, the region it acts in."""
    return write_playbook(
        tmp_path,
        [{"id": "svc", "uses": "ecs.describe", "with": {"cluster": "{{ vars.cluster }}",
                                                        "service": "api"}}],
        prod={"aws": aws, "vars": {"cluster": "web-{{ target.region }}"}},
    )  # fmt: skip


def test_a_target_without_a_region_acts_where_the_environment_says_and_so_does_its_policy(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target that names no region acts in AWS_REGION, else AWS_DEFAULT_REGION
    (both exported by configure-aws-credentials): `opskit run` acts there and its
    templates read it as target.region, so the policy names it too."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    path = describe_in_regional_cluster(tmp_path, {"account_id": "210987654321"})

    document, notes = policy(cli, str(path), "-t", "prod")

    service = next(s for s in document["Statement"] if s["Sid"] == "EcsReadService")
    assert service["Resource"] == [
        "arn:aws:ecs:eu-central-1:210987654321:service/web-eu-central-1/api"
    ]
    assert not any("region" in note for note in notes)


def test_a_target_profiles_region_is_the_policys_region(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The region of the profile the run's session reads (~/.aws/config)."""
    aws_home(tmp_path, monkeypatch, "[profile prod]\nregion = ap-south-1\n")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    path = describe_in_regional_cluster(tmp_path, {"profile": "prod"})

    document, _ = policy(cli, str(path), "-t", "prod")

    service = next(s for s in document["Statement"] if s["Sid"] == "EcsReadService")
    assert service["Resource"] == ["arn:aws:ecs:ap-south-1:*:service/web-ap-south-1/api"]


def test_a_sandbox_targets_declared_account_names_the_arns(cli: Cli, tmp_path: Path) -> None:
    """The account a run on that target is held to, as for any target."""
    path = describe_in_regional_cluster(tmp_path, {"account_id": "210987654321"})
    text = path.read_text(encoding="utf-8").replace("  prod:\n", "  prod:\n    sandbox: true\n")
    path.write_text(text, encoding="utf-8")

    document, _ = policy(cli, str(path), "-t", "prod")

    service = next(s for s in document["Statement"] if s["Sid"] == "EcsReadService")
    assert service["Resource"] == ["arn:aws:ecs:us-east-1:210987654321:service/web-us-east-1/api"]


def test_a_target_whose_profile_this_machine_lacks_still_has_its_region(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No credentials and no `prod` profile here: no session can be made, and the
    policy names the region the target's aws: block renders (it asks AWS nothing)."""
    aws_home(tmp_path, monkeypatch, "")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    path = describe_in_regional_cluster(
        tmp_path, {"region": "{{ vars.region }}", "profile": "prod"}
    )
    text = path.read_text(encoding="utf-8").replace(
        "      cluster:", "      region: eu-north-1\n      cluster:"
    )
    path.write_text(text, encoding="utf-8")

    document, _ = policy(cli, str(path), "-t", "prod")

    service = next(s for s in document["Statement"] if s["Sid"] == "EcsReadService")
    assert service["Resource"] == ["arn:aws:ecs:eu-north-1:*:service/web-eu-north-1/api"]
