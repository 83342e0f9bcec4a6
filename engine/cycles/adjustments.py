"""Appeals and corrections: adjustments to input records, recorded with who, when and why.

An adjustment sets one correctable field of one record (a ticket, or one
panelist's grade of a knowledge item) to a new value.  It is stored in the
workspace's history database (:mod:`merit.cycles.history`) with its author, time,
reason and the value it replaces; the source files are never edited.  Every
later run applies the *active* adjustments right after the typed tables are
loaded, so every metric, score, explanation and scorecard sees the corrected
record.  An adjustment can be revoked (with its own who, when and why); it is
never deleted.

Applying is set-based: the active adjustments of a table become a small
DuckDB table (one row per record, one value column and one "is set" flag per
adjusted field), and the typed table is rebuilt as a left join with
``CASE WHEN set THEN adjusted ELSE original END`` per adjusted column.  The
values go through the same parsing as the input files (``tables._typed``), so
an adjusted timestamp is local to the cycle's time zone exactly like one in
``tickets.csv``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pyarrow as pa

from merit.cycles import history
from merit.core.errors import MeritError
from merit.core.tables import EXPECTED, ORDERINGS, SCHEMAS, Tables, connect, load_tables
from merit.core.workspace import Workspace, open_workspace

# The fields an appeal may correct.  Ids, created_at (it decides the cohort)
# and customer_id are facts of record, not judgements.
CORRECTABLE: dict[str, tuple[str, ...]] = {
    "tickets": ("bad_review_cause", "rating", "csat", "product_issue", "escalated", "reopened",
                "first_response_at", "resolved_at", "closed_at", "assignee", "channel",
                "handle_minutes", "wait_seconds"),
    "grades": ("grade",),
}
KEYS: dict[str, tuple[str, ...]] = {"tickets": ("ticket_id",), "grades": ("item_id", "panelist")}


# What a value must look like: the same rules as the input files (docs/data.md).
from merit.core.tables import _DATE_RE, _FALSE, _FLOAT_RE, _INT_RE, _TRUE, _TS_RE  # noqa: E402

_ARROW = {"string": pa.string(), "enum": pa.string(), "int": pa.int64(), "float": pa.float64(),
          "bool": pa.bool_(), "timestamp": pa.timestamp("us"), "date": pa.date32()}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _case_of(col) -> str:
    return "upper" if col.allowed and all(a == a.upper() for a in col.allowed) else "lower"


def parse_value(table: str, fieldname: str, text: str | None, zone):
    """The typed value of a stored adjustment value, as the typed tables hold it
    (timestamps: naive UTC instants; naive input is local to *zone*)."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    col = SCHEMAS[table].column(fieldname)
    t = col.type
    if t == "enum":
        return text.upper() if _case_of(col) == "upper" else text.lower()
    if t == "int":
        return int(float(text))
    if t == "float":
        return float(text)
    if t == "bool":
        return text.lower() in _TRUE
    if t == "date":
        return _dt.date.fromisoformat(text)
    if t == "timestamp":
        m = re.search(r" ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$", text) if len(text) > 10 else None
        offset = None
        if m:
            text, tz = text[:m.start()], m.group(1)
            if tz in ("Z", "z"):
                offset = _dt.timezone.utc
            else:
                digits = tz[1:].replace(":", "")
                minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
                offset = _dt.timezone(_dt.timedelta(minutes=minutes if tz[0] == "+" else -minutes))
        value = _dt.datetime.fromisoformat(text)
        value = value.replace(tzinfo=offset or zone)
        return value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return text


class AdjustmentError(MeritError):
    """An adjustment that cannot be recorded or revoked."""


@dataclass
class Adjustment:
    id: int
    table: str
    keys: tuple[str, ...]
    field: str
    before: str | None
    after: str | None
    reason: str
    by: str
    at: str
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def record(self) -> str:
        if self.table == "grades":
            return f"grade of {self.keys[0]} by {self.keys[1]}"
        return f"ticket {self.keys[0]}"

    def change_text(self) -> str:
        """What the adjustment did, in words ("reclassified as product-caused", …)."""
        before = self.before if self.before is not None else "empty"
        after = self.after if self.after is not None else "empty"
        special = {
            ("bad_review_cause", "product"): "bad review reclassified as product-caused",
            ("bad_review_cause", "service"): "bad review reclassified as service-caused",
            ("product_issue", "true"): "marked as a product issue",
            ("product_issue", "false"): "marked as not a product issue",
            ("escalated", "true"): "marked as escalated",
            ("escalated", "false"): "marked as not escalated",
        }
        if (self.field, self.after) in special:
            what = special[(self.field, self.after)]
        elif self.field == "grade":
            what = f"grade changed from {before} to {after}"
        elif self.field == "assignee":
            what = f"reassigned from {before} to {after}"
        else:
            what = f"{self.field} changed from {before} to {after}"
        return f"{self.record}: {what}"

    def text(self) -> str:
        """One line for a scorecard: what, by whom, why."""
        return f"{self.change_text()} on appeal, by {self.by}, because {self.reason}"

    def to_dict(self) -> dict:
        return {
            "id": self.id, "table": self.table, "record": list(self.keys), "field": self.field,
            "before": self.before, "after": self.after, "reason": self.reason, "by": self.by, "at": self.at,
            "revoked_at": self.revoked_at, "revoked_by": self.revoked_by, "revoke_reason": self.revoke_reason,
        }


