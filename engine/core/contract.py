"""The input-table contract, read from ``contract.yaml`` (shipped beside this module).

The YAML file declares the input tables a workspace may hold: their columns in
file order, each column's type, whether it must be in the file or hold a value,
its allowed values, range or pattern, the ids it refers to and the column it may
not precede, each table's key and its usual attribution (agent or team column,
period column).  :func:`contract` reads it once (the bounded, safe YAML load of
:mod:`merit.core.yamlpos`, then pydantic) into :class:`TableSchema` and
:class:`Column` values; the loader, the demo generator and the tests read the
contract through it, and :func:`contract_markdown` renders it for docs/contract.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass as plain_dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from merit.core.errors import MeritError, raise_collected
from merit.core.yamlpos import YamlDoc, load_yaml, plain_message

TYPES = ("string", "enum", "int", "float", "bool", "timestamp", "date", "list")
ColumnType = Literal["string", "enum", "int", "float", "bool", "timestamp", "date", "list"]
NUMERIC = ("int", "float")

CONTRACT_FILE = "contract.yaml"
CONTRACT_DISPLAY = "merit/core/contract.yaml"  # how messages name the shipped file

_FIELDS = ConfigDict(extra="forbid")


@dataclass(frozen=True, config=_FIELDS)
class Column:
    """One column of an input table (engine/core/contract.yaml explains each field)."""

    name: str
    type: ColumnType
    description: str = ""
    # The column must be in the file (an optional one may be absent: all its values are then empty
    # and the metrics that read it undefined).  None: derived (see TableSchema.column_required).
    required: bool | None = None
    nonempty: bool = False  # every record needs a value (ids)
    allowed: tuple[str, ...] | None = None  # enum: the closed set (None: an open set, only lower-cased)
    examples: tuple[str, ...] | None = None  # an open set's usual values (documentation, the demo)
    min: int | float | None = None
    max: int | float | None = None
    pattern: str | None = None  # string: a regular expression the whole value must match
    pattern_text: str | None = None  # how to describe the pattern to a user
    references: str | None = None  # 'table.column' holding every non-empty value (each id of a list)
    not_before: str | None = None  # a column of the same table this one must not precede


@dataclass(frozen=True, config=_FIELDS)
class TableSchema:
    """One input table: its columns in file order, key and usual attribution."""

    name: str
    columns: tuple[Column, ...]
    description: str = ""
    required: bool = False  # the workspace must have this table
    key: str | None = None  # unique id column
    written_by_merit: bool = False  # merit rewrites the file: text cells lose merit's leading '
    agent: str | None = None  # the column crediting records to agents (a list column splits the credit)
    team: str | None = None  # the column crediting records to a team, for tables without agents
    period: str | None = None  # the column that puts a record in the cycle

    def column_required(self, col: Column) -> bool:
        """Whether *col* must be in the file: as the column says, else when it is the table's
        key, attribution or period column or every record needs a value in it (nonempty)."""
        if col.required is not None:
            return col.required
        return col.nonempty or col.name in (self.key, self.agent, self.team, self.period)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


@plain_dataclass(frozen=True)
class Contract:
    """Every input table, in loading order, and the relations between them."""

    tables: dict[str, TableSchema]

    @property
    def required_tables(self) -> tuple[str, ...]:
        return tuple(name for name, t in self.tables.items() if t.required)

    @property
    def merit_written(self) -> tuple[str, ...]:
        """Tables merit itself rewrites (panel collect), whose text cells lose merit's leading '."""
        return tuple(name for name, t in self.tables.items() if t.written_by_merit)

    @property
    def references(self) -> tuple[tuple[str, str, str, str], ...]:
        """(table, column, target table, target column): a non-empty value must exist in the target."""
        return tuple((t.name, c.name, *c.references.split(".", 1))
                     for t in self.tables.values() for c in t.columns if c.references)

    @property
    def orderings(self) -> tuple[tuple[str, str, str], ...]:
        """(table, later column, earlier column): when both are set, later is not before earlier."""
        return tuple((t.name, c.name, c.not_before) for t in self.tables.values() for c in t.columns
                     if c.not_before)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def contract_path() -> Path:
    return Path(str(resources.files("merit.core") / CONTRACT_FILE))


@cache
def contract() -> Contract:
    """The contract shipped with merit, read once."""
    return load_contract(contract_path(), CONTRACT_DISPLAY)


def load_contract(path: Path, display: str) -> Contract:
    """Read and check a contract file; its problems are raised together, with their lines."""
    doc = load_yaml(path, display)
    if not isinstance(doc.data, dict) or set(doc.data) != {"tables"} or not isinstance(doc.data["tables"], dict):
        raise MeritError("a contract is a mapping with one key, 'tables', mapping each table's name to its "
                         "description", file=display, line=1)
    tables = _with_required_resolved(_validated_tables(doc))
    raise_collected([MeritError(message, file=display, line=_line(doc, path), field=".".join(map(str, path)))
                     for path, message in _consistency_problems(tables)])
    return Contract(tables)


def _validated_tables(doc: YamlDoc) -> dict[str, TableSchema]:
    """The tables of *doc*, validated; a column's name is its key in the YAML mapping."""
    shaped: dict[str, Any] = {}
    column_names: dict[str, list[str]] = {}
    for name, entry in doc.data["tables"].items():
        if isinstance(entry, dict) and isinstance(entry.get("columns"), dict):
            columns = entry["columns"]
            column_names[name] = list(columns)
            entry = {**entry, "columns": [{"name": c, **spec} if isinstance(spec, dict) else spec
                                          for c, spec in columns.items()]}
        shaped[name] = {"name": name, **entry} if isinstance(entry, dict) else entry
    try:
        return TypeAdapter(dict[str, TableSchema]).validate_python(shaped)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = _yaml_path(err["loc"], column_names)
            problems.append(MeritError(plain_message(err), file=doc.file, line=_line(doc, path),
                                       field=".".join(map(str, path))))
    raise_collected(problems)
    raise AssertionError("a ValidationError without problems")  # pragma: no cover


