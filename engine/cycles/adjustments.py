"""Appeals and corrections: adjustments to input records, recorded with who, when and why.

An adjustment sets one correctable field of one record (a ticket, or one
panelist's grade of a knowledge item) to a new value.  Which tables and
fields are correctable, how records are named and how each change is worded
are the ruleset's ``corrections:`` (merit.core.ruleset_domain); what a value
must look like is the input-table contract's.  It is stored in the
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

from merit.core.backends import portability
from merit.core.contract import contract
from merit.core.errors import MeritError
from merit.core.ruleset import CorrectionTable, Ruleset, load_ruleset
from merit.core.ruleset_domain import DEFAULT_CHANGE
from merit.core.tables import EXPECTED, ORDERINGS, REQUIRED_TABLES, SCHEMAS, Tables, connect, load_tables
# What a value must look like: the same rules as the input files (docs/data.md).
from merit.core.tables import _DATE_RE, _FALSE, _FLOAT_RE, _INT_RE, _TRUE, _TS_RE
from merit.core.workspace import Workspace, open_workspace
from merit.cycles import history

# Which fields of which tables an appeal may correct, and how a change is worded, are the
# ruleset's `corrections:` (docs/rulesets.md); values are checked against the contract.
Corrections = dict[str, CorrectionTable]


def workspace_ruleset(ws: Workspace) -> Ruleset:
    return load_ruleset(ws.config.ruleset, relative_to=ws.root).ruleset


def __getattr__(name: str):
    # Transitional: KEYS (table -> its record's key columns) is the shipped default ruleset's;
    # code that has an Adjustment reads adjustment.key_columns, the cycle's ruleset's.
    if name == "KEYS":
        return {table: tuple(spec.keys) for table, spec in load_ruleset("default").ruleset.corrections.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_ARROW = {"string": pa.string(), "enum": pa.string(), "int": pa.int64(), "float": pa.float64(),
          "bool": pa.bool_(), "timestamp": pa.timestamp("us"), "date": pa.date32()}


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
    # how the ruleset names the record and words the change (None: a ruleset that no longer
    # lets appeals correct this table; the wording is then generic)
    wording: CorrectionTable | None = field(default=None, compare=False, repr=False)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The columns that identify the record (as many as ``keys``)."""
        return tuple(self.wording.keys) if self.wording is not None else ()

    @property
    def record(self) -> str:
        if self.wording is not None:
            return self.wording.record_text(self.keys)
        return f"{self.table} record {', '.join(self.keys)}"

    def change_text(self) -> str:
        """What the adjustment did, in the ruleset's words ("reclassified as product-caused", …)."""
        spec = self.wording.fields.get(self.field) if self.wording is not None else None
        if spec is not None:
            what = spec.change_text(self.field, self.before, self.after)
        else:
            what = DEFAULT_CHANGE.format(field=self.field, before=self.before or "empty", after=self.after or "empty")
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
def _from_row(row, corrections: Corrections) -> Adjustment:
    keys = (row["key1"],) if row["key2"] is None else (row["key1"], row["key2"])
    return Adjustment(row["adj_id"], row["table_name"], keys, row["field"], row["before"], row["after"],
                      row["reason"], row["created_by"], row["created_at"], row["revoked_at"], row["revoked_by"],
                      row["revoke_reason"], wording=corrections.get(row["table_name"]))


def list_adjustments(root: Path | str, *, active_only: bool = False,
                     corrections: Corrections | None = None) -> list[Adjustment]:
    """The recorded adjustments, worded by *corrections* (default: the workspace's ruleset's)."""
    if not history.exists(root):
        return []
    if corrections is None:
        corrections = workspace_ruleset(open_workspace(root)).corrections
    with history.opened(root, readonly=True) as con:
        sql = "SELECT * FROM adjustments" + (" WHERE revoked_at IS NULL" if active_only else "") + " ORDER BY adj_id"
        return [_from_row(r, corrections) for r in con.execute(sql)]


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
    if not reason or not reason.strip():
        raise AdjustmentError("an adjustment needs a reason (--reason TEXT): it is shown to the agent and audited")
    if not by or not by.strip():
        raise AdjustmentError("an adjustment needs its author (--by NAME)")
    if not changes:
        raise AdjustmentError("nothing to change: give --set FIELD=VALUE")
    ws = open_workspace(path)
    corrections = workspace_ruleset(ws).corrections
    if table not in corrections:
        raise AdjustmentError(f"records of '{table}' cannot be adjusted",
                              expected=" or ".join(corrections) or "a table in the ruleset's corrections")
    spec = corrections[table]
    _check_changes(table, spec, changes)
    loaded, rows = _current_record(ws, table, spec, keys, [name for name, _ in changes])
    _check_record_values(loaded, ws, table, spec, changes, rows[0])
    befores = {}
    for name, _ in changes:
        values = {_display(r[name], SCHEMAS[table].column(name).type, ws.zone) for r in rows}
        befores[name] = values.pop() if len(values) == 1 else "; ".join(sorted(v or "empty" for v in values))
    _refuse_second_adjustment(ws, table, keys, befores, corrections)
    return _insert(ws, table, spec, keys, changes, befores, reason.strip(), by.strip())


