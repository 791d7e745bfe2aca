"""Readers and writers of every list format, without a database."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kavach.banks.formats import (
    FORMATS,
    Deletion,
    HashRecord,
    Label,
    ReadOptions,
    RecordError,
    WriteOptions,
    get_format,
)
from kavach.banks.formats.text import guess_signal_type
from kavach.errors import FormatError, InputError, InvalidHashError
from kavach.signals.types import SignalType

FIXTURES = Path(__file__).parent / "fixtures"


def read(name: str, path: str | bytes, options: ReadOptions | None = None) -> list[object]:
    data = path if isinstance(path, bytes) else (FIXTURES / path).read_bytes()
    return list(get_format(name).read(io.BytesIO(data), options or ReadOptions()))


def records(items: list[object]) -> list[HashRecord]:
    return [i for i in items if isinstance(i, HashRecord)]


def errors(items: list[object]) -> list[RecordError]:
    return [i for i in items if isinstance(i, RecordError)]


def write(
    name: str, recs: list[HashRecord | Deletion], options: WriteOptions | None = None
) -> bytes:
    out = io.BytesIO()
    get_format(name).write(out, recs, options or WriteOptions())
    return out.getvalue()


# --- VICS ---------------------------------------------------------------------------------------


def test_vics_1x_case_file() -> None:
    items = read("vics", "vics_1x_case.json")
    recs = records(items)
    assert [r.item_id for r in recs] == ["101", "102", "103", "105"]
    first = recs[0]
    assert {st for st, _ in first.hashes} == {SignalType.MD5, SignalType.SHA1, SignalType.PHOTODNA}
    assert dict(first.hashes)[SignalType.PHOTODNA].__len__() == 144
    assert first.labels == (Label("vics-us", "1"),)
    assert first.attributes == {
        "victim_identified": True,
        "offender_identified": False,
        "is_distributed": True,
        "series": "fixture-series",
        "tags": ["tag-a", "tag-b"],
        "file_names": ["img001.jpg"],
    }
    assert recs[2].labels == (Label("vics-us", "0"),)
    errs = errors(items)
    assert [e.where for e in errs] == [
        "value[0].Media[3] (MediaID 104)",
        "value[0].Media[4] (MediaID 105)",
    ]
    assert "MD5" in errs[0].message
    assert "IsDistributed" in errs[1].message


def test_vics_2_us_hash_set_with_bom() -> None:
    items = read("vics", "vics_2_us_hashset.json")
    assert errors(items) == []
    recs = records(items)
    assert [r.item_id for r in recs] == ["201", "202", "203"]
    assert [r.labels[0] for r in recs] == [
        Label("vics-us", "1"),
        Label("vics-us", "3"),
        Label("vics-us", "4"),
    ]
    assert recs[0].where == "value[0] (MediaID 201)"


def test_vics_2_uk_categories_become_letters() -> None:
    recs = records(read("vics", "vics_2_uk_case.json"))
    assert [r.labels[0].value for r in recs] == ["A", "B", "C"]
    assert {r.labels[0].scheme for r in recs} == {"vics-uk"}


def test_vics_custom_flavour() -> None:
    doc = {
        "@odata.context": "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/CUSTOM$metadata#Media",
        "value": [{"MediaID": 1, "Category": "local-7", "MD5": "0" * 32}],
    }
    (rec,) = records(read("vics", json.dumps(doc).encode()))
    assert rec.labels == (Label("vics-custom", "local-7"),)


def test_vics_truncated_json_is_a_format_error_after_the_good_records() -> None:
    data = b'{"value": [{"MD5": "' + b"a" * 32 + b'"}, {"MD5": '
    reader = get_format("vics").read(io.BytesIO(data), ReadOptions())
    first = next(reader)
    assert isinstance(first, HashRecord)
    with pytest.raises(FormatError, match="not valid JSON after 1 media"):
        next(reader)


def test_vics_without_value_array_is_rejected() -> None:
    with pytest.raises(FormatError, match="no top-level 'value'"):
        read("vics", b'{"odata.metadata": "x"}')


def test_vics_media_without_hashes_is_reported() -> None:
    items = read("vics", b'{"value": [{"MediaID": 9, "Category": 1}, "junk"]}')
    assert [str(e) for e in errors(items)] == [
        "value[0] (MediaID 9): Media entry has no MD5, SHA1 or PhotoDNA hash",
        "value[1]: entry is not an object",
    ]


def test_vics_writer_emits_2_0() -> None:
    recs = records(read("vics", "vics_1x_case.json"))
    doc = json.loads(write("vics", [*recs, Deletion("x")]))
    assert doc["@odata.context"].endswith("2.0.xml/US$metadata#Media")
    assert len(doc["value"]) == len(recs)
    media = doc["value"][0]
    assert media["MediaID"] == 101
    assert media["Category"] == 1
    assert media["IsDistributed"] is True
    assert media["MediaFiles"] == [{"FileName": "img001.jpg"}]
    assert "FilePath" not in json.dumps(doc)


def test_vics_writer_rejects_unknown_flavour() -> None:
    with pytest.raises(InputError, match="flavour"):
        write("vics", [], WriteOptions(vics_flavour="mars"))


# --- NCMEC --------------------------------------------------------------------------------------


def test_ncmec_page() -> None:
    items = read("ncmec", "ncmec_page.xml")
    recs = records(items)
    assert [r.item_id for r in recs] == ["4711", "4712", "9001"]
    first = recs[0]
    assert [st for st, _ in first.hashes] == [
        SignalType.MD5,
        SignalType.SHA1,
        SignalType.PHOTODNA,
        SignalType.PDQ,
    ]
    (label,) = first.labels
    assert (label.scheme, label.value, label.assessor) == ("industry", "A1", "Example ESP")
    assert label.assessed_at is not None
    assert label.assessed_at.year == 2024
    assert recs[2].attributes["media_type"] == "video"
    deletions = [i for i in items if isinstance(i, Deletion)]
    assert [d.item_id for d in deletions] == ["4000", "4712"]
    errs = errors(items)
    assert len(errs) == 2
    assert all(e.where == "entry 3 (id 4713)" for e in errs)


def test_ncmec_refuses_entities_and_dtds() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><queryResult>&b;</queryResult>'
    )
    with pytest.raises(FormatError, match="DTDs and entities"):
        read("ncmec", bomb)


def test_ncmec_malformed_xml_names_the_line() -> None:
    data = b"<queryResult>\n<images>\n<image id='1'><fingerprints><md5>" + b"0" * 32 + b"</md5>\n"
    with pytest.raises(FormatError) as info:
        read("ncmec", data)
    assert info.value.line == 4


def test_ncmec_without_namespace_is_read_too() -> None:
    data = (
        b"<queryResult><images><image><id>7</id><fingerprints><md5>"
        + b"1" * 32
        + b"</md5></fingerprints></image></images></queryResult>"
    )
    (rec,) = records(read("ncmec", data))
    assert rec.item_id == "7"
    assert rec.labels == ()


# --- ICSE ---------------------------------------------------------------------------------------


def test_icse_export() -> None:
    items = read("icse", "icse_export.csv")
    recs = records(items)
    # A row with a bad flag keeps its valid hashes; the bad field is reported.
    assert [r.item_id for r in recs] == ["IMG-501", "IMG-502", "IMG-503", "IMG-505"]
    assert recs[0].labels == (Label("interpol-baseline", "baseline"),)
    assert recs[0].attributes == {
        "is_distributed": True,
        "victim_identified": False,
        "offender_identified": False,
        "series": "series-x",
        "media_type": "image",
        "submissions": 3,
    }
    assert recs[1].labels == ()
    assert recs[1].attributes["media_type"] == "video"
    errs = errors(items)
    assert {e.line for e in errs} == {5, 6}
    assert any(e.message.startswith("is distributed") for e in errs)
    assert any(e.message.startswith("Number of submissions") for e in errs)


def test_icse_wrong_delimiter_is_explained() -> None:
    with pytest.raises(FormatError, match="';'-separated"):
        read("icse", b"MD5,SHA1\n" + b"0" * 32 + b",\n")


# --- HMA CSV ------------------------------------------------------------------------------------


def test_hma_csv() -> None:
    items = read("hma", "hma_bank.csv")
    recs = records(items)
    assert [(r.hashes[0][0], r.item_id) for r in recs] == [
        (SignalType.PDQ, "item-601"),
        (SignalType.MD5, "item-601"),
        (SignalType.MD5, None),
        (SignalType.SHA1, None),
    ]
    assert recs[0].labels == (Label("industry", "A1"), Label("vics-us", "1"))
    assert recs[0].attributes == {"tags": ["t1", "t2"]}
    assert recs[2].attributes == {"media_type": "video"}
    errs = errors(items)
    assert [e.line for e in errs] == [5, 6, 7]
    assert "url" in errs[0].message


def test_hma_headerless_two_columns() -> None:
    data = b"md5," + b"a" * 32 + b"\nsha1," + b"b" * 40 + b"\n"
    assert len(records(read("hma", data))) == 2


def test_hma_header_without_hash_column_is_rejected() -> None:
    with pytest.raises(FormatError, match="signal"):
        read("hma", b"kind,whatever\nmd5,x\n")


# --- text ---------------------------------------------------------------------------------------


def test_text_lines() -> None:
    items = read("text", "hashes.txt")
    recs = records(items)
    assert [r.hashes[0][0] for r in recs] == [
        SignalType.MD5,
        SignalType.SHA1,
        SignalType.MD5,
        SignalType.PDQ,
    ]
    assert [r.where for r in recs] == ["line 3", "line 4", "line 5", "line 6"]
    errs = errors(items)
    assert [e.line for e in errs] == [7, 8]
    assert "sha256 or pdq" in errs[0].message


def test_text_signal_type_option() -> None:
    items = read("text", ("c" * 64 + "\n").encode(), ReadOptions(signal_type=SignalType.SHA256))
    (rec,) = records(items)
    assert rec.hashes[0][0] is SignalType.SHA256


def test_guess_signal_type() -> None:
    assert guess_signal_type("a" * 32) is SignalType.MD5
    assert guess_signal_type("a" * 40) is SignalType.SHA1
    with pytest.raises(InvalidHashError):
        guess_signal_type("a" * 64)


def test_text_writer_prefixes_types_unless_one_is_chosen() -> None:
    rec = HashRecord(((SignalType.MD5, b"\x01" * 16), (SignalType.SHA1, b"\x02" * 20)))
    assert write("text", [rec]).decode() == f"md5 {'01' * 16}\nsha1 {'02' * 20}\n"
    only = write("text", [rec], WriteOptions(signal_type=SignalType.SHA1)).decode()
    assert only == "02" * 20 + "\n"


def test_unknown_format() -> None:
    with pytest.raises(InputError, match="vics, ncmec, icse, hma, text"):
        get_format("xlsx")


# --- round trips (reader → writer → reader) ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fixture"),
    [
        ("vics", "vics_1x_case.json"),
        ("vics", "vics_2_us_hashset.json"),
        ("ncmec", "ncmec_page.xml"),
        ("icse", "icse_export.csv"),
        ("hma", "hma_bank.csv"),
        ("text", "hashes.txt"),
    ],
)
def test_round_trip_of_fixtures(name: str, fixture: str) -> None:
    items = read(name, fixture)
    kept = [i for i in items if isinstance(i, HashRecord | Deletion)]
    again = read(name, write(name, kept))
    assert errors(again) == []
    assert [_key(i) for i in again] == [_key(i) for i in kept if _writable(name, i)]


def test_vics_uk_round_trip() -> None:
    recs = records(read("vics", "vics_2_uk_case.json"))
    again = records(read("vics", write("vics", recs, WriteOptions(vics_flavour="UK"))))
    assert [_key(r) for r in again] == [_key(r) for r in recs]


def _writable(name: str, item: object) -> bool:
    return name == "ncmec" or not isinstance(item, Deletion)


def _key(item: object) -> tuple[object, ...]:
    if isinstance(item, Deletion):
        return ("deletion", item.item_id, item.hashes)
    assert isinstance(item, HashRecord)
    return (
        "record",
        item.item_id,
        tuple(sorted(item.hashes)),
        tuple(sorted(item.labels, key=lambda lb: (lb.scheme, lb.value))),
        dict(item.attributes),
    )


_signal = st.sampled_from([SignalType.MD5, SignalType.SHA1, SignalType.PDQ, SignalType.PHOTODNA])
_hashes = st.lists(
    _signal.flatmap(lambda s: st.tuples(st.just(s), st.binary(min_size=s.size, max_size=s.size))),
    min_size=1,
    max_size=3,
    unique_by=lambda h: h[0],
)
_text_value = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(
    hashes=_hashes,
    item_id=st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9-]{1,12}", fullmatch=True)),
    flags=st.fixed_dictionaries(
        {},
        optional={
            "victim_identified": st.booleans(),
            "offender_identified": st.booleans(),
            "is_distributed": st.booleans(),
        },
    ),
    series=st.one_of(st.none(), _text_value),
    category=st.one_of(st.none(), st.sampled_from(["0", "1", "2", "3", "4"])),
)
def test_vics_round_trip_property(
    hashes: list[tuple[SignalType, bytes]],
    item_id: str | None,
    flags: dict[str, bool],
    series: str | None,
    category: str | None,
) -> None:
    attributes: dict[str, object] = dict(flags)
    if series and series.strip() == series:
        attributes["series"] = series
    # VICS carries no PDQ: drop it from what we expect back.
    kept = tuple(h for h in hashes if h[0] is not SignalType.PDQ)
    labels = (Label("vics-us", category),) if category else ()
    rec = HashRecord(tuple(hashes), labels, item_id, attributes)
    again = records(read("vics", write("vics", [rec])))
    if not kept:
        assert again == []
        return
    (back,) = again
    assert _key(back) == _key(HashRecord(kept, labels, item_id, attributes))


@settings(max_examples=40, deadline=None)
@given(hashes=st.lists(_hashes, min_size=0, max_size=6))
def test_text_and_hma_round_trip_property(hashes: list[list[tuple[SignalType, bytes]]]) -> None:
    recs = [HashRecord(tuple(h)) for h in hashes]
    flat = sorted(h for r in recs for h in r.hashes)
    for name in ("text", "hma"):
        back = records(read(name, write(name, recs)))
        assert sorted(h for r in back for h in r.hashes) == flat


def test_every_format_is_registered() -> None:
    assert set(FORMATS) == {"vics", "ncmec", "icse", "hma", "text", "vpdq"}


# --- big files stream ---------------------------------------------------------------------------


class _GeneratedFile(io.RawIOBase):
    """Bytes produced chunk by chunk as they are read: a big list file that never exists whole."""

    def __init__(self, chunks) -> None:  # type: ignore[no-untyped-def]
        self._chunks = iter(chunks)
        self._buffer = b""
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        while len(self._buffer) < len(buffer):
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        self.size += n
        return n


def _vics_case(media: int, padding: int):  # type: ignore[no-untyped-def]
    yield b'\xef\xbb\xbf{"odata.metadata": "x/1.3.xml#Cases", '
    yield b'"value": [{"CaseNumber": "big", "Media": ['
    note = "n" * padding
    for i in range(media):
        sep = b"," if i else b""
        yield (
            sep
            + json.dumps(
                {"MediaID": i, "Category": 1, "MD5": f"{i:032x}", "Comments": note}
            ).encode()
        )
    yield b"]}]}"


def test_a_big_vics_file_is_read_as_a_stream() -> None:
    import tracemalloc

    source = _GeneratedFile(_vics_case(media=8_000, padding=3_000))
    tracemalloc.start()
    try:
        count = 0
        for item in get_format("vics").read(io.BufferedReader(source), ReadOptions()):
            assert isinstance(item, HashRecord)
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 8_000
    assert source.size > 24_000_000
    # The whole file is ~24 MB; reading it holds a few media at a time.
    assert peak < 4_000_000


def _ncmec_pages(count: int):  # type: ignore[no-untyped-def]
    yield b'<?xml version="1.0" encoding="UTF-8"?>\n'
    yield b'<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><images>'
    for i in range(count):
        yield (
            f'<image id="{i}" timestamp="2024-05-01T10:00:00Z"><member id="12">Example ESP'
            f"</member><classification>A1</classification><fingerprints><md5>{i:032x}</md5>"
            f"<sha1>{i:040x}</sha1><pdq>{i:064x}</pdq></fingerprints></image>\n"
        ).encode()
    yield b"</images></queryResult>"


def _icse_rows(count: int):  # type: ignore[no-untyped-def]
    yield (
        b"MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;"
        b"Series name;Number of submissions;Media Type;Baseline\n"
    )
    for i in range(count):
        yield f"{i:032x};{i:040x};;IMG-{i};Yes;No;No;series-{i % 50};3;Image;Yes\n".encode()


def _hma_rows(count: int):  # type: ignore[no-untyped-def]
    yield b"signal_type,signal,item_id,labels,tags,note\n"
    for i in range(count):
        yield f"pdq,{i:064x},item-{i},industry:A1,t1,row {i}\n".encode()


def _text_lines(count: int):  # type: ignore[no-untyped-def]
    yield b"# generated\n"
    for i in range(count):
        yield f"{i:032x}\n".encode()


@pytest.mark.parametrize(
    ("name", "chunks", "count", "options"),
    [
        ("ncmec", _ncmec_pages, 30_000, ReadOptions()),
        ("icse", _icse_rows, 80_000, ReadOptions()),
        ("hma", _hma_rows, 80_000, ReadOptions()),
        ("text", _text_lines, 250_000, ReadOptions(signal_type=SignalType.MD5)),
    ],
)
def test_big_files_of_every_format_are_read_as_streams(name, chunks, count, options) -> None:  # type: ignore[no-untyped-def]
    import tracemalloc

    source = _GeneratedFile(chunks(count))
    tracemalloc.start()
    try:
        seen = 0
        for item in get_format(name).read(io.BufferedReader(source), options):
            assert isinstance(item, HashRecord), item
            seen += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    assert source.size > 7_500_000  # a list several times larger than what reading it holds
    assert peak < 2_500_000
