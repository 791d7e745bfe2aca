"""Robustness: recall of plain PDQ against Kavach's query-side variants, and false matches.

Builds a transform suite from benign images only (generated scenes, plus the ThreatExchange
reference photos when ``../shared/testdata`` is present): messenger recompression chains, WebP,
greyscale, letterbox and pillarbox, borders, caption bars, phone screenshots, crops, rotations,
flips, watermarks and combinations. Each original is "listed" by its canonical PDQ hash (full
decode, as partners hash); each transformed copy is hashed the way a scan hashes it. It prints:

- per transform, the recall at threshold 31 (query quality >= 50) of the plain hash and of the
  policy (canonical hash + variants), and the variant that most often found the match;
- false matches among all pairs of distinct images (every transformed copy against every other
  original), per image pair and per hash comparison, for plain PDQ and for the policy, with the
  smallest distance seen between distinct images;
- the hashing cost of each variant family against a plain hash (decode included), and of
  ``hash_bytes`` with the default variants against without, by picture size.

    python benchmarks/robustness.py            # the full run (a few minutes on 2 cores)
    python benchmarks/robustness.py --quick    # fewer images, for a smoke test
    python benchmarks/robustness.py --sizes    # only the hashing cost by picture size
    python benchmarks/robustness.py --sizes --photos /tmp/photos/bsds500   # ... and on photos
    python benchmarks/robustness.py --photos /tmp/photos --photo-limit 200 --photos-only
                                               # real photographs as the originals
"""

from __future__ import annotations

import argparse
import io
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont, ImageOps

from kavach.demo.scenes import encode, scene
from kavach.media.image import decode_image
from kavach.signals.pdq import (
    PDQ_MATCH_THRESHOLD,
    PDQ_MIN_QUALITY,
    PDQ_RELIABLE_GUESS_THRESHOLD,
    PDQ_RELIABLE_THRESHOLD,
    pdq_from_luma,
)
from kavach.signals.variants import (
    ALL_VARIANTS,
    DEFAULT_VARIANTS,
    FAST_VARIANTS,
    GUESSED_VARIANTS,
    RELIABLE_ONLY_FAMILIES,
    pdq_variants,
    variant_family,
)

Transform = Callable[[Image.Image], bytes]
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
SIZES = ((1600, 1200), (1200, 1600), (1280, 720), (1024, 1024), (1000, 750), (720, 1280))
REFERENCE = (
    Path(os.environ.get("KAVACH_TESTDATA", Path(__file__).resolve().parents[2] / "shared/testdata"))
    / "threatexchange/pdq/data"
)
REFERENCE_PHOTOS = (
    "bridge-mods/aaa-orig.jpg",
    "reg-test-input/pen-and-coaster.png",
    *(f"reg-test-input/labelme-subset/{n}.jpg" for n in ("q0003", "q0004", "q0122", "q0291")),
    *(f"reg-test-input/labelme-subset/{n}.jpg" for n in ("q0746", "q1050", "q2821")),
)


