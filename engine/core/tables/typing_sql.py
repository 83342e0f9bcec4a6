"""Typing: the SQL that turns a cell's text (or a native Parquet value) into the contract type's
value, NULL when empty or not written the way the contract says; and local wall times to UTC."""

from __future__ import annotations

import datetime as _dt

from merit.core.contract import Column
from merit.core.tables.sql import sql_str

# What a value of each type must look like (DuckDB's casts alone are too lenient:
# they round '3.5' to an integer and read '0x10' or '1_000').  Typing applies
# cheaper tests that agree with these (see typing_sql); tests/test_tables.py checks
# the agreement exhaustively.
INT_RE = r"^[+-]?[0-9]+(\.0*)?$"
FLOAT_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TS_RE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
         r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?"
         r" ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?$")
_DIGIT = "[0-9]"
SPACED_OFFSET_GLOB = f"{_DIGIT * 4}-{_DIGIT * 2}-{_DIGIT * 2} {_DIGIT * 2}:{_DIGIT * 2}:{_DIGIT * 2} [-+]{_DIGIT * 4}"
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")

SQL_TYPES = {"string": "VARCHAR", "enum": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN",
             "timestamp": "TIMESTAMP", "date": "DATE", "list": "VARCHAR[]"}


def sql_type(ctype: str) -> str:
    return SQL_TYPES[ctype]


class LocalTime:
    """SQL turning a naive local wall time (the session time zone, the cycle's) into the
    naive UTC instant.

    DuckDB's conversion (ICU) is exact but costs about as much as parsing the
    timestamp.  Around the cycle's period (two years either side), the zone's
    offset is sampled hourly through that same conversion; within each stretch
    of constant offset (less a day at either end, so that daylight-saving gaps and
    overlaps are left to ICU) the conversion is an addition.  Anything else goes
    through ICU.
    """

    MARGIN_US = 86_400_000_000  # one day

    def __init__(self, con, start: _dt.date, end: _dt.date):
        lo = _dt.datetime(start.year - 2, 1, 1)
        hi = _dt.datetime(end.year + 3, 1, 1)
        zone = con.raw_sql("SELECT current_setting('TimeZone')").fetchone()[0]
        runs = _offset_runs(con, zone, lo, hi)
        mid = (_dt.datetime(start.year, start.month, start.day) - _dt.datetime(1970, 1, 1)) // _dt.timedelta(
            microseconds=1)
        safe = [(a + self.MARGIN_US, b - self.MARGIN_US, off) for a, b, off in runs if b - a > 2 * self.MARGIN_US]
        # Most records are near the period: try the stretches nearest to it first.
        safe.sort(key=lambda r: 0 if r[0] <= mid <= r[1] else min(abs(r[0] - mid), abs(r[1] - mid)))
        self.stretches = safe

    @staticmethod
    def _ts(us: int) -> str:
        return f"make_timestamp({us})"

    def to_utc(self, v: str) -> str:
        icu = f"make_timestamp(epoch_us(CAST({v} AS TIMESTAMPTZ)))"
        if not self.stretches:
            return icu
        whens = " ".join(
            f"WHEN {v} BETWEEN {self._ts(a)} AND {self._ts(b)} THEN {v} + INTERVAL '{off} microseconds'"
            if off else f"WHEN {v} BETWEEN {self._ts(a)} AND {self._ts(b)} THEN {v}"
            for a, b, off in self.stretches)
        return f"CASE {whens} ELSE {icu} END"


Typing = tuple[dict[str, str], str]  # ({suffix: SQL computed first}, SQL of the typed value)


def typing_sql(col: Column, s: str, kind: str, local: LocalTime, formats: tuple[str, ...] = ()) -> Typing:
    """How to type one column: SQL computed first (``{suffix: expr}``, over *s*) and the typed
    value (over *s* and those, referenced as ``s + suffix``).  NULL when empty or unparsable.
    *formats*: the source's ``timestamp_format`` patterns, tried on timestamps and dates
    written as text that are not ISO 8601 (see :func:`_with_formats`).

    *s* holds the cleaned string (*kind* ``VARCHAR``) or a native Parquet value.
    Casts are tried first; a value a cast accepts is kept only if it is written
    the way the contract says (DuckDB's casts alone are too lenient: they round
    '3.5' to an integer, read '0x10', '1_000', 'nan', trailing junk after a
    date, and drop a timestamp's offset when casting to TIMESTAMP).  Values
    written canonically pass a cheap test; only the others meet a regular
    expression.
    """
    if kind != "VARCHAR":  # native Parquet values (see merit.core.tables.read_parquet.NATIVE)
        return _native(col.type, s, kind, local)
    if col.type == "enum":
        return {}, f"upper({s})" if _case_of(col) == "upper" else f"lower({s})"
    typing = _FROM_TEXT[col.type](s, local)
    if formats and col.type in ("timestamp", "date"):
        return _with_formats(col.type, s, typing, formats, local)
    return typing


