"""The syntax of one `sources:` entry of cycle.yaml, as pydantic models, and the names a source
column has in expressions."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

ENCODINGS = ("auto", "utf-8", "gb18030", "utf-16", "windows-1252")
MATCH_KEYS = ("name", "email")
# The characters a CSV's fields may be separated by, and the words that also name them: a comma
# (the default), a semicolon (Excel's CSV where the decimal separator is a comma), a tab (Excel's
# "Unicode Text"), a vertical bar.
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
_DELIMITER_WORDS = {word: char for char, word in DELIMITERS.items()} | {"pipe": "|", "\\t": "\t"}

_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def expr_name(header: str) -> str:
    """The name of a source column in `expr:`: its header lower-cased, every run of characters
    other than letters and digits turned into `_`, none at either end (`Satisfaction Score` ->
    `satisfaction_score`, `Ticket ID` -> `ticket_id`)."""
    return _NOT_LETTER_OR_DIGIT.sub("_", header.strip().lower()).strip("_")


def _text(value) -> str | None:
    """A YAML scalar as the text it stands for: None and '' are empty; yes/no read by YAML as
    booleans are 'true'/'false' (what a yes/no column accepts); numbers as written."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def delimiter_choices() -> str:
    """The delimiters merit reads, as a message lists them."""
    return "',' (or comma, the default), ';' (semicolon), \"\\t\" (or tab), '|' (or pipe)"


def delimiter_name(char: str) -> str:
    """A delimiter in words: 'comma', 'tab', ..."""
    return DELIMITERS.get(char, repr(char))


class ColumnMap(BaseModel):
    """A contract column taken from the export: a header (`column`) with an optional value map
    or agent match, or an expression over the export's columns (`expr`)."""

    model_config = ConfigDict(extra="forbid")
    column: str | None = None
    match: Literal["name", "email"] | None = None
    values: dict[str, str | None] | None = None
    default: str | None = None
    expr: str | None = None

    @field_validator("values", mode="before")
    @classmethod
    def _value_texts(cls, values):
        if not isinstance(values, dict):
            return values
        out = {}
        for key, value in values.items():
            if isinstance(key, bool) or key is None:
                raise ValueError(f"the key {key!r} is read by YAML as {'empty' if key is None else 'true/false'}: "
                                 f"quote it, e.g. \"Yes\": ...")
            if isinstance(value, (list, dict)):
                raise ValueError(f"the value of '{key}' must be a single value, not a list or mapping")
            out[str(key)] = _text(value)
        return out

    @field_validator("default", mode="before")
    @classmethod
    def _default_text(cls, value):
        return _text(value) if not isinstance(value, (list, dict)) else value

    @model_validator(mode="after")
    def _one_way(self):
        if (self.column is None) == (self.expr is None):
            raise ValueError("give either 'column' (a header of the file) or 'expr' (an expression over its "
                             "columns)")
        if self.expr is not None and (self.match or self.values is not None or self.default is not None):
            raise ValueError("'expr' stands alone: 'match', 'values' and 'default' go with 'column'")
        if self.match and self.values is not None:
            raise ValueError("give 'match' or 'values', not both")
        if self.default is not None and self.values is None:
            raise ValueError("'default' goes with 'values' (the value of a cell the map has no entry for)")
        return self


def bare_headers(columns):
    """`columns:` with each bare header (``ticket_id: Id``) as the mapping it stands for
    (``{column: Id}``)."""
    if not isinstance(columns, dict):
        return columns
    return {k: {"column": v} if isinstance(v, str) else v for k, v in columns.items()}


class SourceSpec(BaseModel):
    """One entry of `sources:` (a contract table read from the organisation's own file).

    `file:` names an export under the workspace; `table:` instead a table or view of the cycle's
    backend (``schema.name``), read where it is (merit.core.backend_tables)."""

    model_config = ConfigDict(extra="forbid")
    file: str | None = None
    table: str | None = None
    sheet: str | None = None
    encoding: Literal["auto", "utf-8", "gb18030", "utf-16", "windows-1252"] = "auto"
    delimiter: str = ","
    timestamp_format: str | list[str] | None = None
    preset: str | None = None
    columns: dict[str, ColumnMap] = {}

    _headers = field_validator("columns", mode="before")(lambda cls, v: bare_headers(v))

    @field_validator("delimiter", mode="before")
    @classmethod
    def _delimiter_char(cls, value):
        if not isinstance(value, str):
            raise ValueError(f"the delimiter {value!r} is not one character: {delimiter_choices()}")
        char = value if value in DELIMITERS else _DELIMITER_WORDS.get(value.strip().lower())
        if char is None:
            raise ValueError(f"the delimiter {value!r} is not one merit reads: {delimiter_choices()}")
        return char

    @model_validator(mode="after")
    def _file_or_table(self):
        if (self.file is None) == (self.table is None):
            raise ValueError("give either 'file' (an export under the workspace) or 'table' (a table or view of "
                             "the backend, e.g. support.tickets), not both" if self.file else
                             "give either 'file' (an export under the workspace) or 'table' (a table or view "
                             "of the backend, e.g. support.tickets)")
        if self.table is not None and self.sheet is not None:
            raise ValueError("'sheet' is for Excel workbooks (.xlsx), not for tables")
        if self.table is not None and self.delimiter != ",":
            raise ValueError("'delimiter' is for CSV files, not for tables")
        if self.table is not None and not re.fullmatch(r"[^\s.;'\"`]+(\.[^\s.;'\"`]+){0,2}", self.table.strip()):
            raise ValueError(f"'{self.table}' is not a table name: give it as table, schema.table or "
                             f"catalog.schema.table")
        return self

    @property
    def timestamp_formats(self) -> tuple[str, ...]:
        fmt = self.timestamp_format
        if fmt is None:
            return ()
        return (fmt,) if isinstance(fmt, str) else tuple(fmt)

    def column_map(self, name: str) -> ColumnMap | None:
        """The mapping of contract column *name*."""
        return self.columns.get(name)
