"""opskit: YAML playbooks that deploy an AWS container stack and prove the release is live."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