def _case_of(col: Column) -> str:
    if col.allowed and all(a == a.upper() for a in col.allowed):
        return "upper"
    return "lower"


def _native(t: str, s: str, kind: str, local: LocalTime) -> Typing:
    if t == "int":
        return {}, f"TRY_CAST({s} AS BIGINT)"
    if t == "float":
        return {"_d": f"CAST({s} AS DOUBLE)"}, f"CASE WHEN isfinite({s}_d) THEN {s}_d END"
    if t == "bool":
        return {}, s
    if t == "date":
        return {"_d": f"CAST({s} AS DATE)"}, f"CASE WHEN isfinite({s}_d) THEN {s}_d END"
    if t == "timestamp":
        if "TIME ZONE" in kind:
            return {}, f"CASE WHEN isfinite({s}) THEN make_timestamp(epoch_us({s})) END"
        return {"_v": f"CAST({s} AS TIMESTAMP)"}, \
            f"CASE WHEN isfinite({s}_v) THEN {local.to_utc(f'{s}_v')} END"
    raise AssertionError((t, kind))


def _string_from_text(s: str, local: LocalTime) -> Typing:
    return {}, s


def _int_from_text(s: str, local: LocalTime) -> Typing:
    # '12' round-trips through BIGINT unchanged; '+3', '3.0', '007' meet the regex.
    return {"_i": f"TRY_CAST({s} AS BIGINT)"}, (
        f"CASE WHEN CAST({s}_i AS VARCHAR) = {s} THEN {s}_i "
        f"WHEN regexp_full_match({s}, {sql_str(INT_RE)}) THEN {s}_i END")


def _float_from_text(s: str, local: LocalTime) -> Typing:
    # The cast also reads 'nan', 'inf', 'infinity' (not finite), '1_000' and '+-1'; nothing
    # else it reads is refused by the regex (tests/test_tables.py checks this exhaustively).
    # (Numbers too big for a double, '1e999', are refused too.)
    return {"_d": f"TRY_CAST({s} AS DOUBLE)"}, (
        f"CASE WHEN isfinite({s}_d) AND NOT contains({s}, '_') AND NOT starts_with({s}, '+-') "
        f"THEN {s}_d END")


def _bool_from_text(s: str, local: LocalTime) -> Typing:
    return {"_l": f"lower({s})"}, (
        f"CASE WHEN {s}_l IN ({', '.join(map(sql_str, TRUE_WORDS))}) THEN true "
        f"WHEN {s}_l IN ({', '.join(map(sql_str, FALSE_WORDS))}) THEN false END")


def _date_from_text(s: str, local: LocalTime) -> Typing:
    # A date is exactly YYYY-MM-DD when it prints back as itself in 10 characters.
    return {"_d": f"TRY_CAST({s} AS DATE)"}, (
        f"CASE WHEN length({s}) = 10 AND CAST({s}_d AS VARCHAR) = {s} THEN {s}_d END")


def _timestamp_from_text(s: str, local: LocalTime) -> Typing:
    # Canonical local times ('2026-08-20', '2026-08-20 20:00', '2026-08-20 20:00:00') are a
    # prefix of how their TIMESTAMP prints; the rest (T, fractions, offsets) meet the regex
    # and DuckDB's TIMESTAMPTZ cast, which honours offsets (naive: session zone).
    # (The cast only where the length fits: a cast that fails, as on '... +0800', costs ten
    # times one that succeeds.)
    return {"_v": f"TRY_CAST(CASE WHEN length({s}) IN (10, 16, 19) THEN {s} END AS TIMESTAMP)",
            "_o": _spaced_offset(s)}, (
        f"CASE WHEN length({s}) IN (10, 16, 19) AND {s}_v < TIMESTAMP '10000-01-01' "
        f"AND starts_with(CAST({s}_v AS VARCHAR), {s}) THEN {local.to_utc(f'{s}_v')} "
        f"WHEN {s}_o IS NOT NULL THEN make_timestamp(epoch_us({s}_o)) "
        f"WHEN regexp_full_match({s}, {sql_str(TS_RE)}) "
        f"THEN make_timestamp(epoch_us({_zoned(s)})) END")