def _check_changes(table: str, spec: CorrectionTable, changes: list[tuple[str, str]]) -> None:
    """Each change names a correctable field once, with a value the contract allows."""
    seen = set()
    for name, value in changes:
        if name not in spec.fields:
            raise AdjustmentError(
                f"'{name}' is not a correctable field of {table}", field=name,
                expected=f"one of {', '.join(spec.fields)}")
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


def _needed_tables(table: str, spec: CorrectionTable) -> set[str]:
    """The tables to load to check a record of *table*: the required ones, the table, the
    table its records count through and every table they refer to."""
    needed = set(REQUIRED_TABLES) | {table} | ({spec.through.table} if spec.through else set())
    while True:
        more = {target for src, _, target, _ in contract().references if src in needed} - needed
        if not more:
            return needed
        needed |= more


def _current_record(ws: Workspace, table: str, spec: CorrectionTable, keys: tuple, fields: list[str]):
    """(the loaded tables, the record's rows with *fields* and the columns they must not precede)."""
    sub = dataclasses.replace(ws, tables={k: v for k, v in ws.tables.items() if k in _needed_tables(table, spec)})
    if table not in sub.tables:
        raise AdjustmentError(f"the workspace has no {table} table to adjust",
                              file=ws.display(ws.data_dir), expected=f"{table}.csv, .parquet or .xlsx")
    loaded = load_tables(sub, connect(ws.config.timezone))
    typed = loaded.tables[table]
    flt = ibis.and_(*[typed[k] == v for k, v in zip(spec.keys, keys)])
    earlier = [e for t, later, e in ORDERINGS if t == table and later in fields and e not in fields]
    rows = typed.filter(flt).select(*fields, *dict.fromkeys(earlier)).to_pyarrow().to_pylist()
    if not rows:
        where = loaded.sources[table].display
        raise AdjustmentError(f"{spec.missing_text(keys)} in {where}", file=where,
                              expected="an id that appears in the data (ids are case-sensitive)")
    return loaded, rows


def _refuse_second_adjustment(ws: Workspace, table: str, keys: tuple, fields, corrections: Corrections) -> None:
    current = {a.field: a for a in list_adjustments(ws.root, active_only=True, corrections=corrections)
               if a.table == table and tuple(a.keys) == tuple(keys)}
    for name in fields:
        if name in current:
            a = current[name]
            raise AdjustmentError(
                f"{a.record}'s {name} already has active adjustment #{a.id} "
                f"({a.before or 'empty'} → {a.after or 'empty'}); revoke it first (merit revoke WS {a.id})",
                field=name)


