"""What each metric reads from the data, and which metrics a workspace's data leaves undefined.

A metric reads the input-table columns its expressions name: its own table's columns and its
period column, the roster (agents) columns joined in or behind the built-in roster_days, the
columns a joined derived table's column is computed from, and in_table()'s table.column.  A
metric whose table is absent, or that reads a column absent from its table's file, is undefined
in every scope with a note saying why; so is every metric computed from it (never zero).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from merit.core.compile.plan import Plan
from merit.core.compile.state import Compilation
from merit.core.expressions import Expr
from merit.core.tables import SCHEMAS

Read = tuple[str, str]  # (input table, column)

# The built-in roster_days copies these columns of agents (merit.core.cohorts.roster_days).
ROSTER_DAYS_FROM_AGENTS = ("agent_id", "team", "level", "role", "hired_on", "left_on")


def columns_read(c: Compilation) -> None:
    """Each metric's ``columns`` (a formula's or standardised metric's: those of the metrics it
    uses) and each dimension's, as (input table, column) pairs."""
    reads = _Reads(c)
    for cm in c.order:
        if cm.table is not None:
            cfg = c.ruleset.tables.get(cm.table)
            period = [cfg.period] if cfg is not None and cfg.period else []
            cm.columns = reads.of(cm.table, [e for _, e in cm.record_exprs()], period)
        else:
            cm.columns = frozenset().union(*(c.metrics[d].columns for d in cm.deps if d in c.metrics))
    for table, dims in c.dimensions.items():
        c.dimension_columns[table] = {name: reads.of(table, [expr]) for name, expr in dims.items()}


class _Reads:
    """Resolves the names an expression uses on a table to the input columns behind them."""

    def __init__(self, c: Compilation):
        self.c = c

    def of(self, table: str, exprs: Iterable[Expr | None], names: Iterable[str] = ()) -> frozenset[Read]:
        found: set[Read] = set()
        for expr in exprs:
            if expr is not None:
                found |= self.names(table, expr.names)
                for other, column in _in_table_calls(expr):
                    found |= self.names(other, [column])
        return frozenset(found | self.names(table, names))

    def names(self, table: str, names: Iterable[str]) -> set[Read]:
        found: set[Read] = set()
        cfg = self.c.ruleset.tables.get(table)
        own = SCHEMAS[table].names if table in SCHEMAS else []
        for name in names:
            if name in own:
                found.add((table, name))
            elif table == "roster_days" and name in ROSTER_DAYS_FROM_AGENTS:
                found.add(("agents", name))
            elif table in self.c.derived:
                found |= self._derived(table, name)
            elif cfg is not None and name in cfg.roster:
                found.add(("agents", name))
            elif cfg is not None:
                for dname, key in cfg.join.items():
                    if dname in self.c.derived and name in self.c.derived[dname].columns:
                        found |= self._derived(dname, name) | self.names(table, [key])
        return found

    def _derived(self, dname: str, column: str) -> set[Read]:
        """What a derived table's column (or its group_by) is computed from, in its source."""
        plan = self.c.derived[dname]
        spec = plan.columns.get(column)
        exprs = [spec[1], spec[2]] if spec is not None else []
        return set(self.of(plan.source, exprs, [plan.group_by]))


def _in_table_calls(expr: Expr) -> list[Read]:
    """The (table, column) of each ``in_table(x, 'table', 'column')`` of *expr*."""
    if not expr.tables:
        return []
    return [(node.args[1].value, node.args[2].value) for node in ast.walk(expr.tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "in_table"]


# --------------------------------------------------------------------------
# Undefined metrics
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """Why a metric is undefined everywhere: tables absent from the workspace, or else columns
    absent from their table's file."""

    tables: tuple[str, ...] = ()
    columns: tuple[Read, ...] = ()

    def note(self, data_folder: str) -> str:
        if self.tables:
            names = ", ".join(f"'{m}'" for m in self.tables)
            noun = "table" if len(self.tables) == 1 else "tables"
            return (f"undefined: {noun} {names} not in the workspace "
                    f"({', '.join(f'{data_folder}/{m}.csv' for m in self.tables)})")
        names = [f"{t}.{col}" for t, col in self.columns]
        if len(names) == 1:
            return f"undefined: column {names[0]} is not in the workspace's data"
        return f"undefined: columns {', '.join(names[:-1])} and {names[-1]} are not in the workspace's data"

    def concerns(self, table: str) -> bool:
        """Whether *table* (absent, or lacking a column) is a cause."""
        return table in self.tables or any(t == table for t, _ in self.columns)


def undefined_metrics(plan: Plan, present: Collection[str], absent: Mapping[str, Collection[str]]
                      ) -> dict[str, Gap]:
    """Metric id -> why it is undefined everywhere, for data holding the tables *present* and
    lacking the columns *absent* (table -> column names); in evaluation order.  A metric
    computed from others lacks what the undefined ones it uses lack."""
    gaps: dict[str, Gap] = {}
    for cm in plan.metrics.values():
        gap = None
        if cm.table is not None:
            missing = tuple(sorted(t for t in cm.tables if t != "roster_days" and t not in present))
            lacking = absent_reads(cm.columns, absent)
            gap = Gap(tables=missing) if missing else Gap(columns=lacking) if lacking else None
        else:
            used = [gaps[d] for d in cm.deps if d in gaps]
            if cm.agg == "standardized":  # its breakdown may read an absent column
                base = plan.metrics[cm.spec.metric]
                lacking = absent_reads(plan.dimension_columns.get(base.table or "", {}).get(cm.spec.by, ()),
                                       absent)
                used += [Gap(columns=lacking)] if lacking else []
            gap = _union(used) if used else None
        if gap is not None:
            gaps[cm.id] = gap
    return gaps


def _union(gaps: list[Gap]) -> Gap:
    return Gap(tables=tuple(sorted({t for g in gaps for t in g.tables})),
               columns=tuple(sorted({r for g in gaps for r in g.columns})))


def absent_reads(reads: Iterable[Read], absent: Mapping[str, Collection[str]]) -> tuple[Read, ...]:
    """The pairs of *reads* whose column is absent from its table's file, sorted."""
    return tuple(sorted((t, col) for t, col in reads if col in absent.get(t, ())))


def missing_tables_note(missing: list[str], data_folder: str) -> str:
    return Gap(tables=tuple(missing)).note(data_folder)
