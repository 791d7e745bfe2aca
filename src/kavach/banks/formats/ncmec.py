"""NCMEC hash sharing API v2 XML pages (``GET /v2/entries``), read as a stream.

NCMEC does not publish the schema, so this is the shape we accept (documented in docs/banks.md),
read tolerantly: namespaces are ignored, unknown elements and attributes are skipped, an entry id
may be an attribute or a child element. DTDs and entities are refused (defusedxml), so a page
cannot expand into an XML bomb or read local files::

    <queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
      <images count="1">
        <image id="4711" timestamp="2024-05-01T10:00:00Z">
          <member id="12">Example ESP</member>
          <classification>A1</classification>
          <fingerprints><md5>..</md5><sha1>..</sha1><pdna>base64</pdna><pdq>hex</pdq></fingerprints>
        </image>
      </images>
      <videos>... <video> entries of the same shape ...</videos>
      <deletedEntries><image id="4712"/><video id="99"/></deletedEntries>
      <paging><next>/v2/entries?from=..&amp;to=..&amp;start=1001</next></paging>
    </queryResult>
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import IO
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from kavach.banks.formats.base import (
    Deletion,
    HashRecord,
    Item,
    Label,
    ReadOptions,
    RecordError,
    WriteOptions,
    parse_hash_field,
    text_writer,
)
from kavach.errors import FormatError
from kavach.signals.types import SignalType, format_hash

__all__ = ["CLASSIFICATIONS", "NAMESPACE", "NcmecFormat"]

NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
# Industry classification: A = prepubescent, B = pubescent; 1 = sex act, 2 = lascivious exhibition.
CLASSIFICATIONS = frozenset({"A1", "A2", "B1", "B2"})
_FINGERPRINTS = {
    "md5": SignalType.MD5,
    "sha1": SignalType.SHA1,
    "pdna": SignalType.PHOTODNA,
    "pdq": SignalType.PDQ,
}
_WRITE_ORDER = (
    ("md5", SignalType.MD5),
    ("sha1", SignalType.SHA1),
    ("pdna", SignalType.PHOTODNA),
    ("pdq", SignalType.PDQ),
)
_ENTRY_TAGS = frozenset({"image", "video"})


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


class NcmecFormat:
    """NCMEC hash sharing API v2 entry pages."""

    name = "ncmec"
    description = "NCMEC hash sharing API v2 XML entry pages (entries and deletions)"
    per_hash = False
    carries_video = False

    def read(self, stream: IO[bytes], options: ReadOptions) -> Iterator[Item]:
        """Yield HashRecords for entries and Deletions for ``deletedEntries``."""
        tags: list[str] = []
        parents: list[Element] = []
        index = 0
        try:
            for event, elem in iterparse(stream, events=("start", "end"), forbid_dtd=True):
                tag = _local(elem.tag)
                if event == "start":
                    tags.append(tag)
                    parents.append(elem)
                    continue
                tags.pop()
                parents.pop()
                # An entry is an <image>/<video> directly inside a list element.
                if tag in _ENTRY_TAGS and tags and tags[-1] not in _ENTRY_TAGS:
                    index += 1
                    if "deletedEntries" in tags:
                        yield from _deletion(elem, index, tag)
                    else:
                        yield from _entry(elem, index, tag)
                    # Done with it: detach it so a long page stays small in memory.
                    parents[-1].remove(elem)
        except ParseError as exc:
            line, column = exc.position
            raise FormatError(
                f"malformed XML at column {column}: {exc}", line=line, where=f"line {line}"
            ) from None
        except DefusedXmlException as exc:
            raise FormatError(
                f"refused XML ({type(exc).__name__}): DTDs and entities are not allowed"
            ) from None

    def write(
        self, stream: IO[bytes], records: Iterable[HashRecord | Deletion], options: WriteOptions
    ) -> int:
        """Write one page: entries under ``<images>``/``<videos>``, tombstones under deletedEntries.

        Records are written in one pass, so images, videos and deletions each get their own list
        element as they come; readers (ours included) accept several list elements per page.
        """
        count = 0
        current: str | None = None
        with text_writer(stream) as out:
            out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
            out.write(f'<queryResult xmlns="{NAMESPACE}">\n')
            for record in records:
                kind = "video" if record_is_video(record) else "image"
                group = "deletedEntries" if isinstance(record, Deletion) else f"{kind}s"
                if group != current:
                    if current is not None:
                        out.write(f"  </{current}>\n")
                    out.write(f"  <{group}>\n")
                    current = group
                out.write(_render(record, kind))
                count += 1
            if current is not None:
                out.write(f"  </{current}>\n")
            out.write("</queryResult>\n")
        return count


def record_is_video(record: HashRecord | Deletion) -> bool:
    """True when a record describes a video (NCMEC lists images and videos separately)."""
    return isinstance(record, HashRecord) and record.attributes.get("media_type") == "video"


def _text(elem: Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


def _child(elem: Element, name: str) -> Element | None:
    for child in elem:
        if _local(child.tag) == name:
            return child
    return None


def _entry_id(elem: Element) -> str | None:
    value = elem.get("id") or _text(_child(elem, "id"))
    return value or None


def _entry(elem: Element, index: int, tag: str) -> Iterator[Item]:
    entry_id = _entry_id(elem)
    where = f"entry {index}" + (f" (id {entry_id[:40]})" if entry_id else "")
    errors: list[RecordError] = []
    hashes: list[tuple[SignalType, bytes]] = []
    fingerprints = _child(elem, "fingerprints")
    for child in fingerprints if fingerprints is not None else ():
        name = _local(child.tag).lower()
        st = _FINGERPRINTS.get(name)
        if st is None:
            continue  # a fingerprint type we do not know: skip it, keep the others
        parsed = parse_hash_field(st, child.text, where, errors, name)
        if parsed:
            hashes.append(parsed)
    member = _child(elem, "member")
    assessor = _text(member) or None
    labels: list[Label] = []
    classification = _text(_child(elem, "classification")).upper()
    if classification:
        if classification in CLASSIFICATIONS:
            when = _timestamp(elem.get("timestamp") or _text(_child(elem, "timestamp")))
            labels.append(Label("industry", classification, assessor, when))
        else:
            errors.append(RecordError(where, f"unknown classification {classification[:10]!r}"))
    yield from errors
    if not hashes:
        if not errors:
            yield RecordError(where, "entry has no fingerprints")
        return
    attributes: dict[str, object] = {"media_type": tag}
    if member is not None and member.get("id"):
        attributes["ncmec_member_id"] = member.get("id")
    yield HashRecord(tuple(hashes), tuple(labels), entry_id, attributes, where)


def _deletion(elem: Element, index: int, tag: str) -> Iterator[Item]:
    entry_id = _entry_id(elem)
    where = f"deletion {index}" + (f" (id {entry_id[:40]})" if entry_id else "")
    errors: list[RecordError] = []
    hashes: list[tuple[SignalType, bytes]] = []
    fingerprints = _child(elem, "fingerprints")
    for child in fingerprints if fingerprints is not None else ():
        st = _FINGERPRINTS.get(_local(child.tag).lower())
        if st is not None and (parsed := parse_hash_field(st, child.text, where, errors, st)):
            hashes.append(parsed)
    yield from errors
    if entry_id is None and not hashes:
        yield RecordError(where, "deleted entry has neither an id nor fingerprints")
        return
    yield Deletion(entry_id, tuple(hashes), where)


def _timestamp(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _render(record: HashRecord | Deletion, kind: str) -> str:
    id_attr = f" id={quoteattr(record.item_id)}" if record.item_id else ""
    if isinstance(record, Deletion):
        if not record.hashes:
            return f"    <{kind}{id_attr}/>\n"
        return f"    <{kind}{id_attr}>{_fingerprints(record.hashes)}</{kind}>\n"
    parts = [f"    <{kind}{id_attr}"]
    industry = sorted(
        (lb for lb in record.labels if lb.scheme == "industry"), key=lambda lb: lb.value
    )
    if industry and industry[0].assessed_at is not None:
        stamp = industry[0].assessed_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        parts.append(f" timestamp={quoteattr(stamp)}")
    parts.append(">")
    member_id = record.attributes.get("ncmec_member_id")
    if industry and industry[0].assessor:
        id_part = f" id={quoteattr(str(member_id))}" if member_id else ""
        parts.append(f"<member{id_part}>{escape(industry[0].assessor)}</member>")
    if industry:
        parts.append(f"<classification>{escape(industry[0].value)}</classification>")
    parts.append(_fingerprints(record.hashes))
    parts.append(f"</{kind}>\n")
    return "".join(parts)


def _fingerprints(hashes: Iterable[tuple[SignalType, bytes]]) -> str:
    by_type = dict(hashes)
    inner = "".join(
        f"<{name}>{format_hash(st, by_type[st])}</{name}>"
        for name, st in _WRITE_ORDER
        if st in by_type
    )
    return f"<fingerprints>{inner}</fingerprints>"
