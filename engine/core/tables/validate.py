"""Validation of a typed table: one aggregate query counts every problem (record checks by their
bits of ``_bad``, duplicate keys, references to other tables); only when something is wrong,
one more aggregate fetches the first few offending records of each failing check, and their
text from the file for the messages.  The same check failing in many records of one column is
one problem with its count (merit.core.tables.messages).  Nothing loops over records in
Python; per-problem work is bounded by LINES_SHOWN."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from merit.core.contract import TableSchema, contract
from merit.core.errors import Problems
from merit.core.suggest import did_you_mean
from merit.core.tables.checks import Check, record_checks
from merit.core.tables.date_patterns import format_hint, recognised_formats
from merit.core.tables.messages import LINES_SHOWN, Group, nul_problem, problem
from merit.core.tables.model import Source, Tables
from merit.core.tables.sql import ident, typed_name

# The order of problems of one record and column: a value that is missing or does not parse
# first, then what is wrong with a value that does.
KIND_RANK = {"empty": 0, "parse": 1, "enum": 1, "pattern": 1, "range": 2, "dup": 3, "order": 4, "ref": 5,
             "list_ref": 5}


@ibis.udf.scalar.builtin(name="hash")
def _hash(value: str) -> dt.uint64:  # type: ignore[valid-type]
    """DuckDB's hash(value): equal values, equal hashes."""


@ibis.udf.agg.builtin(name="min")
def _smallest(value: dt.int64, n: dt.int64) -> dt.Array(dt.int64):  # type: ignore[valid-type]
    """DuckDB's min(value, n): the n smallest values, in order (a bounded top-n per group)."""


def table_checks(result: Tables, schema: TableSchema, present: set[str], rel, first=None,
                 nul: frozenset[str] = frozenset()) -> tuple[list[Check], list[tuple[str, str, str]]]:
    """Every check of *schema*'s records over *rel* (the typed table with ``_row`` and
    ``_bad``): the record checks, then duplicates and references.

    The duplicate check needs *first* (the first ``_row`` holding the same
    key).  Also returns the references from list columns (checked through
    unnest).
    """
    checks = record_checks(schema, present, nul)
    if schema.key in present:
        t = rel[schema.key]
        checks.append(Check("dup", schema.key, flag=t.notnull() & (rel["_row"] != first)
                            if first is not None else ibis.literal(False)))
    list_refs = []
    for table, column, target, tcol in contract().references:
        if table != schema.name or column not in present or target not in result.tables:
            continue
        if schema.column(column).type == "list":
            list_refs.append((column, target, tcol))
            continue
        ids = result.tables[target][tcol]
        t = rel[column]
        checks.append(Check("ref", column, other=f"{target}.{tcol}", flag=t.notnull() & ~t.isin(ids)))
    return checks, list_refs


def _failed(rel, ch: Check):
    """Boolean expression: the record fails *ch*."""
    return (rel["_bad"] & ch.bit) != 0 if ch.bit else ch.flag


def validate(result: Tables, schema: TableSchema, source: Source, problems: Problems,
             t_order: int, limit: int) -> None:
    """Count every problem of the typed table *schema* with one aggregate query (and one more
    over the records that fail some record check, if any); when there are problems, report
    each failing check once, with its count and first few records.  (*limit* bounds the
    problems listed, which :class:`Problems` applies.)"""
    typed = ident(typed_name(schema.name))
    full = result.con.sql(f"SELECT rowid AS _row, * FROM {typed}" if source.in_place_row is None
                          else f"SELECT * FROM {typed}")
    run = _Validation(result, schema, source, problems, t_order, full)
    checks, list_refs = table_checks(result, schema, run.present, full, nul=run.nul)
    counts = run.count(checks)
    run.report_nul(checks, counts)
    run.report_groups(checks, counts)
    run.report_list_references(list_refs)


