"""What loading produces: the loaded tables (:class:`Tables`), their files (:class:`SourceFile`)
and an input file as DuckDB sees it before typing (:class:`Source`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np

from merit.core.sources.encoding import utf8_text
from merit.core.tables.csv_lines import csv_lines_are_records, csv_scan

FORMATS = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}


@dataclass
class SourceFile:
    table: str
    path: Path
    display: str
    format: str  # 'csv' | 'parquet' | 'xlsx'
    entry: Any = None  # the table's `sources:` entry (merit.core.sources.entry.SourceEntry), if any
    encoding: str = "utf-8"  # CSV: the file's encoding, as found (merit.core.sources.encoding)
    delimiter: str = ","  # CSV: what separates its fields (its `sources:` entry's `delimiter`)
    text_path: Path | None = None  # CSV not in UTF-8: the private UTF-8 copy read while loading

    @property
    def readable(self) -> Path:
        """The UTF-8 text DuckDB and the line scans read: the file, or its UTF-8 copy."""
        return self.text_path or self.path


@dataclass
class Tables:
    con: Any
    tables: dict[str, ibis.Table] = field(default_factory=dict)
    sources: dict[str, SourceFile] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # records per table
    _sheet_rows: dict[str, list[int]] = field(default_factory=dict, repr=False)  # xlsx: record -> sheet row
    _csv_identity: dict[str, bool] = field(default_factory=dict, repr=False)
    absent: dict[str, frozenset[str]] = field(default_factory=dict)  # table -> contract columns not in its file

    def has(self, name: str) -> bool:
        return name in self.tables

    def line_of(self, table: str, rows):
        """The line (in the source file) of record index *rows* (``_row``, 0-based).

        Accepts one index (returns an int) or an iterable of them (returns a
        list in the same order).  CSV: the header is line 1, and records that
        span several lines (quoted newlines) or blank lines shift the numbers;
        xlsx: the sheet row; parquet: the 1-based row number; a table on the backend: the
        row's place in key order, or None where ``_row`` is an id (its source's ``numbered``).
        """
        single = not isinstance(rows, Iterable)
        arr = np.asarray([rows] if single else list(rows), dtype=np.int64).ravel()
        wanted = arr.tolist()
        src = self.sources[table]
        if src.format == "table" and not getattr(src, "numbered", True):  # (an id: no place to name)
            lines = [None] * len(wanted)
        elif src.format in ("parquet", "table"):  # (a table's `_row`: its place in key order)
            lines = (arr + 1).tolist()
        elif src.format == "xlsx":
            sheet = self._sheet_rows[table]
            lines = [sheet[r] if 0 <= r < len(sheet) else r + 2 for r in wanted]
        else:
            with utf8_text(src) as path:  # (a file in another encoding: its UTF-8 copy, same lines)
                if table not in self._csv_identity:
                    self._csv_identity[table] = csv_lines_are_records(path, self.counts.get(table, -1))
                if self._csv_identity[table]:
                    lines = (arr + 2).tolist()
                else:
                    found = csv_scan(path, records=wanted)
                    lines = [found.get(r, r + 2) for r in wanted]
        return lines[0] if single else lines


@dataclass
class Source:
    """An input file as DuckDB sees it, before typing.

    ``relation`` is a SQL FROM item (``read_csv(...)``, ``read_parquet(...)`` or
    a scratch table) whose scan order is the record order; ``values`` maps each
    contract column present in the file to a SQL expression over it and the
    DuckDB type of that expression (``VARCHAR``: the cleaned string, see
    :func:`merit.core.tables.sql.clean`; otherwise a native Parquet value).
    ``raw(rows, columns)`` returns the cleaned strings of some records (by
    ``_row``) and columns, for messages: it is called only on the error path.
    """

    relation: str
    values: dict[str, tuple[str, str]]
    raw: Callable[[list[int], Iterable[str]], dict[int, dict[str, Any]]]
    scratch: list[str] = field(default_factory=list)  # tables to drop once the typed table exists
    # Whether text values may hold a NUL character, so that typing checks each one (CSV: only
    # when the file has a zero byte; Parquet and xlsx: always, a columnar test of every value).
    may_hold_nul: bool = True
    # CSV: the relation reading another file in the same layout (a copy with LF line endings).
    relation_of: Callable[[Path], str] | None = None
    temp_files: list[Path] = field(default_factory=list)  # deleted once every table is loaded
    # The source's `timestamp_format` patterns, tried on timestamps and dates that are not ISO 8601.
    timestamp_formats: tuple[str, ...] = ()
    # DuckDB types (ENUMs of an agent-name match) the values use; dropped once every table is loaded.
    scratch_types: list[str] = field(default_factory=list)
    # When typing stops at a mapped value that has no entry (merit.core.sources.mapping.NO_ENTRY):
    # adds the problems of every such value, found by grouped queries, and returns how many.
    no_entry_problems: Callable[[], int] | None = None
    # SQL of the record index when the typed table is a view reading the file in place (Parquet:
    # its values need no copy; see merit.core.tables.typed_table); None: the typed table is stored.
    in_place_row: str | None = None

    def nul_checked(self) -> frozenset[str]:
        """The columns whose values are checked for NUL characters: every text value read."""
        if not self.may_hold_nul:
            return frozenset()
        return frozenset(name for name, (_, kind) in self.values.items() if kind == "VARCHAR")
