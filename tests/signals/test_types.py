from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kavach.errors import InvalidHashError
from kavach.signals.types import SignalType, format_hash, parse_hash


@pytest.mark.parametrize(
    ("signal", "size"),
    [("md5", 16), ("sha1", 20), ("sha256", 32), ("pdq", 32), ("photodna", 144)],
)
def test_sizes(signal, size):
    assert SignalType.parse(signal).size == size


def test_parse_names_case_and_dashes():
    assert SignalType.parse(" SHA-256 ") is SignalType.SHA256
    with pytest.raises(InvalidHashError, match="expected one of"):
        SignalType.parse("crc32")


@given(st.sampled_from(["md5", "sha1", "sha256", "pdq"]), st.data())
def test_hex_round_trip(signal, data):
    st_ = SignalType.parse(signal)
    raw = data.draw(st.binary(min_size=st_.size, max_size=st_.size))
    text = format_hash(st_, raw)
    assert parse_hash(st_, text) == raw
    assert parse_hash(signal, text.upper()) == raw


@given(st.binary(min_size=144, max_size=144))
def test_photodna_forms(raw):
    assert parse_hash("photodna", base64.b64encode(raw).decode()) == raw
    assert parse_hash("photodna", ",".join(str(b) for b in raw)) == raw
    assert parse_hash("photodna", raw.hex()) == raw
    assert parse_hash("photodna", format_hash("photodna", raw)) == raw


@pytest.mark.parametrize(
    ("signal", "text", "message"),
    [
        ("md5", "abc", "32 hex characters"),
        ("md5", "z" * 32, "not hexadecimal"),
        ("sha1", "0" * 41, "40 hex characters"),
        ("photodna", "!!!", "base64"),
        ("photodna", base64.b64encode(b"x" * 10).decode(), "144 bytes"),
        ("photodna", "1,2,3", "144 integers"),
        ("photodna", ",".join(["300"] * 144), "144 integers"),
    ],
)
def test_malformed_hashes_say_what_is_wrong(signal, text, message):
    with pytest.raises(InvalidHashError, match=message):
        parse_hash(signal, text)


def test_format_checks_length():
    with pytest.raises(InvalidHashError):
        format_hash("md5", b"\x00" * 15)


def test_exactness():
    assert SignalType.MD5.is_exact
    assert not SignalType.PDQ.is_exact
    assert not SignalType.PHOTODNA.is_exact
