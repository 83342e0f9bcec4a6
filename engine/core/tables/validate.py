"""Validation of a typed table: one aggregate query counts every problem (record checks by their
bits of ``_bad``, duplicate keys, references to other tables); only when something is wrong,
the first *limit* offending records are fetched, and their text from the file for the messages.
Nothing loops over records in Python; per-problem work is bounded by *limit*."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from merit.core.contract import TableSchema, contract
from merit.core.errors import Problems
from merit.core.tables.checks import Check, record_checks
from merit.core.tables.messages import NUL_LINES_SHOWN, list_reference_problem, nul_problem, problem
from merit.core.tables.model import Source, Tables
from merit.core.tables.sql import ident, typed_name

# The order of problems of one record and column: a value that is missing or does not parse
# first, then what is wrong with a value that does.
KIND_RANK = {"empty": 0, "parse": 1, "enum": 1, "pattern": 1, "range": 2, "dup": 3, "order": 4, "ref": 5}


@ibis.udf.scalar.builtin(name="hash")
def _hash(value: str) -> dt.uint64:  # type: ignore[valid-type]
    """DuckDB's hash(value): equal values, equal hashes."""


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
    over the records that fail some record check, if any); when there are problems, fetch
    the first *limit* offending records, and their text from the file for the messages."""
    full = result.con.sql(f"SELECT rowid AS _row, * FROM {ident(typed_name(schema.name))}")
    run = _Validation(result, schema, source, problems, t_order, limit, full)
    checks, list_refs = table_checks(result, schema, run.present, full, nul=run.nul)
    counts = run.count(checks)
    run.report_nul(checks, counts)
    run.report_records(checks, counts)
    run.report_list_references(list_refs)


@dataclass
class _Validation:
    """The validation of one typed table (*full*: with ``_row`` and ``_bad``)."""

    result: Tables
    schema: TableSchema
    source: Source
    problems: Problems
    t_order: int
    limit: int
    full: Any

    @property
    def present(self) -> set[str]:
        return set(self.source.values)

    @property
    def nul(self) -> frozenset[str]:
        return self.source.nul_checked()

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
        """One problem per column holding NULs, with its count, not one per record (the count
        of such a check is then set to 0: it is reported)."""
        name, full = self.schema.name, self.full
        for i, ch in enumerate(checks):
            if ch.kind == "nul" and counts[i]:
                first = full.filter(_failed(full, ch)).order_by("_row").limit(NUL_LINES_SHOWN).select("_row")
                lines = self.result.line_of(name, first.to_pyarrow().column("_row").to_pylist())
                self.problems.add(nul_problem(self.result.sources[name], ch.column, counts[i], lines),
                                  self.order(ch.column, lines[0], -1))
                counts[i] = 0

    def report_records(self, checks: list[Check], counts: dict[int, int]) -> None:
        """Count the other problems, and report those of the first *limit* offending records."""
        n = sum(counts.values())
        if not n:
            return
        self.problems.total += n
        rows, active = self._offending_records(checks, counts)
        quoted = {c for i in counts if counts[i] for c in (checks[i].column, checks[i].other) if c in self.present}
        text = self.source.raw([r["_row"] for r in rows], sorted(quoted, key=self.schema.names.index))
        needed = [r["_row"] for r in rows] + [r["_first"] for r in rows if r.get("_first") is not None]
        lines = dict(zip(needed, self.result.line_of(self.schema.name, needed))) if needed else {}
        src = self.result.sources[self.schema.name]
        for r in rows:
            r.update({f"s_{c}": text.get(r["_row"], {}).get(c) for c in self.schema.names})
            for k in active:
                if not r[k]:
                    continue
                ch = checks[int(k[1:])]
                self.problems.add(problem(self.schema, src, ch, r, lines),
                                  self.order(ch.column, lines[r["_row"]], KIND_RANK[ch.kind]), count=False)

    def _offending_records(self, checks: list[Check], counts: dict[int, int]) -> tuple[list[dict], list[str]]:
        """The first *limit* records failing a check that has failures: ``_row``, a flag
        ``f<i>`` per such check and, when keys repeat, ``_first`` (the first ``_row`` of the key)."""
        full, schema = self.full, self.schema
        dup = any(counts[i] for i, ch in enumerate(checks) if ch.kind == "dup")
        base = full.mutate(_first=full["_row"].min().over(group_by=full[schema.key])) if dup else full
        rel_checks, _ = table_checks(self.result, schema, self.present, base, first=base["_first"] if dup else None,
                                     nul=self.nul)
        active = [f"f{i}" for i in counts if counts[i]]
        flagged = base.mutate(**{f"f{i}": _failed(base, rel_checks[i]).fill_null(False)
                                 for i in counts if counts[i]})
        any_flag = ibis.or_(*[flagged[k] for k in active])
        wanted = ["_row"] + active + (["_first"] if dup else [])
        rows = flagged.filter(any_flag).order_by("_row").limit(self.limit).select(*wanted).to_pyarrow().to_pylist()
        return rows, active

    def report_list_references(self, list_refs: list[tuple[str, str, str]]) -> None:
        """Ids of list columns (authors, owners) that are not in their target table, through unnest."""
        name, full = self.schema.name, self.full
        src = self.result.sources[name]
        for column, target, tcol in list_refs:
            ids = self.result.tables[target][tcol]
            un = full.select("_row", _v=full[column].unnest())
            bad = un.filter(un._v.notnull() & ~un._v.isin(ids))
            n = int(bad.count().execute())
            if not n:
                continue
            self.problems.total += n
            rows = bad.order_by("_row").limit(self.limit).to_pyarrow().to_pylist()
            lines = dict(zip([r["_row"] for r in rows], self.result.line_of(name, [r["_row"] for r in rows])))
            for r in rows:
                err = list_reference_problem(src, column, target, tcol, r["_v"], lines[r["_row"]])
                self.problems.add(err, self.order(column, lines[r["_row"]], KIND_RANK["ref"]), count=False)
