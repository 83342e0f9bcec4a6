"""Every difference between the engines merit evaluates on, in one place.

The evaluation builds Ibis expressions and runs them; where the engines disagree (a function
one has and another lacks, how a result is kept for the next queries, which error an overflow
raises, how a literal is typed), it calls a function here, which dispatches on the connection's
name (``con.name``: 'duckdb', 'pyspark', 'postgres') or on the engine an expression belongs
to.  The DuckDB branch is what merit always did; the others give the same values, bit for bit
where the outputs could show it (see docs/backends.md).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from merit.core.backends import strptime_parts
from merit.core.errors import MeritError

DUCKDB, SPARK, POSTGRES = "duckdb", "pyspark", "postgres"
_names = itertools.count(1)


def engine(obj) -> str:
    """The engine of a connection, or of an expression (its tables'); 'duckdb' for an expression
    bound to none (constants, in-memory tables)."""
    if not isinstance(obj, ir.Expr):
        return obj.name
    try:
        return obj._find_backend(use_default=False).name
    except ibis.common.exceptions.IbisError:
        return DUCKDB


# ------------------------------------------------------------------ session
def prepare_session(con) -> None:
    """Check and complete the settings merit's queries rely on; idempotent.

    Spark: ANSI mode on (an overflow or a bad cast is an error, not a silent NULL) and the
    session time zone UTC (merit's timestamps are UTC instants); results come back through
    Arrow; floating literals are doubles (see :func:`_spark_double_literals`)."""
    if con.name != SPARK:
        return
    conf = con._session.conf
    wrong = [f"{key}={conf.get(key, None)!r} (merit needs {value!r})" for key, value in
             (("spark.sql.ansi.enabled", "true"), ("spark.sql.session.timeZone", "UTC"))
             if str(conf.get(key, None)).lower() != value.lower()]
    if wrong:
        raise MeritError(f"the Spark session's settings differ from what merit needs: {'; '.join(wrong)}",
                         expected="spark.sql.ansi.enabled=true and spark.sql.session.timeZone=UTC")
    conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    _spark_double_literals()


_patched: set[str] = set()


def _spark_double_literals() -> None:
    """Spark SQL reads ``1.5`` as a DECIMAL(2, 1), Ibis writes a float64 literal so: arithmetic
    on it then runs in decimals (another result, or an overflow) and Ibis's idea of the column's
    type is wrong.  Write it as a double (``CAST('1.5' AS DOUBLE)``: exactly Python's float)."""
    if SPARK in _patched:
        return
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    plain = PySparkCompiler.visit_NonNullLiteral

    def visit(self, op, *, value, dtype):
        if dtype.is_floating() and isinstance(value, float) and value == value and abs(value) != float("inf"):
            return self.cast(repr(value), dtype)
        return plain(self, op, value=value, dtype=dtype)

    PySparkCompiler.visit_NonNullLiteral = visit
    _patched.add(SPARK)


# ------------------------------------------------------- intermediate results
def materialise(con, name: str, expr: ibis.Table) -> ibis.Table:
    """*expr* computed once and kept for the next queries of this run, as a table the run's
    connection reads.  DuckDB: a table of the in-memory database; Spark: a cached temporary
    view (a managed table would be written to the warehouse folder, and a second run would
    find it there); PostgreSQL: a temporary table (gone with the session)."""
    kind = con.name
    if kind == DUCKDB:
        # (Ibis 12's overwrite=True emits SQL that DuckDB 1.5 rejects; drop first instead.)
        con.drop_table(name, force=True)
        return con.create_table(name, expr)
    unique = f"{name}_{next(_names)}"  # several runs may share a session: never reuse a name
    if kind == SPARK:
        con._run_pre_execute_hooks(expr)
        frame = con._session.sql(con.compile(expr)).cache()
        frame.count()  # computed now, inside the caller's error handling
        frame.createOrReplaceTempView(unique)
        return con.table(unique)
    if kind == POSTGRES:
        table = con.create_table(unique, expr, temp=True)
        con.raw_sql(f'ANALYZE "{unique}"').close()  # (planner statistics for the joins that read it)
        return table
    raise MeritError(f"merit cannot evaluate on the '{kind}' engine", expected="duckdb, spark or postgres")


def execute(con, expr: ir.Expr) -> pd.DataFrame:
    """*expr* computed on the run's connection (never on Ibis's default backend, which an
    expression over in-memory tables alone would silently use)."""
    return con.execute(expr)


# ----------------------------------------------------------- exact sums
@dataclass
class Overflow:
    """A value too large for an exact sum: the value as the engine printed it and the column,
    when the engine's message says them."""

    value: str | None = None
    column: str | None = None


def decimal_overflow(con, exc: BaseException) -> Overflow | None:
    """*exc* as a value too large for DECIMAL(38, 15) (merit's exact sums); None for any other
    error."""
    kind = con.name
    text = str(exc)
    if kind == DUCKDB:
        import duckdb

        if not isinstance(exc, duckdb.ConversionException):
            return None
        found = re.search(r"value (\S+) to DECIMAL.*?source column (_e\d+)", text, re.S)
        return Overflow(found.group(1).rstrip("0").rstrip("."), found.group(2)) if found else None
    if kind == SPARK:
        if "NUMERIC_VALUE_OUT_OF_RANGE" not in text and "CAST_OVERFLOW" not in text:
            return None
        found = re.search(r"Value (\S+) cannot be represented|The value (\S+) of the type", text)
        return Overflow(next((g for g in found.groups() if g), None) if found else None)
    if kind == POSTGRES:
        import psycopg

        return Overflow() if isinstance(exc, psycopg.errors.NumericValueOutOfRange) else None
    return None


# ------------------------------------------------------------------ row numbers
@ibis.udf.scalar.builtin(name="monotonically_increasing_id")
def _spark_row_id() -> dt.int64:  # type: ignore[valid-type]
    """Spark's monotonically_increasing_id(): unique, increasing in the order a table is read
    (the partition's number in the upper bits), computed where each partition is read."""


def row_numbers(table: ibis.Table, order: list, keyed: bool) -> ir.IntegerValue:
    """``_row`` for the rows of a table typed on the engine: 0, 1, 2, ... in *order*.

    Spark computes a window over a whole table in one partition, by one task: at 10 million
    tickets that task shuffled, typed and cached every ticket alone (docs/performance.md), at
    a billion it could not.  There, a *keyed* table's rows get Spark's row ids instead (unique,
    in the order they are read, no shuffle): such rows are named by their key wherever merit
    names them, and ordered by it.  A table without a key (handoffs, timelog, ...: far fewer
    rows than the tickets) keeps the numbering in *order*, which names and orders its rows."""
    if not numbers_in_order(engine(table), keyed):
        return _spark_row_id()
    return ibis.row_number().over(order_by=order)


def numbers_in_order(kind: str, keyed: bool) -> bool:
    """Whether :func:`row_numbers` numbers a table's rows 0, 1, 2, ... on engine *kind* (else
    ``_row`` is an id, no place a message could name)."""
    return not (keyed and kind == SPARK)


# ------------------------------------------------------------------ top N
_ITEM = dt.Struct({"key": dt.string, "value": dt.float64, "n": dt.int64})
_ORDER = dt.Struct({"o": dt.float64, "k": dt.string})


@ibis.udf.agg.builtin(name="arg_min")
def _smallest(arg: _ITEM, val: _ORDER, n: dt.int64) -> dt.Array(_ITEM):  # type: ignore[valid-type]
    """The *n* items with the smallest *val* (DuckDB's ``arg_min(arg, val, n)``: a bounded heap)."""


def top_per_group(rows: ibis.Table, groups: list[str], most: int) -> ibis.Table:
    """The first ``_top`` rows (never more than *most*) of each group of *rows* (the values of
    columns *groups*) by ``value`` times ``_sign`` (1: ascending, -1: descending), ties by the
    smaller ``key``: columns *groups*, ``key``, ``value``, ``n``, ``rank`` (1 = first).

    *rows* has columns *groups*, ``key`` (string), ``value`` (float64), ``n`` (int64) and, the
    same on every row of a group, ``_top`` (int64) and ``_sign`` (float64): lists of different
    lengths and orders are ranked in one query.  DuckDB keeps a bounded heap per group rather
    than sorting every row (a dimension such as the customer has about as many values as there
    are records); the other engines rank the rows of each group with a window, which they
    distribute.
    """
    if engine(rows) != DUCKDB:
        ranked = rows.mutate(rank=_rank(rows, groups))
    else:
        item = ibis.struct({"key": rows.key, "value": rows.value, "n": rows.n})
        order = ibis.struct({"o": rows.value * rows._sign, "k": rows.key})
        picked = rows.group_by([*groups, "_top", "_sign"]).aggregate(_first=_smallest(item, order, most))
        picked = picked.unnest("_first")
        picked = picked.select(*groups, "_top", "_sign", key=picked._first.key, value=picked._first.value,
                               n=picked._first.n)
        ranked = picked.mutate(rank=_rank(picked, groups))
    ranked = ranked.filter(ranked["rank"] <= ranked._top)
    return ranked.select(*groups, "key", "value", "n", "rank")


def _rank(rows: ibis.Table, groups: list[str]) -> ir.IntegerValue:
    """Each row's place in its group (1 = first): by ``value`` times ``_sign``, then ``key``."""
    order = [(rows.value * rows._sign).asc(), rows.key.asc()]
    return ibis.row_number().over(group_by=[rows[g] for g in groups], order_by=order) + 1


@ibis.udf.agg.builtin(name="min")
def _smallest_values(arg: dt.int64, n: dt.int64) -> dt.Array(dt.int64):  # type: ignore[valid-type]
    """The *n* smallest values (DuckDB's ``min(arg, n)``)."""


def smallest(column: ibis.Value, n: int) -> ibis.Value:
    """The *n* smallest values of an int64 *column*, as an aggregate (an array, ascending)."""
    if engine(column) == DUCKDB:
        return _smallest_values(column, n)
    return column.collect().sort()[:n]


# ------------------------------------------------------------------ quantiles
@ibis.udf.scalar.builtin(name="sort_array")
def _sorted(values: dt.Array(dt.float64)) -> dt.Array(dt.float64):  # type: ignore[valid-type]
    """Spark's sort_array: ascending, natively (Ibis's sort passes a comparator function)."""


def quantiles(value: ibis.Value, qs: list[float], where: ibis.Value | None = None
              ) -> tuple[ibis.Value, Callable[[ibis.Value], ibis.Value] | None]:
    """The quantiles *qs* of *value* (records where *where*): exact, interpolated linearly
    between the closest ranks as DuckDB's ``quantile_cont`` and PostgreSQL's
    ``percentile_cont`` do it (``lo + (hi - lo) * d`` at rank ``(n - 1) * q``), one sort for
    every q.  Returns an aggregate, and None or a function to apply to the aggregate's column
    after the aggregation: together, an array of the quantiles.

    Spark's ``percentile`` computes ``(1 - d) * lo + d * hi``, which may differ in the last
    bit: there, the aggregate is the group's values sorted (``percentile`` too holds every
    value of the group), and the function picks the two ranks and interpolates as the others."""
    if engine(value) != SPARK:
        return value.quantile(qs, where=where), None
    return _sorted(value.collect(where=where)), partial(_picked, qs=[float(q) for q in qs])


def _picked(ordered: ibis.Value, qs: list[float]) -> ibis.Value:
    n = ordered.length()
    picked = []
    for q in qs:
        rank = (n - 1).cast("float64") * ibis.literal(q, type="float64")
        low = rank.floor().cast("float64")
        d = rank - low
        lo, hi = ordered[low.cast("int32")], ordered[rank.ceil().cast("int32")]
        # (the ranks only where n > 0: Spark's ANSI mode refuses an index outside the array)
        picked.append(ibis.cases((n == 0, ibis.null("float64")), (d == 0, lo), else_=lo + (hi - lo) * d))
    return ibis.array(picked)


# ------------------------------------------------------------------ rounding
def round_number(x: ibis.Value, digits: int | None, kind: str | None = None) -> ibis.Value:
    """``round(x, digits)`` as DuckDB's ROUND computes it, on engine *kind* (None: that of *x*'s
    tables): ``round(x * 10**n)`` half away from zero, ``/ 10**n``, in doubles (scalar mode's
    rule, merit.core.expressions.scalar_rules.scalar_round).  Spark rounds the decimal text of
    the double and PostgreSQL a NUMERIC (2.675 gives 2.68 there, 2.67 here)."""
    rounded = x.round() if digits is None else x.round(digits)
    if (kind or engine(x)) == DUCKDB or (x.type().is_integer() and (digits is None or digits >= 0)):
        return rounded
    m = ibis.literal(10.0 ** (digits or 0), type="float64")
    v = x.cast("float64") * m
    a = v.abs()
    f = a.floor().cast("float64")
    r = ibis.ifelse(a - f >= 0.5, f + 1.0, f)
    r = ibis.ifelse(v >= 0, r, -r) / m
    return ibis.ifelse(r.isinf() | r.isnan(), x.cast("float64"), r).cast(rounded.type())


def power(a: ibis.Value, b: ibis.Value, kind: str | None = None) -> ibis.Value:
    """``a ** b`` on engine *kind* (None: that of the operands' tables).  DuckDB and Spark give
    NaN for a negative base to a fractional power and infinity for 0 to a negative one;
    PostgreSQL stops the query with an error: there, such an exponent is made empty first."""
    if (kind or engine(a)) != POSTGRES:
        return a ** b
    b = b.cast("float64") if isinstance(b, ir.Value) else ibis.literal(float(b), type="float64")
    refused = ((a < 0) & (b != b.floor().cast("float64"))) | ((a == 0) & (b < 0))
    return a ** ibis.ifelse(refused.fill_null(False), ibis.null("float64"), b)


# ------------------------------------------------------------------ time zones
@ibis.udf.scalar.builtin(name="timezone")
def _as_utc(tz: str, ts: dt.Timestamp()) -> dt.Timestamp(timezone="UTC"):  # type: ignore[valid-type]
    """timezone(tz, naive): naive wall clock in tz -> instant (DuckDB and PostgreSQL alike)."""


@ibis.udf.scalar.builtin(name="timezone")
def _wall_clock(tz: str, ts: dt.Timestamp(timezone="UTC")) -> dt.Timestamp():  # type: ignore[valid-type]
    """timezone(tz, instant): instant -> naive wall clock in tz (DuckDB and PostgreSQL alike)."""


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def _spark_wall_clock(ts: dt.Timestamp(), tz: str) -> dt.Timestamp():  # type: ignore[valid-type]
    """Spark's from_utc_timestamp(instant, tz): the wall clock in tz (session time zone UTC)."""


def wall_clock(ts: ir.TimestampValue, timezone: str, kind: str | None = None) -> ir.TimestampValue:
    """A UTC instant (naive, or with a zone) -> the naive wall-clock time in *timezone*,
    following its daylight-saving changes, on engine *kind* (None: that of *ts*'s tables)."""
    if (kind or engine(ts)) == SPARK:
        return _spark_wall_clock(ts.cast(dt.Timestamp()), timezone)
    if ts.type().timezone is not None:
        return _wall_clock(timezone, ts.cast(dt.Timestamp(timezone="UTC")))
    return _wall_clock(timezone, _as_utc("UTC", ts))


# ------------------------------------------------- source tables (merit.core.backend_tables)
@ibis.udf.scalar.builtin(name="to_utc_timestamp")
def _spark_to_utc(ts: dt.Timestamp(), tz: str) -> dt.Timestamp():  # type: ignore[valid-type]
    """Spark's to_utc_timestamp(wall clock, tz): the instant (session time zone UTC)."""


def local_to_utc(ts: ir.TimestampValue, timezone: str) -> ir.TimestampValue:
    """A naive wall-clock time in *timezone* -> the naive UTC instant, as the file loader reads
    naive text (DuckDB's ICU): a time in a daylight-saving gap is read with the offset before
    the change (moved forward), an ambiguous one as the later instant (the second occurrence).
    PostgreSQL agrees; Spark's to_utc_timestamp takes the earlier instant of an ambiguous time,
    so the later one is taken where it shows the same wall clock."""
    if engine(ts) == SPARK:
        first = _spark_to_utc(ts, timezone)
        later = [first + ibis.interval(minutes=m) for m in (60, 30)]
        return ibis.cases(*[(_spark_wall_clock(u, timezone) == ts, u) for u in later], else_=first)
    return _wall_clock("UTC", _as_utc(timezone, ts))


def utc_of_instant(ts: ir.TimestampValue) -> ir.TimestampValue:
    """A native instant (PostgreSQL's or DuckDB's ``timestamptz``, Spark's ``TIMESTAMP``, read
    in the session time zone UTC) -> the naive UTC instant."""
    if engine(ts) == SPARK:
        return ts.cast(dt.Timestamp())
    return _wall_clock("UTC", ts.cast(dt.Timestamp(timezone="UTC")))


def instant_columns(con, table: ibis.Table) -> set[str]:
    """The columns of *table* whose timestamps are instants, not wall-clock times: on Spark its
    ``TIMESTAMP`` columns (``TIMESTAMP_NTZ`` is a wall clock; Ibis calls both timestamps), on
    the others those whose type has a time zone."""
    if con.name == SPARK:
        from pyspark.sql.types import TimestampType

        schema = con._session.sql(con.compile(table)).schema
        return {f.name for f in schema.fields if type(f.dataType) is TimestampType}
    return {name for name, dtype in table.schema().items() if dtype.is_timestamp() and dtype.timezone}


def binary_order(value: ir.Value) -> ir.Value:
    """*value* as rows are ordered by it deterministically on every engine: texts by their
    bytes (PostgreSQL orders by its database's collation otherwise)."""
    if engine(value) == POSTGRES and value.type().is_string():
        return _collate_c(value)
    return value


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(text: str, formats: dt.Array(dt.string)) -> dt.Timestamp():  # type: ignore[valid-type]
    """DuckDB's try_strptime(text, [formats]): the first format that reads it, else NULL."""


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime_tz(text: str, format: str) -> dt.Timestamp(timezone="UTC"):  # type: ignore[valid-type]
    """try_strptime with one pattern holding %z: an instant.  (One pattern at a time: with a
    list of such patterns DuckDB takes 35 times as long on a text it reads, and reads
    '2026/02/30 20:00 +0800' as 2 March.)"""


def _strptime(text: ir.StringValue, formats: list[str], zoned: bool) -> ir.TimestampValue:
    """The first of *formats* that reads *text*: a wall clock (naive) or, *zoned* (patterns with
    %z), the naive UTC instant.  DuckDB: its try_strptime; the others read the patterns with
    regular expressions (merit.core.backends.strptime_parts), the same values."""
    kind = engine(text)
    if kind == DUCKDB:
        if zoned:
            reads = [_try_strptime_tz(text, fmt) for fmt in formats]
            return utc_of_instant(ibis.coalesce(*reads) if len(reads) > 1 else reads[0])
        return _try_strptime(text, ibis.literal(formats, type=dt.Array(dt.string)))
    name = {SPARK: "Spark", POSTGRES: "PostgreSQL"}.get(kind, kind)
    tries = [strptime_parts.read(text, fmt, name) for fmt in formats]
    return ibis.coalesce(*tries) if len(tries) > 1 else tries[0]


def strptime_utc(text: ir.StringValue, formats: tuple[str, ...], timezone: str) -> ir.TimestampValue:
    """*text* read by a source's ``timestamp_format`` patterns (merit.core.tables.typing_sql.
    _with_formats): those without ``%z`` give a wall clock in *timezone*, the others an instant."""
    naive = [f for f in formats if "%z" not in f]
    zoned = [f for f in formats if "%z" in f]
    tries = []
    if naive:
        tries.append(local_to_utc(_strptime(text, naive, False), timezone))
    if zoned:
        tries.append(_strptime(text, zoned, True))
    return ibis.coalesce(*tries) if len(tries) > 1 else tries[0]


def strptime_date(text: ir.StringValue, formats: tuple[str, ...]) -> ir.DateValue:
    """*text* read as a date by the ``timestamp_format`` patterns without ``%z`` (a time that is
    not midnight is no date)."""
    naive = [f for f in formats if "%z" not in f]
    if not naive:
        return ibis.null("date")
    wall = _strptime(text, naive, False)
    return ibis.cases((wall == wall.truncate("D"), wall.date()), else_=ibis.null("date"))


def read_file(con, path: str, name: str, fmt: str, encoding: str = "utf-8", delimiter: str = ",") -> ibis.Table:
    """A file read by the engine itself, as the table *name*: CSV with every column as text
    (header, fields separated by *delimiter*, RFC 4180 quoting, a quoted value may span lines),
    Parquet with its own types.
    Spark: its readers (the file or glob must be readable by every executor); DuckDB: its
    readers; PostgreSQL reads no files (the file loader's tables are copied onto it)."""
    kind = con.name
    if kind == SPARK:
        reader = con._session.read
        if fmt == "csv":
            frame = reader.options(header=True, inferSchema=False, multiLine=True, mode="FAILFAST", escape='"',
                                   encoding=encoding, sep=delimiter).csv(path)
        else:
            frame = reader.parquet(path)
        frame.createOrReplaceTempView(name)
        return con.table(name)
    if kind == DUCKDB:
        if fmt == "csv":
            return con.read_csv(path, table_name=name, all_varchar=True, header=True, encoding=encoding,
                                delim=delimiter)
        return con.read_parquet(path, table_name=name)
    raise MeritError(f"the {kind} engine does not read files: {path}",
                     expected="a table of the database (sources: {TABLE: {table: schema.name}})")


@ibis.udf.scalar.builtin(name="convert_to")
def _pg_utf8_bytes(text: str, encoding: str) -> dt.binary:  # type: ignore[valid-type]
    """PostgreSQL's convert_to(text, 'UTF8'): the text's bytes (bytea orders byte by byte)."""


def _collate_c(value: ir.StringValue) -> ir.BinaryValue:
    return _pg_utf8_bytes(value, "UTF8")


def engine_errors(con) -> tuple[type[BaseException], ...]:
    """The exceptions *con*'s engine raises for a query it refuses (a table it does not have,
    one the user may not read), beside Ibis's own."""
    kind = con.name
    found: list[type[BaseException]] = [ibis.common.exceptions.IbisError, ibis.common.exceptions.TableNotFound]
    if kind == DUCKDB:
        import duckdb

        found.append(duckdb.Error)
    elif kind == POSTGRES:
        import psycopg

        found.append(psycopg.Error)
    elif kind == SPARK:
        from pyspark.errors import PySparkException

        found.append(PySparkException)
    return tuple(found)


# ------------------------------------------------------------ identity of inputs
def table_identity(con, name: str) -> dict:
    """What identifies the contents of the engine's table or view *name* for the manifest: its
    row count and a checksum of its rows, computed where the table is (an order-independent sum
    of a 64-bit hash of each row: the engine's own hash, so comparable between runs on the same
    engine, not between engines)."""
    kind = con.name
    # quoted as Ibis quotes it when it reads the table (merit.core.backend_tables.relation)
    quote = (lambda part: "`" + part.replace("`", "``") + "`") if kind == SPARK else (
        lambda part: '"' + part.replace('"', '""') + '"')
    name = ".".join(quote(part) for part in name.split("."))
    if kind == SPARK:
        row = con._session.sql(f"SELECT count(*) AS n, sum(CAST(xxhash64(*) AS DECIMAL(38, 0))) AS s "
                               f"FROM {name}").collect()[0]
        return {"rows": int(row["n"]), "checksum": f"xxhash64-sum:{row['s'] or 0}"}
    if kind == POSTGRES:
        with con.con.cursor() as cur:
            cur.execute(f"SELECT count(*), sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric) "
                        f"FROM {name} AS t")
            n, s = cur.fetchone()
        return {"rows": int(n), "checksum": f"md5-64-sum:{s or 0}"}
    n, s = con.raw_sql(f"SELECT count(*), sum(hash(t)::HUGEINT) FROM {name} AS t").fetchone()
    return {"rows": int(n), "checksum": f"hash-sum:{s or 0}"}
