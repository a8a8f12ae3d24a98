"""The policy `opskit iam` prints is enough, and no more, for a real run.

A sandbox that authorizes every request as AWS does (``enforce_iam``); an IAM
user whose only policy is what ``opskit iam`` printed for the redeploy
playbook's ``production`` target; the playbook run as CI runs it, against the
sandbox through ``AWS_ENDPOINT_URL`` with that user's keys in the environment
and an empty home. It passes; with one action taken out of the policy it fails
with one line naming that action. And each statement of the policy is needed:
the allowed run's own authorizations, as the sandbox decided them, need every
one but those kept for other paths (named below, with the path).

The bundled file itself, verbatim: its ``production`` target says
``aws: {region: "{{ vars.region }}", profile: prod, account_id: "123456789012"}``;
``-e region=us-east-1`` moves it to the sandbox's region, the environment's keys
take the place of the profile this machine lacks, as in the documented CI
workflow, and the deployer is a user of the account it declares (moto's).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opskit.iam.evaluate import evaluate
from opskit.sandbox import Sandbox, SandboxInfo
from opskit.sandbox.enforcement import Decided
from opskit.sandbox.server import CODE_PREFIX, NAMES, REGION, seed_bucket
from tests.cli_helpers import Cli
from tests.sandbox.sandbox_helpers import BUNDLED_SRC, ROOT, client, running_task_ids

BUNDLED = ROOT / "playbooks" / "redeploy.yaml"
ACCOUNT = "123456789012"  # moto's
DEPLOYER = "deployer"


@pytest.fixture(scope="module")
def enforcing(module_environment: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(app_port=0, enforce_iam=True)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def _names(info: SandboxInfo) -> list[str]:
    """``-e`` for the production target: the sandbox's names and app URL."""
    names = {
        "bucket": NAMES["bucket"],
        "cluster": NAMES["cluster"],
        "service": NAMES["service"],
        "log_group": NAMES["log_group"],
        "url": info.app_url,
        "poll_interval": "1s",
        "region": REGION,
    }
    return [arg for key, value in names.items() for arg in ("-e", f"{key}={value}")]


def _printed_policy(cli: Cli, playbook: Path, info: SandboxInfo) -> dict[str, Any]:
    printed = cli("iam", str(playbook), "-t", "production", *_names(info))
    assert printed.returncode == 0, printed.stderr
    return json.loads(printed.stdout)


def _as_deployer(
    monkeypatch: pytest.MonkeyPatch, info: SandboxInfo, home: Path, policy: dict[str, Any]
) -> None:
    """A user whose only policy is ``policy``; its keys, the endpoint and an empty
    home in the environment, as a CI job would have them."""
    iam = client(info, "iam")
    if DEPLOYER not in [u["UserName"] for u in iam.list_users()["Users"]]:
        iam.create_user(UserName=DEPLOYER)
    iam.put_user_policy(UserName=DEPLOYER, PolicyName="opskit", PolicyDocument=json.dumps(policy))
    for old in iam.list_access_keys(UserName=DEPLOYER)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=DEPLOYER, AccessKeyId=old["AccessKeyId"])
    key = iam.create_access_key(UserName=DEPLOYER)["AccessKey"]
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_ENDPOINT_URL", info.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])


def _without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    statements = []
    for statement in policy["Statement"]:
        kept = [a for a in statement["Action"] if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**policy, "Statement": statements}


def _deployer(decisions: list[Decided]) -> list[Decided]:
    return [d for d in decisions if d.principal == f"arn:aws:iam::{ACCOUNT}:user/{DEPLOYER}"]