def _with_required_resolved(tables: dict[str, TableSchema]) -> dict[str, TableSchema]:
    """The tables with each column's ``required`` decided (True or False, never None)."""
    return {name: dataclasses.replace(t, columns=tuple(dataclasses.replace(c, required=t.column_required(c))
                                                        for c in t.columns))
            for name, t in tables.items()}


def _yaml_path(loc: tuple, column_names: dict[str, list[str]]) -> tuple:
    """A pydantic error location over the shaped tables, as a path in the YAML file."""
    path: list = ["tables", *loc]
    if len(path) > 3 and path[2] == "columns" and isinstance(path[3], int):
        names = column_names.get(path[1], [])
        if path[3] < len(names):
            path[3] = names[path[3]]
    return tuple(path)


def _line(doc: YamlDoc, path: tuple) -> int | None:
    pos = doc.pos(path)
    return pos.line if pos is not None else None


def _consistency_problems(tables: dict[str, TableSchema]) -> list[tuple[tuple, str]]:
    """What the models cannot check alone: fields that do not fit the column's type, and names of
    columns and tables that do not exist."""
    problems = []
    for t in tables.values():
        at = ("tables", t.name)
        if len(set(t.names)) != len(t.names):  # pragma: no cover - YAML refuses duplicate keys
            problems.append((at, "a column appears twice"))
        for role in ("key", "agent", "team", "period"):
            if getattr(t, role) is not None and getattr(t, role) not in t.names:
                problems.append((at + (role,), f"'{getattr(t, role)}' is not a column of {t.name}"))
        for col in t.columns:
            problems += [(at + ("columns", col.name) + field, message)
                         for field, message in _column_problems(t, col, tables)]
    return problems


def _column_problems(table: TableSchema, col: Column, tables: dict[str, TableSchema]) -> list[tuple[tuple, str]]:
    problems = []
    if col.allowed is not None and col.type != "enum":
        problems.append((("allowed",), "only an enum column has a closed set of allowed values"))
    if col.examples is not None and col.type not in ("string", "enum"):
        problems.append((("examples",), "only a string or enum column has example values"))
    if (col.min is not None or col.max is not None) and col.type not in NUMERIC:
        problems.append((("min",), "only a number column has a range"))
    if (col.pattern is not None or col.pattern_text is not None) and col.type != "string":
        problems.append((("pattern",), "only a string column has a pattern"))
    if col.not_before is not None and col.not_before not in table.names:
        problems.append((("not_before",), f"'{col.not_before}' is not a column of {table.name}"))
    if col.references is not None:
        target, _, tcol = col.references.partition(".")
        if target not in tables or tcol not in tables[target].names:
            problems.append((("references",), f"'{col.references}' is not TABLE.COLUMN of the contract"))
    if not col.description:
        problems.append(((), "a column needs a description"))
    return problems


