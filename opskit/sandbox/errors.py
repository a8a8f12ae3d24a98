"""The sandbox's one error type: a line the user can act on."""

from __future__ import annotations

from opskit.errors import OpskitError


class SandboxError(OpskitError):
    """The sandbox could not start, stop or be found (port in use, bundled app
    missing, the initial task never became healthy)."""
