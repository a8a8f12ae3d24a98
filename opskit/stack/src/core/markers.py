"""The log lines that deployment playbooks wait for: the ONE list.

opskit's ``logs.wait`` step reads the new task's CloudWatch stream and passes
when its ``success`` patterns have matched, failing as soon as a ``failure``
pattern matches. The healthy app therefore logs every success marker below and
never any of ``FAILURE_WORDS``, not even in the sandbox.

``entrypoint.py`` cannot import this module (the image holds only the
entrypoint until it has downloaded ``src/``), so it repeats the two markers it
logs; a test checks that the copies agree.
"""

from __future__ import annotations

# Logged by the entrypoint once every file matched the manifest's SHA-256.
CODE_DIGEST_VERIFIED = "code digest {digest} verified"

# Logged once per client by core.aws_clients; the label comes from its
# HEALTH_CHECKS table ("Bedrock Runtime", "Bedrock", "S3").
HEALTH_CHECK_PASSED = "{label} health check passed"
HEALTH_CHECK_FAILED = "{label} health check failed: {reason}"
BEDROCK_RUNTIME_HEALTH_CHECK_PASSED = HEALTH_CHECK_PASSED.format(label="Bedrock Runtime")

# Logged by the preflight and by the app when its first session starts.
MODEL_PROVIDER_LOCAL = "Model provider: local responder (no Bedrock)"
MODEL_PROVIDER_BEDROCK = "Model provider: Bedrock in {region} (fast {fast}, detailed {detailed})"

# Logged by the preflight: the release imports and its clients are healthy.
PREFLIGHT_PASSED = "Preflight passed"
PREFLIGHT_FAILED = "Preflight failed: {reason}"

# Logged by the entrypoint just before it execs Streamlit.
STARTING_STREAMLIT = "Starting Streamlit application"

# Logged per model and per answer by core.streaming_handler.
FIRST_TOKEN = "{model} first token after {seconds:.2f} s ({source})"
ANSWER_COMPLETE = "{model} answer complete: {chars} chars in {seconds:.2f} s ({source})"
ANSWER_FAILED = "{model} answer failed after {seconds:.2f} s: {reason}"

# What the bundled redeploy playbook treats as a broken release.
FAILURE_WORDS = ("Traceback", "has no attribute", "NameError", "SyntaxError")

# What a playbook waits for after a deployment (the digest comes from s3.sync).
SUCCESS_MARKERS = (CODE_DIGEST_VERIFIED, BEDROCK_RUNTIME_HEALTH_CHECK_PASSED)
