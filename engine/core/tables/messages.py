"""The words of the loader's problems: what each type of value must look like, and the
message of each failed check (the file, line and field come with it)."""

from __future__ import annotations

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
             "date": "date"}

NUL_EXPECTED = ("text without NUL characters (a NUL usually means a damaged or binary file: "
                "export the table again)")
NUL_LINES_SHOWN = 5  # a NUL problem names the first few lines holding one


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


def nul_problem(src: SourceFile, column: str, count: int, lines: list[int]) -> DataError:
    """*count* values of *column* hold a NUL character, the first on *lines*.  (Never quoted:
    a terminal would cut the message at the NUL.)"""
    values = "1 value contains" if count == 1 else f"{count} values contain"
    where = (f"on line{'s' if len(lines) > 1 else ''} {and_list(lines)}" if count <= len(lines)
             else f"first on lines {and_list(lines)}")
    return DataError(f"{values} a NUL character (a zero byte), {where}", file=src.display, line=lines[0],
                     field=column, expected=NUL_EXPECTED)


def list_reference_problem(src: SourceFile, column: str, target: str, tcol: str, value: str,
                           line: int) -> DataError:
    """An id of the list column *column* that is not in *target*.*tcol*."""
    return DataError(
        f"{column} names '{value}', which is not an agent_id in {target}"
        if target == "agents" else f"{column} '{value}' is not a {tcol} in {target}",
        file=src.display, line=line, field=column,
        expected=f"';'-separated ids that all appear in {target}.{tcol}",
    )


def problem(schema: TableSchema, src: SourceFile, ch: Check, r: dict, lines: dict[int, int]) -> DataError:
    """The message of check *ch* failing on record *r* (its text as ``s_<column>``)."""
    col = schema.column(ch.column)
    value = r[f"s_{ch.column}"]
    kw = dict(file=src.display, line=lines[r["_row"]], field=ch.column)
    if ch.kind == "empty":
        what = "id" if schema.key == ch.column or ch.column.endswith("_id") else "value"
        return DataError(f"{ch.column} is empty: every row needs a{'n' if what == 'id' else ''} {what}",
                         expected=f"a non-empty {ch.column}", **kw)
    if ch.kind == "parse":
        return DataError(f"'{value}' is not a valid {TYPE_WORD[col.type]}", expected=EXPECTED[col.type], **kw)
    if ch.kind == "enum":
        return DataError(f"'{value}' is not an allowed {ch.column}",
                         expected=f"one of {', '.join(col.allowed)} (or empty)", **kw)
    if ch.kind == "pattern":
        return DataError(f"'{value}' is not a valid {ch.column}", expected=col.pattern_text or col.pattern, **kw)
    if ch.kind == "range":
        return DataError(f"{ch.column} {value} is out of range", expected=range_text(col), **kw)
    if ch.kind == "dup":
        first = lines.get(r.get("_first"))
        return DataError(f"duplicate {ch.column} '{value}' (first used on line {first})",
                         expected=f"each {ch.column} once", **kw)
    if ch.kind == "order":
        other = r[f"s_{ch.other}"]
        return DataError(f"{ch.column} {value} is before {ch.other} {other}",
                         expected=f"{ch.column} at or after {ch.other}", **kw)
    if ch.kind == "ref":
        return _reference_problem(ch, value, kw)
    raise AssertionError(ch.kind)


def _reference_problem(ch: Check, value, kw: dict) -> DataError:
    target, tcol = ch.other.split(".")
    if target == "agents":
        return DataError(f"{ch.column} '{value}' is not an agent_id in agents",
                         expected="an agent listed in agents (or empty)", **kw)
    return DataError(f"{ch.column} '{value}' is not a {tcol} in {target}",
                     expected=f"a {tcol} listed in {target}", **kw)
