"""VICS 2.0 case export of a review case (``@odata.context`` + ``value[0].Media[]``).

Each item with file hashes is one Media: MD5, SHA1, SHA256, its Category, the file name, and
whether the category came from a person (``IsPrecategorized`` false once reviewers decided it)
or only from the lists it matched (true). Categories: a ``vics-us`` decision is used as it is;
an industry or UK decision means child abuse material (US category 1; in a UK file, the UK
category); "not abuse material" is category 0 with a tag saying so; undecided items take the
category of the lists they matched, else 0. Kavach's own VICS reader reads these files back.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from kavach.banks.formats import Label
from kavach.banks.formats.vics import FLAVOURS, label_category
from kavach.cases.models import Case, CaseItem
from kavach.cases.review import VERDICT
from kavach.errors import InputError
from kavach.reports.items import all_items

__all__ = ["kavach_version", "vics_export"]


def kavach_version() -> str:
    """The installed Kavach version, for documents that name their producer."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kavach")
    except PackageNotFoundError:
        return "unknown"


def vics_export(session: Session, case: Case, *, flavour: str = "US") -> bytes:
    """The VICS 2.0 case JSON (UTF-8) of every item of ``case`` that has file hashes."""
    chosen = next((f for f in FLAVOURS if f.lower() == flavour.strip().lower()), None)
    if chosen is None:
        raise InputError(f"unknown VICS flavour {flavour!r}; expected one of {', '.join(FLAVOURS)}")
    context = f"http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/{chosen}$metadata#Cases"
    media = [
        _media(item, chosen)
        for item in all_items(session, case)
        if any(k in item.hashes for k in ("md5", "sha1", "sha256"))
    ]
    document = {
        "@odata.context": context,
        "value": [
            {
                "CaseNumber": case.name,
                "SourceApplicationName": "Kavach",
                "SourceApplicationVersion": kavach_version(),
                "Media": media,
            }
        ],
    }
    return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _category(item: CaseItem, flavour: str) -> tuple[int | str, bool, list[str]]:
    """(Category, IsPrecategorized, extra tags)."""
    scheme, value = item.decision_scheme, item.decision_value
    if item.is_decided and scheme is not None and value is not None:
        if scheme == VERDICT:
            return 0, False, ["reviewed: not abuse material"]
        tag = [f"{scheme}:{value}"]
        if flavour == "UK" and scheme == "uk":
            found = label_category("UK", [Label("vics-uk", value)])
            return (found if found is not None else 0), False, tag
        if scheme == "vics-us" and flavour not in ("UK", "CUSTOM"):
            return int(value), False, tag
        if flavour == "UK":
            return 0, False, tag
        return 1, False, tag
    labels = [
        Label(str(lb.get("scheme")), str(lb.get("value")))
        for m in item.matches
        for lb in (m.get("labels") or [])
        if isinstance(lb, dict)
    ]
    found = label_category(flavour, labels)
    return (found if found is not None else 0), True, []


def _media(item: CaseItem, flavour: str) -> dict[str, Any]:
    category, precategorised, tags = _category(item, flavour)
    media: dict[str, Any] = {
        "MediaID": item.id,
        "Category": category,
        "IsPrecategorized": precategorised,
    }
    for field_name, key in (("MD5", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256")):
        if key in item.hashes:
            media[field_name] = item.hashes[key].upper()
    name = item.attributes.get("file_name")
    if isinstance(name, str) and name:
        media["MediaFiles"] = [{"FileName": name}]
    matched = sorted({str(m.get("bank")) for m in item.matches if m.get("bank")})
    all_tags = [*tags, *(f"list:{b}" for b in matched)]
    if all_tags:
        media["Tags"] = ",".join(all_tags)
    if item.viewed_by_person:
        media["Comments"] = "viewed by a reviewer"
    return media
