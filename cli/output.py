"""How the list-like commands print their rows: ``--format table|csv|json``.

* ``table`` (the default): a rich table for people, readable at 80 columns and complete when the
  output goes to a file or a pipe (rich then lays it out for 80 columns).  Every column folds a
  value that does not fit onto more lines instead of cutting it with '…', headers included.
* ``csv``: one header row of stable English ids, then the rows; a text that a spreadsheet would
  run as a formula gets a leading ``'`` (merit's one rule for CSV files, merit.core.xlsx.csv_safe).
* ``json``: a list of objects (or an object of lists) with the same stable keys, UTF-8.

Formatting only: the rows come from the use cases.
"""

from __future__ import annotations

import csv
import enum
import json
import sys
from typing import Any, Iterable, Mapping, Sequence

import typer
from rich import box
from rich.table import Table

from merit import usecases


class OutputFormat(str, enum.Enum):
    table = "table"
    csv = "csv"
    json = "json"


def format_option(what: str = "the rows") -> Any:
    """The ``--format`` option of a list-like command."""
    return typer.Option(OutputFormat.table, "--format", case_sensitive=False,
                        help=f"How to print {what}: table (for people, fits 80 columns), csv (stable column ids; "
                             "formula-like text neutralised with a leading ') or json (stable keys).")


def chosen_format(fmt: OutputFormat, as_json: bool = False) -> OutputFormat:
    """The format asked for; the older ``--json`` flag means ``--format json``."""
    return OutputFormat.json if as_json else OutputFormat(fmt)


def table(title: str | None, columns: Sequence[tuple[str, str]]) -> Table:
    """A table whose cells (and headers) fold rather than cut: *columns* are (header, justify)."""
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
              collapse_padding=True)
    for header, justify in columns:
        t.add_column(header, justify=justify, overflow="fold")
    return t


def csv_cell(value: Any) -> str:
    return "" if value is None else str(value)


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """*rows* as CSV on stdout, with a header of *columns*; text a spreadsheet would run as a
    formula neutralised (numbers, negative ones included, stay numbers)."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = [csv_cell(v) for v in row]
        writer.writerow(usecases.csv_safe(cells).to_pylist() if cells else cells)


def write_records_csv(columns: Sequence[str], records: Iterable[Mapping[str, Any]]) -> None:
    write_csv(columns, ([r.get(c) for c in columns] for r in records))


def frame_records(frame) -> list[dict]:
    """A pandas DataFrame's rows as JSON-ready dicts (numbers stay numbers, missing values null,
    times in ISO 8601)."""
    return json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))


def frame_rows(frame) -> list[list]:
    """A DataFrame's rows as lists with None for missing values (for CSV and tables)."""
    return [[None if v is None or v != v else v for v in row] for row in frame.itertuples(index=False)]


def write_json(value: Any) -> None:
    """*value* as indented JSON on stdout (keys as given: stable ids)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=1, default=str) + "\n")
