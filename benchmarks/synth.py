#!/usr/bin/env python
"""A small, deliberately awkward workspace for cross-checking the baselines.

    python benchmarks/synth.py DIR [--tickets 20000] [--agents 60] [--format csv|parquet]

Independent of merit.demo: agents, tickets and handoffs only, with the
awkward cases the baselines must agree on — timestamps naive (local), with an
offset or in UTC ('Z'), with and without seconds; tickets just inside and
just outside the period; resolution exactly at 24 h; empty values everywhere
they are allowed; booleans spelled true/false/1/0/yes/no in any case; enum
values in mixed case with spaces; assignees that are not in agents.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd


def generate(root: Path, *, tickets: int = 20_000, agents: int = 60, seed: int = 11, fmt: str = "csv",
             start: dt.date = dt.date(2026, 7, 1), end: dt.date = dt.date(2026, 9, 30),
             timezone: str = "Asia/Shanghai") -> Path:
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "cycle.yaml").write_text(
        f"name: synth\nperiod: {{start: {start}, end: {end}}}\ntimezone: {timezone}\nruleset: default\n",
        encoding="utf-8")

    ids = [f"a{i:04d}" for i in range(agents)]
    agents_df = pd.DataFrame({
        "agent_id": ids,
        "name": [f"Agent {i}" for i in range(agents)],
        "team": [f"team-{i % 5}" for i in range(agents)],
        "level": rng.choice(["P2", "P3", "P4"], agents),
        "role": rng.choice(["android", "ios", "web"], agents),
        "hired_on": "2024-01-01",
        "left_on": "",
    })

    n = tickets
    # creation times (local, naive) from 5 days before to 5 days after the period
    lo = pd.Timestamp(start) - pd.Timedelta(days=5)
    span = (pd.Timestamp(end) + pd.Timedelta(days=6) - lo).total_seconds()
    created = lo + pd.to_timedelta(rng.integers(0, int(span), n), unit="s")
    # boundary cases
    edges = [pd.Timestamp(start), pd.Timestamp(start) - pd.Timedelta(seconds=1),
             pd.Timestamp(end) + pd.Timedelta(hours=23, minutes=59, seconds=59),
             pd.Timestamp(end) + pd.Timedelta(days=1)]
    created = pd.Series(created)
    created.iloc[: len(edges)] = edges
    resolve_h = rng.exponential(20, n)
    resolve_h[4:40] = 24.0                       # exactly on the FDR window
    resolved = created + pd.to_timedelta(np.round(resolve_h * 3600), unit="s")
    resolved[rng.random(n) < 0.12] = pd.NaT      # unresolved
    first = created + pd.to_timedelta(rng.integers(5, 4 * 3600, n), unit="s")
    first[rng.random(n) < 0.03] = pd.NaT
    closed = resolved + pd.Timedelta(hours=48)

    assignee = rng.choice(ids + ["ghost-1"], n, p=[0.99 / agents] * agents + [0.01])
    rating = rng.choice(["good", "Good ", "neutral", "bad", " BAD", ""], n, p=[0.4, 0.05, 0.15, 0.1, 0.05, 0.25])
    cause = np.where(np.char.strip(np.char.lower(rating.astype(str))) == "bad",
                     rng.choice(["product", "service", "", "Product"], n), "")
    csat = rng.integers(1, 6, n).astype(float)
    csat[rng.random(n) < 0.4] = np.nan
    handle = np.round(rng.gamma(2.0, 12.0, n), 2)
    handle[rng.random(n) < 0.02] = np.nan
    wait = rng.integers(0, 3600, n).astype(float)
    wait[rng.random(n) < 0.02] = np.nan
    reopened = rng.choice([0, 0, 0, 0, 1, 2], n)

    df = pd.DataFrame({
        "ticket_id": [f"T{i:08d}" for i in range(n)],
        "customer_id": rng.integers(1, n // 3 + 2, n).astype(str),
        "channel": rng.choice(["im", "phone", "email", "ticket", "WeChat"], n),
        "created_at": created, "first_response_at": first, "resolved_at": resolved, "closed_at": closed,
        "assignee": assignee, "reopened": reopened,
        "escalated": rng.random(n) < 0.1, "product_issue": rng.random(n) < 0.2,
        "rating": rating, "csat": csat, "bad_review_cause": cause,
        "handle_minutes": handle, "wait_seconds": wait,
    })
    n_h = n // 5
    handoffs = pd.DataFrame({
        "ticket_id": df["ticket_id"].to_numpy()[rng.integers(0, n, n_h)],
        "from_agent": rng.choice(ids, n_h), "to_agent": rng.choice(ids, n_h),
        "at": "2026-08-01 10:00",
    })

    if fmt == "parquet":
        for col in ("escalated", "product_issue"):
            df[col] = df[col].astype("boolean")
            df.loc[rng.random(n) < 0.01, col] = pd.NA
        for col in ("rating", "bad_review_cause"):
            df[col] = df[col].replace({"": None})
        agents_df.to_parquet(root / "data" / "agents.parquet", index=False)
        df.to_parquet(root / "data" / "tickets.parquet", index=False)
        handoffs.to_parquet(root / "data" / "handoffs.parquet", index=False)
        return root

    # csv: timestamps in mixed spellings, booleans in mixed spellings
    tz = timezone
    kinds = rng.integers(0, 4, n)

    def spell(ts: pd.Series) -> pd.Series:
        naive_min = ts.dt.strftime("%Y-%m-%d %H:%M")
        naive_sec = ts.dt.strftime("%Y-%m-%dT%H:%M:%S")
        aware = ts.dt.tz_localize(tz)
        offset = aware.dt.strftime("%Y-%m-%dT%H:%M:%S") + aware.dt.strftime("%z").str.replace(
            r"(\d\d)(\d\d)$", r"\1:\2", regex=True)
        utc = aware.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        out = np.select([kinds == 0, kinds == 1, kinds == 2], [naive_min, naive_sec, offset], utc)
        return pd.Series(out, index=ts.index).where(ts.notna(), "")

    # minute-only spelling would round the seconds away: only use it where seconds are 0
    for col in ("created_at", "first_response_at", "resolved_at", "closed_at"):
        ts = df[col]
        s = spell(ts)
        has_sec = ts.dt.second.fillna(0).to_numpy() != 0
        s = s.where(~((kinds == 0) & has_sec), ts.dt.strftime("%Y-%m-%d %H:%M:%S"))
        df[col] = s.where(ts.notna(), "")
    spellings = np.array([["true", "false"], ["1", "0"], ["yes", "no"], ["TRUE", "False"], [" Yes", "NO "]])
    for col in ("escalated", "product_issue"):
        which = rng.integers(0, len(spellings), n)
        vals = np.where(df[col].to_numpy(), spellings[which, 0], spellings[which, 1])
        vals[rng.random(n) < 0.01] = ""
        df[col] = vals
    agents_df.to_csv(root / "data" / "agents.csv", index=False)
    df.to_csv(root / "data" / "tickets.csv", index=False)
    handoffs.to_csv(root / "data" / "handoffs.csv", index=False)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--tickets", type=int, default=20_000)
    ap.add_argument("--agents", type=int, default=60)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--format", choices=["csv", "parquet"], default="csv")
    a = ap.parse_args()
    print(generate(a.root, tickets=a.tickets, agents=a.agents, seed=a.seed, fmt=a.format))


if __name__ == "__main__":
    main()
