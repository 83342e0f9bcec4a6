"""The table passes: derived tables, the columns a metric on each table can read, dimensions."""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from merit.core.compile.plan import DerivedPlan
from merit.core.compile.schemas import DERIVED_VALUE_KINDS, LABELS
from merit.core.compile.state import Compilation
from merit.core.ruleset import TableConfig


def derived_tables(c: Compilation) -> None:
    """Check and type each derived table (one may read another defined before it); then the
    lookups of expressions can read every input, built-in and derived table."""
    for name, cfg in c.ruleset.tables.items():
        if cfg.derived and _derived_source_ok(c, name, cfg):
            _derived_table(c, name, cfg)
    for name, schema in c.schemas.items():
        c.lookup_tables[name] = ibis.table(schema, name=name)


def _derived_source_ok(c: Compilation, name: str, cfg: TableConfig) -> bool:
    path = ("tables", name)
    if name in c.schemas:
        c.error(f"derived table '{name}' has the name of an input table", path)
        return False
    if cfg.from_ not in c.schemas:
        c.error(f"derived table '{name}' reads unknown table '{cfg.from_}'", path + ("from",),
                expected=c.known_tables())
        return False
    if cfg.group_by not in c.schemas[cfg.from_]:
        c.error(f"table '{cfg.from_}' has no column '{cfg.group_by}'", path + ("group_by",))
        return False
    return True


def _derived_table(c: Compilation, name: str, cfg: TableConfig) -> None:
    path = ("tables", name)
    source = ibis.table(c.schemas[cfg.from_], name=cfg.from_)
    types = {cfg.group_by: c.schemas[cfg.from_][cfg.group_by]}
    columns = {}
    for cname, dc in cfg.columns.items():
        resource = f"column '{cname}' of derived table '{name}'"
        value = c.parse(dc.value, path + ("columns", cname, "value"), resource) if dc.value else None
        where = c.parse(dc.where, path + ("columns", cname, "where"), resource) if dc.where else None
        kinds = LABELS if dc.order is not None else DERIVED_VALUE_KINDS.get(dc.agg)
        what = f"the value of {dc.agg}" + (" with an 'order' (labels)" if dc.order is not None else "")
        bound = c.bind(value, source, kinds=kinds, what=what)
        c.bind(where, source, is_filter=True)
        types[cname] = _derived_column_type(dc.agg, dc.order, bound)
        columns[cname] = (dc.agg, value, where, dc.order)
    c.schemas[name] = ibis.schema(types)
    c.derived[name] = DerivedPlan(name, cfg.from_, cfg.group_by, columns)


def _derived_column_type(agg: str, order, bound):
    if agg in ("count", "count_distinct"):
        return dt.int64
    if agg in ("sum", "mean"):
        return dt.float64
    if order is not None:
        return dt.string
    return bound.type() if bound is not None and not bound.type().is_null() else dt.float64


def record_columns(c: Compilation) -> None:
    """The columns a metric on each table can read: its own, the roster columns it joins
    and the columns of the derived tables it joins."""
    for name, cfg in c.ruleset.tables.items():
        if cfg.derived:
            continue
        if name not in c.schemas:
            c.error(f"unknown table '{name}'", ("tables", name), expected=c.known_tables())
            continue
        base = c.schemas[name]
        _check_named_columns(c, name, cfg, base)
        columns = dict(base.items())
        _join_roster(c, name, cfg, columns)
        for dname, key in cfg.join.items():
            _join_derived(c, name, dname, key, base, columns)
        c.schemas[name] = ibis.schema(columns)
    c.record_tables = {name: ibis.table(schema, name=name) for name, schema in c.schemas.items()}


def _check_named_columns(c: Compilation, name: str, cfg: TableConfig, base: ibis.Schema) -> None:
    for attr in ("agent", "team", "period", "key"):
        col = getattr(cfg, attr)
        if col is not None and col not in base:
            c.error(f"table '{name}' has no column '{col}'", ("tables", name, attr),
                    expected="one of " + ", ".join(n for n in base if n != "_row"))


def _join_roster(c: Compilation, name: str, cfg: TableConfig, columns: dict) -> None:
    path = ("tables", name, "roster")
    agents = c.schemas["agents"]
    if cfg.roster and cfg.agent is None:
        c.error(f"table '{name}' joins roster columns but names no 'agent' column", path)
    for col in cfg.roster:
        if col not in agents or col == "_row":
            c.error(f"the roster (agents) has no column '{col}'", path,
                    expected="one of " + ", ".join(a for a in agents if a != "_row"))
        elif col in columns:
            c.error(f"table '{name}' already has a column '{col}'; it cannot also be joined from the roster", path)
        else:
            columns[col] = agents[col]


def _join_derived(c: Compilation, name: str, dname: str, key: str, base: ibis.Schema, columns: dict) -> None:
    path = ("tables", name, "join", dname)
    if dname not in c.derived:
        c.error(f"table '{name}' joins '{dname}', which is not a derived table", path,
                expected="a table with from/group_by/columns")
        return
    if key not in base or key != c.derived[dname].group_by:
        c.error(f"join key '{key}' must be a column of '{name}' and the group_by of '{dname}' "
                f"('{c.derived[dname].group_by}')", path)
        return
    for col, typ in c.schemas[dname].items():
        if col == key:
            continue
        if col in columns:
            c.error(f"joined column '{col}' of '{dname}' clashes with a column of '{name}'", path)
        else:
            columns[col] = typ


def dimensions(c: Compilation) -> None:
    """Bind each table's dimensions (what breakdowns and lists group records by)."""
    for name, cfg in c.ruleset.tables.items():
        table = c.record_tables.get(name)
        if table is None or cfg.derived:
            continue
        dims = {}
        for dname, text in cfg.dimensions.items():
            expr = c.parse(text, ("tables", name, "dimensions", dname), f"dimension '{dname}' of table '{name}'")
            c.bind(expr, table)
            if expr is not None:
                dims[dname] = expr
        c.dimensions[name] = dims