def _spaced_offset(s: str) -> str:
    # '2026-06-28 00:56:41 +0800', as helpdesks export it, read by strptime: half the cost of
    # the regular expression and the cast below.  Only texts of exactly that shape (the GLOB
    # puts the digits where they go: strptime alone would let whitespace stretch anywhere),
    # and only when strptime reads them; the rest, such as 24:00:00, go on to the cast.
    shaped = f"length({s}) = 25 AND {s} GLOB {sql_str(SPACED_OFFSET_GLOB)}"
    return f"try_strptime(CASE WHEN {shaped} THEN {s} END, '%Y-%m-%d %H:%M:%S %z')"


def _zoned(s: str) -> str:
    # DuckDB's cast reads '+0800' or '+08:00' right after the time, not after a space
    # ('2026-06-28 00:56:41 +0800', as Zendesk writes it): the space is dropped first.  (Not
    # "the cast, else without the space": a cast that fails on ' +0800' looks the text up as a
    # time zone name: about half a millisecond a value, 80 minutes a column of 10 million.)
    return f"TRY_CAST(regexp_replace({s}, ' ([+-][0-9:]+|[Zz])$', '\\1') AS TIMESTAMPTZ)"


def _with_formats(ctype: str, s: str, iso: Typing, formats: tuple[str, ...], local: LocalTime) -> Typing:
    """*iso* (the typing of ISO 8601 text), then for what it leaves NULL, DuckDB's strptime
    with *formats*: those with an offset (``%z``) give an instant, the others a local wall
    time (for a date: a local midnight, read as that day)."""
    pre, typed = iso
    zoned = [f for f in formats if "%z" in f]
    naive = [f for f in formats if "%z" not in f]
    pre = dict(pre)
    if naive:  # (a column: the conversion to UTC names it several times)
        pre["_f"] = f"try_strptime({s}, [{', '.join(map(sql_str, naive))}])"
    tries = [typed]
    if ctype == "timestamp":
        if naive:
            tries.append(local.to_utc(f"{s}_f"))
        if zoned:
            # One try_strptime per pattern: with a list of patterns holding %z, DuckDB takes 35
            # times as long on a text it reads, and reads '2026/02/30 20:00 +0800' as 2 March.
            reads = [f"try_strptime({s}, {sql_str(f)})" for f in zoned]
            tries.append(f"make_timestamp(epoch_us(COALESCE({', '.join(reads)})))")
    elif naive:
        tries.append(f"CASE WHEN {s}_f = date_trunc('day', {s}_f) THEN CAST({s}_f AS DATE) END")
    return pre, f"COALESCE({', '.join(tries)})"


def _list_from_text(s: str, local: LocalTime) -> Typing:
    return {}, (f"list_filter(list_transform(string_split({s}, ';'), lambda x: trim(x, ' \t\n')), "
                f"lambda x: x <> '')")


_FROM_TEXT = {"string": _string_from_text, "int": _int_from_text, "float": _float_from_text,
              "bool": _bool_from_text, "date": _date_from_text, "timestamp": _timestamp_from_text,
              "list": _list_from_text}


_RUNS: dict[tuple[str, _dt.datetime, _dt.datetime], list[tuple[int, int, int]]] = {}


def _offset_runs(con, zone: str, lo: _dt.datetime, hi: _dt.datetime) -> list[tuple[int, int, int]]:
    """The offset of *zone* (the session's) in every hour from *lo* to *hi*, as runs of equal
    offsets (first, last sample, offset) in local microseconds: computed where the samples are,
    and once per process (a process that evaluates several workspaces asks again)."""
    key = (zone, lo, hi)
    if key not in _RUNS:
        hours = f"range(TIMESTAMP '{lo:%Y-%m-%d %H:%M:%S}', TIMESTAMP '{hi:%Y-%m-%d %H:%M:%S}', INTERVAL 1 HOUR) t(h)"
        _RUNS[key] = [tuple(run) for run in con.raw_sql(
            f"WITH s AS (SELECT epoch_us(h) AS us, epoch_us(CAST(h AS TIMESTAMPTZ)) - epoch_us(h) AS o FROM {hours}), "
            "c AS (SELECT us, o, CASE WHEN o = lag(o) OVER (ORDER BY us) THEN 0 ELSE 1 END AS starts FROM s), "
            "r AS (SELECT us, o, sum(starts) OVER (ORDER BY us) AS run FROM c) "
            "SELECT min(us), max(us), any_value(o) FROM r GROUP BY run ORDER BY 1").fetchall()]
    return _RUNS[key]