@dataclass
class AppliedAdjustment:
    """An active adjustment as applied in one run: which records it touched and whose numbers."""
    adjustment: Adjustment
    records: int  # rows of the table it changed (0: the record is not in the data any more)
    agents: list[str] = field(default_factory=list)  # the agents whose numbers it touches
    in_period: bool = True  # the record belongs to the cycle's period (else it changes no number)

    def to_dict(self) -> dict:
        a = self.adjustment
        return {
            "id": a.id, "table": a.table, "record": list(a.keys), "field": a.field,
            "before": a.before, "after": a.after, "reason": a.reason, "by": a.by, "at": a.at,
            "records": self.records, "in_period": self.in_period, "agents": self.agents,
            "text": a.text(),
        }


# ------------------------------------------------------------------ reading
def _from_row(row) -> Adjustment:
    keys = (row["key1"],) if row["key2"] is None else (row["key1"], row["key2"])
    return Adjustment(row["adj_id"], row["table_name"], keys, row["field"], row["before"], row["after"],
                      row["reason"], row["created_by"], row["created_at"], row["revoked_at"], row["revoked_by"],
                      row["revoke_reason"])


def list_adjustments(root: Path | str, *, active_only: bool = False) -> list[Adjustment]:
    if not history.exists(root):
        return []
    with history.opened(root, readonly=True) as con:
        sql = "SELECT * FROM adjustments" + (" WHERE revoked_at IS NULL" if active_only else "") + " ORDER BY adj_id"
        return [_from_row(r) for r in con.execute(sql)]


# ------------------------------------------------------------------ validating values
def _value_problem(table: str, fieldname: str, text: str) -> str | None:
    """Why *text* is not a valid value of table.field (None when it is)."""
    col = SCHEMAS[table].column(fieldname)
    if col.type == "enum":
        value = text.upper() if _case_of(col) == "upper" else text.lower()
        if col.allowed and value not in col.allowed:
            return f"one of {', '.join(col.allowed)} (or empty)"
        return None
    checks = {"int": _INT_RE, "float": _FLOAT_RE, "date": _DATE_RE, "timestamp": _TS_RE}
    if col.type == "bool":
        return None if text.lower() in _TRUE + _FALSE else EXPECTED["bool"]
    if col.type in checks:
        if not re.search(checks[col.type], text):
            return EXPECTED[col.type]
        if col.type in ("int", "float") and (col.min is not None or col.max is not None):
            number = float(text)
            if (col.min is not None and number < col.min) or (col.max is not None and number > col.max):
                lo = "" if col.min is None else f"at least {col.min:g}"
                hi = "" if col.max is None else f"at most {col.max:g}"
                return f"a {'whole ' if col.type == 'int' else ''}number {' and '.join(p for p in (lo, hi) if p)}"
    return None


def canonical(table: str, fieldname: str, text: str | None) -> str | None:
    """The stored form of a value: trimmed, enums in their case, booleans as true/false."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    col = SCHEMAS[table].column(fieldname)
    if col.type == "enum":
        return text.upper() if _case_of(col) == "upper" else text.lower()
    if col.type == "bool":
        return "true" if text.lower() in _TRUE else "false"
    if col.type == "int":
        return str(int(float(text)))
    return text


def _display(value, ctype: str, zone) -> str | None:
    """A typed value (from the typed table) as the text an adjustment stores."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if ctype == "bool":
        return "true" if value else "false"
    if ctype == "timestamp":
        ts = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
        local = ts.replace(tzinfo=_dt.timezone.utc).astimezone(zone)
        return local.strftime("%Y-%m-%d %H:%M:%S")
    if ctype == "date":
        return value.isoformat() if hasattr(value, "isoformat") else str(value)[:10]
    if ctype == "int":
        return str(int(value))
    if ctype == "float":
        return f"{float(value):g}" if float(value).is_integer() else repr(float(value))
    return str(value)


