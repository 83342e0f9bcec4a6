#!/usr/bin/env python
"""Hand-written Spark baseline of merit's Business metrics.

    python benchmarks/baseline_spark.py WORKSPACE --out metrics.csv [--master local[2]] [--event-log DIR]

The Spark twin of ``baseline_duckdb.py``: the same metrics, scopes, breakdowns
and output format (``scope,id,breakdown,metric,value,n``), written by hand as
Spark SQL over ``spark.read.parquet`` (or ``spark.read.csv``) of the
workspace's files, on a SparkSession with ANSI mode on and the session time
zone UTC, as merit runs Spark.

Timestamps become UTC instants: naive values (Parquet's TIMESTAMP_NTZ, text
without an offset) are wall-clock times of the cycle's zone
(``to_utc_timestamp``), values with an offset keep it; months are taken on
the wall clock again (``from_utc_timestamp``).  Quantiles are exact and
interpolated linearly between the two nearest ranks (Spark's ``percentile``,
DuckDB's ``quantile_cont``, numpy's "linear").

``--plan cache`` (the default): the cohort is computed once and cached
(``CACHE TABLE``: one scan of the files), then one GROUP BY per scope and
breakdown, as in the DuckDB baseline.  ``--plan partials``, the plan for a
cluster (docs/performance.md): nothing of ticket size is cached; one pass
computes additive partials per agent, team, month and channel, a second the
exact quantiles per agent, team and organisation (GROUPING SETS), and every
scope and breakdown is rolled up from the partials.  The result (a few rows
per agent) is collected to the driver and written as one CSV.  The time of each phase goes to stderr; ``--event-log DIR`` keeps
Spark's event log, and the stages it lists are summarised on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BREAKDOWNS, COLUMNS, NEEDS, SCOPES, aggregates, metric_sql, ratio, read_cycle,
)

OFFSET = "'(Z|[+-][0-9]{2}:?[0-9]{2})$'"


def sql_str(s: str) -> str:
    return "'" + str(s).replace("\\", "\\\\").replace("'", "\\'") + "'"


def typed(name: str, kind: str, types: dict[str, str], tz: str) -> str:
    """Spark SQL for column NAME converted to KIND (str, enum, ts, num, bool), whatever its source type."""
    if name not in types:
        return "NULL"
    q = f"`{name}`"
    if types[name] == "string":
        s = f"nullif(trim({q}), '')"
        return {
            "str": s,
            "enum": f"lower({s})",
            # an offset is honoured by the cast; a naive value is the cycle zone's wall clock
            "ts": (f"CASE WHEN {s} RLIKE {OFFSET} THEN CAST({s} AS TIMESTAMP) "
                   f"ELSE to_utc_timestamp(CAST({s} AS TIMESTAMP), {sql_str(tz)}) END"),
            "num": f"CAST({s} AS DOUBLE)",
            "bool": (f"CASE WHEN lower({s}) IN ('true', '1', 'yes') THEN true "
                     f"WHEN lower({s}) IN ('false', '0', 'no') THEN false END"),
        }[kind]
    if kind == "ts":
        if types[name] == "timestamp":           # an instant already
            return q
        # TIMESTAMP_NTZ (pyarrow's naive timestamps) or DATE: the cycle zone's wall clock
        return f"to_utc_timestamp(CAST({q} AS TIMESTAMP), {sql_str(tz)})"
    return {
        "str": f"CAST({q} AS STRING)",
        "enum": f"lower(CAST({q} AS STRING))",
        "num": f"CAST({q} AS DOUBLE)",
        "bool": f"CAST({q} AS BOOLEAN)",
    }[kind]


AGGREGATES = aggregates(fdr_hit="count(*) FILTER (WHERE dts_h <= CAST({fdr_hours} AS DOUBLE))",
                        dts_q="percentile(dts_h, array(0.5D, 0.8D))")  # exact, linear; one buffer for both


METRIC_SQL = metric_sql(first_index=0, sixty="60D")


# The partials plan: one row of additive aggregates per agent, team, month and channel (one pass
# over the files), rolled up to every scope and breakdown; quantiles in a second pass.
PARTIAL_SUMS = {"dts_avg": ("dts_sum", "dts_h"), "fr_avg": ("fr_sum", "fr_min"),
                "aht_avg": ("aht_sum", "handle_minutes"), "csat_avg": ("csat_sum", "csat")}
PARTIAL_COLUMNS = [c for c in AGGREGATES if c not in PARTIAL_SUMS and c != "dts_q"]
ROLLUP = {**{c: f"sum({c})" for c in PARTIAL_COLUMNS}, "wait_max": "max(wait_max)",
          **{c: f"sum({total}) / nullif(sum({n}), 0)" for c, (total, n) in
             (("dts_avg", ("dts_sum", "dts_n")), ("fr_avg", ("fr_sum", "fr_n")),
              ("aht_avg", ("aht_sum", "aht_n")), ("csat_avg", ("csat_sum", "csat_n")))}}
QUANTILE_METRICS = ["dts_p50_hours", "dts_p80_hours"]


def partials_sql(fdr_hours: float) -> str:
    counts = [f"{AGGREGATES[c].format(fdr_hours=fdr_hours)} AS {c}" for c in PARTIAL_COLUMNS]
    sums = [f"sum({col}) {'FILTER (WHERE is_resolved) ' if c == 'aht_avg' else ''}AS {total}"
            for c, (total, col) in PARTIAL_SUMS.items()]
    return (f"SELECT assignee, team, month, channel,\n    " + ",\n    ".join(counts + sums)
            + "\nFROM cohort GROUP BY assignee, team, month, channel")


def quantiles_sql() -> str:
    """Exact quantiles per agent, per team and for the organisation, in one aggregation."""
    rows = ", ".join(f"named_struct('metric', '{m}', 'value', q[{i}], 'n', n)"
                     for i, m in enumerate(QUANTILE_METRICS))
    return f"""
