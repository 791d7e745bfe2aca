"""False matches of plain PDQ and of Kavach's query-side variants among distinct real photos.

The robustness benchmark counts false matches among generated scenes, which sit far apart
(~128 bits). Real collections hold near-duplicates of *different* pictures: the same kind of
scene, the same framing, flat skies and walls. This script measures on folders of distinct
photographs (see docs/benchmarks.md, *False matches on real photographs*, for the set used and how
to rebuild it):

1. every photo is listed by its canonical PDQ hash (full decode, as partners hash; photos of
   quality < 50 are not listed, as in benchmarks/robustness.py);
2. every photo, and a few realistic copies of it (a messenger chain, a mirror, a letterbox, made
   with benchmarks/robustness.py's transforms), is hashed the way a scan hashes it: fast decode,
   with the default variant families (``HashOptions(variants=...)``);
3. each copy is compared with every OTHER photo's listed hash: once with its canonical hash only
   (plain PDQ) and once with all its hashes (the policy: canonical + variants, guessed variants
   at the guess threshold), and with its own photo's listed hash for recall.

It prints, for plain PDQ, the policy and each variant family: comparisons, matches at the
threshold (per comparison and per image pair), the tail of the distance histogram and the
smallest distance between distinct photos; the recall of each copy kind; and the closest pairs of
distinct photos by name (never hashes), so a "false match" can be looked at: two shots of one
picture that slipped into a collection are not a false match.

    python benchmarks/false_matches.py /tmp/photos              # every photo under the folders
    python benchmarks/false_matches.py /tmp/photos --limit 100  # a quick run
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from kavach.hashing import HashOptions, hash_bytes
from kavach.signals.pdq import (
    PDQ_MATCH_THRESHOLD,
    PDQ_MIN_QUALITY,
    PDQ_RELIABLE_GUESS_THRESHOLD,
    PDQ_RELIABLE_THRESHOLD,
)
from kavach.signals.variants import (
    DEFAULT_VARIANTS,
    GUESS_THRESHOLD,
    GUESSED_VARIANTS,
    RELIABLE_FAMILIES,
    parse_variants,
    variant_family,
)
from robustness import _chain, _jpeg, _letterbox

Copy = Callable[[bytes, Image.Image], bytes]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})
COPIES: dict[str, Copy] = {
    "as is": lambda data, image: data,
    "messenger (1600q75>1280q60)": lambda data, image: _chain(image, (1600, 75), (1280, 60)),
    "mirror": lambda data, image: _jpeg(ImageOps.mirror(image)),
    "letterbox 20%": lambda data, image: _jpeg(_letterbox(image, 0.20)),
}
TAIL = (40, 50, 60)
MAX_JOBS = 2


@dataclass(frozen=True, slots=True)
class Query:
    """The hashes a scan looks one copy up by: the canonical one first, then the variants."""

    copy: str
    names: list[str]
    hashes: npt.NDArray[np.uint8]  # (hashes, 32)
    qualities: npt.NDArray[np.int64]
    masks: npt.NDArray[np.uint8] | None = None  # (hashes, 32) reliable bits; zero rows: none


@dataclass(frozen=True, slots=True)
class Photo:
    name: str
    listed: npt.NDArray[np.uint8]  # (32,) canonical PDQ, full decode
    quality: int
    queries: list[Query]


@dataclass(slots=True)
class Row:
    """Comparisons of one kind of hash (plain, the policy, a family) with other photos."""

    comparisons: int = 0
    matches: int = 0
    pairs_matched: int = 0
    tail: dict[int, int] = field(default_factory=lambda: dict.fromkeys(TAIL, 0))
    smallest: int = 256


@dataclass(slots=True)
class Recall:
    queries: int = 0
    plain: int = 0
    policy: int = 0
    found_by: Counter[str] = field(default_factory=Counter)
    missed: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Close:
    """A query copy and another photo's listed hash, at the smallest distance of its hashes."""

    distance: int
    query: str
    copy: str
    variant: str
    listed: str


