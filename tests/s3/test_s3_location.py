from __future__ import annotations

import pytest

from opskit.errors import InputError
from opskit.manifest import path_problem
from opskit.s3.location import S3Location, UnsafeKey, parse_s3_url


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://b/src/", "b", "src/"),
        ("s3://b/src", "b", "src/"),
        ("s3://b", "b", ""),
        ("s3://b/a/b/", "b", "a/b/"),
    ],
)
def test_destinations_parse_with_a_trailing_slash(url, bucket, prefix):
    assert parse_s3_url(url) == S3Location(bucket, prefix)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("b/src/", "destination 'b/src/' must look like s3://bucket/prefix/"),
        ("s3:///src/", "destination 's3:///src/' has no bucket name (s3://bucket/prefix/)"),
        (
            "s3://b/src/../x/",
            "destination 's3://b/src/../x/': the prefix has an empty, '.' or "
            "'..' component; write it without them",
        ),
        (
            "s3://b/a//b/",
            "destination 's3://b/a//b/': the prefix has an empty, '.' or "
            "'..' component; write it without them",
        ),
    ],
)
def test_bad_destinations_are_refused(url, message):
    with pytest.raises(InputError) as failure:
        parse_s3_url(url)
    assert str(failure.value) == message


@pytest.mark.parametrize("relative", ["../etc/passwd", "a/../../b", "./a", "a//b", "a\\..\\b", ""])
def test_keys_that_would_escape_the_prefix_are_refused(relative):
    with pytest.raises(UnsafeKey):
        S3Location("b", "src/").key_for(relative)


@pytest.mark.parametrize(
    ("relative", "why"),
    [
        ("dir/", "a folder marker"),
        ("a//b", "an empty component ('//')"),
        ("/a", "an empty component ('//')"),
        ("../evil.txt", "a '.' or '..' component"),
        ("a/./b", "a '.' or '..' component"),
        ("a\\b", "a backslash"),
        ("a\0b", "a NUL character"),
        ("core/app.py", None),
        ("..hidden/x", None),
    ],
)
def test_listed_keys_no_file_can_have_say_why(relative, why):
    assert path_problem(relative) == why


def test_a_listed_key_is_named_exactly_never_resolved():
    assert S3Location("b", "src/").listed_key("../evil.txt") == "src/../evil.txt"