SELECT CASE gid WHEN 1 THEN 'agent' WHEN 2 THEN 'team' ELSE 'org' END AS scope,
       CASE gid WHEN 1 THEN assignee WHEN 2 THEN team ELSE 'org' END AS id, '' AS breakdown,
       inline(array({rows}))
FROM (
  SELECT assignee, team, grouping_id(assignee, team) AS gid,   -- 1: by agent, 2: by team, 3: all
         percentile(dts_h, array(0.5D, 0.8D)) AS q, count(dts_h) AS n
  FROM cohort GROUP BY GROUPING SETS ((assignee), (team), ())
)
WHERE (gid = 1 AND assignee IS NOT NULL) OR (gid = 2 AND team IS NOT NULL) OR gid = 3"""


def scope_query(scope: str, key: str, bd_name: str, bd_col: str | None, metrics: list[str],
                fdr_hours: float, has_handoffs: bool, source: str = "cohort") -> str:
    """One scope and breakdown, over the cohort (ticket rows) or the partials (rolled up)."""
    needed = list(dict.fromkeys(c for m in metrics for c in NEEDS[m]))
    agg = ROLLUP if source == "partials" else AGGREGATES
    aggs = ",\n    ".join(f"{agg[c].format(fdr_hours=fdr_hours)} AS {c}" for c in needed)
    handoff_rate = ratio("handed_off", "tickets") if has_handoffs else "CAST(NULL AS DOUBLE)"
    structs = ",\n      ".join(
        f"named_struct('metric', '{m}', 'value', CAST({METRIC_SQL[m][0].format(handoff_rate=handoff_rate)} "
        f"AS DOUBLE), 'n', CAST({METRIC_SQL[m][1]} AS BIGINT))"
        for m in metrics
    )
    group = ([key] if scope != "org" else []) + ([bd_col] if bd_col else [])
    group_by = f"GROUP BY {', '.join(group)}" if group else ""   # org without breakdown: one row
    where = f"WHERE {key} IS NOT NULL" if scope != "org" else ""
    bd = f"'{bd_name}=' || coalesce({bd_col}, '')" if bd_col else "''"
    return f"""
SELECT '{scope}' AS scope, id, breakdown, inline(array(
      {structs}
    ))
