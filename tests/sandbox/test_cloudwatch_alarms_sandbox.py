"""``cloudwatch.alarms`` against the sandbox's moto while it authorizes as AWS
does: CloudWatch signs as ``monitoring`` and is authorized as ``cloudwatch:...``;
the policy ``opskit iam`` prints for the step is enough for ``opskit run``, and a
user without ``cloudwatch:DescribeAlarms`` gets one line naming it. On the
session's moto server with enforcement on (``tests.enforced``), as the
sandbox's own enforcement test does: no stack to start for AWS calls alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import Cli
from tests.enforced import ACCOUNT, enforcing, make_client, user_with

DENIED = (
    f"User: arn:aws:iam::{ACCOUNT}:user/{{}} is not authorized to perform: "
    "cloudwatch:DescribeAlarms on resource: * because no identity-based policy allows the "
    "cloudwatch:DescribeAlarms action"
)

OTHER = [{"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"}]


def test_the_printed_policy_lets_the_step_read_alarms_and_a_user_without_it_is_refused(
    aws_endpoint: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    playbook = tmp_path / "bake.yaml"
    playbook.write_text(
        "name: Bake\n"
        "targets:\n  ci: {aws: {region: us-east-1}}\n"
        "steps:\n"
        "  - id: bake\n    uses: cloudwatch.alarms\n"
        "    with: {alarms: [chatbot-5xx], window: 0.1, poll_interval: 0.1}\n"
    )
    printed = cli("iam", str(playbook), "-t", "ci")
    assert printed.returncode == 0, printed.stderr
    policy = json.loads(printed.stdout)
    assert [(s["Action"], s["Resource"]) for s in policy["Statement"]] == [
        (["cloudwatch:DescribeAlarms"], ["*"])
    ]
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)

    with enforcing(aws_endpoint) as (operator, enforcement):
        cloudwatch = make_client(aws_endpoint, "cloudwatch", operator)
        cloudwatch.put_metric_alarm(
            AlarmName="chatbot-5xx", Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
        cloudwatch.set_alarm_state(AlarmName="chatbot-5xx", StateValue="OK", StateReason="-")
        for user, statements in (("baker", policy["Statement"]), ("other", OTHER)):
            keys = user_with(aws_endpoint, operator, statements, name=user)
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key_id)
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_access_key)
            ran = cli.run(playbook)
            if user == "baker":
                assert ran.returncode == 0, ran.stdout + ran.stderr
                assert "no alarm in ALARM through 100ms: 1 alarm watched" in ran.stdout
            else:
                assert ran.returncode == 1
                assert DENIED.format(user) in ran.stdout
        decided = {(d.principal.rsplit("/", 1)[-1], d.operation, d.action, d.outcome)
                   for d in enforcement.decisions if "user/opskit" not in d.principal}  # fmt: skip

    assert decided == {
        ("baker", "monitoring:DescribeAlarms", "cloudwatch:DescribeAlarms", "allowed"),
        ("other", "monitoring:DescribeAlarms", "cloudwatch:DescribeAlarms", "implicit deny"),
    }
