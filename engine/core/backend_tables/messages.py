"""The words of a backend table's problems.  As for files (merit.core.tables.messages), the same
check failing in many rows of one column is one problem with its count, a few example values and
what was expected; a row is named by its key (``ticket_id 'T05'``), not by a line, since a
table has none (a table without a key: by its row number in the order of its values)."""

from __future__ import annotations

from dataclasses import dataclass, field

from merit.core.contract import Column, TableSchema
from merit.core.errors import DataError
from merit.core.tables.checks import Check
from merit.core.tables.messages import EXPECTED, TYPE_WORD, and_list, quoted, range_text, shown

KEYS_SHOWN = 5  # a problem names the keys of the first few rows (in key order)
EXAMPLES_SHOWN = 3


@dataclass
class Found:
    """Check *check* failing in *count* rows; the first few, in key order, as *rows*:
    ``key`` (the key's text, or the row number), ``value`` (the column's text), ``other``
    (order: the earlier column's text; dup: how many rows have the key)."""

    check: Check
    count: int
    rows: list[dict]
    key: str | None  # the key column (None: rows are named by number)
    hint: str = ""
    extra: dict = field(default_factory=dict)

    def examples(self) -> list:
        return list(dict.fromkeys(r["value"] for r in self.rows if r.get("value") is not None))[:EXAMPLES_SHOWN]

    def example_text(self, show=quoted) -> str:
        return "e.g. " + ", ".join(show(v) for v in self.examples())

    def where(self) -> str:
        """'(ticket_id 'T05')', 'in the rows with ticket_id 'T01' and 'T02'', 'first in ...'."""
        keys = [self._name(r["key"]) for r in self.rows]
        first = "" if self.count <= len(keys) else "first "
        if self.key is None:  # (rows numbered in the order of their values)
            return f"{first}in row{'s' if len(keys) > 1 else ''} {and_list(keys)}"
        rows = "the row" if len(keys) == 1 else "the rows"
        return f"{first}in {rows} with {self.key} {and_list(keys)}"

    def _name(self, key) -> str:
        return f"{int(key) + 1}" if self.key is None else quoted(key)


def problem(schema: TableSchema, display: str, f: Found) -> DataError:
    """The one problem of *f.check* failing in *f.count* rows of the table *display*."""
    ch, col = f.check, schema.column(f.check.column)
    message, expected = _message(schema, col, f)
    return DataError(message, file=display, field=ch.column, count=f.count, expected=expected)


def _message(schema: TableSchema, col: Column, f: Found) -> tuple[str, str]:
    ch, n, at = f.check, f.count, f.where()
    values = "1 value is" if n == 1 else f"{n:,} values are"
    if ch.kind == "empty":
        rows = "1 row" if n == 1 else f"{n:,} rows"
        return (f"{ch.column} is empty in {rows}, {at}: every row needs {_an_id(schema, col)}",
                f"a non-empty {ch.column}")
    if ch.kind == "parse":
        word = TYPE_WORD[col.type] + ("" if n == 1 else "s")
        return f"{values} not {'a ' if n == 1 else ''}valid {word}, {f.example_text()}, {at}", \
            EXPECTED[col.type] + f.hint
    if ch.kind == "enum":
        return f"{values} not allowed for {ch.column}, {f.example_text()}, {at}", \
            f"one of {', '.join(col.allowed)} (or empty)"
    if ch.kind == "pattern":
        return f"{values} not valid for {ch.column}, {f.example_text()}, {at}", col.pattern_text or col.pattern
    if ch.kind == "range":
        return f"{values} out of range, {f.example_text(shown)}, {at}", range_text(col)
    if ch.kind == "dup":
        dups = ", ".join(f"{quoted(r['value'])} ({r['other']} rows)" for r in f.rows[:EXAMPLES_SHOWN])
        rows = "1 row repeats" if n == 1 else f"{n:,} rows repeat"
        return f"{rows} the {ch.column} of another row, e.g. {dups}", f"each {ch.column} once"
    if ch.kind == "order":
        r = f.rows[0]
        rows = "1 row has" if n == 1 else f"{n:,} rows have"
        return (f"{rows} {ch.column} before {ch.other}, e.g. {shown(r['value'])} before {shown(r.get('other'))}, "
                f"{at}", f"{ch.column} at or after {ch.other}")
    if ch.kind in ("ref", "list_ref"):
        target, tcol = ch.other.split(".")
        what = f"agent_ids in {target}" if target == "agents" else f"{tcol}s in {target}"
        be = "is" if n == 1 else "are"
        head = f"{n:,} value{'' if n == 1 else 's'} of {ch.column} {be}" if ch.kind == "ref" else \
            f"{ch.column} names {n:,} id{'' if n == 1 else 's'} that {be}"
        expected = ("an agent listed in agents (or empty)" if target == "agents" else f"a {tcol} listed in {target}") \
            if ch.kind == "ref" else f"';'-separated ids that all appear in {target}.{tcol}"
        return f"{head} not {what}, {f.example_text()}{f.hint}, {at}", expected
    raise AssertionError(ch.kind)


def map_problem(display: str, entry, name: str, header: str, rows: list[dict], total: int, keys: list[str],
                key: str | None) -> DataError:
    """Values of a mapped column that its value map has no entry for (*rows*: value, n, key)."""
    listed = ", ".join(f"{quoted(r['value'])} ({r['n']:,} row{'' if r['n'] == 1 else 's'}, e.g. "
                       f"{_row_name(key, r['key'])})" for r in rows)
    more = f" and {total - len(rows)} more" if total > len(rows) else ""
    n = sum(r["n"] for r in rows)
    return DataError(
        f"{total:,} value{'' if total == 1 else 's'} of column '{header}' {'has' if total == 1 else 'have'} no "
        f"entry in the value map of {name}: {listed}{more}", file=display, field=name, count=n,
        expected=f"a value the map has ({', '.join(keys)}): add {'it' if total == 1 else 'them'} to "
                 f"{entry.key('columns', name, 'values')}, or give a 'default:' for the others "
                 f"(cycle.yaml line {entry.line('columns', name)})")


def match_problem(display: str, name: str, header: str, match: str, row: dict, agents: list[tuple[str, str]],
                  close: list[str], key: str | None) -> DataError:
    """A name (or email) that no agent, or several agents, have."""
    count = f"{row['n']:,} row{'' if row['n'] == 1 else 's'}, e.g. {_row_name(key, row['key'])}"
    value = row["value"]
    if agents:
        listed = ", ".join(f"{agent_id} ({written})" for agent_id, written in agents)
        return DataError(f"{quoted(value)} in column '{header}' ({count}) is the {match} of {len(agents)} agents: "
                         f"{listed}", file=display, field=name, count=row["n"],
                         expected=f"a {match} only one agent has: make the agents' {match}s unique, or give "
                                  f"agent ids")
    closest = f" (the closest: {', '.join(quoted(c) for c in close)})" if close else ""
    return DataError(f"{quoted(value)} in column '{header}' ({count}) is not the {match} of any agent{closest}",
                     file=display, field=name, count=row["n"],
                     expected=f"the {match} of an agent in the agents table; an empty value is an unassigned "
                              f"ticket")


def _row_name(key: str | None, value) -> str:
    return f"row {int(value) + 1}" if key is None else f"{key} {quoted(value)}"


def _an_id(schema: TableSchema, col: Column) -> str:
    return "an id" if schema.key == col.name or col.name.endswith("_id") else "a value"
