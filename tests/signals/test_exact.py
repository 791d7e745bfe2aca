from __future__ import annotations

import hashlib
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from kavach.signals.exact import digest_bytes, digest_stream


def _expected(data: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, data).hexdigest() for name in ("md5", "sha1", "sha256")}


@settings(max_examples=25)
@given(st.binary(max_size=5000))
def test_digests_match_hashlib(data):
    assert digest_bytes(data) == _expected(data)
    digests, size, kept = digest_stream(io.BytesIO(data), keep_up_to=len(data) or 1)
    assert digests == _expected(data)
    assert size == len(data)
    assert kept == data


def test_stream_larger_than_a_chunk_is_not_kept_past_the_limit():
    data = bytes(range(256)) * 9000  # 2.3 MB: several read chunks
    digests, size, kept = digest_stream(io.BytesIO(data), keep_up_to=1024 * 1024)
    assert digests == _expected(data)
    assert size == len(data)
    assert kept is None
    digests, _size, kept = digest_stream(io.BytesIO(data), keep_up_to=len(data))
    assert kept == data


def test_subset_of_algorithms():
    digests, _, kept = digest_stream(io.BytesIO(b"abc"), ["sha256"])
    assert list(digests) == ["sha256"]
    assert kept is None
