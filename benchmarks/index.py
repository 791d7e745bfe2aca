"""Benchmark kavach.index.PDQIndex against brute force and faiss on generated PDQ hash sets.

    PYTHONPATH=src .venv/bin/python benchmarks/index.py --sizes 100k,1M,10M

Hash sets are random or clustered (families of near-duplicates, as re-uploads of the same media
produce). Queries are planted (a stored hash with 0-31 bits flipped) or random (no match).
Ground truth is a brute-force NumPy scan; every method's results are compared with it, so the
table shows recall and false positives next to build time, memory and latency. Nothing here is
real data: all hashes are random.

    PYTHONPATH=src .venv/bin/python benchmarks/index.py --reliable --sizes 1M,10M

measures ``search_reliable`` instead: µs per query of a 1,000-query batch at radius 23 on 192
reliable bits (64 wildcards at random positions, as real queries' weakest bits fall, or
clustered into 3 chunks), next to ``search_flat`` at radius 31 and 23 over the same index.

    PYTHONPATH=src .venv/bin/python benchmarks/index.py --per-image --sizes 1M

measures what an image's lookups cost, as the matcher makes them: the hashes and masks of real
query-side variant sets (generated scenes of 480-1600 px, JPEG), looked up against random listed
hashes: every hash whole at 31, then the file's own hash and trims on their reliable bits at 23
and the guesses at 19; for the default families and with the crop grid.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from kavach.index import PDQIndex

RADIUS = 31
Pairs = set[tuple[int, int]]


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def flip_random_bits(rng: np.random.Generator, h: NDArray[np.uint8], k: int) -> None:
    """Flip ``k`` random bits (with repeats, so up to ``k``) of every row of ``h`` in place."""
    rows = np.arange(len(h))
    for _ in range(k):
        b = rng.integers(0, 256, size=len(h))
        h[rows, b >> 3] ^= (1 << (b & 7)).astype(np.uint8)


def make_set(kind: str, n: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    if kind == "random":
        return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    # Clustered: families of ~10 near-duplicates, each 0-8 bits from its family's base hash.
    bases = rng.integers(0, 256, size=(max(1, n // 10), 32), dtype=np.uint8)
    h = bases[rng.integers(0, len(bases), size=n)]
    flip_random_bits(rng, h, 8)
    return h


def make_queries(
    h: NDArray[np.uint8], planted: int, none: int, rng: np.random.Generator
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Planted queries (distance 0-31 from a stored hash) then random ones; planted distance."""
    rows = []
    dist = []
    for i in range(planted):
        d = i % 32
        bits = np.unpackbits(h[rng.integers(0, len(h))])
        bits[rng.choice(256, size=d, replace=False)] ^= 1
        rows.append(np.packbits(bits))
        dist.append(d)
    rows.extend(rng.integers(0, 256, size=(none, 32), dtype=np.uint8))
    dist.extend([-1] * none)
    return np.array(rows, dtype=np.uint8).reshape(-1, 32), np.array(dist, dtype=np.int64)


def brute_force(h: NDArray[np.uint8], queries: NDArray[np.uint8], radius: int) -> list[Pairs]:
    """Ground truth: per query, every (row, distance) within ``radius``, by a NumPy scan."""
    words = h.view(np.uint64)
    cols = [np.ascontiguousarray(words[:, w]) for w in range(4)]
    buf = np.empty(len(h), np.uint64)
    d = np.empty(len(h), np.uint8)
    part = np.empty(len(h), np.uint8)
    out = []
    for q in queries.view(np.uint64):
        np.bitwise_xor(cols[0], q[0], out=buf)
        np.bitwise_count(buf, out=d)
        for w in range(1, 4):
            np.bitwise_xor(cols[w], q[w], out=buf)
            np.bitwise_count(buf, out=part)
            d += part
        hit = np.flatnonzero(d <= radius)
        out.append(set(zip(hit.tolist(), d[hit].tolist(), strict=True)))
    return out


@dataclass
class Row:
    dataset: str
    method: str
    build_s: float
    memory_mb: float
    p50_ms: float
    p99_ms: float
    batch_qps: float
    recall: float
    recall_far: float  # planted at distance 26-31
    false_pos: int
    note: str = ""


