"""The words of the loader's problems: what each type of value must look like, and the
message of each failed check (the file, line and field come with it).  The same check failing
in many records of one column is one problem: how many, the first few lines, a few example
values (quoted with control characters escaped), what was expected."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from merit.core.contract import Column, TableSchema
from merit.core.errors import DataError
from merit.core.tables.checks import Check
from merit.core.tables.model import SourceFile

EXPECTED = {
    "int": "a whole number, e.g. 3",
    "float": "a number, e.g. 2.5",
    "bool": "true/false, 1/0 or yes/no",
    "timestamp": "an ISO 8601 timestamp, e.g. 2026-08-20 20:00 or 2026-08-20T20:00:00+08:00",
    "date": "a date as YYYY-MM-DD, e.g. 2026-08-20",
}
TYPE_WORD = {"int": "whole number", "float": "number", "bool": "boolean", "timestamp": "timestamp",
             "date": "date"}  # (plural: + 's')

NUL_EXPECTED = ("text without NUL characters (a NUL usually means a damaged or binary file: "
                "export the table again)")
LINES_SHOWN = 5  # a problem names the first few lines where it occurs
EXAMPLES_SHOWN = 3  # and quotes the first few distinct values
VALUE_SHOWN = 60  # characters of a value quoted (a longer one is cut, with '...')


def fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def range_text(col: Column) -> str:
    if col.min is not None and col.max is not None:
        return f"a value from {fmt_num(col.min)} to {fmt_num(col.max)}"
    if col.min is not None:
        return f"a value of at least {fmt_num(col.min)}"
    return f"a value of at most {fmt_num(col.max)}"


def and_list(items: list) -> str:
    """'2', '2 and 4', '2, 4 and 9'."""
    words = [str(x) for x in items]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def shown(value) -> str:
    """*value* as a message may show it: control characters (a NUL would cut the message on a
    terminal, an escape sequence would act) written as escapes, a long value cut."""
    text = str(value)
    if len(text) > VALUE_SHOWN:
        text = text[:VALUE_SHOWN - 3] + "..."
    return "".join(repr(ch)[1:-1] if unicodedata.category(ch) == "Cc" else ch for ch in text)


def quoted(value) -> str:
    return f"'{shown(value)}'"


def where_text(count: int, lines: list[int]) -> str:
    """'on line 4', 'on lines 2 and 5', 'first on lines 2, 3, 4, 5 and 6' (*lines*: one per
    occurrence shown; two ids of one list cell share a line)."""
    shown_all = count <= len(lines)
    lines = list(dict.fromkeys(lines))
    if shown_all:
        return f"on line{'s' if len(lines) > 1 else ''} {and_list(lines)}"
    return f"first on line{'s' if len(lines) > 1 else ''} {and_list(lines)}"


@dataclass
class Group:
    """Check *check* failing in *count* records (or list items), the first few of them as
    *records*: ``line``, ``value`` (the column's text), and per kind ``other`` (order: the
    earlier column's text), ``first`` (dup: the line of the key's first record), ``hint``
    (ref: a did-you-mean)."""

    check: Check
    count: int
    records: list[dict]
    hint: str = ""  # parse: the timestamp_format to add (merit.core.tables.date_patterns)

    @property
    def lines(self) -> list[int]:
        return [r["line"] for r in self.records]

    def examples(self, key: str = "value") -> list:
        """The first few distinct values (of the records' *key*)."""
        return list(dict.fromkeys(r[key] for r in self.records if r.get(key) is not None))[:EXAMPLES_SHOWN]

    def example_text(self, show=quoted) -> str:
        """"e.g. 'x', 'y'" (with the did-you-mean of each, for references)."""
        hints = {r["value"]: r.get("hint", "") for r in self.records}
        return "e.g. " + ", ".join(show(v) + hints.get(v, "") for v in self.examples())


def nul_problem(src: SourceFile, column: str, count: int, lines: list[int]) -> DataError:
    """*count* values of *column* hold a NUL character, the first on *lines*.  (Never quoted:
    a terminal would cut the message at the NUL.)"""
    values = "1 value contains" if count == 1 else f"{count:,} values contain"
    return DataError(f"{values} a NUL character (a zero byte), {where_text(count, lines)}", file=src.display,
                     line=lines[0], field=column, expected=NUL_EXPECTED, count=count)


def problem(schema: TableSchema, src: SourceFile, g: Group) -> DataError:
    """The one problem of check *g.check* failing in *g.count* records: in one record, as that
    record's problem; in several, with the count, the first lines and examples."""
    ch, col = g.check, schema.column(g.check.column)
    kw = dict(file=src.display, line=g.lines[0], field=ch.column, count=g.count)
    message, expected = (_one if g.count == 1 else _many)(schema, col, g)
    return DataError(message, expected=expected, **kw)


def _one(schema: TableSchema, col: Column, g: Group) -> tuple[str, str]:
    """The message and expectation of a check failing in one record."""
    ch, r = g.check, g.records[0]
    value = r["value"]
    if ch.kind == "empty":
        return f"{ch.column} is empty: every row needs {_an_id(schema, col)}", f"a non-empty {ch.column}"
    if ch.kind == "parse":
        return f"{quoted(value)} is not a valid {TYPE_WORD[col.type]}", EXPECTED[col.type] + g.hint
    if ch.kind == "enum":
        return f"{quoted(value)} is not an allowed {ch.column}", _enum_expected(col)
    if ch.kind == "pattern":
        return f"{quoted(value)} is not a valid {ch.column}", col.pattern_text or col.pattern
    if ch.kind == "range":
        return f"{ch.column} {shown(value)} is out of range", range_text(col)
    if ch.kind == "dup":
        return (f"duplicate {ch.column} {quoted(value)} (first used on line {r.get('first')})",
                f"each {ch.column} once")
    if ch.kind == "order":
        return (f"{ch.column} {shown(value)} is before {ch.other} {shown(r.get('other'))}",
                f"{ch.column} at or after {ch.other}")
    if ch.kind == "ref":
        target, tcol = ch.other.split(".")
        what = f"is not an agent_id in {target}" if target == "agents" else f"is not a {tcol} in {target}"
        return f"{ch.column} {quoted(value)} {what}{r.get('hint', '')}", _ref_expected(target, tcol)
    if ch.kind == "list_ref":
        target, tcol = ch.other.split(".")
        what = f"an agent_id in {target}" if target == "agents" else f"a {tcol} in {target}"
        return (f"{ch.column} names {quoted(value)}, which is not {what}{r.get('hint', '')}",
                f"';'-separated ids that all appear in {target}.{tcol}")
    raise AssertionError(ch.kind)


def _many(schema: TableSchema, col: Column, g: Group) -> tuple[str, str]:
    """The message and expectation of a check failing in several records."""
    ch, n, at = g.check, g.count, where_text(g.count, g.lines)
    if ch.kind == "empty":
        return (f"{ch.column} is empty in {n:,} rows, {at}: every row needs {_an_id(schema, col)}",
                f"a non-empty {ch.column}")
    if ch.kind == "parse":
        return (f"{n:,} values are not valid {TYPE_WORD[col.type]}s, {g.example_text()}, {at}",
                EXPECTED[col.type] + g.hint)
    if ch.kind == "enum":
        return f"{n:,} values are not allowed for {ch.column}, {g.example_text()}, {at}", _enum_expected(col)
    if ch.kind == "pattern":
        return (f"{n:,} values are not valid for {ch.column}, {g.example_text()}, {at}",
                col.pattern_text or col.pattern)
    if ch.kind == "range":
        return f"{n:,} values of {ch.column} are out of range, {g.example_text(shown)}, {at}", range_text(col)
    if ch.kind == "dup":
        r = g.records[0]
        return (f"{n:,} rows repeat a {ch.column} of an earlier row, e.g. {quoted(r['value'])} "
                f"(first used on line {r.get('first')}), {at}", f"each {ch.column} once")
    if ch.kind == "order":
        r = g.records[0]
        return (f"{n:,} rows have {ch.column} before {ch.other}, e.g. {shown(r['value'])} before "
                f"{shown(r.get('other'))}, {at}", f"{ch.column} at or after {ch.other}")
    if ch.kind in ("ref", "list_ref"):
        target, tcol = ch.other.split(".")
        what = f"agent_ids in {target}" if target == "agents" else f"{tcol}s in {target}"
        head = f"{n:,} values of {ch.column} are" if ch.kind == "ref" else f"{ch.column} names {n:,} ids that are"
        expected = (_ref_expected(target, tcol) if ch.kind == "ref"
                    else f"';'-separated ids that all appear in {target}.{tcol}")
        return f"{head} not {what}, {g.example_text()}, {at}", expected
    raise AssertionError(ch.kind)


def _an_id(schema: TableSchema, col: Column) -> str:
    return "an id" if schema.key == col.name or col.name.endswith("_id") else "a value"


def _enum_expected(col: Column) -> str:
    return f"one of {', '.join(col.allowed)} (or empty)"


def _ref_expected(target: str, tcol: str) -> str:
    return "an agent listed in agents (or empty)" if target == "agents" else f"a {tcol} listed in {target}"
