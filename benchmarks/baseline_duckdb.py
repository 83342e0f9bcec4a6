#!/usr/bin/env python
"""Hand-written DuckDB baseline of merit's Business metrics.

    python benchmarks/baseline_duckdb.py WORKSPACE --out metrics.csv

Reads WORKSPACE/cycle.yaml and the workspace's data files (agents, tickets,
handoffs; csv or parquet) directly with DuckDB and writes the Business metrics
(docs/metrics.md) for the tickets created in the period at agent, team and org scope,
plus the month and channel breakdowns, in merit's long format
``scope,id,breakdown,metric,value,n``.

This is the query an analyst would write by hand: the cohort is parsed once
into a temp table, then one GROUP BY per scope (and breakdown) with FILTERed
aggregates.  Timestamps are parsed as TIMESTAMPTZ with the session time zone
set to the cycle's: naive values are local time, offsets are honoured; the
period boundary, durations and months follow from that.

``n`` is the number of records behind each value (the denominator of a rate,
the number of non-empty values of a mean or quantile).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import duckdb
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BREAKDOWNS, NEEDS, SCOPES, aggregates, metric_sql, ratio, read_cycle  # noqa: E402


def sql_str(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def source(path: Path) -> str:
    if path.suffix == ".parquet":
        return f"read_parquet({sql_str(path)})"
    # every column as text: we parse (and trim, and treat '' as empty) ourselves
    return f"read_csv({sql_str(path)}, header = true, all_varchar = true)"


def column_types(con: duckdb.DuckDBPyConnection, src: str) -> dict[str, str]:
    return {name: typ for name, typ, *_ in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}


def typed(name: str, kind: str, types: dict[str, str]) -> str:
    """SQL for column NAME converted to KIND (str, enum, ts, num, bool), whatever its source type."""
    if name not in types:
        return "NULL"
    q = '"' + name.replace('"', '""') + '"'
    if types[name] == "VARCHAR":
        s = f"nullif(trim({q}), '')"
        return {
            "str": s,
            "enum": f"lower({s})",
            "ts": f"CAST({s} AS TIMESTAMPTZ)",
            "num": f"CAST({s} AS DOUBLE)",
            "bool": (f"CASE WHEN lower({s}) IN ('true', '1', 'yes') THEN true "
                     f"WHEN lower({s}) IN ('false', '0', 'no') THEN false END"),
        }[kind]
    return {
        "str": f"CAST({q} AS VARCHAR)",
        "enum": f"lower(CAST({q} AS VARCHAR))",
        "ts": f"CAST({q} AS TIMESTAMPTZ)",       # naive TIMESTAMP: local to the session zone
        "num": f"CAST({q} AS DOUBLE)",
        "bool": f"CAST({q} AS BOOLEAN)",
    }[kind]


AGGREGATES = aggregates(fdr_hit="count(*) FILTER (WHERE dts_h <= {fdr_hours})",  # unresolved: dts_h NULL
                        dts_q="quantile_cont(dts_h, [0.5, 0.8])")  # one sort for both quantiles


METRIC_SQL = metric_sql(first_index=1, sixty="60.0")


def scope_query(scope: str, key: str, bd_name: str, bd_col: str | None, metrics: list[str],
                fdr_hours: float, has_handoffs: bool) -> str:
    needed = list(dict.fromkeys(c for m in metrics for c in NEEDS[m]))
    aggs = ",\n    ".join(f"{AGGREGATES[c].format(fdr_hours=fdr_hours)} AS {c}" for c in needed)
    handoff_rate = ratio("handed_off", "tickets") if has_handoffs else "CAST(NULL AS DOUBLE)"
    structs = ",\n      ".join(
        f"{{'metric': '{m}', 'value': CAST({METRIC_SQL[m][0].format(handoff_rate=handoff_rate)} AS DOUBLE), "
        f"'n': CAST({METRIC_SQL[m][1]} AS BIGINT)}}"
        for m in metrics
    )
    group = [key] + ([bd_col] if bd_col else [])
    group_by = "GROUP BY ALL" if scope != "org" or bd_col else ""
    where = f"WHERE {key} IS NOT NULL" if scope != "org" else ""
    bd = f"'{bd_name}=' || coalesce({bd_col}, '')" if bd_col else "''"
    return f"""
