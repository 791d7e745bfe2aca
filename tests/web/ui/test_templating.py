"""The console's shared template machinery: the nav registry and extra template folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kavach.web.ui import templating


@pytest.fixture
def restore_nav() -> Iterator[None]:
    saved = list(templating._NAV)
    yield None
    templating._NAV[:] = saved


def test_nav_links_sort_by_order_and_a_second_add_replaces(restore_nav: None) -> None:
    templating.add_nav_link("Board", "/console/test-board", order=25)
    templating.add_nav_link("Board (new)", "/console/test-board", order=15)
    labels = [link.label for link in templating.nav_links()]
    assert labels.count("Board (new)") == 1
    assert "Board" not in labels
    assert labels.index("Dashboard") < labels.index("Board (new)") < labels.index("Queue")


def test_pages_of_other_areas_extend_base_from_their_own_folder(tmp_path: Path) -> None:
    (tmp_path / "test_board.html").write_text(
        '{% extends "base.html" %}{% block content %}<p id="board">{{ n }}</p>{% endblock %}'
    )
    templating.add_template_dir(tmp_path)
    templating.add_template_dir(tmp_path)  # once is enough
    assert sum(str(tmp_path) in getattr(x, "searchpath", []) for x in templating._loaders) == 1
    html = templating.environment.get_template("test_board.html").render(
        nav=[], user=None, csrf_token="t", current="/", console="/console", n="<7>"
    )
    assert '<p id="board">&lt;7&gt;</p>' in html
    assert '<a class="skip" href="#main">' in html
