"""A source's columns mapped to the contract's: which header each contract column is read from,
and the SQL of its value (Source.values) — the header's text as it is, through a value map,
resolved to an agent id by name or email, or computed by an expression.

A value a map has no entry for, and a name no agent (or several) has, stops typing with
DuckDB's ``error()`` (no cost while every value has its entry); :func:`no_entry_problems`
then finds every such value, its count and first line, with one grouped query per column."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from merit.core.contract import TableSchema
from merit.core.errors import DataError, MeritError, Origin, Problems
from merit.core.expressions import parse
from merit.core.sources.expr_sql import compile_expr, with_columns
from merit.core.sources.spec import ColumnMap
from merit.core.suggest import did_you_mean
from merit.core.tables.header import header_problems
from merit.core.tables.sql import clean, ident, sql_str

NO_ENTRY = "merit: a mapped value has no entry"
_NO_ENTRY_SQL = f"error({sql_str(NO_ENTRY)})"


@dataclass
class Mapped:
    """One contract column taken from the file through a `columns:` mapping."""

    name: str
    cmap: ColumnMap
    position: int | None = None  # the header's position (None: an expression)
    expr_sql: str = ""  # an expression's SQL, with a placeholder per column (merit.core.sources.expr_sql)
    expr_kind: str = "VARCHAR"
    reads: set[int] = field(default_factory=set)  # the columns an expression reads


@dataclass
class ColumnPlan:
    """Where each contract column of a file comes from: a header of its name, or a mapping."""

    header: list[str]
    by_name: dict[str, int]
    mapped: dict[str, Mapped] = field(default_factory=dict)

    @property
    def needed(self) -> set[int]:
        """The positions of every column read."""
        out = set(self.by_name.values())
        for m in self.mapped.values():
            out |= m.reads if m.position is None else {m.position}
        return out


def plan_columns(src, schema: TableSchema, header: list[str], problems: Problems, t_order: int) -> ColumnPlan:
    """Map contract columns to header positions (report missing ones, and mappings that name
    a header the file does not have or an expression that does not suit it)."""
    entry = src.entry
    mapped_names = set(entry.spec.columns) & set(schema.names) if entry is not None else set()
    plan = ColumnPlan(header, header_problems(src, schema, header, problems, t_order, mapped=mapped_names))
    for name in sorted(mapped_names, key=schema.names.index):
        try:
            found = _mapped(src, schema, header, name)
        except MeritError as err:
            problems.add(err, (t_order, err.line or 0, schema.names.index(name)))
            continue
        if found is not None:
            plan.mapped[name] = found
    return plan


def _mapped(src, schema: TableSchema, header: list[str], name: str) -> Mapped | None:
    entry = src.entry
    cmap = entry.column_map(name)
    if cmap.expr is not None:
        origin = Origin(file=entry.doc.file, line=entry.line("columns", name, "expr"),
                        field=entry.key("columns", name, "expr"))
        expr = parse(cmap.expr, origin)
        sql, kind, reads = compile_expr(expr, header, "UTC", schema.name)
        return Mapped(name, cmap, None, sql, kind, reads)
    position = header_position(header, cmap.column)
    if position is not None:
        return Mapped(name, cmap, position)
    if name in entry.preset_columns and not schema.column(name).required:
        return None  # (an export without that column: the contract column is absent)
    shown = ", ".join(h.strip() for h in header if h.strip()) or "(none)"
    raise DataError(f"cycle.yaml maps {schema.name}.{name} to the column '{cmap.column}', which is not in the "
                    f"header{did_you_mean(cmap.column, [h.strip() for h in header])} (the header has: {shown})",
                    file=src.display, line=1, field=name,
                    expected=f"a header of the file in {entry.key('columns', name)} (cycle.yaml line "
                             f"{entry.line('columns', name)})")


def header_position(header: list[str], wanted: str) -> int | None:
    """The position of the header *wanted* (as written, else ignoring case and surrounding spaces)."""
    stripped = [h.strip() for h in header]
    if wanted.strip() in stripped:
        return stripped.index(wanted.strip())
    folded = [h.casefold() for h in stripped]
    return folded.index(wanted.strip().casefold()) if wanted.strip().casefold() in folded else None


@dataclass
class Checked:
    """A mapped column whose values must each have an entry: a value map without default, or a
    match to agents (its keys, lower-cased, and the agents of each)."""

    name: str
    header: str
    text: str  # SQL: the column's text
    keys: list[str]  # the values that have their entry (a match: lower-cased, of one agent each)
    match: str | None = None  # 'name' or 'email'
    agents: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # match: key -> (agent id, as written)


def mapped_values(con, plan: ColumnPlan, value_sql: Callable[[int, str], tuple[str, str]],
                  text_sql: Callable[[int], str], schema: TableSchema, agents) -> tuple[
                      dict[str, tuple[str, str]], list[str], list[Checked]]:
    """Source.values of the file (by name and mapped), the ENUM types they use, and the mapped
    columns whose values must each have an entry.  *agents*: the loaded agents table (None when
    it is not loaded: matches are then left out, its problems already reported)."""
    values = {name: value_sql(i, schema.column(name).type) for name, i in plan.by_name.items()}
    types: list[str] = []
    checked: list[Checked] = []
    for name, m in plan.mapped.items():
        ctype = schema.column(name).type
        if m.position is None:
            values[name] = _expr_value(m, text_sql, ctype)
            continue
        text, header = text_sql(m.position), plan.header[m.position].strip()
        if m.cmap.values is not None:
            values[name] = (_value_map_sql(text, m.cmap), "VARCHAR")
            if m.cmap.default is None:
                checked.append(Checked(name, header, text, list(m.cmap.values)))
        elif m.cmap.match is not None:
            if agents is None:
                continue
            keys = agent_keys(con, agents, m.cmap.match)
            type_name = f"_merit_match_{schema.name}_{name}"
            values[name] = (_match_sql(con, text, keys, type_name), "VARCHAR")
            types.append(type_name)
            unique = [k for k, ids in keys.items() if len(ids) == 1]
            checked.append(Checked(name, header, text, unique, m.cmap.match, keys))
        else:
            values[name] = value_sql(m.position, ctype)
    return values, types, checked


# An expression's results typed as they are, per contract type (as Parquet's native values are,
# merit.core.tables.read_parquet.NATIVE); any other result is typed through its text.
_NATIVE_RESULTS = {"bool": ("BOOLEAN",), "int": ("BIGINT",), "float": ("BIGINT", "DOUBLE")}


def _expr_value(m: Mapped, text_sql: Callable[[int], str], ctype: str) -> tuple[str, str]:
    sql = with_columns(m.expr_sql, text_sql)
    if m.expr_kind in _NATIVE_RESULTS.get(ctype, ()):
        return sql, m.expr_kind
    return clean(f"CAST({sql} AS VARCHAR)"), "VARCHAR"


def _value_map_sql(text: str, cmap: ColumnMap) -> str:
    whens = " ".join(f"WHEN {text} = {sql_str(k)} THEN {'CAST(NULL AS VARCHAR)' if v is None else sql_str(v)}"
                     for k, v in cmap.values.items())
    other = _NO_ENTRY_SQL if cmap.default is None else sql_str(cmap.default)
    return f"CASE WHEN {text} IS NULL THEN NULL {whens} ELSE {other} END"


def agent_keys(con, agents, key: str) -> dict[str, list[tuple[str, str]]]:
    """Each agent name (or email), lower-cased, and the agents who have it, (id, as written)
    (the roster, not the tickets: small)."""
    if key not in agents.columns:
        return {}
    col = ident(key)
    rows = con.raw_sql(f"SELECT lower({col}) AS k, list((agent_id, {col}) ORDER BY agent_id) FROM "
                       f"{ident(agents.get_name())} WHERE {col} IS NOT NULL GROUP BY k ORDER BY k").fetchall()
    return {k: [tuple(v.values()) if isinstance(v, dict) else tuple(v) for v in agents_] for k, agents_ in rows}


def _match_sql(con, text: str, keys: dict[str, list[tuple[str, str]]], type_name: str) -> str:
    """SQL: the agent id of the text's name, through an ENUM of the names (a hash lookup: a CASE
    or a join would cost per agent, or lose the file's order)."""
    con.raw_sql(f"DROP TYPE IF EXISTS {ident(type_name)}")
    if not keys:
        return f"CASE WHEN {text} IS NULL THEN NULL ELSE {_NO_ENTRY_SQL} END"
    con.raw_sql(f"CREATE TYPE {ident(type_name)} AS ENUM ({', '.join(sql_str(k) for k in keys)})")
    ids = ", ".join(sql_str(v[0][0]) if len(v) == 1 else "NULL" for v in keys.values())
    lookup = f"[{ids}][enum_code(TRY_CAST(lower({text}) AS {ident(type_name)})) + 1]"
    return f"CASE WHEN {text} IS NULL THEN NULL ELSE coalesce({lookup}, {_NO_ENTRY_SQL}) END"
