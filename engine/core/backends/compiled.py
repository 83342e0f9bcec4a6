"""SQL compiled once per process for each expression structure (SQLAlchemy's compiled cache, for Ibis).

Ibis translates an expression to SQL afresh on every query: several rewrite passes over the
expression graph, about 5 ms a query, a third of evaluating a small cycle.  merit builds its
expressions afresh on each evaluation, so a process that evaluates more than once (a previous
cycle for trends, a what-if, a test suite) translates the same queries again.  A connection
given :func:`cache_compiled_sql` keeps the translations in a process-wide cache.

The key is the expression's whole structure, made exactly: every node is interned by its class
and its arguments' keys, values by their type and ``repr`` (``1``, ``1.0``, ``True`` and ``-0.0``
are all different keys, and so are two instants written in different zones), so two keys are
equal only when the graphs are.  Never a hash alone.  One thing is left out because the SQL does
not depend on it: the connection a table belongs to (tables of the same name, schema and
namespace compile the same on any connection of one dialect), which lets later connections find
what earlier ones compiled.  An expression holding a value of any other type (an in-memory
table's data) is translated and not kept: only an identity could key it, and nothing else would
ever find it.  Every object keyed belongs to the expression graph, alive while it is keyed, so
the identities in the memo of one keying are never another object's.

Both the SQL tree (which ``create_table`` wraps in a larger statement) and the SQL text (what a
query runs) are kept; a tree is handed out as a copy.  Ibis's process-wide options
(``ibis.options``) are not in the key: merit never changes them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import threading
import weakref

from ibis.backends import BaseBackend
from ibis.common.collections import FrozenDict
from ibis.common.grounds import Concrete

# At most this many translations kept (about 5 KB each, pickled); past it the cache starts afresh
# (a run makes about a hundred, a test worker about 400).
MAX_ENTRIES = 1024
_BY_REPR = (str, int, float, bool, type(None), bytes, decimal.Decimal, dt.date, dt.time, dt.timedelta, enum.Enum)


class _NotKeyed(Exception):
    """The expression holds a value only its identity could key."""


class CompiledCache:
    """Translations by expression structure (see the module docstring)."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._entries: dict[tuple, object] = {}  # key -> sqlglot tree or SQL text
        self._interned: dict[tuple, int] = {}
        self._generation = 0  # how many times the cache started afresh
        self._lock = threading.RLock()  # (re-entered: making a text translates the tree)

    def translate(self, compiler, expr, limit):
        """*compiler*'s SQL tree for *expr* (with *limit*): a copy of the cached one when there is one."""
        return self._get((type(compiler), limit), expr, lambda: compiler.to_sqlglot(expr, limit=limit)).copy()

    def text(self, con, expr, limit, pretty: bool, compile_sql):
        """The SQL text ``compile_sql`` (*con*'s own) makes of *expr*, cached like the trees."""
        return self._get((type(con), "text", limit, pretty), expr,
                         lambda: compile_sql(expr, limit=limit, pretty=pretty))

    def _get(self, about: tuple, expr, make):
        with self._lock:
            # (afresh before keying: a key is only good with the interned numbers it was made with;
            # the interned structures also grow with the queries that are never kept)
            if len(self._entries) >= self.max_entries or len(self._interned) >= 64 * self.max_entries:
                self._entries.clear()
                self._interned.clear()
                self._generation += 1
            generation = self._generation
            try:
                key = (*about, self._key(expr.op(), {}))
            except (_NotKeyed, RecursionError):  # (or a graph deeper than Python's stack)
                return make()
            found = self._entries.get(key)
            if found is None:
                found = make()
                if self._generation == generation:  # (unless making it started the cache afresh)
                    self._entries[key] = found
            return found

    def _key(self, value, memo: dict[int, int]) -> int:
        """The interned key of *value*; *memo*: the keys of this graph's objects by identity."""
        found = memo.get(id(value))
        if found is not None:
            return found
        kind = type(value)
        if isinstance(value, _BY_REPR):
            parts = repr(value)
        elif isinstance(value, BaseBackend):
            parts = None  # (the SQL does not depend on the connection)
        elif isinstance(value, Concrete):
            parts = tuple(self._key(arg, memo) for arg in value.__args__)
        elif isinstance(value, (tuple, list)):
            parts = tuple(self._key(item, memo) for item in value)
        elif isinstance(value, frozenset):
            parts = tuple(sorted(self._key(item, memo) for item in value))
        elif isinstance(value, (dict, FrozenDict)):
            parts = tuple((self._key(k, memo), self._key(v, memo)) for k, v in value.items())
        else:
            raise _NotKeyed
        key = self._interned.setdefault((kind, parts), len(self._interned))
        memo[id(value)] = key
        return key


_CACHE = CompiledCache()


class _CachingCompiler:
    """An Ibis SQL compiler whose translations go through the process's :class:`CompiledCache`;
    everything else is the compiler's own."""

    def __init__(self, compiler, cache: CompiledCache):
        self._compiler = compiler
        self._cache = cache

    def __getattr__(self, name):
        return getattr(self._compiler, name)

    def to_sqlglot(self, expr, *, limit=None, params=None):
        if params or limit == "default":  # (values bound at run time, or a limit from ibis.options)
            return self._compiler.to_sqlglot(expr, limit=limit, params=params)
        return self._cache.translate(self._compiler, expr, limit)


def cache_compiled_sql(con) -> None:
    """Make the Ibis connection *con* compile through the process's cache: its SQL trees (which
    ``create_table`` wraps) and its SQL texts (what queries run)."""
    if isinstance(con.compiler, _CachingCompiler):
        return
    con.compiler = _CachingCompiler(con.compiler, _CACHE)
    connection = weakref.ref(con)  # (not a cycle through the connection: it closes when dropped)
    compile_sql = type(con).compile

    def compile(expr, /, *, limit=None, params=None, pretty=False):
        this = connection()
        if params or limit == "default":
            return compile_sql(this, expr, limit=limit, params=params, pretty=pretty)
        return _CACHE.text(this, expr, limit, pretty, functools.partial(compile_sql, this))

    con.compile = compile