def _insert(ws: Workspace, table: str, spec: CorrectionTable, keys: tuple, changes, befores: dict,
            reason: str, by: str) -> list[Adjustment]:
    at = history.now_utc()
    made: list[Adjustment] = []
    with history.opened(ws.root) as hcon, history.transaction(hcon):
        for name, value in changes:
            after = canonical(table, name, value)
            cur = hcon.execute(
                "INSERT INTO adjustments(created_at, created_by, reason, table_name, key1, key2, field, before, after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (at, by, reason, table, keys[0], keys[1] if len(keys) > 1 else None, name, befores[name], after))
            adj = Adjustment(int(cur.lastrowid), table, tuple(keys), name, befores[name], after, reason, by, at,
                             wording=spec)
            history.add_event(hcon, "adjust", by, adj_id=adj.id, at=at, detail=adj.to_dict())
            made.append(adj)
    return made


def _check_record_values(loaded: Tables, ws: Workspace, table: str, spec: CorrectionTable, changes,
                         row: dict) -> None:
    """Checks that need the data: referenced ids exist, times stay in order, the value parses."""
    schema = SCHEMAS[table]
    for name, value in changes:
        text = value.strip()
        if not text:
            continue
        for src, column, target, target_column in contract().references:
            if (src, column) == (table, name) and target in loaded.tables:
                ids = loaded.tables[target]
                if int(ids.filter(ids[target_column] == text).count().execute()) == 0:
                    raise AdjustmentError(f"{name} '{text}' is not an {target_column} in {target}", field=name,
                                          expected=f"a {target_column} listed in {target} (or empty)")
        col = schema.column(name)
        if col.type in ("timestamp", "date"):
            try:
                got = parse_value(table, name, text, ws.zone)
            except ValueError:
                raise AdjustmentError(f"'{text}' is not a valid {table}.{name}", field=name,
                                      expected=EXPECTED.get(col.type)) from None
            for t, later, earlier in ORDERINGS:
                if (t, later) == (table, name) and row.get(earlier) is not None and got < row[earlier]:
                    raise AdjustmentError(
                        f"{name} {text} would be before the {spec.noun}'s {earlier} "
                        f"{_display(row[earlier], schema.column(earlier).type, ws.zone)}", field=name,
                        expected=f"{name} at or after {earlier}")


def revoke(root: Path | str, adj_id: int, *, reason: str, by: str) -> Adjustment:
    """Revoke an active adjustment (call with the workspace lock held)."""
    if not reason or not reason.strip():
        raise AdjustmentError("a revocation needs a reason (--reason TEXT)")
    if not by or not by.strip():
        raise AdjustmentError("a revocation needs its author (--by NAME)")
    if not history.exists(root):
        raise AdjustmentError(f"no adjustment #{adj_id}: this workspace has no adjustments")
    corrections = workspace_ruleset(open_workspace(root)).corrections
    at = history.now_utc()
    with history.opened(root) as con, history.transaction(con):
        row = con.execute("SELECT * FROM adjustments WHERE adj_id = ?", (adj_id,)).fetchone()
        if row is None:
            raise AdjustmentError(f"no adjustment #{adj_id} in this workspace",
                                  expected="an id listed by `merit adjustments WS`")
        adj = _from_row(row, corrections)
        if not adj.active:
            raise AdjustmentError(f"adjustment #{adj_id} was already revoked on {adj.revoked_at} by {adj.revoked_by}")
        con.execute("UPDATE adjustments SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE adj_id = ?",
                    (at, by.strip(), reason.strip(), adj_id))
        adj.revoked_at, adj.revoked_by, adj.revoke_reason = at, by.strip(), reason.strip()
        history.add_event(con, "revoke", by.strip(), adj_id=adj_id, at=at, detail={"reason": reason.strip()})
    return adj


# ------------------------------------------------------------------ applying
def apply(tables: Tables, ws: Workspace, active: list[Adjustment], ruleset: Ruleset) -> list[AppliedAdjustment]:
    """Apply *active* adjustments to the loaded typed tables, in place; report what each touched."""
    from merit.core.cohorts import period_bounds_utc

    applied: list[AppliedAdjustment] = []
    for table in sorted({a.table for a in active}):
        adjs = sorted((a for a in active if a.table == table), key=lambda a: a.id)
        if table not in tables.tables:
            applied.extend(AppliedAdjustment(a, 0, [], False) for a in adjs)
            continue
        spec = ruleset.corrections.get(table)
        if spec is None:
            raise AdjustmentError(f"adjustment #{adjs[0].id} corrects a record of {table}, which the ruleset's "
                                  f"corrections no longer name", expected=f"revoke it (merit revoke WS {adjs[0].id}) "
                                  f"or add {table} to corrections")
        # one adjustment per (record, field): the latest wins should two ever be active
        latest: dict[tuple, Adjustment] = {}
        for a in adjs:
            latest[(tuple(a.keys), a.field)] = a
        records = sorted({k for k, _ in latest})
        _replace_table(tables, ws, table, spec.keys, latest, records)
        applied.extend(_touched(tables, ws, ruleset, table, adjs, records, period_bounds_utc(ws)))
    applied.sort(key=lambda x: x.adjustment.id)
    return applied


def _replace_table(tables: Tables, ws: Workspace, table: str, key_cols: list[str], latest: dict,
                   records: list[tuple]) -> None:
    """Rebuild *table* as a left join with the adjusted values, and point its name at the result."""
    schema = SCHEMAS[table]
    fields = sorted({f for _, f in latest})
    arrays = {f"_k_{k}": pa.array([r[i] for r in records], type=pa.string()) for i, k in enumerate(key_cols)}
    for f in fields:
        values = [latest[(r, f)].after if (r, f) in latest else None for r in records]
        arrays[f"_a_{f}"] = pa.array([parse_value(table, f, x, ws.zone) for x in values],
                                     type=_ARROW[schema.column(f).type])
        arrays[f"_s_{f}"] = pa.array([(r, f) in latest for r in records], type=pa.bool_())
    adj = ibis.memtable(pa.table(arrays))
    t = tables.tables[table]
    joined = t.left_join(adj, [t[k] == adj[f"_k_{k}"] for k in key_cols])
    cols = {}
    for c in t.columns:
        cols[c] = ibis.ifelse(joined[f"_s_{c}"].fill_null(False), joined[f"_a_{c}"].cast(t[c].type()),
                              joined[c]) if c in fields else joined[c]
    rebuilt = joined.select(**cols).order_by("_row")
    # (computed once, on whichever engine holds the tables: every later query reads it)
    tables.tables[table] = portability.materialise(tables.con, f"_adjusted_{table}", rebuilt)


def _touched(tables: Tables, ws: Workspace, ruleset: Ruleset, table: str, adjs: list[Adjustment],
             records: list[tuple], bounds) -> list[AppliedAdjustment]:
    """For each adjustment: how many rows it changed, whose numbers, whether inside the period.

    Whose numbers: the agents the ruleset's ``tables:`` credits the record to, or with
    ``through`` the record of that table it belongs to (a grade: the item's authors); a
    reassignment (a change of the crediting column) touches the agent before it too."""
    spec = ruleset.corrections[table]
    t = tables.tables[table]
    first = spec.keys[0]
    graded = t.filter(t[first].isin(sorted({r[0] for r in records})))
    counts = {tuple(r[k] for k in spec.keys): r["_n"] for r in
              graded.group_by(*spec.keys).aggregate(_n=graded.count()).to_pyarrow().to_pylist()}
    via = spec.through.table if spec.through else table
    link = [spec.through.column] if spec.through else list(spec.keys)
    cfg = ruleset.tables.get(via)
    agent_col, period_col = (cfg.agent, cfg.period) if cfg is not None else (None, None)
    credited = _credited_records(tables, via, link, agent_col, period_col, records, spec.keys)
    out = []
    for a in adjs:
        n = int(counts.get(tuple(a.keys), 0))
        found = credited.get(tuple(dict(zip(spec.keys, a.keys))[c] for c in link))
        if not n:
            out.append(AppliedAdjustment(a, 0, [], False))
            continue
        if found is None:
            out.append(AppliedAdjustment(a, n, [], False))
            continue
        agents = _as_set(found.get(agent_col)) | ({a.before} if via == table and a.field == agent_col else set())
        in_period = period_col is None or _in_period(found.get(period_col), ws, bounds)
        out.append(AppliedAdjustment(a, n, sorted(x for x in agents if x), in_period))
    return out


def _credited_records(tables: Tables, via: str, link: list[str], agent_col, period_col, records: list[tuple],
                      keys: list[str]) -> dict[tuple, dict]:
    """The rows of table *via* that the adjusted records count through, by their *link* columns."""
    source = tables.tables.get(via)
    if source is None:
        return {}
    wanted = sorted({dict(zip(keys, r))[link[0]] for r in records})
    columns = list(dict.fromkeys(link + [c for c in (agent_col, period_col) if c and c in source.columns]))
    rows = source.filter(source[link[0]].isin(wanted)).select(*columns).to_pyarrow().to_pylist()
    return {tuple(r[c] for c in link): r for r in rows}


def _as_set(value) -> set:
    if value is None:
        return set()
    return set(value) if isinstance(value, (list, tuple)) else {value}


def _in_period(value, ws: Workspace, bounds) -> bool:
    """Whether a record's period value puts it in the cycle: an instant (naive UTC) within the
    period's bounds, a date within its days, a 'YYYY-MM' month overlapping it."""
    start, end = ws.config.period.start, ws.config.period.end
    if value is None:
        return False
    if isinstance(value, _dt.datetime):
        return bounds[0] <= value < bounds[1]
    if isinstance(value, _dt.date):
        return start <= value <= end
    return f"{start:%Y-%m}" <= str(value) <= f"{end:%Y-%m}"


def by_agent(applied: list[AppliedAdjustment]) -> dict[str, list[dict]]:
    """Agent id → the adjustments (as dicts, in id order) that touched that agent's numbers."""
    out: dict[str, list[dict]] = {}
    for ap in applied:
        if not ap.in_period or not ap.records:
            continue
        for agent in ap.agents:
            out.setdefault(agent, []).append(ap.to_dict())
    return dict(sorted(out.items()))


def apply_active(tables: Tables, ws: Workspace, ruleset: Ruleset | None = None) -> list[AppliedAdjustment]:
    """Apply the workspace's active adjustments (none when it has no history database), as
    *ruleset* (default: the workspace's) declares its corrections."""
    if not history.exists(ws.root):
        return []
    ruleset = ruleset if ruleset is not None else workspace_ruleset(ws)
    active = list_adjustments(ws.root, active_only=True, corrections=ruleset.corrections)
    return apply(tables, ws, active, ruleset) if active else []
