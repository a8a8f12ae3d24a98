"""CloudWatch alarms: read them (``alarms``) and watch them for a bake window
(``watch``), for the ``cloudwatch.alarms`` step."""
