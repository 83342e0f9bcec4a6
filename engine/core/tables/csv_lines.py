"""Byte-level scans of a CSV file, in chunks with numpy (memory stays bounded): where records
start (line numbers for messages), zero bytes, over-long lines and mixed line endings."""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

CHUNK_BYTES = 1 << 24


def has_nul_byte(path: Path) -> bool:
    """Whether the file holds a zero byte anywhere: a search of the mapped file (memchr, no copy),
    so that clean files, nearly all, skip the per-value NUL check."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return mapped.find(b"\0") >= 0


def first_long_line(path: Path, limit: int) -> int | None:
    """The first line of the file longer than *limit* bytes (None if none is), found with numpy
    over chunks: error path only."""
    line = 1  # the line that starts at byte *start*
    start = 0
    offset = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + offset
            starts = np.concatenate(([start], ends[:-1] + 1)) if len(ends) else np.zeros(0, dtype=np.int64)
            long = np.flatnonzero(ends - starts > limit)
            if len(long):
                return line + int(long[0])
            if len(ends):
                line += len(ends)
                start = int(ends[-1]) + 1
            offset += len(chunk)
            if offset - start > limit:  # the current line is already too long
                return line
    return None


def mixed_line_endings(path: Path) -> bool:
    """Whether some lines end in CRLF and others in LF alone (error path only)."""
    lf = crlf = 0
    last = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            lf += chunk.count(b"\n")
            crlf += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
            last = chunk[-1:]
    return 0 < crlf < lf


def lf_copy(path: Path) -> Path:
    """A private temporary copy of the file with CRLF line endings turned into LF: lines keep their
    numbers, so messages about the copy hold for the file."""
    fd, name = tempfile.mkstemp(prefix="merit-", suffix=".csv")
    with open(path, "rb") as fh, os.fdopen(fd, "wb") as out:
        carry = b""
        while chunk := fh.read(CHUNK_BYTES):
            chunk = carry + chunk
            carry = b"\r" if chunk.endswith(b"\r") else b""  # (its LF may start the next chunk)
            out.write(chunk[:len(chunk) - len(carry)].replace(b"\r\n", b"\n"))
        out.write(carry)
    return Path(name)


def count_newlines(path: Path) -> tuple[int, bool]:
    n, last = 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n, last == b"\n"


def csv_lines_are_records(path: Path, records: int) -> bool:
    """True when every record is on one line and there is no blank line (the common case)."""
    n, ends_nl = count_newlines(path)
    physical = n if ends_nl else n + 1
    return physical == records + 1


def csv_scan(path: Path, *, records: Iterable[int] = (), segments: Iterable[int] = ()) -> dict[int, int]:
    """Find the first line of the given records (0-based, after the header) or
    *segments* (0-based line-like units: the header is segment 0; blank lines
    are segments of their own; a record spanning lines is one segment).

    A newline ends a segment when an even number of quote characters precede
    it (RFC 4180 quoting, ``""`` inside quotes).  The file is scanned in
    chunks with numpy; memory stays bounded.
    """
    scan = _SegmentScan(records, segments)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            scan.feed(chunk)
            if scan.done():
                break
    scan.finish()
    return scan.result()


class _SegmentScan:
    """One :func:`csv_scan`: the segments seen so far and the lines of the wanted ones."""

    def __init__(self, records: Iterable[int], segments: Iterable[int]):
        self.want_rec = np.array(sorted(set(records)), dtype=np.int64)
        self.want_seg = np.array(sorted(set(segments)), dtype=np.int64)
        self.out: dict[int, int] = {}  # segment -> line; record r is stored as -1 - r
        self.seg_no = 0  # index of the segment that starts at cur_start
        self.rec_no = 0  # number of records seen so far
        self.cur_start = 0  # byte offset where the current segment starts
        self.cur_line = 1  # line on which it starts
        self.nl_seen = 0
        self.quotes = 0
        self.offset = 0
        self.prev_last = -1  # the last byte of the previous chunk

    def feed(self, chunk: bytes) -> None:
        arr = np.frombuffer(chunk, dtype=np.uint8)
        nl = np.flatnonzero(arr == 10)
        qs = np.flatnonzero(arr == 34)
        before = self.quotes + np.searchsorted(qs, nl)
        is_end = (before % 2) == 0
        ends = nl[is_end] + self.offset
        ords = self.nl_seen + np.flatnonzero(is_end)
        starts = np.concatenate(([self.cur_start], ends[:-1] + 1)).astype(np.int64) if len(ends) else ends
        lines_start = np.concatenate(([self.cur_line], ords[:-1] + 2)).astype(np.int64) if len(ends) else ends
        self._emit(ends, lines_start, starts, arr, self.offset)
        if len(ends):
            self.cur_start = int(ends[-1]) + 1
            self.cur_line = int(ords[-1]) + 2
        self.nl_seen += len(nl)
        self.quotes += len(qs)
        self.prev_last = int(arr[-1])
        self.offset += len(chunk)

    def done(self) -> bool:
        """Every wanted segment and record is found."""
        return ((not len(self.want_seg) or self.seg_no > self.want_seg[-1])
                and (not len(self.want_rec) or self.rec_no > self.want_rec[-1]))

    def finish(self) -> None:
        """The last segment, when the file does not end with a newline."""
        if self.offset > self.cur_start and (len(self.want_seg) or len(self.want_rec)):
            self._emit(np.array([self.offset], dtype=np.int64), np.array([self.cur_line], dtype=np.int64),
                       np.array([self.cur_start], dtype=np.int64), np.zeros(0, dtype=np.uint8), self.offset)

    def result(self) -> dict[int, int]:
        if len(self.want_rec):
            return {r: self.out[-1 - r] for r in self.want_rec.tolist() if -1 - r in self.out}
        return {s: self.out[s] for s in self.want_seg.tolist() if s in self.out}

    def _emit(self, ends, lines_start, starts, chunk_arr, chunk_off) -> None:
        """Record the segments ending at *ends* (starting at *starts*, on *lines_start*)."""
        n = len(ends)
        if n == 0:
            return
        lengths = ends - starts
        idx = ends - 1 - chunk_off
        if len(chunk_arr):
            last_byte = np.where(idx >= 0, chunk_arr[np.clip(idx, 0, len(chunk_arr) - 1)], self.prev_last)
        else:
            last_byte = np.full(n, self.prev_last)
        blank = (lengths == 0) | ((lengths == 1) & (last_byte == 13))
        segs = self.seg_no + np.arange(n, dtype=np.int64)
        if len(self.want_seg):
            hit = np.isin(segs, self.want_seg)
            for s, ln in zip(segs[hit].tolist(), lines_start[hit].tolist()):
                self.out[s] = ln
        is_rec = (segs >= 1) & ~blank
        if len(self.want_rec) and is_rec.any():
            recs = self.rec_no + np.cumsum(is_rec) - 1
            hit = is_rec & np.isin(recs, self.want_rec)
            for r, ln in zip(recs[hit].tolist(), lines_start[hit].tolist()):
                self.out[-1 - r] = ln
        self.seg_no += n
        self.rec_no += int(is_rec.sum())
