"""Small vectorised helpers: calendar days, categorical draws, Arrow string columns and ids."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SECONDS_PER_DAY = 86400


def day(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def weekday(days: np.ndarray) -> np.ndarray:
    return (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday


def categorical(rng: np.random.Generator, p, n: int) -> np.ndarray:
    cum = np.cumsum(np.asarray(p, dtype=float))
    cum /= cum[-1]
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


class RowSampler:
    """Sample a column index per row of a non-negative weight matrix (rows = days)."""

    def __init__(self, weights: np.ndarray):
        w = np.asarray(weights, dtype=float)
        total = w.sum(axis=1, keepdims=True)
        empty = total[:, 0] <= 0
        if empty.any():  # a row without weight samples uniformly (never used by the demo)
            w = w.copy()
            w[empty] = 1.0
            total = w.sum(axis=1, keepdims=True)
        cum = np.cumsum(w / total, axis=1)
        cum[:, -1] = 1.0
        self.width = w.shape[1]
        self.flat = (cum + np.arange(w.shape[0])[:, None]).ravel()

    def __call__(self, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.flat, rows + u * (1.0 - 1e-9), side="right")
        return np.minimum(idx - rows * self.width, self.width - 1)


def strings(values) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def take(vocab, idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """vocab[idx] as an Arrow string array; rows where ``mask`` is True are null."""
    vocab = vocab if isinstance(vocab, pa.Array) else strings(vocab)
    indices = pa.array(np.asarray(idx, dtype=np.int64), mask=mask)
    return vocab.take(indices)


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def id_width(n: int, minimum: int = 3) -> int:
    return max(minimum, len(str(max(int(n), 1))))


def join_lists(*parts: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*parts, ";", null_handling="skip")


def distinct_picks(picks: np.ndarray) -> np.ndarray:
    """-1 for every pick that repeats an earlier one in its row (or is -1)."""
    out = picks.copy()
    for j in range(1, picks.shape[1]):
        dup = (picks[:, :j] == picks[:, [j]]).any(axis=1)
        out[dup, j] = -1
    return out


def dates(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32(), mask=mask)
