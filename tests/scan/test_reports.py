"""Reports: the HTML summary shows no images and escapes paths; the VICS case file reads back."""

from __future__ import annotations

import io
from html.parser import HTMLParser

from kavach.banks.formats import HashRecord, ReadOptions, get_format
from kavach.hashing import HashError
from kavach.match import Match, MatchLabel
from kavach.scan import ScanRecord, ScanSummary, html_summary, vics_case
from kavach.signals.types import SignalType

MD5 = "9e107d9d372bb6826bd81d3542a419d6"
SHA1 = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
HOSTILE = 'DCIM/<script>alert(1)</script>/"><img src=x onerror=alert(2)>.jpg'


class Tags(HTMLParser):
    """Every element and attribute name in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.attributes.update(name for name, _ in attrs)


def summary() -> ScanSummary:
    s = ScanSummary(banks={"hotline": 3})
    match = Match(
        bank="hotline",
        entry_id=7,
        signal_type=SignalType.PDQ,
        value="ab" * 32,
        distance=4,
        labels=[MatchLabel(scheme="vics-us", value="1", assessor="hotline")],
    )
    s.add(ScanRecord(path=HOSTILE, size=10, md5=MD5, sha1=SHA1, matches=[match]))
    s.add(ScanRecord(path="a.zip!inner/x.jpg", size=5, md5=MD5, sha1=SHA1, matches=[match]))
    s.add(ScanRecord(path="DCIM/ok.jpg"))
    s.add(ScanRecord(path="DCIM/bad.jpg", error=HashError(code="corrupt_media", message="bad")))
    return s


def test_html_has_counts_no_images_and_escapes_paths() -> None:
    page = html_summary(summary()).decode()
    tags = Tags()
    tags.feed(page)
    assert tags.names.isdisjoint({"img", "script", "link", "iframe", "object", "embed", "svg"})
    assert tags.attributes.isdisjoint({"src", "href", "srcset", "onerror", "action"})
    assert "http://" not in page
    assert "https://" not in page
    assert "default-src 'none'" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'vics-us:1</td><td class="n">2</td>' in page
    assert "corrupt_media" in page
    assert "a.zip!inner" in page


def test_vics_case_file_reads_back_as_a_hash_set() -> None:
    data = vics_case(summary(), case_number="2025/17")
    items = list(get_format("vics").read(io.BytesIO(data), ReadOptions()))
    assert len(items) == 2
    first = items[0]
    assert isinstance(first, HashRecord)
    assert dict(first.hashes) == {
        SignalType.MD5: bytes.fromhex(MD5),
        SignalType.SHA1: bytes.fromhex(SHA1),
    }
    assert [(lb.scheme, lb.value) for lb in first.labels] == [("vics-us", "1")]
    assert first.attributes["file_names"] == ['"><img src=x onerror=alert(2)>.jpg']
    assert b'"CaseNumber": "2025/17"' in data
    assert b'"FilePath": "a.zip!inner"' in data
