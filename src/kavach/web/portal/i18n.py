"""The portal's languages: Babel catalogues read from the ``.po`` files at first use.

Adding a language is adding ``locale/<code>/LC_MESSAGES/messages.po`` (``pybabel init``) and its
name to :data:`LANGUAGES`. The catalogues are compiled in memory with Babel when first needed,
so a source checkout or an editable install works without a build step.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = ["DEFAULT", "LANGUAGES", "LOCALE_DIR", "choose", "translations"]

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES: dict[str, str] = {"en": "English", "hi": "हिन्दी"}
"""Language code → its own name (shown in the switch)."""
DEFAULT = "en"


@functools.cache
def translations(lang: str) -> Translations:
    """The compiled catalogue of ``lang`` (English: the messages as written)."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang not in LANGUAGES or not po.is_file():
        return Translations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language to answer in: ``?lang=``, then the cookie, then ``Accept-Language``."""
    for explicit in (query, cookie):
        if explicit and explicit.lower() in LANGUAGES:
            return explicit.lower()
    preferred = _accepted(accept_language or "")
    found = Locale.negotiate(preferred, list(LANGUAGES), sep="-") if preferred else None
    return str(found.language) if found is not None else DEFAULT


def _accepted(header: str) -> list[str]:
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if quality > 0:
            try:
                Locale.parse(tag, sep="-")
            except (ValueError, UnknownLocaleError):
                continue
            ranked.append((-quality, position, tag))
    return [tag for _q, _p, tag in sorted(ranked)]
