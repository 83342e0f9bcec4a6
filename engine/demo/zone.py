"""Time zone handling: local naive seconds <-> UTC seconds, vectorised, and timestamp columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from merit.demo.arrays import SECONDS_PER_DAY, take


class Zone:
    def __init__(self, name: str, first_day: int, last_day: int):
        self.name = name
        probe = np.arange(first_day, last_day + 1, dtype=np.int64) * SECONDS_PER_DAY
        probe = np.concatenate([probe, probe + SECONDS_PER_DAY // 2])
        offsets = self._offsets_utc(probe)
        self.fixed = int(offsets[0]) if (offsets == offsets[0]).all() else None

    def _offsets_utc(self, utc_sec: np.ndarray) -> np.ndarray:
        idx = pd.DatetimeIndex(np.asarray(utc_sec, dtype="datetime64[s]")).tz_localize("UTC").tz_convert(self.name)
        local = idx.tz_localize(None).as_unit("s").asi8
        return local - np.asarray(utc_sec, dtype=np.int64)

    def to_utc(self, local_sec: np.ndarray) -> np.ndarray:
        if self.fixed is not None:
            return local_sec - self.fixed
        idx = pd.DatetimeIndex(np.asarray(local_sec, dtype="datetime64[s]"))
        loc = idx.tz_localize(self.name, ambiguous=np.zeros(len(idx), dtype=bool), nonexistent="shift_forward")
        return loc.tz_convert("UTC").tz_localize(None).as_unit("s").asi8

    def offsets(self, utc_sec: np.ndarray) -> np.ndarray:
        if self.fixed is not None:
            return np.full(len(utc_sec), self.fixed, dtype=np.int64)
        return self._offsets_utc(utc_sec)

    def to_local(self, utc_sec: np.ndarray) -> np.ndarray:
        return utc_sec + self.offsets(utc_sec)


def offset_suffix(offset_sec: np.ndarray) -> pa.Array:
    uniq, inverse = np.unique(offset_sec, return_inverse=True)
    labels = []
    for off in uniq.tolist():  # a handful of distinct offsets
        sign = "+" if off >= 0 else "-"
        minutes = abs(int(off)) // 60
        labels.append(f"{sign}{minutes // 60:02d}:{minutes % 60:02d}")
    return take(labels, inverse)


def timestamps(zone: Zone, utc_sec: np.ndarray, valid: np.ndarray | None, fmt: str,
               mode: np.ndarray | None = None) -> pa.Array:
    """A timestamp column: naive local time; in CSV, rows with mode 1 carry the
    local offset and rows with mode 2 are written in UTC with ``+00:00``."""
    utc_sec = np.asarray(utc_sec, dtype=np.int64)
    mask = None if valid is None else ~valid
    local = zone.to_local(utc_sec)
    ts = pa.array(local, type=pa.timestamp("s"), mask=mask)
    if fmt == "parquet":
        return ts
    text = pc.cast(ts, pa.string())
    if mode is None:
        return text
    pick = (mode > 0) if valid is None else (mode > 0) & valid
    if not pick.any():
        return text
    rows = np.flatnonzero(pick)
    as_utc = mode[rows] == 2
    shown = np.where(as_utc, utc_sec[rows], local[rows])
    body = pc.strftime(pa.array(shown, type=pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
    suffix = offset_suffix(np.where(as_utc, 0, local[rows] - utc_sec[rows]))
    replaced = pc.binary_join_element_wise(body, suffix, "")
    return pc.replace_with_mask(text, pa.array(pick), replaced)
