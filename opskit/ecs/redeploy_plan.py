"""What ``ecs.redeploy`` will deploy, worked out with read calls only.

``run`` and the dry run share it, so the dry run says exactly what the run would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opskit.ecs.names import plural, short_task_definition, task_id_of
from opskit.ecs.settings import RolloutConfig
from opskit.ecs.taskdef import Changes
from opskit.ecs.taskfile import FilePlan


@dataclass(frozen=True)
class Plan:
    """What the step will deploy, worked out with read calls only."""

    service: dict[str, Any]
    previous: str  # the service's task definition ARN now
    base: dict[str, Any]  # the task definition the deployment starts from
    changes: Changes | FilePlan
    old_tasks: list[dict[str, Any]]

    @property
    def config(self) -> RolloutConfig:
        """The service's deploymentConfiguration, as far as it matters."""
        return RolloutConfig.of(self.service)

    @property
    def update_task_definition(self) -> str | None:
        """The taskDefinition to send, when it differs from the current one."""
        arn = self.base.get("taskDefinitionArn", "")
        return arn if arn and arn != self.previous else None

    def actions(self, name: str, force: bool) -> list[str]:
        lines = []
        target = short_task_definition(self.base.get("taskDefinitionArn", ""))
        if self.changes:
            family = self.base.get("family", "?")
            lines.append(
                f"register a new revision of {family} from {target}: {self.changes.describe()}"
            )
            target = f"the new revision of {family}"
        how = "force a new deployment" if force else "start a deployment"
        lines.append(f"update ECS service {name!r}: {how} of {target}")
        if self.old_tasks:
            ids = ", ".join(task_id_of(t.get("taskArn", "")) for t in self.old_tasks)
            lines.append(f"replace {plural(len(self.old_tasks), 'running task')}: {ids}")
        return lines
