"""Typing on the backend: a source column's value (its cleaned text, or a native value of the
table) turned into the contract type's value as Ibis expressions the backend runs, NULL when
empty or not written the way the contract says.

The values are those the file loader gives for the same text (merit.core.tables.typing_sql;
tests/test_backend_tables.py compares them): a text is accepted exactly when the contract's
regular expressions accept it (INT_RE, FLOAT_RE, DATE_RE, TS_RE), and a timestamp or date is
built from its parts once they are checked, so no engine's own lenient or strict cast decides.
Casts run only on text already checked (a cast that fails is an error on Spark in ANSI mode
and on PostgreSQL, not a NULL)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from merit.core.backends import portability
from merit.core.backends.strptime_parts import days_in_month, offset_minutes, when
from merit.core.contract import Column
from merit.core.tables.typing_sql import DATE_RE, FALSE_WORDS, FLOAT_RE, INT_RE, TRUE_WORDS

# TS_RE with its parts as groups: date (1-3), hour, minute (4, 5), second (6), fraction (7), offset (8).
TS_PARTS = (r"^([0-9]{4})-([0-9]{2})-([0-9]{2})"
            r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?)?"
            r" ?(Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?$")
_I64_MAX, _I64_MIN = "9223372036854775807", "9223372036854775808"  # (the digits, without the sign)
# A float written with a decimal exponent beyond these is not finite (or is zero) on every engine:
# not cast (PostgreSQL's cast fails on it), but refused (too large) or read as 0 (too small).
_EXP_TOO_LARGE = 309
_EXP_TOO_SMALL = -400


def clean(value: ir.StringValue) -> ir.StringValue:
    """The text trimmed of spaces, NULL when nothing is left (merit.core.tables.sql.clean)."""
    spaced = value.startswith(" ") | value.endswith(" ")
    return ibis.cases((spaced, value.re_replace("^ +| +$", "")), else_=value).nullif("")


def case_of(col: Column) -> str:
    if col.allowed and all(a == a.upper() for a in col.allowed):
        return "upper"
    return "lower"


def typed_text(col: Column, s: ir.StringValue, zone: str, formats: tuple[str, ...] = ()) -> ir.Value:
    """The value of contract column *col* from the cleaned text *s*."""
    t = col.type
    if t == "string":
        return s
    if t == "enum":
        return s.upper() if case_of(col) == "upper" else s.lower()
    if t == "int":
        return int_from_text(s)
    if t == "float":
        return float_from_text(s)
    if t == "bool":
        low = s.lower()
        return ibis.cases((low.isin(TRUE_WORDS), True), (low.isin(FALSE_WORDS), False), else_=ibis.null("boolean"))
    if t == "date":
        value = date_from_text(s)
        return value if not formats else value.coalesce(portability.strptime_date(s, formats))
    if t == "timestamp":
        value = timestamp_from_text(s, zone)
        return value if not formats else value.coalesce(portability.strptime_utc(s, formats, zone))
    if t == "list":
        items = s.split(";").map(lambda x: x.re_replace("^[ \t\n]+|[ \t\n]+$", ""))
        return items.filter(lambda x: x != "")
    raise AssertionError(t)


def int_from_text(s: ir.StringValue) -> ir.IntegerValue:
    digits = s.re_replace(r"^[+-]?0*|\.0*$", "")
    limit = ibis.cases((s.startswith("-"), _I64_MIN), else_=_I64_MAX)
    fits = (digits.length() < 19) | ((digits.length() == 19) & (digits <= limit))
    return when(s.re_search(INT_RE), when(fits, s.re_replace(r"\.0*$", "").cast("int64")))


def float_from_text(s: ir.StringValue) -> ir.FloatingValue:
    """A float as DuckDB's cast reads it (correctly rounded: every engine's is), finite."""
    exp = _exponent(s)
    value = when(exp <= _EXP_TOO_LARGE, when(exp >= _EXP_TOO_SMALL, s.cast("float64")))
    zero = ibis.cases((s.startswith("-"), -0.0), else_=0.0)
    value = ibis.cases((exp < _EXP_TOO_SMALL, zero), else_=value)
    finite = ~(value.isnan() | value.isinf())
    return when(s.re_search(FLOAT_RE), when(finite, value))


def _exponent(s: ir.StringValue) -> ir.IntegerValue:
    """About the decimal exponent of the number *s* (written as FLOAT_RE says): the written
    exponent plus the digits before the point (less the zeros after it); a written exponent
    of more than 6 digits counts as ±10^6."""
    written = s.re_extract(r"[eE]([+-]?[0-9]+)$", 1).nullif("")
    sign = ibis.cases((written.startswith("-"), -1), else_=1)
    magnitude = written.re_replace(r"^[+-]?0*", "")
    exp = ibis.cases((written.isnull(), 0), (magnitude == "", 0),
                     (magnitude.length() > 6, sign * 1_000_000),
                     else_=sign * magnitude.cast("int64"))
    mantissa = s.re_replace(r"^[+-]|[eE].*$", "")
    whole = mantissa.re_replace(r"\..*$", "").re_replace(r"^0+", "")
    zeros = mantissa.re_extract(r"\.(0*)", 1).nullif("").length().fill_null(0)
    shift = ibis.cases((whole.length() > 0, whole.length()), else_=-zeros)
    return exp + shift.cast("int64")


def _parts(s: ir.StringValue, group: int) -> ir.StringValue:
    return s.re_extract(TS_PARTS, group).nullif("")


def _valid_date(s: ir.StringValue) -> ir.BooleanValue:
    """Whether the first 10 characters (YYYY-MM-DD, digits checked) are a day of the calendar."""
    y, m, d = (s.substr(a, n).cast("int64") for a, n in ((0, 4), (5, 2), (8, 2)))
    return (m >= 1) & (m <= 12) & (d >= 1) & (d <= days_in_month(y, m)) & (y >= 1)


def date_from_text(s: ir.StringValue) -> ir.DateValue:
    return when(s.re_search(DATE_RE), when(_valid_date(s), s.cast("date")))


def timestamp_from_text(s: ir.StringValue, zone: str) -> ir.TimestampValue:
    """ISO 8601 text: naive wall times are local to *zone*; offsets are honoured; the naive UTC
    instant, microseconds (further digits are dropped, as DuckDB does)."""
    hour, minute, second = (_parts(s, g).fill_null("00") for g in (4, 5, 6))
    h, mi, sec = (p.cast("int64") for p in (hour, minute, second))
    fraction = _parts(s, 7).fill_null("").rpad(6, "0").substr(0, 6)
    offset = _parts(s, 8)
    midnight24 = (h == 24) & (mi == 0) & (sec == 0) & (fraction == "000000")
    valid = _valid_date(s) & (((h <= 23) & (mi <= 59) & (sec <= 59)) | midnight24)
    valid = valid & (offset.isnull() | _parts(s, 6).notnull())  # (DuckDB reads an offset only after seconds)
    text = s.substr(0, 10) + " " + ibis.cases((midnight24, "00"), else_=hour) + ":" + minute + ":" + second
    wall = text.cast("timestamp") + fraction.cast("int64").as_interval("us")
    wall = ibis.cases((midnight24, wall + ibis.interval(days=1)), else_=wall)
    instant = wall - offset_minutes(offset).as_interval("m")
    value = ibis.cases((offset.isnull(), portability.local_to_utc(wall, zone)), else_=instant)
    return when(s.re_search(TS_PARTS), when(valid, value))


# ------------------------------------------------------------------ native values
def fits_natively(ctype: str, dtype) -> bool:
    """Whether a native value of type *dtype* is taken as it is for contract type *ctype*
    (as Parquet's native values are: merit.core.tables.read_parquet.NATIVE)."""
    if ctype == "int":
        return dtype.is_integer()
    if ctype == "float":
        return dtype.is_integer() or dtype.is_floating()
    if ctype == "bool":
        return dtype.is_boolean()
    if ctype in ("date", "timestamp"):
        return dtype.is_date() or dtype.is_timestamp()
    return False


def typed_native(col: Column, v: ir.Value, zone: str, instant: bool) -> ir.Value:
    """The value of *col* from a native value that fits it (:func:`fits_natively`); *instant*:
    a timestamp that is an instant (PostgreSQL's ``timestamptz``, Spark's ``TIMESTAMP``), not a
    wall-clock time (read in *zone*, as text is)."""
    t, dtype = col.type, v.type()
    if t == "int":
        return v.cast("int64")
    if t == "float":
        f = v.cast("float64")
        return when(~(f.isnan() | f.isinf()), f)
    if t == "bool":
        return v
    if dtype.is_date():
        return v if t == "date" else portability.local_to_utc(v.cast("timestamp"), zone)
    if t == "date":
        return portability.wall_clock(portability.utc_of_instant(v), zone).date() if instant else v.date()
    return portability.utc_of_instant(v) if instant else portability.local_to_utc(v, zone)