SELECT '{scope}' AS scope, id, breakdown, unnest([
      {structs}
    ], recursive := true)
FROM (
  SELECT {key} AS id, {bd} AS breakdown,
    {aggs}
  FROM cohort {where}
  {group_by}
)"""


def zendesk_export(workspace: Path) -> Path | None:
    """The tickets' Zendesk export when cycle.yaml reads them from one (benchmarks/mapped.py)."""
    cfg = yaml.safe_load((workspace / "cycle.yaml").read_text(encoding="utf-8"))
    entry = (cfg.get("sources") or {}).get("tickets")
    return workspace / entry["file"] if entry else None


# The hand-written mapping of the Zendesk export (benchmarks/mapped.py writes it).
ZENDESK_VIA = {"Web form": "ticket", "Email": "email", "Chat": "im", "Voice": "phone", "WeChat": "wechat"}
ZENDESK_SCORE = {"Good": "good", "Bad": "bad", "Neutral": "neutral"}
ZENDESK_CAUSE = {"Product": "product", "Service": "service"}


def zendesk_tickets(export: Path, a_src: str, at: dict[str, str]) -> str:
    """SQL: the tickets of the Zendesk export in the cohort's columns (assignee by name)."""
    def ts(col):
        return f"strptime(nullif(\"{col}\", ''), '%Y-%m-%d %H:%M:%S %z')"

    def mapped(col, mapping, other="NULL"):
        whens = " ".join(f"WHEN {sql_str(k)} THEN {sql_str(v)}" for k, v in mapping.items())
        return f"CASE \"{col}\" {whens} ELSE {other} END"

    tags = "string_split(coalesce(\"Tags\", ''), ' ')"
    return f"""
  SELECT z."Id" AS ticket_id, n.agent_id AS assignee, {mapped('Via', ZENDESK_VIA, "'other'")} AS channel,
         {ts('Created at')} AS created, {ts('First reply at')} AS first_response,
         {ts('Solved at')} AS resolved, CAST(z."Reopens" AS DOUBLE) AS reopened,
         list_contains({tags}, 'escalated') AS escalated, list_contains({tags}, 'product_issue') AS product_issue,
         {mapped('Satisfaction Score', ZENDESK_SCORE)} AS rating, CAST(z."CSAT [int]" AS DOUBLE) AS csat,
         {mapped('Bad review cause [list]', ZENDESK_CAUSE)} AS cause,
         CAST(z."Handle time (min) [num]" AS DOUBLE) AS handle_minutes,
         CAST(z."Longest wait (s) [num]" AS DOUBLE) AS wait_seconds
  FROM read_csv({sql_str(export)}, header = true, all_varchar = true) z
  LEFT JOIN (SELECT {typed('agent_id', 'str', at)} AS agent_id, lower({typed('name', 'str', at)}) AS name
             FROM {a_src}) n ON n.name = lower(z."Assignee")"""


