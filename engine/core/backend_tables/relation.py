"""A source on the backend as the contract's columns: the table or view a `sources:` entry names
(or a file the engine reads itself), its columns found by name or through the entry's mapping
(a header, a value map, an agent match, an expression), each as its cleaned text or, when the
engine's own type fits the contract's, as the native value.  Nothing is read yet: these are
Ibis expressions over the backend's relation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from merit.core.backend_tables.typing import clean, fits_natively
from merit.core.backends import portability
from merit.core.contract import TableSchema
from merit.core.errors import DataError, MeritError, Origin, Problems
from merit.core.expressions import ColumnContext, parse
from merit.core.sources.mapping import header_position
from merit.core.sources.spec import expr_name
from merit.core.suggest import did_you_mean

# Natively typed results of an `expr:` taken as they are, per contract type (as the file loader).
_NATIVE_RESULTS = {"bool": ("boolean",), "int": ("int",), "float": ("int", "float")}


@dataclass
class BackendSource:
    """Where a table on the backend comes from (``Tables.sources[name]``): ``display`` names it
    in messages (``table support.tickets``, or the file); records are named by their key, so
    ``format`` is 'table' for every source read on the backend."""

    table: str
    display: str
    name: str  # the backend's table, view or the file's path
    path: Path | None = None  # a file the engine read (its hash identifies the input)
    location: str | None = None  # Parquet files the cluster read (s3a://…/*.parquet): ``name`` is their view
    entry: Any = None  # the `sources:` entry (merit.core.sources.entry.SourceEntry)
    format: str = "table"
    encoding: str = "UTF-8"  # a CSV file: its encoding, as the engine's reader names it
    delimiter: str = ","  # a CSV file: what separates its fields (its `sources:` entry's `delimiter`)
    numbered: bool = True  # ``_row`` is the row's place in key order (False: an id, portability.row_numbers)


@dataclass
class MapCheck:
    """A mapped column whose every value needs its entry: a value map without default, or a match
    to agents by name or email (``known``: the number of agents with the value, NULL for none)."""

    name: str
    header: str
    text: ir.StringValue
    keys: list[str] = field(default_factory=list)  # value map: the values that have an entry
    match: str | None = None
    known: ir.IntegerValue | None = None


@dataclass
class Columns:
    """The contract columns a source has: ``values[name]`` the cleaned text or the native value
    (``native``), ``text[name]`` what messages quote; ``instants``: native timestamps that are
    instants; ``checks``: the mapped values that must each have an entry."""

    base: ir.Table
    values: dict[str, ir.Value] = field(default_factory=dict)
    text: dict[str, ir.Value] = field(default_factory=dict)
    native: set[str] = field(default_factory=set)
    instants: set[str] = field(default_factory=set)
    checks: list[MapCheck] = field(default_factory=list)


def open_relation(con, src: BackendSource, timestamp_formats=()) -> ir.Table:
    """The source's relation on the backend: the table or view, or the file the engine reads."""
    if src.location is not None:
        try:
            return portability.read_file(con, src.location, src.name, "parquet")
        except portability.engine_errors(con) as exc:
            raise DataError(f"{src.location} cannot be read: {_first_line(exc)}", file=src.display,
                            expected="Parquet files every executor of the cluster can read") from None
    if src.path is None:
        database, _, name = src.name.rpartition(".")
        try:
            if not database:
                return con.table(name)
            return con.table(name, database=tuple(database.split(".")) if "." in database else database)
        except portability.engine_errors(con) as exc:
            raise DataError(f"the table {src.name} cannot be read: {_first_line(exc)}", file=src.display,
                            expected="a table or view the backend's user may read, named schema.table") from None
    fmt = src.path.suffix.lower().lstrip(".")
    return portability.read_file(con, str(src.path), f"_merit_file_{src.table}", fmt, src.encoding, src.delimiter)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def source_columns(con, src: BackendSource, schema: TableSchema, raw: ir.Table, agents: ir.Table | None,
                   problems: Problems, t_order: int) -> Columns:
    """The contract columns of *raw* (missing required columns and bad mappings reported)."""
    header = [h.lstrip("\ufeff") for h in raw.columns]
    base = raw.select(**{f"c{i}": raw[h] for i, h in enumerate(raw.columns)})
    instants = portability.instant_columns(con, raw)
    natives = {i for i, h in enumerate(raw.columns) if h in instants}
    cols = Columns(base)
    mapped = set(src.entry.spec.columns) & set(schema.names) if src.entry is not None else set()
    positions = _by_name(src, schema, header, mapped, problems, t_order)
    for name, i in positions.items():
        _take(cols, schema, name, i, i in natives)
    for name in sorted(mapped, key=schema.names.index):
        try:
            _mapped(con, cols, src, schema, header, name, agents, natives)
        except MeritError as err:
            problems.add(err, (t_order, 0, schema.names.index(name)))
    return cols


def _by_name(src: BackendSource, schema: TableSchema, header: list[str], mapped: set[str], problems: Problems,
             t_order: int) -> dict[str, int]:
    """Contract columns found by their own name (case and surrounding spaces aside); missing
    required ones and repeated ones reported."""
    positions: dict[str, int] = {}
    names = [h.strip().lower() for h in header]
    wanted = [n for n in schema.names if n not in mapped]
    for i, h in enumerate(names):
        if h in positions and h in wanted:
            problems.add(DataError(f"column '{h}' appears twice", file=src.display, field=h,
                                   expected="each column once"), (t_order, 0, schema.names.index(h)))
        positions.setdefault(h, i)
    shown = ", ".join(h.strip() for h in header) or "(none)"
    unused = [h.strip() for h in header if h.strip().lower() not in schema.names]
    for j, col in enumerate(schema.columns):
        if col.required and col.name in wanted and col.name not in positions:
            problems.add(DataError(
                f"missing column '{col.name}'{did_you_mean(col.name, unused)} (the table has: {shown})",
                file=src.display, field=col.name,
                expected=f"a column named '{col.name}'; {schema.name} needs: {', '.join(schema.required_columns)}"),
                (t_order, 0, j))
    return {name: positions[name] for name in wanted if name in positions}


