"""Video matching as vPDQ defines it, on the exact PDQ index so it scales with the bank.

Only distinct frames of quality ≥ 50 count. A query frame matches a listed video when some frame of
that video is within 31 bits of it; the query matches the video when at least 80% of its frames
do (``query_match_percent``). The reverse share, ``compared_match_percent``, is the part of the
listed video's frames within 31 bits of some query frame; a policy may ask for it too (a short clip
cut from a long listed video matches one way only).

Every distinct frame of every listed video goes into one :class:`~kavach.index.PDQIndex` under
the id ``video_id << 24 | row``; one radius search of the query's frames finds every frame pair
within the threshold, and both percentages follow from those pairs exactly (the search is exact
and the distance symmetric), so no video is compared frame by frame.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kavach.errors import IndexFormatError, InputError
from kavach.index import PDQIndex
from kavach.signals.pdq import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from kavach.signals.vpdq import VideoHash

__all__ = [
    "DEFAULT_COMPARED_PERCENT",
    "DEFAULT_QUERY_PERCENT",
    "VideoIndex",
    "VideoMatch",
    "match_pair",
    "match_video",
]

DEFAULT_QUERY_PERCENT = 80.0
"""Share of the query's frames that must match for the query to match a listed video."""
DEFAULT_COMPARED_PERCENT = 0.0
"""Share of the listed video's frames that must match (0: not required, as vPDQ's default)."""

_ROW_BITS = 24  # distinct frames per video: up to 16.7 M (over 6 days at 30 frames/s)
_MAX_VIDEO_ID = (1 << (64 - _ROW_BITS)) - 1


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """How much of a query video and a listed video match each other."""

    video_id: int
    query_match_percent: float
    """Percent of the query's distinct quality frames within the threshold of a listed frame."""
    compared_match_percent: float
    """Percent of the listed video's distinct quality frames within the threshold of a query
    frame."""
    query_frames: int
    """Distinct frames of quality ≥ the minimum in the query (the denominator)."""
    compared_frames: int
    """Distinct frames of quality ≥ the minimum in the listed video."""


def match_pair(
    query: VideoHash,
    compared: VideoHash,
    *,
    distance: int = PDQ_MATCH_THRESHOLD,
    min_quality: int = PDQ_MIN_QUALITY,
    video_id: int = 0,
) -> VideoMatch:
    """Compare two videos directly (all frame pairs): the reference's brute-force match."""
    q = query.distinct(min_quality)
    c = compared.distinct(min_quality)
    if len(q) == 0 or len(c) == 0:
        return VideoMatch(video_id, 0.0, 0.0, len(q), len(c))
    close = _pair_distances(q, c) <= distance
    return VideoMatch(
        video_id,
        100.0 * int(close.any(axis=1).sum()) / len(q),
        100.0 * int(close.any(axis=0).sum()) / len(c),
        len(q),
        len(c),
    )


