"""The matcher: the live entries of chosen banks in exact and PDQ indexes, kept current.

Each bank gets one :class:`~kavach.index.PDQIndex` and one :class:`~kavach.index.ExactIndex` per
digest type, keyed by entry id. Only ids and hashes are held in memory; what a match reports
(labels, item id) is read from the database for the few entries that match, so a 10 M-entry bank
costs its index and nothing more. ``refresh`` compares each bank's ``version`` with the one
loaded and applies only the entries changed since (``changed_version``), so retractions and
additions reach a running scan without a rebuild.

With a ``cache_dir`` the indexes are saved there after loading and mapped back on the next run,
so a scan against a large bank starts in a fraction of a second; the cache is keyed by database,
bank id and bank creation time, and brought up to date from the bank's change stamps.

Videos (vpdq entries) are matched as :mod:`kavach.match.video` defines it, each bank's listed
videos in one :class:`~kavach.match.video.VideoIndex` keyed by entry id. It is cached beside the
others (its frames in the index file format, the listed videos in a ``.npy`` table), so a warm
start reads no frames from the database, and updated incrementally on refresh like the others.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kavach.banks.models import Bank, BankEntry, EntryLabel
from kavach.errors import IndexFormatError, InvalidHashError, NotFoundError
from kavach.hashing import HashRecord, VariantHashes
from kavach.index import ExactIndex, PDQIndex
from kavach.match.models import Match, MatchLabel, MatchPolicy
from kavach.signals.pdq import PDQ_MIN_QUALITY, PDQ_RELIABLE_BITS
from kavach.signals.types import SignalType, format_hash, video_key
from kavach.signals.variants import (
    GUESSED_VARIANTS,
    RELIABLE_FAMILIES,
    RELIABLE_ONLY_FAMILIES,
    bank_variants,
    variant_allowed,
    variant_family,
)

if TYPE_CHECKING:
    from kavach.match.video import VideoIndex
    from kavach.signals.vpdq import VideoHash

__all__ = ["MATCHED_SIGNALS", "Matcher", "Query", "record_queries"]

log = logging.getLogger(__name__)

MATCHED_SIGNALS = (SignalType.MD5, SignalType.SHA1, SignalType.SHA256, SignalType.PDQ)
"""Signal types the matcher indexes by value (PhotoDNA is stored but Kavach cannot compute it;
vpdq is matched by its frames, in a video index of its own)."""

# Entry ids per IN (...) query: well under every database's parameter limit.
_ID_BATCH = 500
_LOAD_BATCH = 50_000
_MAX_SEARCH_THREADS = 8
_CACHE_FORMAT = 2  # 2: the video index is cached too


@dataclass(frozen=True, slots=True)
class Query:
    """One hash to look up. ``quality`` (PDQ) is checked against the policy when given.

    A vpdq query carries the frames in ``video`` (its ``value`` is their key); build it with
    :meth:`for_video`. A PDQ query's ``variant`` is reported by the matches it finds.
    """

    signal_type: SignalType
    value: bytes
    quality: int | None = None
    video: VideoHash | None = field(default=None, compare=False)
    variant: str | None = None
    """PDQ: how this hash was derived from the file (``original``, ``dihedral:rot90``, ...)."""
    reliable: bytes | None = None
    """PDQ: the mask of the hash's reliable bits, when it was computed from the media; with the
    ``reliable`` family the hash also matches on those bits alone."""

    @classmethod
    def for_video(cls, video: VideoHash) -> Query:
        """A query that matches ``video`` against the listed videos."""
        return cls(SignalType.VPDQ, video_key(video), video=video)


@dataclass(slots=True)
class _BankIndexes:
    bank_id: int
    name: str
    version: int
    cache_key: str
    indexes: dict[SignalType, PDQIndex | ExactIndex] = field(default_factory=dict)
    videos: VideoIndex | None = None
    """Listed videos by entry id; None until the first vpdq entry is seen."""
    variants: frozenset[str] | None = None
    """The PDQ variant families the bank accepts (None: whatever the policy looks up)."""

    def index(self, st: SignalType) -> PDQIndex | ExactIndex:
        found = self.indexes.get(st)
        if found is None:
            found = self.indexes[st] = PDQIndex() if st is SignalType.PDQ else ExactIndex(st.size)
        return found

    def entries(self) -> int:
        videos = len(self.videos) if self.videos is not None else 0
        return sum(len(index) for index in self.indexes.values()) + videos

    def video_index(self) -> VideoIndex:
        if self.videos is None:
            from kavach.match.video import VideoIndex

            # Listed frames of quality < 50 never count, whatever the policy says of PDQ
            # queries: vPDQ defines a video match over good frames only.
            self.videos = VideoIndex(min_quality=PDQ_MIN_QUALITY)
        return self.videos


@dataclass(frozen=True, slots=True)
class _Found:
    distance: int
    query: int
    """Position of the matching hash among its signal type's queries (-1 for a video)."""
    variant: str | None
    reliable: int | None = None
    """Distance on the query's reliable bits, when only that comparison matched."""

    def rank(self) -> tuple[int, int, int]:
        # A match by the full hash beats one by the reliable bits; then the nearer, then the
        # earlier query (the file's own hash before its variants).
        if self.reliable is None:
            return (0, self.distance, self.query)
        return (1, self.reliable, self.query)