def _unneeded(policy: dict[str, Any], decisions: list[Decided]) -> set[tuple[str, str]]:
    """The (action, resource) pairs of ``policy`` that none of ``decisions`` needs:
    without the pair, each of them is still allowed."""
    pairs = [
        (action, resource, statement.get("Condition"))
        for statement in policy["Statement"]
        for action in statement["Action"]
        for resource in statement["Resource"]
    ]
    unneeded = set()
    for index, (action, resource, _) in enumerate(pairs):
        rest = [
            {"Effect": "Allow", "Action": a, "Resource": r, **({"Condition": c} if c else {})}
            for a, r, c in pairs[:index] + pairs[index + 1 :]
        ]
        if all(
            evaluate([{"Statement": rest}], d.action, d.resource, d.context).allowed
            for d in decisions
        ):
            unneeded.add((action, resource))
    return unneeded


def test_the_run_fails_naming_the_action_the_policy_lacks(
    enforcing: Sandbox, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = enforcing.info()
    playbook = BUNDLED
    policy = _printed_policy(cli, playbook, info)
    _as_deployer(monkeypatch, info, tmp_path / "home", _without(policy, "ecs:UpdateService"))

    result = cli.run(playbook, "-t", "production", *_names(info))

    assert result.returncode == 1, result.stdout + result.stderr
    output = (result.stdout + result.stderr).splitlines()
    named = [line for line in output if "ecs:UpdateService" in line]
    assert len(named) == 1, named
    service = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/chatbot/chatbot"
    assert named[0].endswith(
        "target 'production': ecs UpdateService chatbot/chatbot: access denied "
        f"(AccessDeniedException): User: arn:aws:iam::{ACCOUNT}:user/{DEPLOYER} is not "
        f"authorized to perform: ecs:UpdateService on resource: {service} because no "
        "identity-based policy allows the ecs:UpdateService action"
    ), named[0]


def test_the_printed_policy_runs_the_playbook_and_each_statement_is_needed(
    enforcing: Sandbox, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = enforcing.info()
    playbook = BUNDLED
    policy = _printed_policy(cli, playbook, info)
    # The code as the sandbox seeded it (a manifest that pins no versions yet) and a
    # key the source does not have: the sync lists versions and deletes.
    s3 = client(info, "s3")
    seed_bucket(s3, NAMES["bucket"], CODE_PREFIX, BUNDLED_SRC)
    s3.put_object(Bucket=NAMES["bucket"], Key=CODE_PREFIX + "stale.txt", Body=b"old")
    (old_task,) = running_task_ids(info)
    _as_deployer(monkeypatch, info, tmp_path / "home", policy)
    before = len(enforcing.authorizations())

    result = cli.run(playbook, "-t", "production", *_names(info))

    assert result.returncode == 0, result.stdout + result.stderr
    assert running_task_ids(info) != [old_task]
    decisions = _deployer(enforcing.authorizations()[before:])
    assert [d for d in decisions if d.outcome != "allowed"] == []
    objects = f"arn:aws:s3:::{NAMES['bucket']}/{CODE_PREFIX}*"
    # Only for a path this run does not take: a failed multipart upload (a file of
    # 8 MiB or more) is aborted. (logs:GetLogEvents on every group is for the last
    # lines of a failed deployment's stopped tasks, from the log groups its task
    # definition names, unknown before the run; this run needs it too: the grant
    # for /ecs/chatbot alone is covered by it, so the policy does not repeat it.)
    # The service deployment actions are for a service on a native strategy
    # (BLUE_GREEN, LINEAR, CANARY), which only the run reads: this sandbox's is ROLLING.
    service = f"{NAMES['cluster']}/{NAMES['service']}"
    deployments = f"arn:aws:ecs:us-east-1:123456789012:service-deployment/{service}/*"
    assert _unneeded(policy, decisions) == {
        ("s3:AbortMultipartUpload", objects),
        ("ecs:ListServiceDeployments", f"arn:aws:ecs:us-east-1:123456789012:service/{service}"),
        ("ecs:DescribeServiceDeployments", deployments),
        ("ecs:ContinueServiceDeployment", deployments),
        ("ecs:StopServiceDeployment", deployments),
    }
