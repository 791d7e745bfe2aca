"""Locate the shared reference data (ThreatExchange PDQ images and hashes) beside the checkout."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_testdata() -> Path:
    """``$KAVACH_TESTDATA`` or ``../shared/testdata`` beside the checkout.

    Missing data skips the tests on a developer's machine but fails them in CI, so a broken
    checkout cannot pass by skipping its reference checks.
    """
    root = Path(os.environ.get("KAVACH_TESTDATA", REPO.parent / "shared" / "testdata"))
    if not (root / "threatexchange").is_dir():
        message = f"reference test data not found at {root} (set KAVACH_TESTDATA)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return root


@dataclass(frozen=True)
class ReferenceImage:
    path: Path
    name: str
    cpp_hash: str
    cpp_quality: int
    pdqhash_hash: str
    pdqhash_quality: int


def reference_images() -> list[ReferenceImage]:
    """Every row of ``pdq-expected.csv``."""
    root = shared_testdata() / "threatexchange"
    with open(root / "pdq-expected.csv", newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [
            ReferenceImage(
                path=root / row["path_in_repo"],
                name=row["path_in_repo"],
                cpp_hash=row["cpp_cli_pdq_hex"],
                cpp_quality=int(row["cpp_cli_quality"]),
                pdqhash_hash=row["pdqhash_pdq_hex"],
                pdqhash_quality=int(row["pdqhash_quality"]),
            )
            for row in rows
        ]