@dataclass(frozen=True, slots=True)
class _Details:
    bank_id: int
    signal_type: SignalType
    value: bytes
    item_id: str | None
    labels: tuple[MatchLabel, ...]


class Matcher:
    """Looks hashes up in the live entries of ``banks``.

    ``session_factory`` opens short read-only sessions (never one long transaction, which would
    pin an old snapshot and hide bank changes). ``database_key`` names the database in cache keys
    (pass the URL without password) so two databases never share a cached index.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        banks: Sequence[str],
        policy: MatchPolicy | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        database_key: str = "",
        search_threads: int | None = None,
    ) -> None:
        if not banks:
            raise NotFoundError("no bank chosen; name one with --bank (see `kavach bank list`)")
        self._factory = session_factory
        self._names = list(dict.fromkeys(banks))
        self.policy = policy or MatchPolicy()
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._database_key = database_key
        # A batch's PDQ lookups (~34 per image with the variants) are split between threads:
        # the index kernels release the GIL, so a scan's matching uses idle cores.
        self._threads = search_threads or min(os.cpu_count() or 1, _MAX_SEARCH_THREADS)
        self._banks: dict[int, _BankIndexes] = {}

    @property
    def bank_names(self) -> list[str]:
        """The banks matched against, in the order given."""
        return list(self._names)

    @property
    def loaded(self) -> bool:
        return bool(self._banks)

    def versions(self) -> dict[str, int]:
        """The bank versions the indexes reflect."""
        return {b.name: b.version for b in self._banks.values()}

    def entry_counts(self) -> dict[str, int]:
        """Live indexed entries per bank."""
        return {b.name: b.entries() for b in self._banks.values()}

    def load(self) -> None:
        """Load every bank (from the cache where it is current); a no-op once loaded."""
        if self._banks:
            return
        with self._factory() as session:
            rows = session.execute(
                select(Bank.id, Bank.name, Bank.version, Bank.created_at, Bank.variants).where(
                    Bank.name.in_(self._names)
                )
            ).all()
            found = {row.name: row for row in rows}
            missing = [name for name in self._names if name not in found]
            if missing:
                raise NotFoundError(f"no bank called {missing[0]!r}; see `kavach bank list`")
            loaded: dict[int, _BankIndexes] = {}
            for name in self._names:
                row = found[name]
                loaded[row.id] = self._load_bank(
                    session, row.id, name, row.version, self._cache_key(row.id, row.created_at)
                )
                loaded[row.id].variants = bank_variants(row.variants)
        self._banks = loaded

    def refresh(self) -> bool:
        """Apply the changes made to the banks since they were loaded; True if any."""
        if not self._banks:
            self.load()
            return True
        changed = False
        with self._factory() as session:
            current = {
                row.id: (row.version, row.variants)
                for row in session.execute(
                    select(Bank.id, Bank.version, Bank.variants).where(
                        Bank.id.in_(list(self._banks))
                    )
                )
            }
            for bank_id, bank in self._banks.items():
                if bank_id not in current:
                    raise NotFoundError(f"bank {bank.name!r} was deleted during the scan")
                version, variants = current[bank_id]
                bank.variants = bank_variants(variants)
                if version != bank.version:
                    self._apply_changes(session, bank, since=bank.version, version=version)
                    self._save_cache(bank)
                    changed = True
        return changed

    # -- lookups ---------------------------------------------------------------------------

    def queries_for(self, record: HashRecord) -> list[Query]:
        """The lookups a hashed file makes: its digests, its PDQ hash and the PDQ variants the
        record carries and the policy allows."""
        return record_queries(record, self.policy.variants)

    def _radius(self, st: SignalType, family: str | None) -> int:
        if st is not SignalType.PDQ:
            return 0
        if family in GUESSED_VARIANTS:
            return min(self.policy.threshold, self.policy.guess_threshold)
        return self.policy.threshold

    def match_record(self, record: HashRecord) -> list[Match]:
        """The matches of one hashed file."""
        return self.match_records([record])[0]

    def match_records(self, records: Sequence[HashRecord]) -> list[list[Match]]:
        """The matches of each record; one index search per bank and signal type for the batch."""
        return self.match([self.queries_for(record) for record in records])

    def match(self, items: Sequence[Sequence[Query]]) -> list[list[Match]]:
        """For each item (a list of its hashes), the entries any of them matched.

        A PDQ query below the policy's quality is skipped; an entry is reported once per item,
        at its smallest distance (the file's own hash winning ties, then the first variant);
        matches are ordered by distance, bank, entry id.
        """
        self.load()
        grouped: dict[SignalType, tuple[list[int], list[bytes], list[str | None]]] = {}
        masks: list[bytes | None] = []  # PDQ queries' reliable-bit masks, in query order
        videos: list[tuple[int, VideoHash]] = []
        for item, queries in enumerate(items):
            for q in queries:
                if q.signal_type is SignalType.VPDQ and q.video is not None:
                    videos.append((item, q.video))
                    continue
                if q.signal_type not in MATCHED_SIGNALS:
                    continue
                if (
                    q.signal_type is SignalType.PDQ
                    and q.quality is not None
                    and q.quality < self.policy.min_quality
                ):
                    continue
                owners, values, variants = grouped.setdefault(q.signal_type, ([], [], []))
                owners.append(item)
                values.append(q.value)
                variants.append(
                    (q.variant or "original") if q.signal_type is SignalType.PDQ else None
                )
                if q.signal_type is SignalType.PDQ:
                    masks.append(q.reliable)
        best: list[dict[int, _Found]] = [{} for _ in items]
        for st, (owners, values, variants) in grouped.items():
            rows = _rows(values, st)
            owner = np.asarray(owners, dtype=np.int64)
            families = [None if v is None else variant_family(v) for v in variants]
            radii = np.asarray([self._radius(st, f) for f in families], dtype=np.int64)
            reliable = self._reliable_radii(families, masks) if st is SignalType.PDQ else None
            reliable_only = np.asarray([f in RELIABLE_ONLY_FAMILIES for f in families])
            for bank in self._banks.values():
                index = bank.indexes.get(st)
                if index is None or len(index) == 0:
                    continue
                usable = np.ones(len(values), dtype=np.bool_)
                if bank.variants is not None:
                    usable = np.asarray(
                        [
                            v is None or f == "original" or variant_allowed(v, bank.variants)
                            for f, v in zip(families, variants, strict=True)
                        ],
                        dtype=np.bool_,
                    )
                # One search per bank and radius for every hash of the batch, variants included
                # (guessed variants are looked up at the policy's tighter guess threshold), but
                # those looked up by their reliable bits alone.
                whole = usable
                if reliable is not None and _accepts_reliable(bank):
                    whole = usable & ~(reliable_only & (reliable >= 0))
                for radius in np.unique(radii).tolist():
                    chosen = np.flatnonzero(whole & (radii == radius))
                    if len(chosen) == 0:
                        continue
                    flat = index.search_flat(rows[chosen], int(radius), threads=self._threads)
                    picked = chosen[flat.rows]
                    for row, query, entry_id, distance in zip(
                        owner[picked].tolist(),
                        picked.tolist(),
                        flat.ids.tolist(),
                        flat.distances.tolist(),
                        strict=True,
                    ):
                        _keep(best[row], entry_id, _Found(distance, query, variants[query]))
                if reliable is not None and isinstance(index, PDQIndex):
                    self._match_reliable(
                        index, bank, rows, masks, reliable, usable & (reliable >= 0), owner,
                        variants, best,
                    )  # fmt: skip
        shares = self._match_videos(videos, best)
        wanted = {entry_id for found in best for entry_id in found}
        details = self._lookup(wanted)
        names = {b.bank_id: b.name for b in self._banks.values()}
        results: list[list[Match]] = []
        for item, found in enumerate(best):
            matches = []
            for entry_id, hit in found.items():
                d = details.get(entry_id)
                if d is None or d.bank_id not in names:
                    continue  # retracted since the index was loaded
                share = shares.get((item, entry_id))
                matches.append(
                    Match(
                        bank=names[d.bank_id],
                        entry_id=entry_id,
                        signal_type=d.signal_type,
                        value=format_hash(d.signal_type, d.value),
                        distance=hit.distance,
                        variant=hit.variant,
                        reliable_distance=hit.reliable,
                        query_value=(
                            None
                            if hit.variant is None or hit.query < 0
                            else grouped[SignalType.PDQ][1][hit.query].hex()
                        ),
                        item_id=d.item_id,
                        labels=list(d.labels),
                        query_match_percent=None if share is None else share[0],
                        compared_match_percent=None if share is None else share[1],
                    )
                )
            matches.sort(key=lambda m: (m.distance, m.bank, m.entry_id))
            results.append(matches)
        return results

    def _reliable_radii(
        self, families: list[str | None], masks: list[bytes | None]
    ) -> NDArray[np.int64] | None:
        """Per PDQ query, the radius of its lookup on its reliable bits (-1: none), or None when
        the policy does not look hashes up that way."""
        if "reliable" not in self.policy.variants:
            return None
        policy = self.policy
        # Never looser than the whole-hash thresholds scaled to the reliable bits (31 -> 23).
        exact = min(policy.reliable_threshold, _scaled(policy.threshold))
        guess = min(
            exact,
            policy.reliable_guess_threshold,
            _scaled(min(policy.threshold, policy.guess_threshold)),
        )
        return np.asarray(
            [
                -1
                if mask is None or family not in RELIABLE_FAMILIES
                else guess
                if family in GUESSED_VARIANTS
                else exact
                for family, mask in zip(families, masks, strict=True)
            ],
            dtype=np.int64,
        )

    def _match_reliable(
        self,
        index: PDQIndex,
        bank: _BankIndexes,
        rows: NDArray[np.uint8],
        masks: list[bytes | None],
        radii: NDArray[np.int64],
        usable: NDArray[np.bool_],
        owner: NDArray[np.int64],
        variants: list[str | None],
        best: list[dict[int, _Found]],
    ) -> None:
        """Look the PDQ queries with a reliable radius up by their reliable bits alone."""
        if not _accepts_reliable(bank):
            return
        for radius in np.unique(radii[usable]).tolist():
            chosen = np.flatnonzero(usable & (radii == radius))
            mask_rows = np.frombuffer(b"".join(masks[i] or b"" for i in chosen), dtype=np.uint8)
            found = index.search_reliable(
                rows[chosen], mask_rows.reshape(len(chosen), 32), radius, threads=self._threads
            )
            picked = chosen[found.rows]
            for row, query, entry_id, distance, reliable in zip(
                owner[picked].tolist(),
                picked.tolist(),
                found.ids.tolist(),
                found.distances.tolist(),
                found.reliable_distances.tolist(),
                strict=True,
            ):
                # Within the whole-hash threshold it is an ordinary match, found already unless
                # its family is looked up by its reliable bits alone.
                family = variant_family(variants[query] or "original")
                if distance > self._radius(SignalType.PDQ, family):
                    _keep(best[row], entry_id, _Found(distance, query, variants[query], reliable))
                elif family in RELIABLE_ONLY_FAMILIES:
                    _keep(best[row], entry_id, _Found(distance, query, variants[query]))

    def _match_videos(
        self, videos: list[tuple[int, VideoHash]], best: list[dict[int, _Found]]
    ) -> dict[tuple[int, int], tuple[float, float]]:
        """Match the query videos; record each hit in ``best`` (distance 0) and return its
        ``(query %, listed %)`` by ``(item, entry id)``."""
        shares: dict[tuple[int, int], tuple[float, float]] = {}
        indexes = [b.videos for b in self._banks.values() if b.videos is not None and len(b.videos)]
        if not videos or not indexes:
            return shares
        for item, video in videos:
            for index in indexes:
                for m in index.search(
                    video,
                    distance=self.policy.threshold,
                    query_percent=self.policy.video_query_percent,
                    compared_percent=self.policy.video_compared_percent,
                ):
                    best[item][m.video_id] = _Found(0, -1, None)
                    shares[(item, m.video_id)] = (
                        round(m.query_match_percent, 2),
                        round(m.compared_match_percent, 2),
                    )
        return shares

    def _lookup(self, entry_ids: set[int]) -> dict[int, _Details | None]:
        # Read fresh for every batch (matches are few): a retraction made since the index was
        # loaded takes effect at once, before any refresh.
        found: dict[int, _Details | None] = {}
        if not entry_ids:
            return found
        wanted = sorted(entry_ids)
        with self._factory() as session:
            for start in range(0, len(wanted), _ID_BATCH):
                found.update(_read_details(session, wanted[start : start + _ID_BATCH]))
        return found

    # -- loading ---------------------------------------------------------------------------

    def _cache_key(self, bank_id: int, created_at: Any) -> str:
        text = f"{self._database_key}|{bank_id}|{created_at.isoformat()}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def _load_bank(
        self, session: Session, bank_id: int, name: str, version: int, key: str
    ) -> _BankIndexes:
        bank = self._load_cache(bank_id, name, key, version)
        if bank is None:
            bank = _BankIndexes(bank_id, name, version, key)
            _fill(session, bank)
            _fill_videos(session, bank)
        elif bank.version != version:
            self._apply_changes(session, bank, since=bank.version, version=version)
        else:
            return bank
        self._save_cache(bank)
        return bank

    def _apply_changes(
        self, session: Session, bank: _BankIndexes, *, since: int, version: int
    ) -> None:
        # Every entry stamped after `since` is removed and, when still live, added back: adds,
        # relabels (no-op for the index), retractions and reinstatements all come out right.
        changed: dict[SignalType, tuple[list[int], list[int], list[bytes]]] = {}
        for entry_id, st, value, retracted in _read_changes(session, bank.bank_id, since):
            removed, live_ids, live_values = changed.setdefault(st, ([], [], []))
            removed.append(entry_id)
            if not retracted and len(value) == st.size:
                live_ids.append(entry_id)
                live_values.append(value)
        for st, (removed, live_ids, live_values) in changed.items():
            index = bank.index(st)
            index.remove(np.asarray(removed, dtype=np.uint64))
            if live_ids:
                index.add(np.asarray(live_ids, dtype=np.uint64), _rows(live_values, st))
        _update_videos(session, bank, since)
        bank.version = version

    def _cache_paths(self, key: str) -> tuple[Path, Path] | None:
        # (metadata file, folder of the index files), or None without a cache.
        if self._cache_dir is None:
            return None
        return self._cache_dir / f"{key}.json", self._cache_dir

    def _load_cache(self, bank_id: int, name: str, key: str, version: int) -> _BankIndexes | None:
        paths = self._cache_paths(key)
        if paths is None or not paths[0].exists():
            return None
        meta_path, folder = paths
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
            if meta.get("format") != _CACHE_FORMAT or int(meta["version"]) > version:
                return None  # another layout, or a bank that went back in time: rebuild
            bank = _BankIndexes(bank_id, name, int(meta["version"]), key)
            for st_name in meta["signals"]:
                st = SignalType(st_name)
                file = folder / f"{key}-{st.value}.kvx"
                bank.indexes[st] = (
                    PDQIndex.load(file) if st is SignalType.PDQ else ExactIndex.load(file)
                )
            if meta.get("videos"):
                from kavach.match.video import VideoIndex

                bank.videos = VideoIndex.load(
                    folder / f"{key}-vpdq.kvx",
                    folder / f"{key}-vpdq.npy",
                    min_quality=PDQ_MIN_QUALITY,
                )
            return bank
        except (OSError, ValueError, KeyError, TypeError, IndexFormatError) as exc:
            log.warning("index cache for bank %s unusable (%s); rebuilding", name, exc)
            return None

    def _save_cache(self, bank: _BankIndexes) -> None:
        paths = self._cache_paths(bank.cache_key)
        if paths is None:
            return
        meta_path, folder = paths
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # The metadata goes last and names the version: a crash between files leaves an old
            # or missing metadata file, never one that claims a version its indexes lack.
            meta_path.unlink(missing_ok=True)
            for st, index in bank.indexes.items():
                index.save(folder / f"{bank.cache_key}-{st.value}.kvx")
            if bank.videos is not None:
                bank.videos.save(
                    folder / f"{bank.cache_key}-vpdq.kvx", folder / f"{bank.cache_key}-vpdq.npy"
                )
            meta = {
                "format": _CACHE_FORMAT,
                "version": bank.version,
                "signals": sorted(st.value for st in bank.indexes),
                "videos": bank.videos is not None,
            }
            tmp = meta_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(meta), "utf-8")
            os.replace(tmp, meta_path)
        except OSError as exc:
            # A cache that cannot be written only costs time on the next run.
            log.warning("could not write the index cache in %s: %s", folder, exc)


def _scaled(threshold: int) -> int:
    """A whole-hash threshold as the same share of the reliable bits."""
    return threshold * PDQ_RELIABLE_BITS // 256


def _accepts_reliable(bank: _BankIndexes) -> bool:
    """Whether the bank lets a hash match on its reliable bits."""
    return bank.variants is None or "reliable" in bank.variants


def _keep(found: dict[int, _Found], entry_id: int, hit: _Found) -> None:
    """Record ``hit`` for ``entry_id`` unless a better one is already there."""
    seen = found.get(entry_id)
    if seen is None or hit.rank() < seen.rank():
        found[entry_id] = hit


def record_queries(record: HashRecord, variants: Iterable[str]) -> list[Query]:
    """The lookups a hashed file makes: its digests, its PDQ hash, the PDQ variants it carries
    of the families in ``variants``, and its video frames."""
    queries = [
        Query(st, bytes.fromhex(hex_value))
        for st, hex_value in (
            (SignalType.MD5, record.md5),
            (SignalType.SHA1, record.sha1),
            (SignalType.SHA256, record.sha256),
        )
        if hex_value
    ]
    queries.extend(_pdq_queries(record, frozenset(variants)))
    video = record.video_hash()
    if video is not None and len(video):
        queries.append(Query.for_video(video))
    return queries


def _pdq_queries(record: HashRecord, allowed: frozenset[str]) -> list[Query]:
    # The file's own hash first, so a variant equal to it (a symmetric picture's flip) is
    # reported as the original; then the variant families allowed. Keyed by the raw 32 bytes.
    found: dict[bytes, tuple[str, int | None, bytes | None]] = {}
    if record.pdq:
        own_mask = bytes.fromhex(record.pdq_reliable) if record.pdq_reliable else None
        found[bytes.fromhex(record.pdq)] = ("original", record.pdq_quality, own_mask)
    if record.pdq_dihedral and "dihedral" in allowed:
        for turn, hex_value in record.pdq_dihedral.items():
            label = "original" if turn == "original" else f"dihedral:{turn}"
            found.setdefault(bytes.fromhex(hex_value), (label, record.pdq_quality, None))
    variants = record.pdq_variants
    if isinstance(variants, VariantHashes):
        # Hashed here: the values are bytes already (no hex there and back).
        for name, value, quality, mask in variants.rows():
            if variant_allowed(name, allowed):
                found.setdefault(value, (name, quality, mask))
    else:
        for variant in variants or ():
            if variant_allowed(variant.name, allowed):
                mask = bytes.fromhex(variant.reliable) if variant.reliable else None
                found.setdefault(bytes.fromhex(variant.hash), (variant.name, variant.quality, mask))
    return [
        Query(SignalType.PDQ, value, quality, variant=name, reliable=mask or None)
        for value, (name, quality, mask) in found.items()
    ]


def _rows(values: list[bytes], st: SignalType) -> NDArray[np.uint8]:
    return np.frombuffer(b"".join(values), dtype=np.uint8).reshape(len(values), st.size)


def _fill(session: Session, bank: _BankIndexes) -> None:
    """Add every live entry of the bank: one read, then one index build per signal type."""
    ids: dict[str, list[int]] = {st.value: [] for st in MATCHED_SIGNALS}
    values: dict[str, list[bytes]] = {st.value: [] for st in MATCHED_SIGNALS}
    # Entries below their bank's vouching rule wait for review; they never match on their own.
    stmt = select(BankEntry.id, BankEntry.signal_type, BankEntry.value).where(
        BankEntry.bank_id == bank.bank_id,
        BankEntry.retracted_at.is_(None),
        BankEntry.acts.is_(True),
    )
    # No filter on signal type: SQLite would then walk the (bank, type, value) index and fetch
    # rows in random order, 3-4 times slower than reading the bank's rows in order.
    result = session.connection().execute(stmt)
    # Rows are read from the DBAPI cursor itself: SQLAlchemy's per-row processing costs ~3 µs a
    # row, most of a cold load; an integer, a short string and raw bytes need no processing.
    cursor = result.cursor
    try:
        while block := cursor.fetchmany(_LOAD_BATCH):
            for entry_id, st, value in block:
                bucket = values.get(st)
                if bucket is not None:  # PhotoDNA and future types are not indexed here
                    ids[st].append(entry_id)
                    bucket.append(bytes(value))
    finally:
        result.close()
    for st in MATCHED_SIGNALS:
        st_values = values.pop(st.value)
        if not st_values:
            continue
        st_ids = np.asarray(ids.pop(st.value), dtype=np.uint64)
        data = b"".join(st_values)
        if len(data) != st.size * len(st_values):
            # Never written by Kavach's own writers; skip such rows rather than fail a scan.
            keep = [i for i, v in enumerate(st_values) if len(v) == st.size]
            st_ids = st_ids[keep]
            data = b"".join(st_values[i] for i in keep)
        del st_values
        bank.index(st).add(st_ids, np.frombuffer(data, dtype=np.uint8).reshape(-1, st.size))


def _read_changes(
    session: Session, bank_id: int, since: int
) -> Iterable[tuple[int, SignalType, bytes, bool]]:
    stmt = select(
        BankEntry.id, BankEntry.signal_type, BankEntry.value, BankEntry.retracted_at, BankEntry.acts
    ).where(
        BankEntry.bank_id == bank_id,
        BankEntry.changed_version > since,
        BankEntry.signal_type.in_([st.value for st in MATCHED_SIGNALS]),
    )
    types = {st.value: st for st in MATCHED_SIGNALS}
    result = session.execute(stmt.execution_options(yield_per=_LOAD_BATCH))
    for part in result.partitions():
        for entry_id, st, value, retracted_at, acts in part:
            # An entry that stopped acting (vouches withdrawn) leaves the index like a retraction.
            yield entry_id, types[st], bytes(value), retracted_at is not None or not acts


def _read_details(session: Session, ids: list[int]) -> dict[int, _Details | None]:
    found: dict[int, _Details | None] = dict.fromkeys(ids)
    labels: dict[int, list[MatchLabel]] = {}
    for entry_id, scheme, value, assessor in session.execute(
        select(EntryLabel.entry_id, EntryLabel.scheme, EntryLabel.value, EntryLabel.assessor)
        .where(EntryLabel.entry_id.in_(ids))
        .order_by(EntryLabel.scheme, EntryLabel.value, EntryLabel.assessor)
    ):
        labels.setdefault(entry_id, []).append(
            MatchLabel(scheme=scheme, value=value, assessor=assessor)
        )
    for row in session.execute(
        select(
            BankEntry.id,
            BankEntry.bank_id,
            BankEntry.signal_type,
            BankEntry.value,
            BankEntry.item_id,
        ).where(BankEntry.id.in_(ids), BankEntry.retracted_at.is_(None), BankEntry.acts.is_(True))
    ):
        found[row.id] = _Details(
            bank_id=row.bank_id,
            signal_type=SignalType(row.signal_type),
            value=bytes(row.value),
            item_id=row.item_id,
            labels=tuple(labels.get(row.id, ())),
        )
    return found


def _fill_videos(session: Session, bank: _BankIndexes) -> None:
    """Load every live listed video of the bank into a new video index (then cached)."""
    bank.videos = None
    rows = session.execute(
        select(BankEntry.id, BankEntry.payload).where(
            BankEntry.bank_id == bank.bank_id,
            BankEntry.signal_type == SignalType.VPDQ.value,
            BankEntry.retracted_at.is_(None),
            BankEntry.acts.is_(True),
        )
    )
    for entry_id, payload in rows:
        _add_video(bank, entry_id, payload)


def _update_videos(session: Session, bank: _BankIndexes, since: int) -> None:
    """Replace the videos changed since version ``since`` (retracted ones go)."""
    rows = session.execute(
        select(BankEntry.id, BankEntry.payload, BankEntry.retracted_at, BankEntry.acts).where(
            BankEntry.bank_id == bank.bank_id,
            BankEntry.signal_type == SignalType.VPDQ.value,
            BankEntry.changed_version > since,
        )
    )
    for entry_id, payload, retracted_at, acts in rows:
        if bank.videos is not None:
            bank.videos.remove(entry_id)
        if retracted_at is None and acts:
            _add_video(bank, entry_id, payload)


def _add_video(bank: _BankIndexes, entry_id: int, payload: bytes | None) -> None:
    from kavach.signals.vpdq import VideoHash

    if payload is None:
        return  # never written by Kavach's own writers: nothing to match
    try:
        video = VideoHash.from_bytes(bytes(payload))
    except InvalidHashError as exc:
        # One unreadable row must not stop a scan; it names the entry, never a hash.
        log.warning(
            "bank %s entry %d: unreadable vpdq frames (%s); skipped", bank.name, entry_id, exc
        )
        return
    bank.video_index().add(entry_id, video)