def _take(cols: Columns, schema: TableSchema, name: str, i: int, instant: bool) -> None:
    """Contract column *name* read from the source's column *i* as it is."""
    v = cols.base[f"c{i}"]
    dtype = v.type()
    text = clean(v) if dtype.is_string() else clean(v.cast("string"))
    cols.text[name] = text
    if fits_natively(schema.column(name).type, dtype):
        cols.values[name] = v
        cols.native.add(name)
        if instant:
            cols.instants.add(name)
    else:
        cols.values[name] = text


def _mapped(con, cols: Columns, src: BackendSource, schema: TableSchema, header: list[str], name: str,
            agents: ir.Table | None, natives: set[int]) -> None:
    entry = src.entry
    cmap = entry.column_map(name)
    if cmap.expr is not None:
        _expression(cols, src, schema, header, name)
        return
    i = header_position(header, cmap.column)
    if i is None:
        if name in entry.preset_columns and not schema.column(name).required:
            return  # (a source without that column: the contract column is absent)
        raise DataError(f"cycle.yaml maps {schema.name}.{name} to the column '{cmap.column}', which the table "
                        f"does not have{did_you_mean(cmap.column, [h.strip() for h in header])} (it has: "
                        f"{', '.join(h.strip() for h in header) or '(none)'})", file=src.display, field=name,
                        expected=f"a column of the table in {entry.key('columns', name)} (cycle.yaml line "
                                 f"{entry.line('columns', name)})")
    if cmap.values is None and cmap.match is None:
        _take(cols, schema, name, i, i in natives)
        return
    v = cols.base[f"c{i}"]
    text = clean(v if v.type().is_string() else v.cast("string"))
    cols.text[name] = text
    if cmap.values is not None:
        cols.values[name] = _value_map(text, cmap)
        if cmap.default is None:
            cols.checks.append(MapCheck(name, header[i].strip(), text, keys=list(cmap.values)))
        return
    if agents is None or cmap.match not in agents.columns:
        return  # (no agents table, or no such column in it: reported with agents)
    _match(cols, name, header[i].strip(), text, agents, cmap.match)


def _value_map(text: ir.StringValue, cmap) -> ir.StringValue:
    """The map's value of *text* (NULL for a value it has no entry for: reported)."""
    other = ibis.literal(cmap.default, "string") if cmap.default is not None else ibis.null("string")
    pairs = [(text == k, ibis.literal(v, "string") if v is not None else ibis.null("string"))
             for k, v in cmap.values.items()]
    return ibis.cases(*pairs, else_=other) if pairs else other


def _match(cols: Columns, name: str, header: str, text: ir.StringValue, agents: ir.Table, key: str) -> None:
    """Agent ids by name (or email): a join with the agents who have each lower-cased value."""
    j = len(cols.checks)
    who = agents.filter(agents[key].notnull())
    who = who.group_by(**{f"_k{j}": who[key].lower()}).aggregate(
        **{f"_n{j}": who.count(), f"_id{j}": who.agent_id.min()})
    base = cols.base.mutate(**{f"_t{j}": text})
    joined = base.left_join(who, base[f"_t{j}"].lower() == who[f"_k{j}"])
    joined = joined.select(*base.columns, f"_n{j}", f"_id{j}")
    _rebase(cols, base, joined)
    known = cols.base[f"_n{j}"]
    cols.text[name] = cols.base[f"_t{j}"]
    cols.values[name] = ibis.cases((known == 1, cols.base[f"_id{j}"]), else_=ibis.null("string"))
    cols.checks.append(MapCheck(name, header, cols.base[f"_t{j}"], match=key, known=known))


def _rebase(cols: Columns, old: ir.Table, new: ir.Table) -> None:
    """Every expression of *cols* over *old* moved onto *new* (a join of it: same columns)."""
    def moved(value):
        return value.op().replace({old.op(): new.op()}).to_expr() if value is not None else None

    cols.values = {k: moved(v) for k, v in cols.values.items()}
    cols.text = {k: moved(v) for k, v in cols.text.items()}
    for check in cols.checks:
        check.text, check.known = moved(check.text), moved(check.known)
    cols.base = new


def _expression(cols: Columns, src: BackendSource, schema: TableSchema, header: list[str], name: str) -> None:
    """`expr:` over the source's columns (each by its expression name, as cleaned text)."""
    entry = src.entry
    origin = Origin(file=entry.doc.file, line=entry.line("columns", name, "expr"),
                    field=entry.key("columns", name, "expr"))
    expr = parse(entry.column_map(name).expr, origin)
    base = cols.base
    names: dict[str, int] = {}
    for i, h in enumerate(header):
        n = expr_name(h)
        if n and n not in names and n not in base.columns:
            names[n] = i
    view = base.mutate(**{n: clean(base[f"c{i}"].cast("string")) for n, i in names.items()})
    value = expr.to_column(view, ColumnContext(params={}, timezone="UTC", table_name=schema.name))
    _rebase(cols, base, view)
    ctype = schema.column(name).type
    kind = "boolean" if value.type().is_boolean() else "int" if value.type().is_integer() else \
        "float" if value.type().is_floating() else None
    text = clean(value.cast("string"))
    cols.text[name] = text
    if kind in _NATIVE_RESULTS.get(ctype, ()):
        cols.values[name] = value
        cols.native.add(name)
    else:
        cols.values[name] = text
