"""The process's cache of compiled SQL (merit.core.backends.compiled): a query is translated once per
expression structure, and two expressions share a translation only when they are the same query."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import pandas as pd
import pytest

from merit.core.backends.compiled import CompiledCache, _CachingCompiler, cache_compiled_sql
from merit.core.tables.connection import connect


class CountingCompiler:
    """A compiler that counts its translations (the real DuckDB one underneath)."""

    def __init__(self, con):
        self.inner = con.compiler._compiler if isinstance(con.compiler, _CachingCompiler) else con.compiler
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def to_sqlglot(self, expr, *, limit=None, params=None):
        self.calls += 1
        return self.inner.to_sqlglot(expr, limit=limit, params=params)


@pytest.fixture
def con():
    con = connect("UTC")
    con.raw_sql("CREATE TABLE t (a DOUBLE, b VARCHAR, d DECIMAL(18, 3), ts TIMESTAMP)")
    con.raw_sql("INSERT INTO t VALUES (1.0, 'x', 1.5, '2026-08-20 12:00:00'), (-2.0, 'y', 2.25, NULL)")
    return con


def translated(cache: CompiledCache, counting: CountingCompiler, expr) -> str:
    return cache.translate(counting, expr, None).sql(dialect="duckdb")


def test_the_same_query_is_translated_once_on_any_connection(con):
    cache = CompiledCache()
    counting = CountingCompiler(con)
    t = con.table("t")
    first = translated(cache, counting, t.filter(t.a > 0).select("b"))
    again = translated(cache, counting, t.filter(t.a > 0).select("b"))  # built afresh: another graph
    other = connect("UTC")
    other.raw_sql("CREATE TABLE t (a DOUBLE, b VARCHAR, d DECIMAL(18, 3), ts TIMESTAMP)")
    t2 = other.table("t")
    elsewhere = translated(cache, counting, t2.filter(t2.a > 0).select("b"))
    assert counting.calls == 1
    assert first == again == elsewhere == counting.inner.to_sqlglot(t.filter(t.a > 0).select("b")).sql("duckdb")


@pytest.mark.parametrize("left, right", [
    (1, 1.0),                                  # equal in Python, not the same literal
    (True, 1),
    (0.0, -0.0),
    ("x", "x "),
    (dt.datetime(2026, 8, 20, 0, 0, tzinfo=dt.timezone.utc),
     dt.datetime(2026, 8, 20, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))),  # the same instant
])
def test_values_equal_in_python_are_different_keys(con, left, right):
    cache = CompiledCache()
    counting = CountingCompiler(con)
    t = con.table("t")
    sqls = [translated(cache, counting, t.select(v=ibis.literal(value))) for value in (left, right)]
    assert counting.calls == 2
    assert sqls[0] == counting.inner.to_sqlglot(t.select(v=ibis.literal(left))).sql("duckdb")
    assert sqls[1] == counting.inner.to_sqlglot(t.select(v=ibis.literal(right))).sql("duckdb")


def test_different_tables_columns_and_limits_are_different_keys(con):
    con.raw_sql("CREATE TABLE u (a DOUBLE, b VARCHAR, d DECIMAL(18, 3), ts TIMESTAMP)")
    cache = CompiledCache()
    counting = CountingCompiler(con)
    t, u = con.table("t"), con.table("u")
    assert "u" in translated(cache, counting, u.select("a"))
    assert '"t"' in translated(cache, counting, t.select("a"))
    assert '"b"' in translated(cache, counting, t.select("b"))
    assert "LIMIT 3" in cache.translate(counting, t.select("b"), 3).sql("duckdb")
    assert "LIMIT" not in translated(cache, counting, t.select("b"))
    assert counting.calls == 4


def test_an_in_memory_table_is_translated_every_time(con):
    cache = CompiledCache()
    counting = CountingCompiler(con)
    frame = pd.DataFrame({"a": [1, 2]})
    for _ in range(2):
        translated(cache, counting, ibis.memtable(frame).select("a"))
    assert counting.calls == 2
    assert cache._entries == {}  # nothing kept for it


def test_each_caller_gets_its_own_tree(con):
    cache = CompiledCache()
    counting = CountingCompiler(con)
    t = con.table("t")
    tree = cache.translate(counting, t.select("a"), None)
    tree.set("where", None)
    tree.args["expressions"].clear()  # a caller changing its tree changes nobody else's
    assert cache.translate(counting, t.select("a"), None).sql("duckdb") == 'SELECT "t0"."a" FROM "t" AS "t0"'


def test_a_full_cache_starts_afresh(con):
    cache = CompiledCache(max_entries=2)
    counting = CountingCompiler(con)
    t = con.table("t")
    for column in ("a", "b", "d"):
        translated(cache, counting, t.select(column))
    assert len(cache._entries) == 1  # "a" and "b" went when "d" came
    for column in ("d", "a", "d"):
        assert f'"{column}"' in translated(cache, counting, t.select(column))
    assert counting.calls == 5  # "d" found once; then "a" filled the cache again, and "d" came after


def test_results_through_the_cache_are_the_database_s(con):
    cache_compiled_sql(con)
    cache_compiled_sql(con)  # (twice: one layer)
    assert not isinstance(con.compiler._compiler, _CachingCompiler)
    t = con.table("t")
    for _ in range(2):
        out = con.execute(t.filter(t.d > Decimal("2")).select("b", e=t.a * 2))
        assert out.to_dict("list") == {"b": ["y"], "e": [-4.0]}


def test_sql_texts_are_kept_too(con):
    cache = CompiledCache()
    made = []

    def compile_sql(expr, *, limit=None, pretty=False):
        made.append((limit, pretty))
        return type(con).compile(con, expr, limit=limit, pretty=pretty)
    t = con.table("t")
    asked = [(None, False), (None, False), (None, True), (2, False), (2, False)]
    texts = [cache.text(con, t.filter(t.a > 0).select("b"), limit, pretty, compile_sql) for limit, pretty in asked]
    assert made == [(None, False), (None, True), (2, False)]
    assert texts[0] == texts[1] == type(con).compile(con, t.filter(t.a > 0).select("b"))
    assert "\n" in texts[2] and texts[3] == texts[4] and texts[3].endswith("LIMIT 2")


def test_every_connection_compiles_through_the_process_cache(monkeypatch):
    import gc
    import weakref

    from merit.core.backends import compiled

    monkeypatch.setattr(compiled, "_CACHE", CompiledCache())  # (this test's own, empty)
    con = connect("UTC")
    con.raw_sql("CREATE TABLE t (a DOUBLE)")
    t = con.table("t")
    text = con.compile(t.select(z=t.a + 41))
    assert len(compiled._CACHE._entries) == 2  # its tree and its text
    assert con.compile(t.select(z=t.a + 41)) == text == type(con).compile(con, t.select(z=t.a + 41))
    assert len(compiled._CACHE._entries) == 2
    dropped = weakref.ref(con)
    del con, t
    gc.collect()
    assert dropped() is None  # (the cache holds no connection)
