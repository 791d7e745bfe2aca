"""Running the ``kavach`` command in-process from tests."""

from __future__ import annotations

import pytest

from kavach.cli.main import main

__all__ = ["run"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``kavach ARGV...``: the exit code, standard output and standard error."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err