FROM (
  SELECT {key} AS id, {bd} AS breakdown,
    {aggs}
  FROM {source} {where}
  {group_by}
)"""


def session(master: str, event_log: Path | None):
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.appName("baseline_spark").master(master)
               .config("spark.sql.ansi.enabled", "true")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.log.level", "ERROR"))
    if event_log:
        event_log.mkdir(parents=True, exist_ok=True)
        # one plain JSON file per run (Spark 4 writes rolling, zstd-compressed logs by default)
        builder = (builder.config("spark.eventLog.enabled", "true").config("spark.eventLog.dir", str(event_log))
                   .config("spark.eventLog.compress", "false").config("spark.eventLog.rolling.enabled", "false"))
    return builder.getOrCreate()


def read(spark, path: Path, view: str) -> dict[str, str]:
    """Register PATH as temp view VIEW; its column types (Spark's simple names)."""
    if path.suffix == ".parquet":
        df = spark.read.parquet(str(path))
    else:                                  # every column as text: parsed (and trimmed) below
        df = spark.read.option("header", "true").csv(str(path))
    df.createOrReplaceTempView(view)
    return {f.name: f.dataType.simpleString() for f in df.schema.fields}


def cohort_sql(cyc, tt: dict, at: dict, ht: dict | None) -> str:
    has_handoffs = ht is not None
    tz = cyc.timezone
    start = f"to_utc_timestamp(TIMESTAMP {sql_str(cyc.start.isoformat() + ' 00:00:00')}, {sql_str(tz)})"
    stop = f"to_utc_timestamp(TIMESTAMP {sql_str((cyc.end + dt.timedelta(days=1)).isoformat() + ' 00:00:00')}, " \
           f"{sql_str(tz)})"
    cols = [("ticket_id", "str"), ("assignee", "str"), ("channel", "enum"), ("created_at", "ts"),
            ("first_response_at", "ts"), ("resolved_at", "ts"), ("reopened", "num"), ("escalated", "bool"),
            ("product_issue", "bool"), ("rating", "enum"), ("csat", "num"), ("bad_review_cause", "enum"),
            ("handle_minutes", "num"), ("wait_seconds", "num")]
    alias = {"created_at": "created", "first_response_at": "first_response", "resolved_at": "resolved",
             "bad_review_cause": "cause"}
    t_cols = ",\n         ".join(f"{typed(c, k, tt, tz)} AS {alias.get(c, c)}" for c, k in cols)
    # (a join, not `ticket_id IN (subquery)`: Spark allows IN-subqueries only in filters)
    h_join = "LEFT JOIN (SELECT DISTINCT ticket_id FROM h) hh ON hh.ticket_id = t.ticket_id" if has_handoffs else ""
    has_handoff = "hh.ticket_id IS NOT NULL" if has_handoffs else "CAST(NULL AS BOOLEAN)"
    h_cte = ",\nh AS (SELECT {} AS ticket_id FROM handoffs_raw)".format(
        typed("ticket_id", "str", ht, tz)) if has_handoffs else ""
    return f"""
WITH t AS (
  SELECT {t_cols}
  FROM tickets_raw
),
a AS (
  SELECT {typed('agent_id', 'str', at, tz)} AS agent_id, {typed('team', 'str', at, tz)} AS team FROM agents_raw
){h_cte}
SELECT t.assignee, a.team, t.channel,
       date_format(from_utc_timestamp(t.created, {sql_str(tz)}), 'yyyy-MM') AS month,
       t.resolved IS NOT NULL AS is_resolved,
       (unix_micros(t.resolved) - unix_micros(t.created)) / 3600e6D AS dts_h,
       (unix_micros(t.first_response) - unix_micros(t.created)) / 60e6D AS fr_min,
       t.reopened, t.escalated, t.product_issue, t.rating, t.csat, t.cause,
       t.handle_minutes, t.wait_seconds,
       {has_handoff} AS has_handoff
FROM t LEFT JOIN a ON a.agent_id = t.assignee {h_join}
WHERE t.created >= {start} AND t.created < {stop}
"""


def run(workspace: Path, out: Path, fdr_hours: float = 24.0, master: str = "local[2]",
        event_log: Path | None = None, plan: str = "cache") -> tuple[int, dict[str, float], dict[str, float]]:
    """Write the metrics CSV; the cohort's size, the seconds of each phase and the cached cohort's
    MB (in memory, on disk)."""
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    cyc = read_cycle(workspace)
    tickets_path, agents_path = cyc.table("tickets"), cyc.table("agents")
    if tickets_path is None or agents_path is None:
        raise SystemExit("the workspace needs data/tickets and data/agents")
    spark = session(master, event_log)
    phases["session"] = time.perf_counter() - t0

    def phase(name: str) -> float:
        spark.sparkContext.setJobDescription(name)    # names the phase's jobs in the event log
        return time.perf_counter()

    try:
        t0 = phase("read schemas")
        tt, at = read(spark, tickets_path, "tickets_raw"), read(spark, agents_path, "agents_raw")
        handoffs_path = cyc.table("handoffs")
        ht = read(spark, handoffs_path, "handoffs_raw") if handoffs_path else None
        phases["read schemas"] = time.perf_counter() - t0

        cohort = cohort_sql(cyc, tt, at, ht)
        has_handoffs = handoffs_path is not None
        if plan == "partials":
            result, n, cache_mb = _partials_plan(spark, phase, phases, cohort, fdr_hours, has_handoffs)
        else:
            result, n, cache_mb = _cache_plan(spark, phase, phases, cohort, fdr_hours, has_handoffs)

        t0 = time.perf_counter()
        result["n"] = result["n"].astype("Int64")
        out.parent.mkdir(parents=True, exist_ok=True)
        result[COLUMNS].to_csv(out, index=False)
        phases["write csv"] = time.perf_counter() - t0
    finally:
        t0 = time.perf_counter()
        spark.stop()
        phases["stop"] = time.perf_counter() - t0
    return n, phases, cache_mb


ORDER = "ORDER BY CASE scope WHEN 'agent' THEN 0 WHEN 'team' THEN 1 ELSE 2 END, id, breakdown, metric"


def _cached_mb(spark) -> dict[str, float]:
    cached = spark.sparkContext._jsc.sc().getRDDStorageInfo()
    return {"memory": sum(i.memSize() for i in cached) / 2**20, "disk": sum(i.diskSize() for i in cached) / 2**20}


def _cache_plan(spark, phase, phases, cohort: str, fdr_hours: float, has_handoffs: bool):
    """The cohort cached (one scan of the files), then one GROUP BY per scope and breakdown over it."""
    t0 = phase("cohort")
    spark.sql("CACHE TABLE cohort AS " + cohort)
    n = spark.sql("SELECT count(*) FROM cohort").collect()[0][0]
    phases["cohort"] = time.perf_counter() - t0
    cache_mb = _cached_mb(spark)

    t0 = phase("aggregate")
    body = "\nUNION ALL\n".join(scope_query(scope, key, bd_name, bd_col, metrics, fdr_hours, has_handoffs)
                                 for scope, key in SCOPES for bd_name, bd_col, metrics in BREAKDOWNS)
    result = spark.sql(f"SELECT * FROM ({body})\n{ORDER}").toPandas()
    phases["aggregate"] = time.perf_counter() - t0
    return result, n, cache_mb


def _partials_plan(spark, phase, phases, cohort: str, fdr_hours: float, has_handoffs: bool):
    """No cached cohort: pass 1 the partials (agent x month x channel, kept in Spark), pass 2 the
    quantiles (GROUPING SETS, collected), then every scope and breakdown rolled up from the partials.
    (The quantiles are collected, not cached: Spark did not find a cached ``percentile`` query's
    result again and recomputed it for every later read.)"""
    import pandas as pd

    spark.sql("CREATE OR REPLACE TEMP VIEW cohort AS " + cohort)
    t0 = phase("partials")
    # (a few rows per agent: in as many partitions as cores, not the 200 of the shuffle that made them)
    partials = spark.sql(partials_sql(fdr_hours)).coalesce(spark.sparkContext.defaultParallelism).cache()
    partials.createOrReplaceTempView("partials")
    n, rows = partials.selectExpr("sum(tickets)", "count(*)").collect()[0]
    phases[f"partials ({rows} rows)"] = time.perf_counter() - t0
    cache_mb = _cached_mb(spark)

    t0 = phase("quantiles")
    quantiles = spark.sql(quantiles_sql()).toPandas()
    phases[f"quantiles ({len(quantiles)} rows)"] = time.perf_counter() - t0

    t0 = phase("roll up")
    body = "\nUNION ALL\n".join(
        scope_query(scope, key, bd_name, bd_col, [m for m in metrics if m not in QUANTILE_METRICS],
                    fdr_hours, has_handoffs, source="partials")
        for scope, key in SCOPES for bd_name, bd_col, metrics in BREAKDOWNS)
    rolled = spark.sql(f"SELECT * FROM ({body})").toPandas()
    result = pd.concat([rolled, quantiles], ignore_index=True)
    result = result.sort_values(["scope", "id", "breakdown", "metric"],
                                key=lambda c: c.map({"agent": 0, "team": 1, "org": 2}) if c.name == "scope" else c)
    phases["roll up"] = time.perf_counter() - t0
    return result, n, cache_mb


def stage_summary(event_log: Path) -> list[dict]:
    """The completed stages of the newest event log in EVENT_LOG, with their phase (job description):
    tasks, wall and task seconds, GC, input and shuffle bytes."""
    logs = sorted((p for p in event_log.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime)
    if not logs:
        return []
    stages, phase_of = [], {}
    with open(logs[-1], encoding="utf-8") as fh:
        for line in fh:
            ev = json.loads(line)
            if ev["Event"] == "SparkListenerJobStart":
                desc = (ev.get("Properties") or {}).get("spark.job.description", "")
                phase_of.update({sid: desc for sid in ev.get("Stage IDs", [])})
            elif ev["Event"] == "SparkListenerStageCompleted":
                info = ev["Stage Info"]
                acc = {a.get("Name"): int(a.get("Value") or 0) for a in info.get("Accumulables", [])
                       if str(a.get("Value", "")).isdigit()}
                stages.append({
                    "phase": phase_of.get(info["Stage ID"], ""), "stage": info["Stage ID"],
                    "tasks": info["Number of Tasks"], "start": info["Submission Time"] / 1000,
                    "end": info["Completion Time"] / 1000,
                    "task_s": acc.get("internal.metrics.executorRunTime", 0) / 1000,
                    "gc_s": acc.get("internal.metrics.jvmGCTime", 0) / 1000,
                    "input_mb": acc.get("internal.metrics.input.bytesRead", 0) / 2**20,
                    "shuffle_mb": acc.get("internal.metrics.shuffle.write.bytesWritten", 0) / 2**20,
                    "spill_mb": acc.get("internal.metrics.diskBytesSpilled", 0) / 2**20,
                })
    return stages


def print_stages(stages: list[dict], err) -> None:
    print("  stages: phase stage tasks wall_s task_s gc_s input_MB shuffle_MB spill_MB", file=err)
    for s in stages:
        print(f"    {s['phase']:12s} {s['stage']:>4} {s['tasks']:>5} {s['end'] - s['start']:7.2f} "
              f"{s['task_s']:7.2f} {s['gc_s']:6.2f} {s['input_mb']:8.1f} {s['shuffle_mb']:8.1f} "
              f"{s['spill_mb']:8.1f}", file=err)
    print("  by phase: phase stages span_s task_s gc_s input_MB shuffle_MB spill_MB", file=err)
    for name in dict.fromkeys(s["phase"] for s in stages):
        ss = [s for s in stages if s["phase"] == name]
        span = max(s["end"] for s in ss) - min(s["start"] for s in ss)
        tot = {k: sum(s[k] for s in ss) for k in ("task_s", "gc_s", "input_mb", "shuffle_mb", "spill_mb")}
        print(f"    {name:12s} {len(ss):>6} {span:7.2f} {tot['task_s']:7.2f} {tot['gc_s']:6.2f} "
              f"{tot['input_mb']:8.1f} {tot['shuffle_mb']:8.1f} {tot['spill_mb']:8.1f}", file=err)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--out", type=Path, help="output CSV (default: WORKSPACE/bench/baseline_spark.csv)")
    ap.add_argument("--fdr-window-hours", type=float, default=24.0)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--plan", choices=["cache", "partials"], default="cache",
                    help="cache: the cohort cached, one GROUP BY per scope and breakdown (as the DuckDB "
                         "baseline); partials: one pass to per-agent partials, one for the quantiles, "
                         "rolled up (the plan for a cluster, docs/performance.md)")
    ap.add_argument("--event-log", type=Path, metavar="DIR", help="keep Spark's event log in DIR and "
                    "summarise its stages on stderr")
    args = ap.parse_args(argv)
    out = args.out or args.workspace / "bench" / "baseline_spark.csv"
    t0 = time.perf_counter()
    n, phases, cache_mb = run(args.workspace, out, args.fdr_window_hours, args.master, args.event_log, args.plan)
    err = sys.stderr
    print(f"baseline_spark: {n} tickets in the cohort -> {out} ({time.perf_counter() - t0:.2f} s)", file=err)
    for name, secs in phases.items():
        print(f"  {name:28s} {secs:8.2f} s", file=err)
    print(f"  cached ({args.plan}): {cache_mb['memory']:.1f} MB in memory, {cache_mb['disk']:.1f} MB on disk",
          file=err)
    if args.event_log:
        print_stages(stage_summary(args.event_log), err)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    sys.exit(main())
