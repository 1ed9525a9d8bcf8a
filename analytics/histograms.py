"""Fixed log-spaced histograms of latency and time to first token, kept in the daily rollups.

Every rollup row of successful calls stores, per metric, how many calls fell in each bucket. Buckets
are fixed (``LOWER_EDGES``): bucket ``i`` holds the whole milliseconds ``LOWER_EDGES[i]`` ..
``LOWER_EDGES[i + 1] - 1``; the first buckets are one millisecond wide (exact), then each is about 6 %
wider than the previous one, up to 10 minutes; the last bucket holds everything from 10 minutes up.

Histograms add up: the histogram of a range of days (or of a provider, a user ...) is the sum of its
rows' histograms, whatever the number of runs. A percentile read from a histogram uses the same rule as
``percentile_cont`` (linear interpolation between the two closest ranks) on estimated order statistics:
the k-th smallest value is placed inside its bucket, the bucket's calls spread evenly over it. Each
estimate lies in the same bucket as the true value, so the result is within ``MAX_RELATIVE_ERROR`` of the
exact percentile (below 10 minutes; above, between 10 minutes and the largest value seen).

Storage: a histogram is sparse bytes, one 5-byte entry per non-empty bucket (bucket index: 1 unsigned
byte; count: 4-byte little-endian unsigned integer), so summing tens of thousands of rows is a few numpy
operations rather than a Python loop.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np


def _lower_edges(*, ratio: float = 1.06, top: int = 600_000) -> tuple[int, ...]:
    edges = [0, 1]
    while edges[-1] < top:
        edges.append(min(top, max(edges[-1] + 1, math.ceil(edges[-1] * ratio))))
    return tuple(edges)


LOWER_EDGES: tuple[int, ...] = _lower_edges()
BUCKETS = len(LOWER_EDGES)
TOP_MS = LOWER_EDGES[-1]  # 10 minutes: the last bucket is open-ended
_EDGES = np.asarray(LOWER_EDGES, dtype=np.int64)
ENTRY = np.dtype([("bucket", "u1"), ("count", "<u4")])

# Largest relative distance between a value and another whole-millisecond value of its bucket.
MAX_RELATIVE_ERROR: float = max((upper - 1 - lower) / lower for lower, upper in itertools.pairwise(LOWER_EDGES[1:]))
MAX_ERROR_PERCENT = math.ceil(MAX_RELATIVE_ERROR * 1000) / 10  # rounded up to 0.1 %
EXACT = "exact"
APPROXIMATE = f"approximate (histogram, <= {MAX_ERROR_PERCENT:g}% error)"

assert BUCKETS <= 256, "bucket indexes are stored in one byte"


def bucket_of(values: np.ndarray | Sequence[int]) -> np.ndarray:
    """The bucket index of each (non-negative, whole-millisecond) value."""
    array = np.asarray(values, dtype=np.int64)
    return np.searchsorted(_EDGES, np.maximum(array, 0), side="right") - 1


def counts_of(values: Sequence[int]) -> np.ndarray:
    """A dense histogram (one count per bucket) of ``values``."""
    return np.bincount(bucket_of(values), minlength=BUCKETS).astype(np.int64)


def encode(counts: np.ndarray) -> bytes:
    """Dense counts -> sparse bytes (non-empty buckets only)."""
    nonzero = np.flatnonzero(counts)
    entries = np.empty(len(nonzero), dtype=ENTRY)
    entries["bucket"] = nonzero
    entries["count"] = counts[nonzero]
    return entries.tobytes()


def decode(blob: bytes | memoryview | None) -> np.ndarray:
    """Sparse bytes -> dense counts. Entries may repeat a bucket (concatenated histograms add up)."""
    if not blob:
        return np.zeros(BUCKETS, dtype=np.int64)
    entries = np.frombuffer(bytes(blob), dtype=ENTRY)
    return np.bincount(entries["bucket"], weights=entries["count"], minlength=BUCKETS).astype(np.int64)


def _order_statistic(counts: np.ndarray, cumulative: np.ndarray, k: int, largest: float) -> float:
    """An estimate of the k-th smallest value (0-based): inside its bucket, spread evenly."""
    bucket = int(np.searchsorted(cumulative, k, side="right"))
    before = int(cumulative[bucket - 1]) if bucket else 0
    lower = LOWER_EDGES[bucket]
    upper = LOWER_EDGES[bucket + 1] - 1 if bucket + 1 < BUCKETS else max(float(largest), lower)
    return lower + (upper - lower) * (k - before + 0.5) / int(counts[bucket])


def percentiles(counts: np.ndarray, fractions: Sequence[float], *, largest: float | None = None) -> list[float | None]:
    """``percentile_cont(f)`` for each fraction, estimated from dense ``counts``; ``largest`` (the largest
    value, used only when calls took 10 minutes or more) bounds the open-ended last bucket."""
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1]) if len(cumulative) else 0
    if n == 0:
        return [None for _ in fractions]
    top = float(largest if largest is not None else TOP_MS)
    results: list[float | None] = []
    for fraction in fractions:
        position = fraction * (n - 1)
        low = math.floor(position)
        high = min(low + 1, n - 1)
        value_low = _order_statistic(counts, cumulative, low, top)
        value_high = value_low if high == low else _order_statistic(counts, cumulative, high, top)
        results.append(value_low + (value_high - value_low) * (position - low))
    return results
