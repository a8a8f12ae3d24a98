"""The AWS behaviours that moto does not show, played by the sandbox on demand.

    sandbox.aws_faults.set(make_aws_fault("ecs", "stale_reads", FaultOptions(calls=2)))
    sandbox.aws_faults.set(make_aws_fault("logs", "throttle"))      # 5 FilterLogEvents/s
    sandbox.aws_faults.clear()

``kinds`` says what each fault plays and which AWS document it follows;
``board`` holds the faults in force; ``middleware`` plays them on moto's wire,
``ecs_play`` in the agent, the log shipper (``sandbox.tasks``) the late lines;
``control`` is what ``opskit sandbox fault ecs|logs`` calls.
"""

from __future__ import annotations

from opskit.sandbox.aws_faults.board import AwsFaultBoard, AwsFaultsFile
from opskit.sandbox.aws_faults.kinds import (
    KINDS,
    AwsFault,
    FaultOptions,
    aws_fault_from_json,
    make_aws_fault,
)
from opskit.sandbox.faultfile import FaultInvalid

__all__ = [
    "KINDS",
    "AwsFault",
    "AwsFaultBoard",
    "AwsFaultsFile",
    "FaultInvalid",
    "FaultOptions",
    "aws_fault_from_json",
    "make_aws_fault",
]