# ------------------------------------------------------------------ recording
def parse_set(assignment: str) -> tuple[str, str]:
    if "=" not in assignment:
        raise AdjustmentError(f"--set '{assignment}' is not FIELD=VALUE",
                              expected="e.g. --set bad_review_cause=product (an empty VALUE clears the field)")
    name, _, value = assignment.partition("=")
    return name.strip().lower(), value


def record(path: Path | str, *, table: str, keys: tuple[str, ...], changes: list[tuple[str, str]],
           reason: str, by: str) -> list[Adjustment]:
    """Validate and record adjustments of one record (call with the workspace lock held)."""
    if table not in CORRECTABLE:
        raise AdjustmentError(f"records of '{table}' cannot be adjusted", expected="tickets or grades")
    if not reason or not reason.strip():
        raise AdjustmentError("an adjustment needs a reason (--reason TEXT): it is shown to the agent and audited")
    if not by or not by.strip():
        raise AdjustmentError("an adjustment needs its author (--by NAME)")
    if not changes:
        raise AdjustmentError("nothing to change: give --set FIELD=VALUE")
    seen = set()
    for name, value in changes:
        if name not in CORRECTABLE[table]:
            raise AdjustmentError(
                f"'{name}' is not a correctable field of {table}", field=name,
                expected=f"one of {', '.join(CORRECTABLE[table])}")
        if name in seen:
            raise AdjustmentError(f"'{name}' is set twice", field=name)
        seen.add(name)
        if value.strip():
            problem = _value_problem(table, name, value.strip())
            if problem:
                raise AdjustmentError(f"'{value.strip()}' is not a valid {table}.{name}", field=name,
                                      expected=problem)
        elif SCHEMAS[table].column(name).nonempty:
            raise AdjustmentError(f"{table}.{name} cannot be empty", field=name)

    ws = open_workspace(path)
    needed = {"agents", "tickets"} | ({"knowledge", "grades"} if table == "grades" else set())
    sub = dataclasses.replace(ws, tables={k: v for k, v in ws.tables.items() if k in needed})
    if table not in sub.tables:
        raise AdjustmentError(f"the workspace has no {table} table to adjust",
                              file=ws.display(ws.data_dir), expected=f"{table}.csv, .parquet or .xlsx")
    con = connect(ws.config.timezone)
    loaded = load_tables(sub, con)
    typed = loaded.tables[table]
    key_cols = KEYS[table]
    flt = ibis.and_(*[typed[k] == v for k, v in zip(key_cols, keys)])
    fields = [name for name, _ in changes]
    extra = [c for c in ("created_at", "assignee") if table == "tickets" and c not in fields]
    rows = typed.filter(flt).select(*fields, *extra).to_pyarrow().to_pylist()
    label = f"ticket '{keys[0]}'" if table == "tickets" else f"grade of item '{keys[0]}' by panelist '{keys[1]}'"
    if not rows:
        where = loaded.sources[table].display
        raise AdjustmentError(f"no {label} in {where}", file=where,
                              expected="an id that appears in the data (ids are case-sensitive)")
    _check_record_values(loaded, ws, table, changes, rows[0])
    schema = SCHEMAS[table]
    befores = {}
    for name in fields:
        values = {_display(r[name], schema.column(name).type, ws.zone) for r in rows}
        befores[name] = values.pop() if len(values) == 1 else "; ".join(sorted(v or "empty" for v in values))

    current = {(a.field): a for a in list_adjustments(ws.root, active_only=True)
               if a.table == table and tuple(a.keys) == tuple(keys)}
    for name in fields:
        if name in current:
            a = current[name]
            raise AdjustmentError(
                f"{a.record}'s {name} already has active adjustment #{a.id} "
                f"({a.before or 'empty'} → {a.after or 'empty'}); revoke it first (merit revoke WS {a.id})",
                field=name)
    at = history.now_utc()
    made: list[Adjustment] = []
    with history.opened(ws.root) as hcon, history.transaction(hcon):
        for name, value in changes:
            after = canonical(table, name, value)
            cur = hcon.execute(
                "INSERT INTO adjustments(created_at, created_by, reason, table_name, key1, key2, field, before, after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (at, by.strip(), reason.strip(), table, keys[0], keys[1] if len(keys) > 1 else None, name,
                 befores[name], after))
            adj = Adjustment(int(cur.lastrowid), table, tuple(keys), name, befores[name], after, reason.strip(),
                             by.strip(), at)
            history.add_event(hcon, "adjust", by.strip(), adj_id=adj.id, at=at, detail=adj.to_dict())
            made.append(adj)
    return made