def score(
    found: list[Pairs], truth: list[Pairs], planted_d: NDArray[np.int64]
) -> tuple[float, float, int]:
    tp = fp = total = tp_far = total_far = 0
    for f, t, d in zip(found, truth, planted_d.tolist(), strict=True):
        tp += len(f & t)
        fp += len(f - t)
        total += len(t)
        if d >= 26:
            tp_far += len(f & t)
            total_far += len(t)
    return tp / max(total, 1), tp_far / max(total_far, 1), fp


def time_single(search_one: Callable[[NDArray[np.uint8]], Pairs], queries: NDArray[np.uint8]):  # type: ignore[no-untyped-def]
    lat = []
    found = []
    for q in queries:
        t = time.perf_counter()
        found.append(search_one(q))
        lat.append(time.perf_counter() - t)
    ms = np.array(lat) * 1e3
    return found, float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def bench_kavach(h, queries, truth, planted_d, name, extra):  # type: ignore[no-untyped-def]
    n = len(h)
    ids = np.arange(n, dtype=np.uint64)
    warm = PDQIndex()  # compile (or load the numba cache) outside the timings
    warm.add(ids[:10], h[:10])
    warm.search(h[:2])
    gc.collect()
    rss0 = rss_bytes()
    t = time.perf_counter()
    index = PDQIndex()
    index.add(ids, h)
    build = time.perf_counter() - t
    holder = [index]
    rss = (rss_bytes() - rss0) / 1e6

    def one(q: NDArray[np.uint8]) -> Pairs:
        m = holder[0].search(q, RADIUS)[0]
        return set(zip(m.ids.astype(np.int64).tolist(), m.distances.tolist(), strict=True))

    one(queries[0])
    found, p50, p99 = time_single(one, queries)
    batch = np.tile(queries, (max(1, 2000 // len(queries)), 1))
    t = time.perf_counter()
    index.search_flat(batch, RADIUS)
    qps = len(batch) / (time.perf_counter() - t)
    recall, far, fp = score(found, truth, planted_d)
    rows = [
        Row(
            name,
            "kavach PDQIndex",
            build,
            index.nbytes / 1e6,
            p50,
            p99,
            qps,
            recall,
            far,
            fp,
            f"RSS +{rss:.0f} MB",
        )
    ]

    new = np.random.default_rng(99).integers(0, 256, size=(10_000, 32), dtype=np.uint8)
    t = time.perf_counter()
    index.add(np.arange(n, n + 10_000, dtype=np.uint64), new)
    del index
    extra.append(f"{name}: add 10k to the built index {time.perf_counter() - t:.3f} s")
    with tempfile.TemporaryDirectory(dir=os.environ.get("KAVACH_BENCH_TMP")) as d:
        path = os.path.join(d, "bench.kvx")
        t = time.perf_counter()
        holder[0].save(path)
        save_s = time.perf_counter() - t
        holder.clear()  # drop the built index before mapping the saved one
        gc.collect()
        t = time.perf_counter()
        loaded = PDQIndex.load(path)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        loaded_fast = PDQIndex.load(path, verify=False)
        load_fast = time.perf_counter() - t
        del loaded_fast

        def one_loaded(q: NDArray[np.uint8]) -> Pairs:
            m = loaded.search(q, RADIUS)[0]
            return {(int(i), int(x)) for i, x in zip(m.ids, m.distances, strict=True) if i < n}

        one_loaded(queries[0])  # first call loads the kernels compiled for read-only arrays
        found, p50, p99 = time_single(one_loaded, queries)
        recall, _, fp = score(found, truth, planted_d)
        extra.append(
            f"{name}: save {save_s:.2f} s, load {load_s:.2f} s (checksums verified), "
            f"{load_fast:.2f} s (verify=False); after load p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
            f"recall {recall:.4f}, false positives {fp}"
        )
        loaded = PDQIndex()
        gc.collect()
    return rows


def bench_faiss(h, queries, truth, planted_d, name, multihash: bool):  # type: ignore[no-untyped-def]
    import faiss

    faiss.omp_set_num_threads(1)
    gc.collect()
    rss0 = rss_bytes()
    t = time.perf_counter()
    if multihash:
        index = faiss.IndexBinaryMultiHash(256, 16, 16)
        # nflip=1 makes 16 chunks of 16 bits exact at radius 31 (pigeonhole); the default 0 is
        # faster but misses matches.
        index.nflip = RADIUS // 16
    else:
        index = faiss.IndexBinaryFlat(256)
    index.add(h)
    build = time.perf_counter() - t
    mem = (rss_bytes() - rss0) / 1e6

    def run(qs: NDArray[np.uint8]) -> list[Pairs]:
        # faiss's binary range search keeps distances strictly below the radius.
        lims, dist, labels = index.range_search(qs, RADIUS + 1)
        return [
            set(zip(labels[a:b].tolist(), dist[a:b].tolist(), strict=True))
            for a, b in itertools.pairwise(lims)
        ]

    found, p50, p99 = time_single(lambda q: run(q[None, :])[0], queries)
    t = time.perf_counter()
    run(queries)
    qps = len(queries) / (time.perf_counter() - t)
    recall, far, fp = score(found, truth, planted_d)
    method = "faiss MultiHash(256,16,16)" if multihash else "faiss BinaryFlat"
    index.reset()
    gc.collect()
    return [Row(name, method, build, mem, p50, p99, qps, recall, far, fp, "RSS delta")]


def bench_brute(h, queries, truth, planted_d, name):  # type: ignore[no-untyped-def]
    sample = queries[: max(1, min(len(queries), 20_000_000 // max(len(h), 1)))]
    t = time.perf_counter()
    brute_force(h, sample, RADIUS)
    per = (time.perf_counter() - t) / len(sample) * 1e3
    return [
        Row(
            name,
            "brute force NumPy",
            0.0,
            h.nbytes / 1e6,
            per,
            per,
            1e3 / per,
            1.0,
            1.0,
            0,
            "ground truth; mean latency",
        )
    ]


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'dataset':<16} {'method':<27} {'build s':>8} {'mem MB':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'batch q/s':>10} {'recall':>7} {'rec26-31':>8} {'FP':>4}  note"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.dataset:<16} {r.method:<27} {r.build_s:>8.2f} {r.memory_mb:>8.0f} "
            f"{r.p50_ms:>8.3f} {r.p99_ms:>8.3f} {r.batch_qps:>10.0f} {r.recall:>7.4f} "
            f"{r.recall_far:>8.4f} {r.false_pos:>4}  {r.note}"
        )


def reliable_masks(rng: np.random.Generator, n: int, clustered: bool) -> NDArray[np.uint8]:
    """``n`` packed masks of 192 reliable bits; the 64 wildcards random or in 3 chunks."""
    bits = np.ones((n, 256), np.uint8)
    bounds = np.cumsum([0, 22, 22, 22, 22, 21, 21, 21, 21, 21, 21, 21, 21])
    for row in bits:
        if clustered:  # one 22-bit chunk and two others hold all 64
            chunks = [int(rng.integers(0, 4)), *rng.choice(np.arange(4, 12), 2, replace=False)]
            pool = np.concatenate([np.arange(bounds[c], bounds[c + 1]) for c in chunks])
        else:
            pool = np.arange(256)
        row[rng.choice(pool, size=64, replace=False)] = 0
    return np.packbits(bits, axis=1)


def reliable_queries(
    h: NDArray[np.uint8], masks: NDArray[np.uint8], rng: np.random.Generator
) -> NDArray[np.uint8]:
    """Half planted (a listed hash, its wildcards scrambled, 0-23 reliable bits flipped), half
    random."""
    out = rng.integers(0, 256, size=masks.shape, dtype=np.uint8)
    for i in range(len(masks) // 2):
        bits = np.unpackbits(h[rng.integers(0, len(h))])
        m = np.unpackbits(masks[i]).astype(bool)
        bits[~m] = rng.integers(0, 2, size=int((~m).sum()))
        bits[rng.choice(np.flatnonzero(m), size=i % 24, replace=False)] ^= 1
        out[i] = np.packbits(bits)
    return out


def masked_truth(
    h: NDArray[np.uint8], q: NDArray[np.uint8], m: NDArray[np.uint8], radius: int
) -> set[tuple[int, int]]:
    """(query, row) pairs within ``radius`` on the reliable bits, by a NumPy scan."""
    words = h.view(np.uint64)
    pairs = set()
    for i, (qw, mw) in enumerate(zip(q.view(np.uint64), m.view(np.uint64), strict=True)):
        d = np.zeros(len(h), np.uint8)
        for w in range(4):
            d += np.bitwise_count((words[:, w] ^ qw[w]) & mw[w]).astype(np.uint8)
        pairs.update((i, int(r)) for r in np.flatnonzero(d <= radius))
    return pairs


def reliable_cases(
    index: PDQIndex, n: int, threads: int, seed: int
) -> tuple[list[tuple[str, Callable[[], int]]], dict[str, str]]:
    """The timed searches over ``index`` (listing ``n`` hashes), and a brute-force check of the
    reliable ones on 20 queries each."""
    rng = np.random.default_rng(seed + 1)
    h = index._segments[0].rows  # one segment: the benchmark adds all rows at once
    spread = reliable_masks(rng, 1000, clustered=False)
    clustered = reliable_masks(rng, 1000, clustered=True)
    q_spread = reliable_queries(h, spread, rng)
    q_clustered = reliable_queries(h, clustered, rng)
    plain_q, _ = make_queries(h, 500, 500, rng)

    def flat(radius: int) -> Callable[[], int]:
        return lambda: len(index.search_flat(plain_q, radius, threads=threads).ids)

    def reliable(q: NDArray[np.uint8], m: NDArray[np.uint8]) -> Callable[[], int]:
        return lambda: len(index.search_reliable(q, m, 23, threads=threads).ids)

    checks = {}
    for name, q, m in (
        ("search_reliable r=23, 64 spread", q_spread, spread),
        ("search_reliable r=23, 64 in 3 chunks", q_clustered, clustered),
    ):
        sample = slice(0, 1000, 50)  # 20 queries, planted and random, against a NumPy scan
        got = index.search_reliable(q[sample], m[sample], 23)
        pairs = set(zip(got.rows.tolist(), got.ids.astype(np.int64).tolist(), strict=True))
        truth = masked_truth(h, q[sample], m[sample], 23)
        checks[name] = f"{len(pairs & truth)}/{len(truth)} found, {len(pairs - truth)} extra"
    cases = [
        ("search_flat r=31", flat(31)),
        ("search_flat r=23", flat(23)),
        ("search_reliable r=23, 64 spread", reliable(q_spread, spread)),
        ("search_reliable r=23, 64 in 3 chunks", reliable(q_clustered, clustered)),
    ]
    return cases, checks


def bench_reliable(sizes: list[int], rounds: int, threads: int, seed: int) -> None:
    """µs per query of search_reliable (radius 23) and search_flat (31, 23), 1,000 queries."""
    print(
        f"{'listed':>11} {'search':<37} {'best µs/q':>10} {'median':>8} {'found/q':>8}  "
        "vs flat, exactness"
    )
    for n in sizes:
        index = PDQIndex()
        index.add(np.arange(n, dtype=np.uint64), make_set("random", n, np.random.default_rng(seed)))
        cases, checks = reliable_cases(index, n, threads, seed)
        for _, fn in cases:
            fn()  # compile or load the kernels outside the timings
        times: dict[str, list[float]] = {name: [] for name, _ in cases}
        found: dict[str, int] = {}
        for _ in range(rounds):  # interleaved, so that others' load hits every case alike
            for name, fn in cases:
                t = time.perf_counter()
                found[name] = fn()
                times[name].append(time.perf_counter() - t)
        base = min(times["search_flat r=31"])
        for name, _ in cases:
            best = min(times[name])
            print(
                f"{n:>11,} {name:<37} {best * 1e3:>10.1f} "
                f"{float(np.median(times[name])) * 1e3:>8.1f} {found[name] / 1000:>8.2f}  "
                f"{best / base:.2f}x r=31  {checks.get(name, '')}",
                flush=True,
            )
        del cases, index
        gc.collect()


def bench_per_image(sizes: list[int], rounds: int, seed: int) -> None:
    """Milliseconds of index lookups per image, by kind, for the fast and the default (all)
    families."""
    from kavach.demo.scenes import encode, scene
    from kavach.hashing import HashOptions, hash_bytes
    from kavach.signals.variants import (
        DEFAULT_VARIANTS,
        FAST_VARIANTS,
        GUESSED_VARIANTS,
        RELIABLE_FAMILIES,
        RELIABLE_ONLY_FAMILIES,
        variant_family,
    )

    shapes = ((480, 360), (800, 600), (1280, 960), (1600, 1200))
    images = [
        encode(scene(*shapes[k % len(shapes)], seed=seed + k), "JPEG", quality=85)
        for k in range(40)
    ]
    print(f"{'listed':>10} {'families':<9} {'hashes':>7} {'whole@31':>9} {'reliable@23':>12} "
          f"{'guesses@19':>11} {'total ms':>9}")  # fmt: skip
    for size in sizes:
        rng = np.random.default_rng(seed)
        index = PDQIndex()
        index.add(np.arange(size, dtype=np.uint64), rng.integers(0, 256, (size, 32), np.uint8))
        for label, families in (("fast", FAST_VARIANTS), ("default", DEFAULT_VARIANTS)):
            hashes, masks, kinds, whole = [], [], [], []
            for data in images:
                record = hash_bytes(data, HashOptions(variants=families))
                rows = [("original", record.pdq, record.pdq_reliable)] + [
                    (v.name, v.hash, v.reliable) for v in record.pdq_variants or []
                ]
                for name, value, mask in rows:
                    family = variant_family(name)
                    whole.append(family not in RELIABLE_ONLY_FAMILIES)  # as the matcher
                    hashes.append(bytes.fromhex(value or ""))
                    masks.append(bytes.fromhex(mask or "00" * 32))
                    kinds.append(
                        "none"
                        if family not in RELIABLE_FAMILIES
                        else "guess"
                        if family in GUESSED_VARIANTS
                        else "exact"
                    )
            h = np.frombuffer(b"".join(hashes), np.uint8).reshape(-1, 32)
            m = np.frombuffer(b"".join(masks), np.uint8).reshape(-1, 32)
            kind = np.asarray(kinds)
            exact, guess = kind == "exact", kind == "guess"
            best = {"whole": np.inf, "exact": np.inf, "guess": np.inf}
            runs = (
                ("whole", index.search_flat, (h[np.asarray(whole)], 31)),
                ("exact", index.search_reliable, (h[exact], m[exact], 23)),
                ("guess", index.search_reliable, (h[guess], m[guess], 19)),
            )
            for _ in range(rounds):  # interleaved; the fastest round of each counts
                for name, search, args in runs:
                    started = time.perf_counter()
                    search(*args)  # type: ignore[operator]
                    best[name] = min(best[name], time.perf_counter() - started)
            per = {k: v * 1000 / len(images) for k, v in best.items()}
            print(
                f"{size:>10,} {label:<9} {len(h) / len(images):>7.1f} {per['whole']:>9.2f} "
                f"{per['exact']:>12.2f} {per['guess']:>11.2f} {sum(per.values()):>9.2f}"
            )
        gc.collect()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100k,1M", help="comma-separated, e.g. 100k,1M,10M")
    ap.add_argument("--sets", default="random,clustered")
    ap.add_argument("--planted", type=int, default=320, help="planted queries per set")
    ap.add_argument("--none", type=int, default=160, help="queries with no match per set")
    ap.add_argument("--no-faiss", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reliable", action="store_true", help="time search_reliable instead")
    ap.add_argument(
        "--per-image", action="store_true", help="an image's lookups as the matcher makes them"
    )
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (--reliable)")
    ap.add_argument("--threads", type=int, default=1, help="search threads (--reliable)")
    args = ap.parse_args()
    if args.per_image:
        bench_per_image([parse_size(s) for s in args.sizes.split(",")], args.rounds, args.seed)
        return
    if args.reliable:
        sizes = [parse_size(s) for s in args.sizes.split(",")]
        bench_reliable(sizes, args.rounds, args.threads, args.seed)
        return

    rows: list[Row] = []
    extra: list[str] = []
    for size in [parse_size(s) for s in args.sizes.split(",")]:
        for kind in args.sets.split(","):
            rng = np.random.default_rng(args.seed)
            name = f"{kind} {size:,}"
            h = make_set(kind, size, rng)
            queries, planted_d = make_queries(h, args.planted, args.none, rng)
            t = time.perf_counter()
            truth = brute_force(h, queries, RADIUS)
            print(
                f"[{name}] ground truth in {time.perf_counter() - t:.1f} s, "
                f"{sum(map(len, truth))} true matches",
                flush=True,
            )
            rows += bench_brute(h, queries, truth, planted_d, name)
            rows += bench_kavach(h, queries, truth, planted_d, name, extra)
            if not args.no_faiss:
                rows += bench_faiss(h, queries, truth, planted_d, name, multihash=False)
                rows += bench_faiss(h, queries, truth, planted_d, name, multihash=True)
            print(f"[{name}] done", flush=True)
            del h, truth
            gc.collect()
    print()
    print(
        f"radius {RADIUS}; {args.planted} planted + {args.none} no-match queries per set; "
        "one thread; memory: kavach = array bytes of the index, faiss = RSS growth"
    )
    print_table(rows)
    print()
    for line in extra:
        print(line)


if __name__ == "__main__":
    main()
