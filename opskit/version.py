"""The one place the version is written (setup.cfg reads it; so does every module
that stamps it on what it writes: manifests, reports)."""

__version__ = "0.1.0"
