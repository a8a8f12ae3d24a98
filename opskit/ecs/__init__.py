"""ECS pieces behind the ``ecs.redeploy`` and ``ecs.describe`` step types.

Kept apart as ecspresso keeps deploy, wait and verify apart, each usable alone:

- ``describe``: read a service, its tasks and events (both steps);
- ``taskdef``: a new revision with image/environment changes; awslogs options;
- ``deploy``: ``update_service`` and the id of the deployment it created;
- ``watch``: the verdict over one described deployment (pure, no AWS);
- ``wait``: the poll loop that feeds ``watch``, remembers what it must across
  polls (seen once, reads since the update or missing since, placement
  failures) and emits progress;
- ``rollback``: back to the previous task definition after a failure, with a
  wait limit of its own;
- ``settings``: the service's ``deploymentConfiguration`` (strategy, bake time,
  alarms) and the step's own time limit;
- ``stops``, ``placement``: ECS's own words as data (stops that are not
  crashes and which of a deployment's stops are failures, events that say a
  task cannot be placed), pure;
- ``failure``: the evidence of stopped tasks (reasons, exit codes, last log lines).

Everything reads only the shapes the real ECS API returns, so it behaves the
same against AWS, moto and the sandbox's local agent.
"""