# --------------------------------------------------------------------------
# The reference in Markdown
# --------------------------------------------------------------------------

TYPE_WORDS = {"string": "text", "enum": "category", "int": "whole number", "float": "number", "bool": "yes/no",
              "timestamp": "timestamp", "date": "date", "list": "list of ids"}


def contract_markdown() -> str:
    """The input-table reference (docs/contract.md): every table, its description, key and
    attribution, and its columns with type, whether required, allowed values and references."""
    tables = contract().tables
    required = [f"**{name}**" for name, t in tables.items() if t.required]
    lines = [
        "# Input tables",
        "",
        "<!-- Generated from engine/core/contract.yaml by merit.core.contract.contract_markdown(): "
        "edit the YAML, not this file. -->",
        "",
        "A workspace's data folder holds one file per table: `NAME.csv`, `NAME.parquet` or `NAME.xlsx`, "
        "where NAME is one of the tables below. "
        f"{' and '.join(required)} {'are' if len(required) > 1 else 'is'} required; every other table is "
        "optional. How files are read, values typed and problems reported: [data.md](data.md).",
        "",
        "In a table's columns, *required* means the column must be in the file's header: a table's "
        "key, the column crediting its records (*credited to*), the column putting them in the cycle "
        "(*in the cycle by*), the columns that are never empty, and the agents' name and team. Any "
        "other column may be left out: all its values are then empty, and the metrics that read it "
        "are undefined, with a note naming the column. A cell may be empty unless it says "
        "*never empty*. *Credited to* and *in the cycle by* are the usual attribution, which a "
        "ruleset's `tables:` section may change ([rulesets.md](rulesets.md)).",
        "",
        "| table | required | key | one record is |",
        "|---|---|---|---|",
    ]
    lines += [f"| [{name}](#{name}) | {'yes' if t.required else 'no'} | {_code(t.key) if t.key else ''} | "
              f"{_cell(t.description)} |" for name, t in tables.items()]
    for t in tables.values():
        lines += ["", *_table_section(t)]
    return "\n".join(lines) + "\n"


def _table_section(t: TableSchema) -> list[str]:
    facts = ["Required table." if t.required else "Optional table."]
    if t.key:
        facts.append(f"Key: {_code(t.key)} (unique).")
    if t.agent or t.team:
        facts.append(f"Credited to {'agents' if t.agent else 'teams'} by {_code(t.agent or t.team)}.")
    if t.period:
        facts.append(f"In the cycle by {_code(t.period)}.")
    if t.written_by_merit:
        facts.append("Also written by merit (`merit panel collect`): a `'` merit puts before a text "
                     "starting with `=`, `+`, `-`, `@`, a tab or a carriage return is removed on reading.")
    lines = [f"## {t.name}", "", t.description, "", " ".join(facts), "",
             "| column | type | required | allowed values | references | description |",
             "|---|---|---|---|---|---|"]
    for col in t.columns:
        need = ("yes, never empty" if col.nonempty else "yes") if col.required else "no"
        lines.append(f"| {_code(col.name)} | {_type_text(col)} | {need} | "
                     f"{_cell(_values_text(col))} | {_cell(_references_text(col))} | {_cell(col.description)} |")
    return lines


def _type_text(col: Column) -> str:
    word = TYPE_WORDS[col.type]
    return word if word == col.type else f"{word} (`{col.type}`)"


def _values_text(col: Column) -> str:
    parts = []
    if col.allowed:
        parts.append("one of " + ", ".join(col.allowed))
    if col.examples:
        parts.append("usually " + ", ".join(col.examples) + " (any value is accepted)")
    if col.min is not None and col.max is not None:
        parts.append(f"from {col.min} to {col.max}")
    elif col.min is not None:
        parts.append(f"at least {col.min}")
    elif col.max is not None:
        parts.append(f"at most {col.max}")
    if col.pattern:
        parts.append(col.pattern_text or f"matching `{col.pattern}`")
    if col.not_before:
        parts.append(f"not before {_code(col.not_before)}")
    return "; ".join(parts)


def _references_text(col: Column) -> str:
    if not col.references:
        return ""
    target = col.references.partition(".")[0]
    each = "each id in " if col.type == "list" else ""
    return f"{each}[{_code(col.references)}](#{target})"


def _code(name: str) -> str:
    return f"`{name}`"


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a '|' would end the cell."""
    return " ".join(text.split()).replace("|", "\\|")
