"""``s3://bucket/prefix/`` destinations and the keys allowed under them.

A key is ``prefix + relative path``. S3 itself treats ``..`` as plain text, but
every program that later downloads the tree to disk (the container entrypoint,
``aws s3 sync`` down) would resolve it, so a ``.``/``..``/empty component is
refused both in the prefix and in a relative path: nothing opskit writes can land
outside the destination once downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from opskit.errors import InputError
from opskit.manifest import path_problem


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" (bucket root) or ends with "/"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def is_bucket_root(self) -> bool:
        return self.prefix == ""

    def key_for(self, relative: str) -> str:
        """The key of a relative path; ``UnsafeKey`` when it would leave the prefix."""
        check_relative_path(relative)
        return self.prefix + relative

    def relative(self, key: str) -> str:
        if not key.startswith(self.prefix):
            raise ValueError(f"key {key!r} is not under {self.url}")
        return key[len(self.prefix) :]

    def listed_key(self, relative: str) -> str:
        """The exact key of a relative path read from a listing of this prefix.

        Unlike ``key_for`` nothing is checked: a listed key such as
        ``prefix/../evil.txt`` is a string under the prefix (S3 resolves no ``..``,
        and ``DeleteObjects`` names keys in its XML body, not in a URL path), so
        it names exactly the object listed and nothing outside the prefix. Only
        for requests about that object; never a local path."""
        return self.prefix + relative


class UnsafeKey(ValueError):
    """A relative path that would escape the destination prefix."""


def check_relative_path(relative: str) -> None:
    if path_problem(relative):
        raise UnsafeKey(
            f"path {relative!r} would escape the destination prefix "
            "(empty, '.', '..' components or backslashes are refused)"
        )


def parse_s3_url(text: str) -> S3Location:
    """Parse ``s3://bucket/prefix``; a prefix always gets a trailing ``/``."""
    if not isinstance(text, str) or not text.startswith("s3://"):
        raise InputError(f"destination {text!r} must look like s3://bucket/prefix/")
    rest = text[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InputError(f"destination {text!r} has no bucket name (s3://bucket/prefix/)")
    prefix = prefix.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if prefix:
        try:
            check_relative_path(prefix[:-1])
        except UnsafeKey:
            raise InputError(
                f"destination {text!r}: the prefix has an empty, '.' or '..' component; "
                "write it without them"
            ) from None
    return S3Location(bucket, prefix)


def checked_destination(value: object) -> str:
    """``Input.check`` for a destination: parse early so a typo fails validation."""
    try:
        parse_s3_url(str(value))
    except InputError as err:
        raise ValueError(str(err)) from None
    return str(value)