def _check_record_values(loaded: Tables, ws: Workspace, table: str, changes, row: dict) -> None:
    """Checks that need the data: agents exist, times stay in order, the value parses in DuckDB."""
    schema = SCHEMAS[table]
    for name, value in changes:
        text = value.strip()
        if not text:
            continue
        col = schema.column(name)
        if table == "tickets" and name == "assignee":
            agents = loaded.tables["agents"]
            if int(agents.filter(agents.agent_id == text).count().execute()) == 0:
                raise AdjustmentError(f"assignee '{text}' is not an agent_id in agents", field=name,
                                      expected="an agent listed in agents (or empty)")
        if col.type in ("timestamp", "date"):
            try:
                got = parse_value(table, name, text, ws.zone)
            except ValueError:
                raise AdjustmentError(f"'{text}' is not a valid {table}.{name}", field=name,
                                      expected=EXPECTED.get(col.type)) from None
            if col.type == "timestamp" and table == "tickets":
                for t, later, earlier in ORDERINGS:
                    if t == "tickets" and later == name and row.get(earlier) is not None and got < row[earlier]:
                        raise AdjustmentError(
                            f"{name} {text} would be before the ticket's {earlier} "
                            f"{_display(row[earlier], 'timestamp', ws.zone)}", field=name,
                            expected=f"{name} at or after {earlier}")


def revoke(root: Path | str, adj_id: int, *, reason: str, by: str) -> Adjustment:
    """Revoke an active adjustment (call with the workspace lock held)."""
    if not reason or not reason.strip():
        raise AdjustmentError("a revocation needs a reason (--reason TEXT)")
    if not by or not by.strip():
        raise AdjustmentError("a revocation needs its author (--by NAME)")
    if not history.exists(root):
        raise AdjustmentError(f"no adjustment #{adj_id}: this workspace has no adjustments")
    at = history.now_utc()
    with history.opened(root) as con, history.transaction(con):
        row = con.execute("SELECT * FROM adjustments WHERE adj_id = ?", (adj_id,)).fetchone()
        if row is None:
            raise AdjustmentError(f"no adjustment #{adj_id} in this workspace",
                                  expected="an id listed by `merit adjustments WS`")
        adj = _from_row(row)
        if not adj.active:
            raise AdjustmentError(f"adjustment #{adj_id} was already revoked on {adj.revoked_at} by {adj.revoked_by}")
        con.execute("UPDATE adjustments SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE adj_id = ?",
                    (at, by.strip(), reason.strip(), adj_id))
        adj.revoked_at, adj.revoked_by, adj.revoke_reason = at, by.strip(), reason.strip()
        history.add_event(con, "revoke", by.strip(), adj_id=adj_id, at=at, detail={"reason": reason.strip()})
    return adj


