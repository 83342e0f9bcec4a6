#!/usr/bin/env python
"""Plain pandas baseline of merit's Business metrics.

    python benchmarks/baseline_pandas.py WORKSPACE --out metrics.csv

The same metrics, scopes, breakdowns and output format as
``baseline_duckdb.py``, written the way an analyst would with pandas: read the
files (``pd.read_csv`` / ``pd.read_parquet``), derive per-ticket indicator
columns, ``groupby().agg()`` per scope and breakdown, melt to long format.
Timestamps are converted to UTC instants: naive values are local to the
cycle's time zone, values with an offset (or Z) keep it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CHANNEL_METRICS, COLUMNS, METRICS, MONTH_METRICS, read_cycle  # noqa: E402

TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no"}
OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"


def read(path: Path, columns: list[str]) -> pd.DataFrame:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        have = set(pq.read_schema(path).names)
        return pd.read_parquet(path, columns=[c for c in columns if c in have])
    have = set(pd.read_csv(path, nrows=0).columns)
    # everything as text; '' is missing
    return pd.read_csv(path, usecols=[c for c in columns if c in have], dtype=str, keep_default_na=False)


def text(s: pd.Series | None) -> pd.Series | None:
    if s is None:
        return None
    s = s.astype("string").str.strip()
    return s.mask(s == "")


def enum(s: pd.Series | None) -> pd.Series | None:
    s = text(s)
    return None if s is None else s.str.lower()


def number(s: pd.Series | None) -> pd.Series | None:
    if s is None:
        return None
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        return pd.to_numeric(text(s), errors="raise").astype("float64")
    return s.astype("float64")


def boolean(s: pd.Series | None) -> pd.Series | None:
    """Nullable boolean (pd.NA where empty)."""
    if s is None:
        return None
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean")
    low = enum(s.astype("string"))
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[low.isin(TRUE).fillna(False).astype(bool)] = True
    out[low.isin(FALSE).fillna(False).astype(bool)] = False
    return out


def instant_ns(s: pd.Series | None, tz: str) -> pd.Series | None:
    """UTC instants as naive datetime64[ns] (NaT where empty)."""
    if s is None:
        return None
    if pd.api.types.is_datetime64_any_dtype(s):
        ts = s.dt.tz_localize(tz) if s.dt.tz is None else s
    else:
        s = text(s)
        has_off = s.str.contains(OFFSET, regex=True).fillna(False).astype(bool)
        ts = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
        if has_off.any():
            ts[has_off] = pd.to_datetime(s[has_off], format="ISO8601", utc=True)
        naive = ~has_off & s.notna()
        if naive.any():
            ts[naive] = (pd.to_datetime(s[naive], format="ISO8601").dt.tz_localize(tz)
                         .dt.tz_convert("UTC"))
    ts = ts.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    return ts


def cohort(cyc) -> tuple[pd.DataFrame, bool]:
    tz = cyc.timezone
    t = read(cyc.table("tickets"), [
        "ticket_id", "assignee", "channel", "created_at", "first_response_at", "resolved_at", "reopened",
        "escalated", "product_issue", "rating", "csat", "bad_review_cause", "handle_minutes",
        "wait_seconds"])
    a = read(cyc.table("agents"), ["agent_id", "team"])
    get = t.get

    created = instant_ns(get("created_at"), tz)
    lo = pd.Timestamp(cyc.start).tz_localize(tz).tz_convert("UTC").tz_localize(None)
    hi = pd.Timestamp(cyc.end + dt.timedelta(days=1)).tz_localize(tz).tz_convert("UTC").tz_localize(None)
    keep = ((created >= lo) & (created < hi)).to_numpy()
    t = t.loc[keep].reset_index(drop=True)
    created = created[keep].reset_index(drop=True)
    get = t.get

    resolved = instant_ns(get("resolved_at"), tz)
    first = instant_ns(get("first_response_at"), tz)
    c = pd.DataFrame({"assignee": text(get("assignee"))})
    agents = pd.Series(text(a["team"]).to_numpy(), index=text(a["agent_id"]).to_numpy())
    c["team"] = c["assignee"].map(agents)
    c["channel"] = enum(get("channel")).fillna("")
    local = created.dt.tz_localize("UTC").dt.tz_convert(tz)
    ym = local.dt.year * 100 + local.dt.month
    labels = {v: f"{v // 100:04d}-{v % 100:02d}" for v in ym.unique()}   # a handful of months
    c["month"] = ym.map(labels).astype("string")
    c["is_resolved"] = resolved.notna().to_numpy()
    c["dts_h"] = _hours(created, resolved, 3_600e9)
    c["fr_min"] = _hours(created, first, 60e9)
    reopened = number(get("reopened"))
    c["fcr_hit"] = c["is_resolved"] & (reopened == 0).fillna(False).to_numpy()
    rating = enum(get("rating"))
    cause = enum(get("bad_review_cause"))
    c["rated"] = rating.notna().to_numpy()
    c["good"] = (rating == "good").fillna(False).to_numpy()
    c["bad"] = (rating == "bad").fillna(False).to_numpy()
    c["bad_product"] = c["bad"] & (cause == "product").fillna(False).to_numpy()
    esc = boolean(get("escalated"))
    prod = boolean(get("product_issue"))
    c["escalated"] = (esc == True).fillna(False).to_numpy()  # noqa: E712
    c["not_product"] = (prod == False).fillna(False).to_numpy()  # noqa: E712
    c["escalated_not_product"] = c["escalated"] & c["not_product"]
    c["fdr_hit"] = (c["dts_h"] <= FDR_HOURS).to_numpy()
    c["csat"] = number(get("csat"))
    handle = number(get("handle_minutes"))
    c["aht"] = handle.where(c["is_resolved"])
    c["wait_min"] = number(get("wait_seconds")) / 60.0

    hp = cyc.table("handoffs")
    has_handoffs = hp is not None
    if has_handoffs:
        h = read(hp, ["ticket_id"])
        ids = text(t["ticket_id"])
        c["handed_off"] = ids.isin(set(text(h["ticket_id"]).dropna())).to_numpy()
    else:
        c["handed_off"] = False
    return c, has_handoffs


def _hours(start: pd.Series, stop: pd.Series, unit_ns: float) -> pd.Series:
    """(stop - start) in units of unit_ns nanoseconds, NaN where either is missing."""
    d = (stop - start)
    ns = d.to_numpy(dtype="timedelta64[ns]").astype("int64").astype("float64")
    ns[d.isna().to_numpy()] = np.nan
    return pd.Series(ns / unit_ns, index=start.index)


FDR_HOURS = 24.0


def aggregate(c: pd.DataFrame, keys: list[str], metrics: list[str], has_handoffs: bool) -> pd.DataFrame:
    g = c.groupby(keys, sort=False, dropna=True)
    want = set(metrics)
    agg = {"tickets": ("assignee", "size")}
    sums = ["fdr_hit", "is_resolved", "fcr_hit", "rated", "good", "bad", "bad_product", "escalated",
            "not_product", "escalated_not_product", "handed_off"]
    if want & {"fdr", "fcr", "rating_rate", "good_rate", "bad_rate", "bad_rate_service",
               "independent_closure", "independent_closure_narrow", "handoff_rate"}:
        for s in sums:
            agg[s] = (s, "sum")
    if want & {"dts_avg_hours", "dts_p50_hours", "dts_p80_hours"}:
        agg.update(dts_n=("dts_h", "count"), dts_avg=("dts_h", "mean"),
                   dts_p50=("dts_h", lambda x: x.quantile(0.5)), dts_p80=("dts_h", lambda x: x.quantile(0.8)))
    if "first_response_avg_minutes" in want:
        agg.update(fr_n=("fr_min", "count"), fr_avg=("fr_min", "mean"))
    if "aht_minutes" in want:
        agg.update(aht_n=("aht", "count"), aht_avg=("aht", "mean"))
    if "longest_wait_minutes" in want:
        agg.update(wait_n=("wait_min", "count"), wait_max=("wait_min", "max"))
    if "csat_avg" in want:
        agg.update(csat_n=("csat", "count"), csat_avg=("csat", "mean"))
    if want & {"dts_p50_hours", "dts_p80_hours"}:
        # quantiles via the fast built-in rather than a Python lambda per group
        del agg["dts_p50"], agg["dts_p80"]
    r = g.agg(**agg)
    if want & {"dts_p50_hours", "dts_p80_hours"}:
        q = g["dts_h"].quantile([0.5, 0.8]).unstack()
        r["dts_p50"], r["dts_p80"] = q[0.5], q[0.8]

    def ratio(num, den):
        den = den.astype("float64")
        return (num.astype("float64") / den).where(den != 0)

    out = {}
    if "tickets" in want:
        out["tickets"] = (r["tickets"].astype("float64"), r["tickets"])
    if "fdr" in want:
        out["fdr"] = (ratio(r["fdr_hit"], r["tickets"]), r["tickets"])
    if "fcr" in want:
        out["fcr"] = (ratio(r["fcr_hit"], r["is_resolved"]), r["is_resolved"])
    if "rating_rate" in want:
        out["rating_rate"] = (ratio(r["rated"], r["tickets"]), r["tickets"])
    if "good_rate" in want:
        out["good_rate"] = (ratio(r["good"], r["rated"]), r["rated"])
    if "bad_rate" in want:
        out["bad_rate"] = (ratio(r["bad"], r["rated"]), r["rated"])
    if "bad_rate_service" in want:
        den = r["rated"] - r["bad_product"]
        out["bad_rate_service"] = (ratio(r["bad"] - r["bad_product"], den), den)
    if "independent_closure" in want:
        out["independent_closure"] = (1 - ratio(r["escalated"], r["tickets"]), r["tickets"])
    if "independent_closure_narrow" in want:
        out["independent_closure_narrow"] = (1 - ratio(r["escalated_not_product"], r["not_product"]),
                                             r["not_product"])
    for m, col in (("dts_avg_hours", "dts_avg"), ("dts_p50_hours", "dts_p50"), ("dts_p80_hours", "dts_p80")):
        if m in want:
            out[m] = (r[col], r["dts_n"])
    if "handoff_rate" in want:
        out["handoff_rate"] = (ratio(r["handed_off"], r["tickets"]) if has_handoffs
                               else pd.Series(np.nan, index=r.index), r["tickets"])
    if "first_response_avg_minutes" in want:
        out["first_response_avg_minutes"] = (r["fr_avg"], r["fr_n"])
    if "aht_minutes" in want:
        out["aht_minutes"] = (r["aht_avg"], r["aht_n"])
    if "longest_wait_minutes" in want:
        out["longest_wait_minutes"] = (r["wait_max"], r["wait_n"])
    if "csat_avg" in want:
        out["csat_avg"] = (r["csat_avg"], r["csat_n"])

    frames = []
    for m in metrics:
        v, n = out[m]
        f = pd.DataFrame({"metric": m, "value": v.astype("float64"), "n": n.astype("int64")})
        frames.append(f)
    long = pd.concat(frames).reset_index()
    return long


def run(workspace: Path, out: Path, fdr_hours: float = 24.0) -> int:
    global FDR_HOURS
    FDR_HOURS = fdr_hours
    cyc = read_cycle(workspace)
    c, has_handoffs = cohort(cyc)
    c["org"] = "org"
    parts = []
    for scope, key in (("agent", "assignee"), ("team", "team"), ("org", "org")):
        for bd, col, metrics in (("", None, METRICS), ("month", "month", MONTH_METRICS),
                                 ("channel", "channel", CHANNEL_METRICS)):
            keys = [key] + ([col] if col else [])
            long = aggregate(c, keys, metrics, has_handoffs).rename(columns={key: "id"})
            long["scope"] = scope
            long["breakdown"] = (bd + "=" + long[col].astype(str)) if col else ""
            parts.append(long[COLUMNS])
    res = pd.concat(parts, ignore_index=True)
    res["_s"] = res["scope"].map({"agent": 0, "team": 1, "org": 2})
    res = res.sort_values(["_s", "id", "breakdown", "metric"], kind="stable").drop(columns="_s")
    out.parent.mkdir(parents=True, exist_ok=True)
    res.to_csv(out, index=False)
    return len(c)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--out", type=Path, help="output CSV (default: WORKSPACE/bench/baseline_pandas.csv)")
    ap.add_argument("--fdr-window-hours", type=float, default=24.0)
    args = ap.parse_args(argv)
    out = args.out or args.workspace / "bench" / "baseline_pandas.csv"
    t0 = time.perf_counter()
    n = run(args.workspace, out, args.fdr_window_hours)
    print(f"baseline_pandas: {n} tickets in the cohort -> {out} ({time.perf_counter() - t0:.2f} s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
