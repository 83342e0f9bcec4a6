"""What the compiler's passes share: the ruleset, the schemas found so far, the problems met."""

from __future__ import annotations

import datetime

import ibis

from merit.core import expressions
from merit.core.compile.plan import CompiledMetric, DerivedPlan
from merit.core.compile.schemas import BUILTIN_SCHEMAS, EXPECTED, table_schema
from merit.core.errors import MeritError, raise_collected
from merit.core.expressions import ColumnContext, Expr
from merit.core.ruleset import LoadedRuleset
from merit.core.tables import SCHEMAS

# A stand-in period: compiling checks names and types, not values.
STAND_IN_PERIOD = (datetime.datetime(2000, 1, 1), datetime.datetime(2000, 1, 2))


class Compilation:
    """One compile of one ruleset.  Each pass reads what the earlier ones found and adds
    its own; a problem is collected (not raised) so that one ``merit check`` reports them
    all, and :meth:`raise_problems` ends the compile where a later pass would need what
    failed."""

    def __init__(self, loaded: LoadedRuleset):
        self.loaded = loaded
        self.ruleset = loaded.ruleset
        self.problems: list[MeritError] = []
        # every table a metric can read -> its columns; passes extend it (derived tables, joins)
        self.schemas: dict[str, ibis.Schema] = {name: table_schema(name) for name in [*SCHEMAS, *BUILTIN_SCHEMAS]}
        # the tables in_table() lookups may read, filled once the derived tables are known
        self.lookup_tables: dict[str, ibis.Table] = {}
        # strict lookups are collected: a constant key missing from its table is reported at the end
        self.ctx = ColumnContext(params=self.ruleset.params, timezone="UTC", tables=self.lookup_tables,
                                 period=STAND_IN_PERIOD, key_checks=[])
        self.derived: dict[str, DerivedPlan] = {}  # in build order
        self.record_tables: dict[str, ibis.Table] = {}  # what a metric's record expressions are bound to
        self.dimensions: dict[str, dict[str, Expr]] = {}
        self.dimension_columns: dict[str, dict[str, frozenset[tuple[str, str]]]] = {}  # what each reads
        self.metrics: dict[str, CompiledMetric] = {}  # in ruleset order
        self.order: list[CompiledMetric] = []  # in evaluation order (dependencies first)

    def error(self, message: str, path: tuple, **kw) -> None:
        self.problems.append(self.loaded.error(message, path, **kw))

    def raise_problems(self) -> None:
        raise_collected(self.problems)

    def known_tables(self) -> str:
        return "one of " + ", ".join(sorted(self.schemas))

    def parse(self, text: str, path: tuple, resource: str) -> Expr | None:
        try:
            return expressions.parse(text, self.loaded.origin(path, resource=resource, field_name=path[-1]))
        except MeritError as exc:
            self.problems.append(exc)
            return None

    def bind(self, expr: Expr | None, table: ibis.Table, *, is_filter: bool = False,
             kinds: tuple[str, ...] | None = None, what: str = "the value"):
        """Compile *expr* over *table* (the schema): a filter must be true/false, a value one
        of *kinds*, so that what `check` accepts, `run` computes."""
        if expr is None:
            return None
        try:
            if is_filter:
                return expr.to_filter(table, self.ctx)
            if kinds is not None:
                return expr.to_value(table, self.ctx, kinds, what, EXPECTED[kinds])
            return expr.to_column(table, self.ctx)
        except MeritError as exc:
            self.problems.append(exc)
            return None
