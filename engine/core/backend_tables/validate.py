"""Validation of a typed table on its backend, with the file loader's checks (merit.core.tables.
checks: required values, values that do not parse, enums, patterns, ranges, ordered timestamps;
then unique keys, references, and mapped values without an entry): one aggregate query counts
the record checks and the duplicate keys, one counting query per reference (an anti-join); only
for a check that fails, one more query fetches the first few rows in key order.  Nothing but
counts and a few rows per problem comes back from the backend."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from merit.core.backend_tables.messages import KEYS_SHOWN, Found, map_problem, match_problem, problem
from merit.core.backend_tables.relation import BackendSource, MapCheck
from merit.core.backends import portability
from merit.core.contract import TableSchema, contract
from merit.core.errors import Problems
from merit.core.tables.checks import Check, record_checks
from merit.core.tables.validate import KIND_RANK

TEXT = "_s_{}"  # the column of a typed table holding a contract column's cleaned source text


def text_of(name: str) -> str:
    return TEXT.format(name)


@dataclass
class Validation:
    """The validation of one typed table *full* (``_row``, the contract columns and their texts)."""

    con: Any
    tables: Any  # merit.core.tables.Tables
    schema: TableSchema
    src: BackendSource
    full: ir.Table
    present: set[str]
    problems: Problems
    t_order: int

    @property
    def key(self) -> str | None:
        return self.schema.key if self.schema.key in self.present else None

    def flag(self, ch: Check) -> ir.BooleanValue:
        """The row fails *ch* (a record check)."""
        full, col = self.full, self.schema.column(ch.column)
        v, s = full[ch.column], full[text_of(ch.column)]
        if ch.kind == "empty":
            return s.isnull()
        if ch.kind == "parse":
            return s.notnull() & v.isnull()
        if ch.kind == "enum":
            return v.notnull() & ~v.isin(list(col.allowed))
        if ch.kind == "pattern":
            return v.notnull() & ~v.re_search(col.pattern)
        if ch.kind == "range":
            low = v < col.min if col.min is not None else ibis.literal(False)
            high = v > col.max if col.max is not None else ibis.literal(False)
            return low | high
        if ch.kind == "order":
            return v < full[ch.other]
        raise AssertionError(ch.kind)

    def run(self, checks: list[MapCheck]) -> None:
        record = record_checks(self.schema, self.present)
        counts = self._count(record)
        for ch, n in zip(record, counts["checks"]):
            if n:
                self._report(ch, n, self.flag(ch).fill_null(False))
        if counts["dup"]:
            self._report_dup(counts["dup"])
        self._references()
        for check in checks:
            self._unmapped(check)

    def _count(self, record: list[Check]) -> dict:
        """Rows, and rows failing each record check, and duplicate keys: one aggregate."""
        full = self.full
        aggs = {"_n": full.count()}
        aggs.update({f"k{i}": self.flag(ch).fill_null(False).ifelse(1, 0).sum() for i, ch in enumerate(record)})
        if self.key is not None:
            key = full[self.key]
            aggs["_dup"] = key.count() - key.nunique()
        got = portability.execute(self.con, full.aggregate(**aggs)).iloc[0]
        self.tables.counts[self.schema.name] = int(got["_n"])
        return {"checks": [int(got[f"k{i}"] or 0) for i in range(len(record))],
                "dup": int(got["_dup"] or 0) if self.key is not None else 0}

    def _first_rows(self, rel: ir.Table, ch: Check) -> list[dict]:
        """The first few rows of *rel* (rows of the typed table), in key order."""
        cols = {"key": rel[self.key or "_row"], "value": rel[text_of(ch.column)]}
        if ch.kind == "order":
            cols["other"] = rel[text_of(ch.other)]
        order = [portability.binary_order(rel[self.key])] if self.key is not None else [rel["_row"]]
        picked = rel.order_by(order).limit(KEYS_SHOWN).select(**cols)
        return portability.execute(self.con, picked).to_dict("records")

    def _report(self, ch: Check, count: int, flag: ir.BooleanValue, rows=None, hint: str = "") -> None:
        rows = rows if rows is not None else self._first_rows(self.full.filter(flag), ch)
        found = Found(ch, count, rows, self.key, hint=hint)
        self.problems.add(problem(self.schema, self.src.display, found),
                          (self.t_order, 0, self.schema.names.index(ch.column), KIND_RANK[ch.kind]))

    def _report_dup(self, count: int) -> None:
        full, key = self.full, self.key
        keyed = full.filter(full[key].notnull())
        per_key = keyed.group_by(_k=keyed[key]).aggregate(_c=keyed.count())
        per_key = per_key.filter(per_key._c > 1)
        shown = per_key.order_by(portability.binary_order(per_key._k)).limit(KEYS_SHOWN)
        rows = [{"key": r["_k"], "value": r["_k"], "other": int(r["_c"])}
                for r in portability.execute(self.con, shown).to_dict("records")]
        self._report(Check("dup", key), count, None, rows=rows)

    def _references(self) -> None:
        """Each reference to another table: one anti-join counting the values it lacks."""
        for table, column, target, tcol in contract().references:
            if table != self.schema.name or column not in self.present or target not in self.tables.tables:
                continue
            ids = self.tables.tables[target]
            ids = ids.filter(ids[tcol].notnull()).select(_id=ids[tcol]).distinct()
            ch = Check("ref", column, other=f"{target}.{tcol}")
            full = self.full
            if self.schema.column(column).type == "list":
                ch = Check("list_ref", column, other=ch.other)
                items = full.select("_row", *([self.key] if self.key else []), _v=full[column].unnest())
                bad = items.filter(items._v.notnull()).anti_join(ids, items._v == ids._id)
                self._report_items(ch, bad)
                continue
            bad = full.filter(full[column].notnull()).anti_join(ids, full[column] == ids._id)
            count = int(portability.execute(self.con, bad.count()))
            if count:
                self._report(ch, count, None, rows=self._first_rows(bad, ch), hint=self._case_hint(bad, column, ids))

    def _report_items(self, ch: Check, bad: ir.Table) -> None:
        count = int(portability.execute(self.con, bad.count()))
        if not count:
            return
        key = self.key or "_row"
        order = [portability.binary_order(bad[key]), bad._v] if self.key else [bad._row, bad._v]
        picked = bad.order_by(order).limit(KEYS_SHOWN).select(key=bad[key], value=bad._v)
        self._report(ch, count, None, rows=portability.execute(self.con, picked).to_dict("records"))

    def _case_hint(self, bad: ir.Table, column: str, ids: ir.Table) -> str:
        """' (did you mean ...?)' when a value shown differs from an id only in case."""
        values = portability.execute(self.con, bad.select(_v=bad[column]).distinct().order_by("_v")
                                     .limit(KEYS_SHOWN))["_v"].tolist()
        lowered = sorted({str(v).lower() for v in values})
        same = ids.filter(ids._id.lower().isin(lowered)).order_by("_id").limit(10 * len(lowered))
        found = portability.execute(self.con, same)["_id"].tolist() if lowered else []
        return f" (did you mean {', '.join(repr(v) for v in found[:3])}?)" if found else ""

    def _unmapped(self, check: MapCheck) -> None:
        """The values of a mapped column without their entry, each with its count: one grouped query."""
        full = self.full
        text = full[f"_m_{check.name}"]
        if check.match is None:
            bad = text.notnull() & ~text.isin(check.keys) if check.keys else text.notnull()
        else:
            bad = text.notnull() & (full[f"_k_{check.name}"].fill_null(0) != 1)
        rows = full.filter(bad)
        key = rows[self.key] if self.key is not None else rows["_row"]
        per_value = rows.group_by(value=rows[f"_m_{check.name}"]).aggregate(
            n=rows.count(), key=key.min())
        per_value = per_value.mutate(_values=per_value.n.count().over(ibis.window()))
        got = portability.execute(self.con, per_value.order_by(
            portability.binary_order(per_value.value)).limit(KEYS_SHOWN)).to_dict("records")
        if not got:
            return
        j = self.schema.names.index(check.name)
        order = (self.t_order, 0, j, KIND_RANK["ref"])
        if check.match is None:
            self.problems.add(map_problem(self.src.display, self.src.entry, check.name, check.header, got,
                                          int(got[0]["_values"]), check.keys, self.key), order)
            return
        known = self._agents_with(check.match, [r["value"] for r in got])
        for r in got:
            agents = known.get(str(r["value"]).lower(), [])
            close = difflib.get_close_matches(str(r["value"]).lower(), list(known.get("", [])), n=3, cutoff=0.6)
            self.problems.add(match_problem(self.src.display, check.name, check.header, check.match, r,
                                            agents if len(agents) > 1 else [], close, self.key), order)
        self.problems.total += int(got[0]["_values"]) - len(got)

    def _agents_with(self, match: str, values: list) -> dict[str, list[tuple[str, str]]]:
        """The agents whose *match* column is one of *values* (lower-cased), and '' -> every
        agent's value, for the closest matches (the roster: small)."""
        agents = self.tables.tables["agents"]
        roster = portability.execute(self.con, agents.filter(agents[match].notnull())
                                     .select("agent_id", _v=agents[match]).order_by("agent_id"))
        out: dict[str, list] = {"": sorted({str(v).lower() for v in roster["_v"]})}
        wanted = {str(v).lower() for v in values}
        for agent_id, v in zip(roster["agent_id"], roster["_v"]):
            if str(v).lower() in wanted:
                out.setdefault(str(v).lower(), []).append((agent_id, v))
        return out