@dataclass
class _Validation:
    """The validation of one typed table (*full*: with ``_row`` and ``_bad``)."""

    result: Tables
    schema: TableSchema
    source: Source
    problems: Problems
    t_order: int
    full: Any

    @property
    def present(self) -> set[str]:
        return set(self.source.values)

    @property
    def nul(self) -> frozenset[str]:
        return self.source.nul_checked()

    @property
    def src(self):
        return self.result.sources[self.schema.name]

    def order(self, column: str, line: int, rank: int) -> tuple:
        """Where a problem goes in the list: table, line, column, kind."""
        return (self.t_order, line, self.schema.names.index(column), rank)

    def count(self, checks: list[Check]) -> dict[int, int]:
        """The number of records failing each check (and the table's record count, kept in
        ``result.counts``).  dup = keys - distinct keys; record checks by their bits;
        references by their flags.  (Keys are first told apart by their hashes, cheaper to
        count: when all differ, so do the keys.)"""
        full = self.full
        aggs: dict[str, Any] = {"_n": full.count(), "_bits": full["_bad"].bit_or()}
        for i, ch in enumerate(checks):
            if ch.kind == "dup":
                key = full[ch.column]
                aggs[f"k{i}"] = key.count() - _hash(key).nunique(where=key.notnull())  # (hash(NULL) is a value)
            elif not ch.bit:
                aggs[f"k{i}"] = ch.flag.fill_null(False).cast("int64").sum()
        got = full.aggregate(**aggs).to_pyarrow().to_pylist()[0]
        self.result.counts[self.schema.name] = int(got["_n"])
        for i, ch in enumerate(checks):
            if ch.kind == "dup" and got[f"k{i}"]:  # duplicates, or hashes that collide
                key = full[ch.column]
                got[f"k{i}"] = full.aggregate(k=key.count() - key.nunique()).to_pyarrow().to_pylist()[0]["k"]
        if got["_bits"]:
            bad = full.filter(full["_bad"] != 0)
            got.update(bad.aggregate(**{f"k{i}": _failed(bad, ch).cast("int64").sum()
                                        for i, ch in enumerate(checks) if ch.bit}).to_pyarrow().to_pylist()[0])
        return {i: int(got.get(f"k{i}") or 0) for i in range(len(checks))}

    def report_nul(self, checks: list[Check], counts: dict[int, int]) -> None:
        """One problem per column holding NULs, with its count (the count of such a check is
        then set to 0: it is reported)."""
        full = self.full
        for i, ch in enumerate(checks):
            if ch.kind == "nul" and counts[i]:
                first = full.filter(_failed(full, ch)).order_by("_row").limit(LINES_SHOWN).select("_row")
                lines = self.result.line_of(self.schema.name, first.to_pyarrow().column("_row").to_pylist())
                self.problems.add(nul_problem(self.src, ch.column, counts[i], lines),
                                  self.order(ch.column, lines[0], -1))
                counts[i] = 0

    def report_groups(self, checks: list[Check], counts: dict[int, int]) -> None:
        """Each failing check as one problem: its count, and its first few records with their
        text (and for duplicates the line of the key's first record)."""
        active = [i for i in counts if counts[i]]
        if not active:
            return
        rows, firsts = self._first_rows(checks, active)
        every = sorted({r for i in active for r in rows[i]})
        columns = {c for i in active for c in (checks[i].column, checks[i].other) if c in self.present}
        text = self.source.raw(every, sorted(columns, key=self.schema.names.index))
        needed = every + sorted(set(firsts.values()) - set(every))
        lines = dict(zip(needed, self.result.line_of(self.schema.name, needed)))
        for i in active:
            ch = checks[i]
            records = [{"line": lines[r], "value": text.get(r, {}).get(ch.column),
                        "other": text.get(r, {}).get(ch.other), "first": lines.get(firsts.get(r))}
                       for r in rows[i]]
            group = Group(ch, counts[i], records)
            self._hint(group)
            self.problems.add(problem(self.schema, self.src, group),
                              self.order(ch.column, group.lines[0], KIND_RANK[ch.kind]))

    def _first_rows(self, checks: list[Check], active: list[int]) -> tuple[dict[int, list[int]], dict[int, int]]:
        """The first LINES_SHOWN ``_row`` failing each active check, in one aggregate (over the
        records failing some record check when only those fail); and for duplicate keys, the
        first ``_row`` holding each key shown."""
        full, schema = self.full, self.schema
        dup = [i for i in active if checks[i].kind == "dup"]
        rest = [i for i in active if checks[i].kind != "dup"]
        rows: dict[int, list[int]] = {}
        firsts: dict[int, int] = {}
        if rest:
            rel = full.filter(full["_bad"] != 0) if all(checks[i].bit for i in rest) else full
            found = rel.aggregate(**{f"k{i}": _smallest(rel["_row"], LINES_SHOWN, where=_failed(rel, checks[i]))
                                     for i in rest}).to_pyarrow().to_pylist()[0]
            rows.update({i: found[f"k{i}"] or [] for i in rest})
        for i in dup:  # (the first record of each key: a window over the table, on this error path only)
            base = full.mutate(_first=full["_row"].min().over(group_by=full[schema.key]))
            got = base.filter(base["_row"] != base["_first"]).order_by("_row").limit(LINES_SHOWN)
            pairs = got.select("_row", "_first").to_pyarrow().to_pylist()
            rows[i] = [p["_row"] for p in pairs]
            firsts.update({p["_row"]: p["_first"] for p in pairs})
        return rows, firsts

    def _hint(self, group: Group) -> None:
        """What may help beyond the expectation: the timestamp_format reading values that do not
        parse as dates, or the id meant by one that differs only in case."""
        ch = group.check
        if ch.kind == "parse" and self.schema.column(ch.column).type in ("timestamp", "date"):
            formats = recognised_formats(self.result.con, [str(v) for v in group.examples()])
            group.hint = format_hint(self.schema.name, formats, _entry_file(self.src),
                                     tuple(getattr(self.source, "timestamp_formats", ())))
        elif ch.kind in ("ref", "list_ref"):
            target, tcol = ch.other.split(".")
            same = _same_but_case(self.result.tables[target], tcol, group.examples())
            for r in group.records:
                r["hint"] = did_you_mean(str(r["value"]), same.get(str(r["value"]).lower(), []))

    def report_list_references(self, list_refs: list[tuple[str, str, str]]) -> None:
        """Ids of list columns (authors, owners) that are not in their target table, through
        unnest: one problem per column, with the number of such ids."""
        full = self.full
        for column, target, tcol in list_refs:
            ids = self.result.tables[target][tcol]
            un = full.select("_row", _v=full[column].unnest())
            bad = un.filter(un._v.notnull() & ~un._v.isin(ids))
            n = int(bad.count().execute())
            if not n:
                continue
            first = bad.order_by("_row").limit(LINES_SHOWN).to_pyarrow().to_pylist()
            lines = self.result.line_of(self.schema.name, [r["_row"] for r in first])
            group = Group(Check("list_ref", column, other=f"{target}.{tcol}"), n,
                          [{"line": line, "value": r["_v"]} for line, r in zip(lines, first)])
            self._hint(group)
            self.problems.add(problem(self.schema, self.src, group),
                              self.order(column, lines[0], KIND_RANK["list_ref"]))


def _entry_file(src) -> str | None:
    """None when the table has a `sources:` entry; else its file as a new entry would name it:
    relative to the workspace (*src.display* is relative to the workspace's parent)."""
    if getattr(src, "entry", None) is not None:
        return None
    parts = PurePath(src.display).parts
    return str(PurePath(*parts[1:])) if len(parts) > 1 and not PurePath(src.display).is_absolute() else src.display


def _same_but_case(table, column: str, values: list) -> dict[str, list[str]]:
    """The ids of *table*.*column* equal to one of *values* but for case, by lower-cased value
    (a bounded lookup: a few values)."""
    wanted = sorted({str(v).lower() for v in values if v is not None})
    if not wanted:
        return {}
    ids = table[column]
    found = table.filter(ids.lower().isin(wanted)).select(_id=ids).distinct().limit(10 * len(wanted))
    out: dict[str, list[str]] = {}
    for v in found.to_pyarrow().column("_id").to_pylist():
        out.setdefault(v.lower(), []).append(v)
    return out
