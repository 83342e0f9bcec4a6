"""``timestamp_format`` patterns read with regular expressions, for engines without DuckDB's
non-raising ``try_strptime``.

A strptime pattern becomes one anchored regular expression with a group per field; the fields,
checked (a month 1-12, a day of that month, an hour 0-23, ...), build the time from its parts, so
a text the pattern does not read gives NULL, never an error (PostgreSQL's ``to_timestamp`` raises
on a bad value, Spark's parser reads other things than DuckDB's).  What reads is what DuckDB's
``try_strptime`` reads, which the file loader uses (tests/test_backend_tables.py compares them):

- a number takes up to its width of digits (%Y 4, %f 6, the others 2), greedily and without
  backtracking: exactly its width when another number follows with nothing between;
- a space matches one or more white-space characters; white space around the text is allowed;
- %y is 2000-2068 for 00-68 and 1969-1999 for 69-99; %I is 1-12 and %p (AM/PM in any case)
  makes it a 24-hour clock; %b, %B, %a, %A are English names in any case (%b, %a the three-letter
  abbreviations; the weekday is not checked against the date);
- %z is ``+08``, ``+0800`` or ``+08:00`` (not ``Z``): the time is then an instant;
- a field not in the pattern is that of 1900-01-01 00:00:00.

The other directives (%j, %Z, %U, ...) are refused with the list of those read.  The module
names no engine: :mod:`merit.core.backends.portability` decides where it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from merit.core.errors import MeritError

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# number directives: their widest number of digits ('-' as in %-d: the same, GNU's unpadded form)
WIDTH = {"Y": 4, "y": 2, "m": 2, "d": 2, "H": 2, "I": 2, "M": 2, "S": 2, "f": 6}
_NAMES = {"b": [m[:3] for m in MONTHS], "B": MONTHS, "a": [d[:3] for d in WEEKDAYS], "A": WEEKDAYS}
_TOKENS = re.compile(r"%-?.|\s+|[^%\s]+", re.S)
READ = sorted(f"%{d}" for d in [*WIDTH, *_NAMES, "p", "z", "%"])


class PatternError(MeritError):
    """A ``timestamp_format`` directive the engine cannot read (its caller says where it was given)."""


@dataclass
class Pattern:
    """A strptime pattern as a regular expression: *groups* maps a field (a directive's letter)
    to its group number."""

    regex: str
    groups: dict[str, int] = field(default_factory=dict)


def _literal(text: str) -> str:
    return "".join(c if c.isalnum() or not c.isascii() else "\\" + c for c in text)


def _directive(token: str) -> str | None:
    """The letter of a directive token ('%-d' -> 'd'), None for other text."""
    return token[-1] if token.startswith("%") and len(token) > 1 else None


def compile_pattern(fmt: str, engine_name: str) -> Pattern:
    """*fmt* as a :class:`Pattern`; a directive this module does not read is an error that
    names *engine_name* (the engine it was to be read on)."""
    tokens = _TOKENS.findall(fmt)
    parts, groups = [], {}
    for i, token in enumerate(tokens):
        letter = _directive(token)
        if letter is None:
            parts.append(r"\s+" if token.isspace() else _literal(token))
            continue
        if letter == "%":
            parts.append("%")
            continue
        if letter not in WIDTH and letter not in _NAMES and letter not in "pz":
            raise PatternError(f"the timestamp_format directive '{token}' cannot be read on {engine_name}",
                               expected=f"one of {', '.join(READ)}")
        if letter in WIDTH:
            following = _directive(tokens[i + 1]) if i + 1 < len(tokens) else None
            width = WIDTH[letter]
            digits = f"{{{width}}}" if following in WIDTH and letter != "f" else f"{{1,{width}}}"
            parts.append(f"([0-9]{digits})")
        elif letter in _NAMES:  # (a name: letters here, checked against the names in read())
            parts.append("([A-Za-z]{3})" if letter in "ba" else "([A-Za-z]+)")
        elif letter == "p":
            parts.append("([AaPp][Mm])")
        else:  # z
            parts.append("([+-][0-9]{2}(?::?[0-9]{2})?)")
        groups[letter] = len(groups) + 1
    return Pattern(r"^\s*" + "".join(parts) + r"\s*$", groups)


def when(cond: ir.BooleanValue, value: ir.Value) -> ir.Value:
    """*value* where *cond* holds, else NULL; *value* is evaluated only there (CASE)."""
    return ibis.cases((cond, value), else_=ibis.null(value.type()))


def days_in_month(y: ir.IntegerValue, m: ir.IntegerValue) -> ir.IntegerValue:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return ibis.cases((m == 2, ibis.cases((leap, 29), else_=28)), (m.isin([4, 6, 9, 11]), 30), else_=31)


def offset_minutes(offset: ir.StringValue) -> ir.IntegerValue:
    """'Z', '+08', '+0800', '-08:30' -> minutes east of UTC (0 for NULL)."""
    digits = offset.re_replace("[^0-9]", "")
    hours = ibis.cases((digits.length() >= 2, digits.substr(0, 2)), else_="0").cast("int64")
    minutes = ibis.cases((digits.length() == 4, digits.substr(2, 2)), else_="0").cast("int64")
    sign = ibis.cases((offset.startswith("-"), -1), else_=1)
    return (sign * (hours * 60 + minutes)).fill_null(0)


def _is_name(name: ir.StringValue, names: list[str]) -> ir.BooleanValue:
    """Whether *name* is one of *names*, in any case (a search in one text: the expressions stay
    short, where a CASE over the names would repeat the text's extraction once a name)."""
    return ibis.literal("|" + "|".join(names) + "|").find("|" + name.lower() + "|") >= 0


def _month_number(name: ir.StringValue) -> ir.IntegerValue:
    """1-12 for a month's name or abbreviation (checked by :func:`_is_name`): the place of its
    first three letters among the months'."""
    first = ibis.literal("".join(m[:3] for m in MONTHS))
    return (first.find(name.lower().substr(0, 3)) // 3 + 1).cast("int64")


def _padded(number: ir.IntegerValue, width: int) -> ir.StringValue:
    return number.cast("string").lpad(width, "0")


def read(text: ir.StringValue, fmt: str, engine_name: str) -> ir.TimestampValue:
    """*text* read by the pattern *fmt*: the wall-clock time it writes, or, when *fmt* has %z,
    the naive UTC instant; NULL when it does not read."""
    pattern = compile_pattern(fmt, engine_name)

    def part(letter: str) -> ir.StringValue | None:
        group = pattern.groups.get(letter)
        return text.re_extract(pattern.regex, group).nullif("") if group else None

    def number(letter: str, default: int) -> ir.IntegerValue:
        found = part(letter)
        return ibis.literal(default, "int64") if found is None else found.cast("int64")

    if "y" in pattern.groups:
        yy = number("y", 0)
        year = ibis.cases((yy < 69, yy + 2000), else_=yy + 1900)
    else:
        year = number("Y", 1900)
    month = number("m", 1)
    for letter in ("b", "B"):
        if letter in pattern.groups:
            month = _month_number(part(letter))
    day, minute, second = number("d", 1), number("M", 0), number("S", 0)
    hour = number("I", 0) if "I" in pattern.groups else number("H", 0)
    named = [_is_name(part(letter), _NAMES[letter]) for letter in _NAMES if letter in pattern.groups]
    valid = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days_in_month(year, month)) \
        & (hour <= 23) & (minute <= 59) & (second <= 59)
    for check in named:  # (first: a month's number is read only from a month's name)
        valid = check & valid
    if "I" in pattern.groups:
        valid = valid & (hour >= 1) & (hour <= 12)
    if "p" in pattern.groups:
        hour = hour % 12 + ibis.cases((part("p").lower() == "pm", 12), else_=0)
    text_form = (_padded(year, 4) + "-" + _padded(month, 2) + "-" + _padded(day, 2) + " "
                 + _padded(hour, 2) + ":" + _padded(minute, 2) + ":" + _padded(second, 2))
    wall = text_form.cast("timestamp")
    if "f" in pattern.groups:
        wall = wall + part("f").rpad(6, "0").cast("int64").as_interval("us")
    if "z" in pattern.groups:
        wall = wall - offset_minutes(part("z")).as_interval("m")
    return when(text.re_search(pattern.regex), when(valid, wall))