def _pair_distances(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    # Blocks of query rows keep the F×G×32 intermediate small for long videos.
    out = np.empty((len(a), len(b)), dtype=np.int64)
    step = max(1, 4096 // max(1, len(b)))
    for start in range(0, len(a), step):
        block = np.bitwise_xor(a[start : start + step, None, :], b[None, :, :])
        out[start : start + step] = np.bitwise_count(block).sum(axis=2)
    return out


class VideoIndex:
    """Listed videos' frames in one exact PDQ index, searchable by a query video.

    ``min_quality`` applies to listed and query frames alike. ``index`` lets a caller supply
    (and keep) the :class:`~kavach.index.PDQIndex` that holds the frames.
    """

    def __init__(self, *, min_quality: int = PDQ_MIN_QUALITY, index: PDQIndex | None = None):
        self.min_quality = min_quality
        self._index = index if index is not None else PDQIndex()
        self._frames: dict[int, int] = {}

    def __len__(self) -> int:
        """Number of listed videos."""
        return len(self._frames)

    def __contains__(self, video_id: object) -> bool:
        return video_id in self._frames

    @property
    def frame_count(self) -> int:
        """Distinct quality frames held, over all videos."""
        return len(self._index)

    def add(self, video_id: int, video: VideoHash) -> int:
        """List a video under ``video_id`` (0 … 2⁴⁰−1); returns the frames it contributes.

        A video without a frame of sufficient quality is listed with no frames: it can never
        match, which :meth:`search` reports as no match rather than an error.
        """
        if not 0 <= video_id <= _MAX_VIDEO_ID:
            raise InputError(f"video id must be between 0 and {_MAX_VIDEO_ID}, got {video_id}")
        if video_id in self._frames:
            raise InputError(f"video {video_id} is already listed; remove it first")
        rows = video.distinct(self.min_quality)
        if len(rows) >= 1 << _ROW_BITS:
            raise InputError(f"a video may list at most {(1 << _ROW_BITS) - 1:,} distinct frames")
        ids = (np.uint64(video_id) << np.uint64(_ROW_BITS)) + np.arange(len(rows), dtype=np.uint64)
        if len(rows):
            self._index.add(ids, rows)
        self._frames[video_id] = len(rows)
        return len(rows)

    def remove(self, video_id: int) -> bool:
        """Unlist a video; returns whether it was listed."""
        count = self._frames.pop(video_id, None)
        if count is None:
            return False
        if count:
            base = np.uint64(video_id) << np.uint64(_ROW_BITS)
            self._index.remove(base + np.arange(count, dtype=np.uint64))
        return True

    def search(
        self,
        query: VideoHash,
        *,
        distance: int = PDQ_MATCH_THRESHOLD,
        query_percent: float = DEFAULT_QUERY_PERCENT,
        compared_percent: float = DEFAULT_COMPARED_PERCENT,
    ) -> list[VideoMatch]:
        """Listed videos the query matches, best first.

        A video is returned when ``query_match_percent ≥ query_percent`` and
        ``compared_match_percent ≥ compared_percent``; pass 0 for both to get every video that
        shares at least one frame.
        """
        frames = query.distinct(self.min_quality)
        if len(frames) == 0 or len(self._index) == 0:
            return []
        found = self._index.search_flat(frames, distance)
        if len(found.ids) == 0:
            return []
        videos = (found.ids >> np.uint64(_ROW_BITS)).astype(np.int64)
        matches = []
        for video_id in np.unique(videos).tolist():
            mine = videos == video_id
            q_hit = len(np.unique(found.rows[mine]))
            c_hit = len(np.unique(found.ids[mine]))
            total = self._frames[video_id]
            match = VideoMatch(
                video_id,
                100.0 * q_hit / len(frames),
                100.0 * c_hit / total,
                len(frames),
                total,
            )
            if (
                match.query_match_percent >= query_percent
                and match.compared_match_percent >= compared_percent
            ):
                matches.append(match)
        matches.sort(key=lambda m: (-m.query_match_percent, -m.compared_match_percent, m.video_id))
        return matches

    def save(self, index_path: str | os.PathLike[str], table_path: str | os.PathLike[str]) -> None:
        """Write the frames (the PDQ index file format) and the listed videos (``.npy``).

        The table is ``int64[N, 2]``: video id and frames contributed, so videos with no
        quality frame stay listed. Both files are replaced atomically; no pickle.
        """
        self._index.save(index_path)
        table = np.array(sorted(self._frames.items()), dtype=np.int64).reshape(-1, 2)
        target = Path(table_path)
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "wb") as out:
            np.save(out, table, allow_pickle=False)
        os.replace(tmp, target)

    @classmethod
    def load(
        cls,
        index_path: str | os.PathLike[str],
        table_path: str | os.PathLike[str],
        *,
        min_quality: int = PDQ_MIN_QUALITY,
    ) -> VideoIndex:
        """Read what :meth:`save` wrote; :class:`IndexFormatError` if the files disagree.

        ``min_quality`` must be the one the index was saved with (it chose the frames kept).
        """
        index = PDQIndex.load(index_path)
        try:
            table = np.load(table_path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise IndexFormatError(f"{table_path}: not a video table ({exc})") from None
        if table.dtype != np.int64 or table.ndim != 2 or table.shape[1] != 2:
            raise IndexFormatError(f"{table_path}: a video table is int64[N, 2]")
        ids, counts = table[:, 0], table[:, 1]
        if (
            (len(ids) and (ids.min() < 0 or ids.max() > _MAX_VIDEO_ID))
            or len(np.unique(ids)) != len(ids)
            or (len(counts) and (counts.min() < 0 or counts.max() >= 1 << _ROW_BITS))
            or int(counts.sum()) != len(index)
        ):
            raise IndexFormatError(f"{table_path}: the video table does not fit its frames")
        videos = cls(min_quality=min_quality, index=index)
        videos._frames = dict(zip(ids.tolist(), counts.tolist(), strict=True))
        return videos

    @classmethod
    def from_videos(
        cls, videos: Iterable[tuple[int, VideoHash]], *, min_quality: int = PDQ_MIN_QUALITY
    ) -> VideoIndex:
        """An index of ``(video_id, hash)`` pairs."""
        index = cls(min_quality=min_quality)
        for video_id, video in videos:
            index.add(video_id, video)
        return index


def match_video(
    query: VideoHash,
    index: VideoIndex,
    *,
    distance: int = PDQ_MATCH_THRESHOLD,
    query_percent: float = DEFAULT_QUERY_PERCENT,
    compared_percent: float = DEFAULT_COMPARED_PERCENT,
) -> list[VideoMatch]:
    """The listed videos in ``index`` that ``query`` matches (see :meth:`VideoIndex.search`)."""
    return index.search(
        query, distance=distance, query_percent=query_percent, compared_percent=compared_percent
    )
