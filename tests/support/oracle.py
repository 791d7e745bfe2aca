"""The reference PDQ (the ``pdqhash`` binding HMA uses), as the oracle our hashes are held to."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image

from kavach.signals.pdq import hash_from_hex


@dataclass(frozen=True)
class Reference:
    hash: npt.NDArray[np.uint8]
    quality: int
    determined: npt.NDArray[np.bool_]
    """Per bit (hex order): False where the coefficient ties with the median.

    Tiny or periodic images give DCT coefficients that are exactly equal to the median in exact
    arithmetic; the reference then sets those bits by float rounding noise, which no other
    implementation can (or should) reproduce.
    """

    def distance(self, ours_hex: str) -> int:
        """Hamming distance to ``ours_hex`` over the bits the image determines."""
        ours = np.unpackbits(hash_from_hex(ours_hex)).astype(bool)
        theirs = np.unpackbits(self.hash).astype(bool)
        return int(((ours != theirs) & self.determined).sum())


def reference_pdq(data: bytes) -> Reference:
    """Hash and quality as python-threatexchange computes them: Pillow RGB, full resolution."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    bits, quality = pdqhash.compute(rgb)
    values, _ = pdqhash.compute_float(rgb)
    values = np.asarray(values, dtype=np.float64)
    median = np.sort(values)[127]
    # Real coefficients are in the tens to thousands; ties come out of float noise below 1e-5.
    determined = np.abs(values - median) > 1e-2
    return Reference(np.packbits(bits.astype(np.uint8)), int(quality), determined)


def reference_dihedral(data: bytes) -> list[npt.NDArray[np.uint8]]:
    """The 8 dihedral hashes in the reference order."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    hashes, _quality = pdqhash.compute_dihedral(rgb)
    return [np.packbits(np.asarray(h, dtype=np.uint8)) for h in hashes]
