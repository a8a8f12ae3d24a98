"""Fixtures for the bundled stack: its ``src/`` on ``sys.path``, the sandbox's settings.

The app's package is called ``core`` and is imported the way the container
imports it (``src/`` on ``sys.path``), never through opskit. The fakes live in
``stack_fakes.py`` beside this file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC_DIR = HERE.parents[1] / "opskit" / "stack" / "src"
# Importing the app in process must not leave __pycache__ in the package data
# that playbooks upload.
sys.dont_write_bytecode = True
for directory in (SRC_DIR, HERE):
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))


@pytest.fixture
def stack_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The sandbox's app settings: local provider, no delays between chunks."""
    for name in (
        "CHATBOT_BEDROCK_REGION",
        "CHATBOT_INFERENCE_PROFILE_PREFIX",
        "CHATBOT_FAST_MODEL_ID",
        "CHATBOT_DETAILED_MODEL_ID",
        "CHATBOT_CHECK_BEDROCK_CONTROL_PLANE",
        "CHATBOT_S3_BUCKET",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHATBOT_MODEL_PROVIDER", "local")
    monkeypatch.setenv("CHATBOT_LOCAL_STREAM_DELAY", "0")
    yield
