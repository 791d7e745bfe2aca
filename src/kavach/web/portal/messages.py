"""Extracting the portal's messages into a Babel catalogue template (``messages.pot``).

Used by ``make portal-messages`` style workflows and by the test that checks every message has
a Hindi translation: templates through Jinja2's extractor, Python through the ``_gettext``
keyword and the status texts.
"""

from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

from kavach.web.portal.i18n import LOCALE_DIR

__all__ = ["extract"]

_METHODS = [("templates/**.html", "jinja2"), ("*.py", "python")]
_OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}
_KEYWORDS = {"_": None, "gettext": None, "_gettext": (2,), "N_": None}


def extract() -> Catalog:
    """Every message the portal shows, as a catalogue template."""
    catalog = Catalog(project="Kavach portal", charset="utf-8")
    root = LOCALE_DIR.parent
    for filename, lineno, message, comments, _context in extract_from_dir(
        str(root), method_map=_METHODS, options_map=_OPTIONS, keywords=_KEYWORDS
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments)
    return catalog