# ------------------------------------------------------------------ applying
def apply(tables: Tables, ws: Workspace, active: list[Adjustment]) -> list[AppliedAdjustment]:
    """Apply *active* adjustments to the loaded typed tables, in place; report what each touched."""
    from merit.core.cohorts import period_bounds_utc

    applied: list[AppliedAdjustment] = []
    con = tables.con
    for table in sorted({a.table for a in active}):
        adjs = sorted((a for a in active if a.table == table), key=lambda a: a.id)
        if table not in tables.tables:
            applied.extend(AppliedAdjustment(a, 0, [], False) for a in adjs)
            continue
        # one adjustment per (record, field): the latest wins should two ever be active
        latest: dict[tuple, Adjustment] = {}
        for a in adjs:
            latest[(tuple(a.keys), a.field)] = a
        schema = SCHEMAS[table]
        key_cols = KEYS[table]
        fields = sorted({f for _, f in latest})
        records = sorted({k for k, _ in latest})
        data: dict[str, list] = {f"_k_{k}": [r[i] for r in records] for i, k in enumerate(key_cols)}
        for f in fields:
            data[f"_v_{f}"] = [latest[(r, f)].after if (r, f) in latest else None for r in records]
            data[f"_s_{f}"] = [(r, f) in latest for r in records]
        arrays = {}
        for k, v in data.items():
            if k.startswith("_s_"):
                arrays[k] = pa.array(v, type=pa.bool_())
            elif k.startswith("_v_"):
                f = k[3:]
                ctype = schema.column(f).type
                arrays[f"_a_{f}"] = pa.array([parse_value(table, f, x, ws.zone) for x in v], type=_ARROW[ctype])
            else:
                arrays[k] = pa.array(v, type=pa.string())
        adj = ibis.memtable(pa.table(arrays))
        t = tables.tables[table]
        joined = t.left_join(adj, [t[k] == adj[f"_k_{k}"] for k in key_cols])
        cols = {}
        for c in t.columns:
            cols[c] = ibis.ifelse(joined[f"_s_{c}"].fill_null(False), joined[f"_a_{c}"].cast(t[c].type()),
                                  joined[c]) if c in fields else joined[c]
        rebuilt = joined.select(**cols).order_by("_row")
        # Materialise the corrected table, then point the table's name at it (the
        # original may be a table or a view, depending on how tables.py built it).
        tmp = f"_adjusted_{table}"
        con.raw_sql(f"DROP TABLE IF EXISTS {_ident(tmp)}")
        con.create_table(tmp, rebuilt)
        kind = con.raw_sql("SELECT table_type FROM information_schema.tables WHERE table_name = ? "
                           "AND table_schema = current_schema()", parameters=[table]).fetchone()
        if kind is not None:
            con.raw_sql(f"DROP {'VIEW' if 'VIEW' in str(kind[0]).upper() else 'TABLE'} {_ident(table)}")
        con.raw_sql(f"CREATE VIEW {_ident(table)} AS SELECT * FROM {_ident(tmp)}")
        tables.tables[table] = con.table(table)
        applied.extend(_touched(tables, ws, table, adjs, records, period_bounds_utc(ws)))
    applied.sort(key=lambda x: x.adjustment.id)
    return applied


def _touched(tables: Tables, ws: Workspace, table: str, adjs: list[Adjustment], records: list[tuple],
             bounds) -> list[AppliedAdjustment]:
    """For each adjustment: how many rows it changed, whose numbers, whether inside the period."""
    start, end = bounds
    t = tables.tables[table]
    out = []
    if table == "tickets":
        ids = [r[0] for r in records]
        rows = t.filter(t.ticket_id.isin(ids)).select("ticket_id", "assignee", "created_at").to_pyarrow().to_pylist()
        info = {r["ticket_id"]: r for r in rows}
        for a in adjs:
            r = info.get(a.keys[0])
            if r is None:
                out.append(AppliedAdjustment(a, 0, [], False))
                continue
            agents = {r["assignee"]} | ({a.before} if a.field == "assignee" else set())
            created = r["created_at"]
            in_period = created is not None and start <= created < end
            out.append(AppliedAdjustment(a, 1, sorted(x for x in agents if x), in_period))
        return out
    # grades: credited to the authors of the knowledge item
    item_ids = sorted({r[0] for r in records})
    graded = t.filter(t.item_id.isin(item_ids))
    counts = {(r["item_id"], r["panelist"]): r["n"] for r in
              graded.group_by("item_id", "panelist").aggregate(n=graded.count()).to_pyarrow().to_pylist()}
    authors: dict[str, dict] = {}
    if "knowledge" in tables.tables:
        k = tables.tables["knowledge"]
        for r in k.filter(k.item_id.isin(item_ids)).select("item_id", "authors", "published_on").to_pyarrow().to_pylist():
            authors[r["item_id"]] = r
    p_start, p_end = ws.config.period.start, ws.config.period.end
    for a in adjs:
        n = int(counts.get(tuple(a.keys), 0))
        k = authors.get(a.keys[0])
        agents = sorted(set(k["authors"] or [])) if k else []
        in_period = bool(k) and k["published_on"] is not None and p_start <= k["published_on"] <= p_end
        out.append(AppliedAdjustment(a, n, agents if n else [], in_period and n > 0))
    return out


def by_agent(applied: list[AppliedAdjustment]) -> dict[str, list[dict]]:
    """Agent id → the adjustments (as dicts, in id order) that touched that agent's numbers."""
    out: dict[str, list[dict]] = {}
    for ap in applied:
        if not ap.in_period or not ap.records:
            continue
        for agent in ap.agents:
            out.setdefault(agent, []).append(ap.to_dict())
    return dict(sorted(out.items()))


def apply_active(tables: Tables, ws: Workspace) -> list[AppliedAdjustment]:
    """Apply the workspace's active adjustments (none when it has no history database)."""
    active = list_adjustments(ws.root, active_only=True)
    return apply(tables, ws, active) if active else []