@dataclass(slots=True)
class Tally:
    photos: int = 0
    image_pairs: int = 0
    query_pairs: int = 0
    rows: dict[str, Row] = field(default_factory=dict)
    recall: dict[str, Recall] = field(default_factory=dict)
    closest: list[Close] = field(default_factory=list)
    closest_plain: list[Close] = field(default_factory=list)
    reliable_margin: dict[str, int] = field(default_factory=dict)
    """Smallest (reliable-bit distance - its threshold) between distinct photos, for the file's
    own hash and trims ("exact") and for the guesses ("guessed"); negative: a false match."""
    closest_reliable: list[Close] = field(default_factory=list)


# -- hashing ---------------------------------------------------------------------------------


def photo_files(folders: Iterable[str | Path]) -> list[Path]:
    """Every image file under the folders (recursively), in a stable order."""
    found: set[Path] = set()
    for folder in folders:
        root = Path(folder)
        paths = [root] if root.is_file() else root.rglob("*")
        found.update(p for p in paths if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return sorted(found)


def hash_photo(
    path: Path,
    families: frozenset[str] = DEFAULT_VARIANTS,
    copies: Sequence[str] = tuple(COPIES),
    root: Path | None = None,
) -> Photo:
    """List a photo (canonical PDQ, full decode) and hash each copy as a scan would."""
    data = path.read_bytes()
    name = str(path.relative_to(root)) if root else str(path)
    record = hash_bytes(data, HashOptions(signals=frozenset({"pdq"}), full_decode=True))
    if record.pdq is None or record.pdq_quality is None:
        raise SystemExit(f"{path}: not an image ({record.error})")
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    options = HashOptions(signals=frozenset({"pdq"}), variants=families)
    queries = []
    for copy in copies:
        hashed = hash_bytes(COPIES[copy](data, image), options)
        if hashed.pdq is None or hashed.pdq_quality is None:
            raise SystemExit(f"{path} [{copy}]: not hashed ({hashed.error})")
        variants = hashed.pdq_variants or []
        masks = [hashed.pdq_reliable, *(v.reliable for v in variants)]
        queries.append(
            Query(
                copy,
                ["original", *(v.name for v in variants)],
                np.stack([_bits(hashed.pdq), *(_bits(v.hash) for v in variants)]),
                np.asarray([hashed.pdq_quality, *(v.quality for v in variants)], dtype=np.int64),
                np.stack([_bits(m) if m else np.zeros(32, np.uint8) for m in masks]),
            )
        )
    return Photo(name, _bits(record.pdq), record.pdq_quality, queries)


def hash_photos(
    paths: Sequence[Path],
    families: frozenset[str],
    copies: Sequence[str],
    *,
    jobs: int = MAX_JOBS,
    root: Path | None = None,
) -> list[Photo]:
    """:func:`hash_photo` for each path, in order, on at most two worker processes."""
    args = [(p, families, tuple(copies), root) for p in paths]
    if jobs <= 1:
        return [hash_photo(*a) for a in args]
    with multiprocessing.Pool(min(jobs, MAX_JOBS)) as pool:
        return pool.starmap(hash_photo, args, chunksize=4)


def _bits(hex_hash: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(bytes.fromhex(hex_hash), dtype=np.uint8)


# -- counting --------------------------------------------------------------------------------


def tally(
    photos: Sequence[Photo],
    *,
    threshold: int = PDQ_MATCH_THRESHOLD,
    guess_threshold: int = GUESS_THRESHOLD,
    min_quality: int = PDQ_MIN_QUALITY,
    keep_closest: int = 10,
    reliable: tuple[int, int] | None = (PDQ_RELIABLE_THRESHOLD, PDQ_RELIABLE_GUESS_THRESHOLD),
) -> Tally:
    """Compare every photo's copies with every other listed photo, and with its own for recall.

    Photos whose listed hash is below ``min_quality`` are not listed and not queried; a query
    hash below it is not looked up (as the matcher skips it). Guessed variants (crop, rotate)
    match at ``min(threshold, guess_threshold)``, the others at ``threshold``. With
    ``reliable`` (the thresholds for a file's own hash and trims, and for guesses), a hash that
    carries a reliable-bit mask also matches on those bits alone, as the matcher's ``reliable``
    family does.
    """
    listed_photos = [p for p in photos if p.quality >= min_quality]
    n = len(listed_photos)
    listed = np.stack([p.listed for p in listed_photos]) if n else np.zeros((0, 32), np.uint8)
    out = Tally(photos=n, image_pairs=n * (n - 1) // 2)
    guessed = min(threshold, guess_threshold)
    # Smallest distance from any copy of photo i to photo j's listed hash: the policy's hashes
    # and the canonical hash alone. The closest pairs are taken from these at the end.
    nearest = {kind: np.full((n, n), 256, np.int64) for kind in ("policy", "plain", "reliable")}
    for i, photo in enumerate(listed_photos):
        for query in photo.queries:
            dist, hit, margin = _compare(query, listed, min_quality, threshold, guessed, reliable)
            usable = query.qualities >= min_quality

            recall = out.recall.setdefault(query.copy, Recall())
            recall.queries += 1
            # Plain PDQ: the canonical hash, whole, at the threshold (no variant, no mask).
            recall.plain += bool(dist[0, i] <= threshold)
            if hit[:, i].any():
                recall.policy += 1
                best = int(np.argmin(np.where(hit[:, i], dist[:, i], 257)))
                recall.found_by[query.names[best]] += 1
            else:
                recall.missed.append(photo.name)

            others = np.delete(dist, i, axis=1)
            other_hit = np.delete(hit, i, axis=1)
            plain_hit = others[:1] <= threshold
            out.query_pairs += others.shape[1]
            families = np.asarray([variant_family(name) for name in query.names])
            groups = {"plain PDQ": np.arange(len(families)) == 0, "policy": usable}
            for family in sorted(set(families.tolist()) - {"original"}):
                groups[family] = (families == family) & usable
            for label, chosen in groups.items():
                matched = plain_hit if label == "plain PDQ" else other_hit[chosen]
                _count(out.rows.setdefault(label, Row()), others[chosen], matched)

            if margin is not None:
                guess = np.asarray([variant_family(n) in GUESSED_VARIANTS for n in query.names])
                others_margin = margin.copy()
                others_margin[:, i] = 256  # its own photo is not a false match
                for label, chosen in (("exact", ~guess), ("guessed", guess)):
                    if chosen.any():
                        smallest = int(others_margin[chosen].min())
                        if smallest < out.reliable_margin.get(label, 256):
                            out.reliable_margin[label] = smallest
                        nearest_margin = others_margin[chosen].min(axis=0)
                        np.minimum(
                            nearest["reliable"][i], nearest_margin, out=nearest["reliable"][i]
                        )
            np.minimum(nearest["policy"][i], dist.min(axis=0), out=nearest["policy"][i])
            np.minimum(nearest["plain"][i], dist[0], out=nearest["plain"][i])
    for kind in ("policy", "plain", "reliable"):
        near = np.minimum(nearest[kind], nearest[kind].T)  # a pair, whichever side was queried
        near[np.tril_indices(n)] = 256
        flat = np.argsort(near, axis=None, kind="stable")[:keep_closest]
        if kind == "reliable":
            out.closest_reliable = [
                Close(int(near.flat[k]), listed_photos[a].name, "", "", listed_photos[b].name)
                for k in flat[:5]
                if near.flat[k] < 256
                for a, b in [divmod(int(k), n)]
            ]
            continue
        found = [
            _describe(listed_photos, listed, *divmod(int(k), n), kind == "plain", min_quality)
            for k in flat
            if near.flat[k] < 256
        ]
        if kind == "policy":
            out.closest = found
        else:
            out.closest_plain = found
    return out


def _compare(
    query: Query,
    listed: npt.NDArray[np.uint8],
    min_quality: int,
    threshold: int,
    guessed: int,
    reliable: tuple[int, int] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.int64] | None]:
    """Distances of a query's hashes to every listed hash (256 where the hash is below
    ``min_quality``), which of them match, and (with ``reliable``) each reliable-bit distance
    minus its threshold (256 where the hash has no mask or is not compared that way)."""
    flipped = query.hashes[:, None, :] ^ listed[None, :, :]
    dist = np.bitwise_count(flipped).sum(axis=2, dtype=np.int64)
    low = query.qualities < min_quality
    dist[low] = 256
    families = [variant_family(v) for v in query.names]
    limit = np.asarray([guessed if f in GUESSED_VARIANTS else threshold for f in families])
    hit = dist <= limit[:, None]
    if reliable is None or query.masks is None:
        return dist, hit, None
    exact, guess = reliable
    rlimit = np.asarray([min(guess, exact) if f in GUESSED_VARIANTS else exact for f in families])
    masked = np.bitwise_count(flipped & query.masks[:, None, :]).sum(axis=2, dtype=np.int64)
    compared = ~low & query.masks.any(axis=1) & np.isin(families, list(RELIABLE_FAMILIES))
    margin = np.where(compared[:, None], masked - rlimit[:, None], 256)
    return dist, hit | (margin <= 0), margin


def _describe(
    photos: Sequence[Photo],
    listed: npt.NDArray[np.uint8],
    a: int,
    b: int,
    plain: bool,
    min_quality: int,
) -> Close:
    """The closest hash between photos ``a`` and ``b``, whichever of the two was queried."""
    best: Close | None = None
    for i, j in ((a, b), (b, a)):
        for query in photos[i].queries:
            dist, _, _ = _compare(query, listed[j : j + 1], min_quality, 256, 256)
            rows = dist[:1] if plain else dist
            k = int(np.argmin(rows[:, 0]))
            if best is None or rows[k, 0] < best.distance:
                best = Close(int(rows[k, 0]), photos[i].name, query.copy, query.names[k],
                             photos[j].name)  # fmt: skip
    assert best is not None
    return best


def _count(row: Row, dist: npt.NDArray[np.int64], hit: npt.NDArray[np.bool_]) -> None:
    if dist.size == 0:
        return
    row.comparisons += dist.size
    row.matches += int(hit.sum())
    row.pairs_matched += int(hit.any(axis=0).sum())
    for t in TAIL:
        row.tail[t] += int((dist <= t).sum())
    row.smallest = min(row.smallest, int(dist.min()))


# -- report ----------------------------------------------------------------------------------


def report(result: Tally, threshold: int) -> str:
    """The tables: false matches per kind of hash, recall per copy, the closest pairs."""
    lines = [
        f"{result.photos} photos listed, {result.image_pairs:,} distinct image pairs; "
        f"{result.query_pairs:,} (query copy, other photo) pairs",
        "",
        f"{'hashes':<12} {'comparisons':>12} {f'<={threshold}':>6} {'per comparison':>15} "
        f"{'pairs':>6} " + " ".join(f"{f'<={t}':>7}" for t in TAIL) + f" {'min':>4}",
        "-" * 84,
    ]
    for label, row in result.rows.items():
        rate = row.matches / row.comparisons if row.comparisons else 0.0
        bound = f"<{3 / row.comparisons:.1e}" if row.comparisons and not row.matches else ""
        lines.append(
            f"{label:<12} {row.comparisons:>12,} {row.matches:>6} "
            f"{(f'{rate:.2e}' if row.matches else bound):>15} {row.pairs_matched:>6} "
            + " ".join(f"{row.tail[t]:>7,}" for t in TAIL)
            + f" {row.smallest:>4}"
        )
    lines += [
        "(per comparison: the rate, or its 95% upper bound when none matched; pairs: query "
        "copy / photo pairs with a match)",
        "",
        f"{'recall of the true pair':<30} {'plain PDQ':>10} {'Kavach':>10}  found by",
        "-" * 84,
    ]
    for copy, rec in result.recall.items():
        top = ", ".join(f"{k} {v}" for k, v in rec.found_by.most_common(2))
        lines.append(
            f"{copy:<30} {100 * rec.plain / rec.queries:>9.1f}% "
            f"{100 * rec.policy / rec.queries:>9.1f}%  {top}"
        )
        if rec.missed:
            more = f" and {len(rec.missed) - 8} more" if len(rec.missed) > 8 else ""
            lines.append(f"{'':<30} missed: {', '.join(rec.missed[:8])}{more}")
    if result.reliable_margin:
        lines += [
            "",
            "reliable bits: smallest distance between distinct photos minus its threshold: "
            + ", ".join(f"{k} {v}" for k, v in result.reliable_margin.items())
            + " (negative: a false match)",
        ]
        lines += [f"  {c.distance:>3}  {c.query}  ~  {c.listed}" for c in result.closest_reliable]
    for title, closest in (
        ("closest distinct photos, policy", result.closest),
        ("closest distinct photos, plain PDQ", result.closest_plain),
    ):
        if not closest:
            continue
        lines += ["", f"{title} (distance, query copy, hash, listed photo):"]
        lines += [
            f"  {c.distance:>3}  {c.query} [{c.copy}] via {c.variant}  ~  {c.listed}"
            for c in closest
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="folders of distinct photos (recursive)")
    parser.add_argument(
        "--variants", default="default", help="families (default: the default policy)"
    )
    parser.add_argument(
        "--copies",
        default=",".join(COPIES),
        help=f"copies queried, comma-separated (default: {', '.join(COPIES)})",
    )
    parser.add_argument("--threshold", type=int, default=PDQ_MATCH_THRESHOLD)
    parser.add_argument("--guess-threshold", type=int, default=GUESS_THRESHOLD)
    parser.add_argument("--reliable-threshold", type=int, default=PDQ_RELIABLE_THRESHOLD)
    parser.add_argument(
        "--reliable-guess-threshold", type=int, default=PDQ_RELIABLE_GUESS_THRESHOLD
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos")
    parser.add_argument("--closest", type=int, default=10, help="closest pairs printed")
    parser.add_argument("--jobs", type=int, default=MAX_JOBS, help="worker processes (1-2)")
    args = parser.parse_args(argv)
    copies = [c for c in (p.strip() for p in args.copies.split(",")) if c]
    unknown = [c for c in copies if c not in COPIES]
    if unknown:
        parser.error(f"unknown copy {unknown[0]!r}; choose from {', '.join(COPIES)}")
    families = parse_variants(args.variants)
    paths = photo_files(args.folders)[: args.limit or None]
    if not paths:
        parser.error("no images found")
    root = Path(args.folders[0]) if len(args.folders) == 1 else None
    started = time.perf_counter()
    photos = hash_photos(paths, families, copies, jobs=args.jobs, root=root)
    hashed = time.perf_counter() - started
    dropped = [p.name for p in photos if p.quality < PDQ_MIN_QUALITY]
    result = tally(
        photos,
        threshold=args.threshold,
        guess_threshold=args.guess_threshold,
        keep_closest=args.closest,
        reliable=(args.reliable_threshold, args.reliable_guess_threshold)
        if "reliable" in families
        else None,
    )
    print(
        f"{len(photos)} photos, copies: {', '.join(copies)}; policy: "
        f"{', '.join(sorted(families)) or 'none'}; threshold {args.threshold}, guesses "
        f"{min(args.threshold, args.guess_threshold)}; hashed in {hashed:.0f} s "
        f"({min(args.jobs, MAX_JOBS)} workers), compared in "
        f"{time.perf_counter() - started - hashed:.0f} s"
    )
    if dropped:
        print(f"not listed (quality < {PDQ_MIN_QUALITY}): {', '.join(dropped)}")
    print(report(result, args.threshold))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