@dataclass(frozen=True, slots=True)
class Query:
    names: list[str]
    hashes: npt.NDArray[np.uint8]  # (variants, 32)
    qualities: npt.NDArray[np.int64]
    masks: npt.NDArray[np.uint8]  # (variants, 32): reliable bits (all zero: none computed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 images, for a smoke test")
    parser.add_argument("--images", type=int, default=0, help="generated images (default 40)")
    parser.add_argument(
        "--variants",
        default=",".join(sorted(DEFAULT_VARIANTS)),
        help="variant families of the policy measured (default: the default policy)",
    )
    parser.add_argument(
        "--guess-threshold",
        type=int,
        default=PDQ_MATCH_THRESHOLD,
        help="largest distance at which a guessed variant (crop, rotate) matches",
    )
    parser.add_argument(
        "--exact-threshold",
        type=int,
        default=PDQ_MATCH_THRESHOLD,
        help="largest distance at which a dihedral or trimmed variant matches",
    )
    parser.add_argument(
        "--reliable-threshold",
        type=int,
        default=PDQ_RELIABLE_THRESHOLD,
        help="largest distance on a hash's reliable bits at which it matches (family reliable)",
    )
    parser.add_argument(
        "--reliable-guess-threshold",
        type=int,
        default=PDQ_RELIABLE_GUESS_THRESHOLD,
        help="the same for guessed variants (crop, rotate)",
    )
    parser.add_argument("--photos", default="", help="a folder of photos to add as originals")
    parser.add_argument("--photo-limit", type=int, default=0, help="at most this many photos")
    parser.add_argument(
        "--photos-only", action="store_true", help="no generated scenes or reference photos"
    )
    parser.add_argument(
        "--only", default="", help="measure only the transforms whose name matches this regex"
    )
    parser.add_argument(
        "--sizes",
        action="store_true",
        help="only the hashing cost by picture size (with --photos: on those photos too)",
    )
    args = parser.parse_args()
    if args.sizes:
        _print_sizes(args.quick, args.photos)
        return
    families = frozenset(p for p in args.variants.split(",") if p)
    count = args.images or (12 if args.quick else 40)

    originals = []
    if not args.photos_only:
        originals += [scene(*SIZES[i % len(SIZES)], seed=1000 + i) for i in range(count)]
        if REFERENCE.exists() and not args.quick:
            originals += [_load(REFERENCE / name) for name in REFERENCE_PHOTOS]
    if args.photos:
        # Real photographs as originals (e.g. the set of docs/benchmarks.md, *False matches on
        # real photographs*): every N-th file, so a limit still spans all the set's folders.
        files = sorted(
            p for p in Path(args.photos).rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES
        )
        step = max(1, len(files) // args.photo_limit) if args.photo_limit else 1
        originals += [_load(p) for p in files[::step][: args.photo_limit or None]]
    listed, listed_quality = _listed(originals)
    keep = [i for i, q in enumerate(listed_quality) if q >= PDQ_MIN_QUALITY]
    originals = [originals[i] for i in keep]
    listed = listed[keep]
    print(
        f"{len(originals)} originals listed (quality >= {PDQ_MIN_QUALITY}); policy: "
        f"{', '.join(sorted(families)) or 'none'}; thresholds: dihedral/trim "
        f"{args.exact_threshold}, crop/rotate {args.guess_threshold}; reliable bits "
        + (
            f"{args.reliable_threshold} (guesses {args.reliable_guess_threshold})"
            if "reliable" in families
            else "off"
        )
    )

    rows = []
    plain_false = policy_false = plain_cmp = policy_cmp = 0
    plain_pairs_false = policy_pairs_false = pairs = 0
    min_plain = min_policy = 256
    min_margin = 256  # smallest (reliable distance - its threshold) between distinct images
    per_variant_false: Counter[str] = Counter()
    for name, transform in suite():
        if args.only and not re.search(args.only, name):
            continue
        queries = [_query(transform(image), families) for image in originals]
        plain_hits = policy_hits = 0
        found_by: Counter[str] = Counter()
        for i, query in enumerate(queries):
            dist = _distances(query.hashes, listed)  # (variants, listed)
            usable = query.qualities >= PDQ_MIN_QUALITY
            dist = np.where(usable[:, None], dist, 256)
            # Each row's threshold; matching rows are marked by a distance at or under it.
            limit = np.array([_threshold(n, args) for n in query.names])[:, None]
            # Plain PDQ: the file's own hash, whole, at the threshold (no variant, no mask).
            plain = dist[0].copy()
            reliable = np.zeros(dist.shape, dtype=np.bool_)
            if "reliable" in families:
                masked = _distances(query.hashes, listed, query.masks)
                masked = np.where(usable[:, None] & query.masks.any(axis=1)[:, None], masked, 256)
                rlimit = np.array([_reliable_threshold(n, args) for n in query.names])[:, None]
                reliable = (masked <= rlimit) & (dist > limit)
                min_margin = min(min_margin, int(np.delete(masked - rlimit, i, axis=1).min()))
            # A match by the reliable bits alone counts as a match at the threshold.
            dist = np.where(
                dist <= limit,
                dist,
                np.where(reliable, PDQ_MATCH_THRESHOLD, np.maximum(dist, PDQ_MATCH_THRESHOLD + 1)),
            )
            if plain[i] <= PDQ_MATCH_THRESHOLD:
                plain_hits += 1
            best = int(np.argmin(dist[:, i]))
            if dist[best, i] <= PDQ_MATCH_THRESHOLD:
                policy_hits += 1
                found_by[query.names[best] + (" (reliable)" if reliable[best, i] else "")] += 1
            others = np.delete(dist, i, axis=1)
            pairs += others.shape[1]
            plain_cmp += others.shape[1]
            policy_cmp += int(usable.sum()) * others.shape[1]
            plain_others = np.delete(plain, i)
            plain_row = plain_others <= PDQ_MATCH_THRESHOLD
            any_row = (others <= PDQ_MATCH_THRESHOLD).any(axis=0)
            plain_false += int(plain_row.sum())
            policy_false += int((others <= PDQ_MATCH_THRESHOLD).sum())
            plain_pairs_false += int(plain_row.sum())
            policy_pairs_false += int(any_row.sum())
            min_plain = min(min_plain, int(plain_others.min()))
            min_policy = min(min_policy, int(others.min()))
            for v in np.nonzero((others <= PDQ_MATCH_THRESHOLD).any(axis=1))[0]:
                per_variant_false[query.names[int(v)]] += 1
        total = len(queries)
        top = ", ".join(f"{k} {v}" for k, v in found_by.most_common(2))
        rows.append((name, 100 * plain_hits / total, 100 * policy_hits / total, top))
        print(f"  {name:<34} plain {rows[-1][1]:6.1f}%  policy {rows[-1][2]:6.1f}%  ({top})")

    print(f"\n{'transform':<34} {'plain PDQ':>10} {'Kavach':>10}  found by")
    print("-" * 90)
    for name, plain, policy, top in rows:
        print(f"{name:<34} {plain:>9.1f}% {policy:>9.1f}%  {top}")
    print(
        f"\nfalse matches among distinct images ({pairs:,} query/listed image pairs):\n"
        f"  plain PDQ: {plain_pairs_false} pairs, {plain_false} of {plain_cmp:,} comparisons "
        f"({plain_false / max(plain_cmp, 1):.2e} per comparison), smallest distance {min_plain}\n"
        f"  Kavach:    {policy_pairs_false} pairs, {policy_false} of {policy_cmp:,} comparisons "
        f"({policy_false / max(policy_cmp, 1):.2e} per comparison), smallest distance {min_policy}"
    )
    if per_variant_false:
        print("  false matches by variant:", dict(per_variant_false.most_common()))
    if "reliable" in families:
        print(
            "  reliable bits: smallest distance between distinct images minus its threshold: "
            f"{min_margin}"
        )
    if not args.only:
        _print_cost(args.quick)
        _print_sizes(args.quick)


def _threshold(name: str, args: argparse.Namespace) -> int:
    family = variant_family(name)
    if family in RELIABLE_ONLY_FAMILIES and "reliable" in args.variants.split(","):
        return -1  # as the matcher: looked up by its reliable bits alone
    if family in GUESSED_VARIANTS:
        return int(args.guess_threshold)
    if family in ("dihedral", "trim"):
        return int(args.exact_threshold)
    return PDQ_MATCH_THRESHOLD


def _reliable_threshold(name: str, args: argparse.Namespace) -> int:
    # As the matcher: the flips and turns are not looked up by their reliable bits.
    if variant_family(name) == "dihedral":
        return -1
    if variant_family(name) in GUESSED_VARIANTS:
        return int(min(args.reliable_threshold, args.reliable_guess_threshold))
    return int(args.reliable_threshold)


def suite() -> list[tuple[str, Transform]]:
    """Every transform, by name; each takes an original and returns the bytes a scan reads."""
    return [
        ("messenger chain (1600q75>1280q60)", lambda im: _chain(im, (1600, 75), (1280, 60))),
        ("messenger 3 hops (>800q50)", lambda im: _chain(im, (1600, 75), (1280, 60), (800, 50))),
        ("WebP q70", lambda im: encode(_fit(im, 1280), "WEBP", quality=70)),
        ("greyscale", lambda im: _jpeg(ImageOps.grayscale(im))),
        ("resize 50%", lambda im: _jpeg(im.resize((im.width // 2, im.height // 2)))),
        ("watermark (large text + logo)", lambda im: _jpeg(_watermark(im))),
        ("watermark (small corner text)", lambda im: _jpeg(_corner_mark(im))),
        ("text overlay", lambda im: _jpeg(_overlay_text(im))),
        ("flip (mirror)", lambda im: _jpeg(ImageOps.mirror(im))),
        ("flip (vertical)", lambda im: _jpeg(ImageOps.flip(im))),
        ("rotate 90", lambda im: _jpeg(im.transpose(Image.Transpose.ROTATE_90))),
        ("rotate 180", lambda im: _jpeg(im.transpose(Image.Transpose.ROTATE_180))),
        ("rotate 270", lambda im: _jpeg(im.transpose(Image.Transpose.ROTATE_270))),
        ("letterbox 10%", lambda im: _jpeg(_letterbox(im, 0.10))),
        ("letterbox 20%", lambda im: _jpeg(_letterbox(im, 0.20))),
        ("letterbox 30%", lambda im: _jpeg(_letterbox(im, 0.30))),
        ("pillarbox 25%", lambda im: _jpeg(_letterbox(im, 0.25, vertical=False))),
        ("border 5% white", lambda im: _jpeg(_border(im, 0.05, (255, 255, 255)))),
        ("border 10% colour", lambda im: _jpeg(_border(im, 0.10, (40, 90, 160)))),
        ("caption bar top", lambda im: _jpeg(_caption(im, top=True))),
        ("caption bars top+bottom", lambda im: _jpeg(_caption(_caption(im, top=True), top=False))),
        ("phone screenshot (PNG)", lambda im: encode(_screenshot(im), "PNG")),
        ("screenshot > messenger", lambda im: _chain(_screenshot(im), (1600, 75), (1280, 60))),
        ("crop 2% centred", lambda im: _jpeg(_crop(im, 0.02, 0.5, 0.5))),
        ("crop 5% centred", lambda im: _jpeg(_crop(im, 0.05, 0.5, 0.5))),
        ("crop 10% centred", lambda im: _jpeg(_crop(im, 0.10, 0.5, 0.5))),
        ("crop 5% off-centre", lambda im: _jpeg(_crop(im, 0.05, 0.0, 0.3))),
        ("crop 10% off-centre", lambda im: _jpeg(_crop(im, 0.10, 0.2, 1.0))),
        ("crop 5% anywhere", lambda im: _jpeg(_crop(im, 0.05, *_anywhere(im)))),
        ("crop 10% anywhere", lambda im: _jpeg(_crop(im, 0.10, *_anywhere(im)))),
        ("crop 10% one side", lambda im: _jpeg(_crop_side(im, 0.10))),
        ("rotate 1", lambda im: _jpeg(_rotate(im, 1))),
        ("rotate 2", lambda im: _jpeg(_rotate(im, 2))),
        ("rotate -3", lambda im: _jpeg(_rotate(im, -3))),
        ("rotate 4", lambda im: _jpeg(_rotate(im, 4))),
        ("rotate 5", lambda im: _jpeg(_rotate(im, 5))),
        ("mirror > messenger", lambda im: _chain(ImageOps.mirror(im), (1600, 75), (1280, 60))),
        ("letterbox 20% > messenger", lambda im: _chain(_letterbox(im, 0.2), (1280, 60))),
        ("caption + border > messenger", lambda im: _chain(_caption(_border(im, 0.05, (0, 0, 0)),
                                                                    top=True), (1280, 60))),
        ("crop 5% > messenger", lambda im: _chain(_crop(im, 0.05, 0.5, 0.5), (1280, 60))),
        ("rotate 3 > messenger", lambda im: _chain(_rotate(im, 3), (1280, 60))),
        ("mirror + crop 5%", lambda im: _jpeg(ImageOps.mirror(_crop(im, 0.05, 0.5, 0.5)))),
    ]  # fmt: skip


# -- transforms -----------------------------------------------------------------------------


def _jpeg(image: Image.Image, quality: int = 85) -> bytes:
    return encode(image.convert("RGB") if image.mode not in ("RGB", "L") else image, "JPEG",
                  quality=quality)  # fmt: skip


def _fit(image: Image.Image, longest: int) -> Image.Image:
    if max(image.size) <= longest:
        return image
    factor = longest / max(image.size)
    return image.resize((round(image.width * factor), round(image.height * factor)),
                        Image.Resampling.BILINEAR)  # fmt: skip


def _chain(image: Image.Image, *hops: tuple[int, int]) -> bytes:
    data = b""
    for longest, quality in hops:
        image = _fit(image, longest)
        data = encode(image.convert("RGB"), "JPEG", quality=quality)
        image = Image.open(io.BytesIO(data))
    return data


def _letterbox(image: Image.Image, share: float, *, vertical: bool = True) -> Image.Image:
    """Bars making up ``share`` of the new height (or width), split evenly."""
    w, h = image.size
    if vertical:
        total = round(h / (1 - share))
        canvas = Image.new("RGB", (w, total), (0, 0, 0))
        canvas.paste(image, (0, (total - h) // 2))
    else:
        total = round(w / (1 - share))
        canvas = Image.new("RGB", (total, h), (0, 0, 0))
        canvas.paste(image, ((total - w) // 2, 0))
    return canvas


def _border(image: Image.Image, share: float, colour: tuple[int, int, int]) -> Image.Image:
    pad = round(share * max(image.size))
    return ImageOps.expand(image, border=pad, fill=colour)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _caption(image: Image.Image, *, top: bool) -> Image.Image:
    w, h = image.size
    bar = round(0.18 * h)
    canvas = Image.new("RGB", (w, h + bar), (255, 255, 255))
    canvas.paste(image, (0, bar if top else 0))
    draw = ImageDraw.Draw(canvas)
    y = round(0.25 * bar) if top else h + round(0.25 * bar)
    draw.text((round(0.05 * w), y), "WHEN THE BENCHMARK RUNS", fill=(0, 0, 0),
              font=_font(round(0.45 * bar)))  # fmt: skip
    return canvas


def _screenshot(image: Image.Image) -> Image.Image:
    """A 1080x2340 phone screenshot: status bar, app bar, the photo letterboxed, nav bar."""
    width, height = 1080, 2340
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, width, 90), fill=(28, 28, 30))
    draw.text((40, 22), "12:34", fill=(255, 255, 255), font=_font(44))
    for k in range(3):
        draw.rectangle((900 + 45 * k, 30, 930 + 45 * k, 60), fill=(255, 255, 255))
    draw.rectangle((0, 90, width, 250), fill=(245, 245, 245))
    draw.text((140, 140), "Photo", fill=(20, 20, 20), font=_font(56))
    draw.ellipse((40, 135, 100, 195), fill=(120, 120, 120))
    photo = image.resize((width, round(image.height * width / image.width)),
                         Image.Resampling.BILINEAR)  # fmt: skip
    if photo.height > 1900:
        photo = photo.resize((round(photo.width * 1900 / photo.height), 1900))
    top = 250 + (height - 250 - 130 - photo.height) // 2
    canvas.paste(photo, ((width - photo.width) // 2, top))
    draw.rectangle((0, height - 130, width, height), fill=(0, 0, 0))
    for x in (270, 540, 810):
        draw.ellipse((x - 22, height - 87, x + 22, height - 43), outline=(200, 200, 200), width=4)
    return canvas


def _crop(image: Image.Image, share: float, fx: float, fy: float) -> Image.Image:
    """Cut ``share`` of each dimension; ``fx``/``fy`` place the kept window (0 left, 1 right)."""
    w, h = image.size
    cw, ch = round(w * share), round(h * share)
    left, top = round(cw * fx), round(ch * fy)
    return image.crop((left, top, left + w - cw, top + h - ch))


def _anywhere(image: Image.Image) -> tuple[float, float]:
    """A kept window's place, drawn at random but the same for the same picture: so the crop
    grid cannot be tuned to the suite's two fixed off-centre places."""
    seed = int.from_bytes(image.resize((8, 8)).tobytes()[:8], "little")
    across, down = np.random.default_rng(seed).random(2)
    return float(across), float(down)


def _crop_side(image: Image.Image, share: float) -> Image.Image:
    w, h = image.size
    return image.crop((round(w * share), 0, w, h))


def _rotate(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))


def _watermark(image: Image.Image) -> Image.Image:
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(16, image.width // 18)
    draw.text((image.width - 7 * size, image.height - 2 * size), "@sample", font=_font(size),
              fill=(255, 255, 255, 150))  # fmt: skip
    draw.ellipse((size, size, 3 * size, 3 * size), fill=(255, 255, 255, 110))
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def _corner_mark(image: Image.Image) -> Image.Image:
    """The more usual mark: a small, half-transparent handle in the bottom-right corner."""
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(10, image.width // 40)
    draw.text((image.width - 8 * size, image.height - 2 * size), "@sample", font=_font(size),
              fill=(255, 255, 255, 128))  # fmt: skip
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def _overlay_text(image: Image.Image) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    size = max(16, image.width // 14)
    draw.text((image.width // 10, image.height // 2), "just some text", font=_font(size),
              fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
    return out


# -- hashing --------------------------------------------------------------------------------


def _load(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def _listed(originals: list[Image.Image]) -> tuple[npt.NDArray[np.uint8], list[int]]:
    hashes, qualities = [], []
    for image in originals:
        # Partners hash at full resolution with the reference: a full decode is closest.
        decoded = decode_image(encode(image, "PNG"), fast=False)
        h = pdq_from_luma(decoded.luma)[0]
        hashes.append(h.hash)
        qualities.append(h.quality)
    return np.stack(hashes), qualities


def _query(data: bytes, families: Iterable[str]) -> Query:
    decoded = decode_image(data)
    variants = pdq_variants(
        decoded.luma, full_height=decoded.height, full_width=decoded.width, families=families
    )
    return Query(
        [v.name for v in variants],
        np.stack([v.hash.hash for v in variants]),
        np.asarray([v.hash.quality for v in variants], dtype=np.int64),
        np.stack(
            [
                v.hash.reliable if v.hash.reliable is not None else np.zeros(32, np.uint8)
                for v in variants
            ]
        ),
    )


def _distances(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    masks: npt.NDArray[np.uint8] | None = None,
) -> npt.NDArray[np.int64]:
    """Hamming distances of each row of ``a`` to each row of ``b`` (on the bits each row of
    ``a``'s mask sets, when ``masks`` is given)."""
    x = a[:, None, :] ^ b[None, :, :]
    if masks is not None:
        x &= masks[:, None, :]
    return np.bitwise_count(x).sum(axis=2, dtype=np.int64)


def _print_cost(quick: bool) -> None:
    print(f"\n{'hashing cost (decode included, one core)':<44} {'ms/image':>9} {'x plain':>8}")
    print("-" * 64)
    configs: list[tuple[str, frozenset[str] | None]] = [("plain PDQ", None)]
    configs += [(f"+ {f}", frozenset({f})) for f in ALL_VARIANTS]
    configs.append(("+ fast (all but cropgrid)", FAST_VARIANTS))
    configs.append(("+ default (all)", DEFAULT_VARIANTS))
    for label, fmt, size in (("1600x1200 JPEG q80", "JPEG", (1600, 1200)),
                             ("1024x768 PNG", "PNG", (1024, 768))):  # fmt: skip
        files = [encode(scene(*size, seed=s), fmt, **({"quality": 80} if fmt == "JPEG" else {}))
                 for s in range(4 if quick else 8)]  # fmt: skip
        # Rounds interleave the configurations and the fastest round counts: on a shared
        # machine the others' load only ever slows a round down.
        best = {name: float("inf") for name, _ in configs}
        for _ in range(3 if quick else 7):
            for name, families in configs:
                best[name] = min(best[name], _time(files, families))
        plain = best["plain PDQ"]
        for name, _ in configs:
            print(f"{label + ': ' + name:<44} {best[name]:>9.2f} {best[name] / plain:>8.2f}")


def _time(files: list[bytes], families: frozenset[str] | None) -> float:
    started = time.perf_counter()
    for data in files:
        d = decode_image(data)
        if families is None:
            pdq_from_luma(d.luma, full_height=d.height, full_width=d.width)
        else:
            pdq_variants(d.luma, full_height=d.height, full_width=d.width, families=families)
    return (time.perf_counter() - started) * 1000 / len(files)


BY_SIZE = ((320, 240), (400, 300), (480, 360), (800, 600), (1280, 960), (1600, 1200))


def _print_sizes(quick: bool, photos: str = "") -> None:
    """The robust hash against a plain one by picture size: ``hash_bytes`` (digests, decode,
    PDQ) without variants, with the fast ones and with the default ones (all), on generated
    JPEG q85 scenes; with ``photos``, also on up to 50 of those photos resized to each size
    (landscape, JPEG q85) and as they are. Generated scenes (flat shapes) decode faster than
    photographs, so their ratios are the higher ones."""
    print(
        f"\n{'hash_bytes, JPEG q85 (one core)':<32} {'plain ms':>9} {'fast ms':>8} {'x':>5}"
        f" {'default ms':>11} {'x':>5}"
    )
    print("-" * 76)
    count = 8 if quick else 20
    for size in BY_SIZE:
        files = [encode(scene(*size, seed=s), "JPEG", quality=85) for s in range(count)]
        _print_cost_row(f"{size[0]}x{size[1]}", files, quick)
    if not photos:
        return
    paths = sorted(p for p in Path(photos).rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    paths = paths[:: max(1, len(paths) // (count if quick else 50))][: count if quick else 50]
    pictures = [_load(p) for p in paths]
    landscape = [im.transpose(Image.Transpose.ROTATE_90) if im.height > im.width else im
                 for im in pictures]  # fmt: skip
    for size in BY_SIZE:
        files = [_jpeg(im.resize(size, Image.Resampling.LANCZOS)) for im in landscape]
        _print_cost_row(f"{len(files)} photos at {size[0]}x{size[1]}", files, quick)
    _print_cost_row(f"{len(paths)} photos as they are", [p.read_bytes() for p in paths], quick)


def _print_cost_row(label: str, files: list[bytes], quick: bool) -> None:
    from kavach.hashing import HashOptions, hash_bytes

    configs = {
        "plain": HashOptions(variants=frozenset()),
        "fast": HashOptions(variants=FAST_VARIANTS),
        "default": HashOptions(variants=DEFAULT_VARIANTS),
    }
    best = dict.fromkeys(configs, float("inf"))
    for _ in range(3 if quick else 7):  # interleaved; the fastest round counts (see above)
        for name, options in configs.items():
            started = time.perf_counter()
            for data in files:
                hash_bytes(data, options)
            elapsed = (time.perf_counter() - started) * 1000 / len(files)
            best[name] = min(best[name], elapsed)
    plain = best["plain"]
    print(
        f"{label:<32} {plain:>9.2f} {best['fast']:>8.2f}"
        f" {best['fast'] / plain:>5.2f} {best['default']:>11.2f}"
        f" {best['default'] / plain:>5.2f}"
    )


if __name__ == "__main__":
    main()