def run(workspace: Path, out: Path, fdr_hours: float = 24.0, threads: int | None = None) -> int:
    cyc = read_cycle(workspace)
    con = duckdb.connect()
    con.execute(f"SET TimeZone = {sql_str(cyc.timezone)}")
    if threads:
        con.execute(f"SET threads = {int(threads)}")

    tickets_path, agents_path = cyc.table("tickets"), cyc.table("agents")
    if tickets_path is None and zendesk_export(workspace) is not None:
        tickets_path = zendesk_export(workspace)
    if tickets_path is None or agents_path is None:
        raise SystemExit("the workspace needs data/tickets and data/agents")
    t_src, a_src = source(tickets_path), source(agents_path)
    tt, at = column_types(con, t_src), column_types(con, a_src)
    handoffs_path = cyc.table("handoffs")

    start = f"CAST({sql_str(cyc.start.isoformat() + ' 00:00:00')} AS TIMESTAMPTZ)"
    stop = f"CAST({sql_str((cyc.end + dt.timedelta(days=1)).isoformat() + ' 00:00:00')} AS TIMESTAMPTZ)"
    if handoffs_path is not None:
        h_src = source(handoffs_path)
        ht = column_types(con, h_src)
        has_handoff = (f"t.ticket_id IN (SELECT {typed('ticket_id', 'str', ht)} FROM {h_src})")
    else:
        has_handoff = "NULL"

    export = zendesk_export(workspace)
    if export is not None:  # the tickets as a Zendesk export: the hand-written mapping below
        t_cte = zendesk_tickets(export, a_src, at)
    else:
        t_cte = f"""
  SELECT {typed('ticket_id', 'str', tt)} AS ticket_id,
         {typed('assignee', 'str', tt)} AS assignee,
         {typed('channel', 'enum', tt)} AS channel,
         {typed('created_at', 'ts', tt)} AS created,
         {typed('first_response_at', 'ts', tt)} AS first_response,
         {typed('resolved_at', 'ts', tt)} AS resolved,
         {typed('reopened', 'num', tt)} AS reopened,
         {typed('escalated', 'bool', tt)} AS escalated,
         {typed('product_issue', 'bool', tt)} AS product_issue,
         {typed('rating', 'enum', tt)} AS rating,
         {typed('csat', 'num', tt)} AS csat,
         {typed('bad_review_cause', 'enum', tt)} AS cause,
         {typed('handle_minutes', 'num', tt)} AS handle_minutes,
         {typed('wait_seconds', 'num', tt)} AS wait_seconds
  FROM {t_src}"""
    con.execute(f"""
CREATE TEMP TABLE cohort AS
WITH t AS ({t_cte}
),
a AS (
  SELECT {typed('agent_id', 'str', at)} AS agent_id, {typed('team', 'str', at)} AS team FROM {a_src}
)
SELECT t.assignee, a.team, t.channel,
       strftime(timezone({sql_str(cyc.timezone)}, t.created), '%Y-%m') AS month,
       t.resolved IS NOT NULL AS is_resolved,
       (epoch_us(t.resolved) - epoch_us(t.created)) / 3600e6 AS dts_h,
       (epoch_us(t.first_response) - epoch_us(t.created)) / 60e6 AS fr_min,
       t.reopened, t.escalated, t.product_issue, t.rating, t.csat, t.cause,
       t.handle_minutes, t.wait_seconds,
       {has_handoff} AS has_handoff
FROM t LEFT JOIN a ON a.agent_id = t.assignee
WHERE t.created >= {start} AND t.created < {stop}
""")

    parts = [scope_query(scope, key, bd_name, bd_col, metrics, fdr_hours, handoffs_path is not None)
             for scope, key in SCOPES for bd_name, bd_col, metrics in BREAKDOWNS]
    body = "\nUNION ALL\n".join(parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"""
COPY (
  SELECT * FROM ({body})
  ORDER BY CASE scope WHEN 'agent' THEN 0 WHEN 'team' THEN 1 ELSE 2 END, id, breakdown, metric
) TO {sql_str(out)} (HEADER, DELIMITER ',')
""")
    return con.execute("SELECT count(*) FROM cohort").fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--out", type=Path, help="output CSV (default: WORKSPACE/bench/baseline_duckdb.csv)")
    ap.add_argument("--fdr-window-hours", type=float, default=24.0)
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    args = ap.parse_args(argv)
    out = args.out or args.workspace / "bench" / "baseline_duckdb.csv"
    t0 = time.perf_counter()
    n = run(args.workspace, out, args.fdr_window_hours, args.threads)
    print(f"baseline_duckdb: {n} tickets in the cohort -> {out} ({time.perf_counter() - t0:.2f} s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
