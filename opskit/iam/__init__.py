"""IAM policies: what a playbook's steps need, and whether a policy allows a request.

Each step type declares its permissions once, in its own module
(``StepType.permissions``: a ``Permissions`` of ``Need`` entries, each one IAM
action on a resource derived from the step's inputs). ``opskit iam`` renders a
playbook's steps and merges their grants into one least-privilege policy
(``policy.policy_document``); ``opskit steps`` and ``docs/iam.md`` read the same
declarations. ``evaluate`` decides whether policies allow one request (action,
resource, condition context): the sandbox's IAM enforcement uses it.

Names follow AWS's "Actions, resources, and condition keys" pages (the Service
Authorization Reference): an action is ``service:Action``, a resource an ARN or
pattern, a condition ``{operator: {key: [values]}}``.

Import the submodule that holds a name (``opskit.iam.needs``, ``.policy``,
``.evaluate``, ``.scope``): every step module imports ``needs``, so this package
imports nothing more on its own, and a run never loads the evaluator or the
policy merge.
"""

from __future__ import annotations
