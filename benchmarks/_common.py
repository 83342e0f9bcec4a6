"""Small helpers shared by the benchmark baselines (no merit imports).

The baselines read a merit workspace directly: ``cycle.yaml`` for the period
and time zone, ``data/NAME.csv`` or ``data/NAME.parquet`` for the tables.
They deliberately do not use ``engine`` so that they stay independent
hand-written cross-checks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

# The Business metrics the baselines compute (metric ids of docs/metrics.md), in output order.
METRICS = [
    "tickets", "fdr", "fcr", "rating_rate", "good_rate", "bad_rate", "bad_rate_service",
    "independent_closure", "independent_closure_narrow",
    "dts_avg_hours", "dts_p50_hours", "dts_p80_hours", "handoff_rate",
    "first_response_avg_minutes", "aht_minutes", "longest_wait_minutes", "csat_avg",
]
MONTH_METRICS = ["tickets", "first_response_avg_minutes", "csat_avg", "aht_minutes"]
CHANNEL_METRICS = ["tickets", "fdr"]

COLUMNS = ["scope", "id", "breakdown", "metric", "value", "n"]


# --- the SQL baselines (DuckDB and Spark): each metric from the aggregate columns of one GROUP BY
def aggregates(fdr_hit: str, dts_q: str) -> dict[str, str]:
    """The aggregates over the cohort (one row per ticket), with the dialect's own *fdr_hit*
    (within ``{fdr_hours}``) and *dts_q* (the exact p50 and p80 of ``dts_h``); NULLs (missing values,
    unresolved tickets) drop out of FILTERs, counts and means, as SQL does by itself."""
    return {
        "tickets": "count(*)",
        "fdr_hit": fdr_hit,
        "resolved": "count(*) FILTER (WHERE is_resolved)",
        "fcr_hit": "count(*) FILTER (WHERE is_resolved AND reopened = 0)",
        "rated": "count(rating)",
        "good": "count(*) FILTER (WHERE rating = 'good')",
        "bad": "count(*) FILTER (WHERE rating = 'bad')",
        "bad_product": "count(*) FILTER (WHERE rating = 'bad' AND cause = 'product')",
        "escalated": "count(*) FILTER (WHERE escalated)",
        "not_product": "count(*) FILTER (WHERE NOT product_issue)",
        "escalated_not_product": "count(*) FILTER (WHERE escalated AND NOT product_issue)",
        "dts_n": "count(dts_h)",
        "dts_avg": "avg(dts_h)",
        "dts_q": dts_q,
        "handed_off": "count(*) FILTER (WHERE has_handoff)",
        "fr_n": "count(fr_min)",
        "fr_avg": "avg(fr_min)",
        "aht_n": "count(handle_minutes) FILTER (WHERE is_resolved)",
        "aht_avg": "avg(handle_minutes) FILTER (WHERE is_resolved)",
        "wait_n": "count(wait_seconds)",
        "wait_max": "max(wait_seconds)",
        "csat_n": "count(csat)",
        "csat_avg": "avg(csat)",
    }


def ratio(num: str, den: str) -> str:
    return f"CAST({num} AS DOUBLE) / nullif({den}, 0)"


def metric_sql(first_index: int, sixty: str) -> dict[str, tuple[str, str]]:
    """metric id -> (value, n) over the aggregate columns; *first_index* is the dialect's first
    array index (DuckDB 1, Spark 0), *sixty* its literal for 60 as a double."""
    return {
        "tickets": ("tickets", "tickets"),
        "fdr": (ratio("fdr_hit", "tickets"), "tickets"),
        "fcr": (ratio("fcr_hit", "resolved"), "resolved"),
        "rating_rate": (ratio("rated", "tickets"), "tickets"),
        "good_rate": (ratio("good", "rated"), "rated"),
        "bad_rate": (ratio("bad", "rated"), "rated"),
        "bad_rate_service": (ratio("bad - bad_product", "rated - bad_product"), "rated - bad_product"),
        "independent_closure": ("1 - " + ratio("escalated", "tickets"), "tickets"),
        "independent_closure_narrow": ("1 - " + ratio("escalated_not_product", "not_product"), "not_product"),
        "dts_avg_hours": ("dts_avg", "dts_n"),
        "dts_p50_hours": (f"dts_q[{first_index}]", "dts_n"),
        "dts_p80_hours": (f"dts_q[{first_index + 1}]", "dts_n"),
        "handoff_rate": ("{handoff_rate}", "tickets"),
        "first_response_avg_minutes": ("fr_avg", "fr_n"),
        "aht_minutes": ("aht_avg", "aht_n"),
        "longest_wait_minutes": (f"wait_max / {sixty}", "wait_n"),
        "csat_avg": ("csat_avg", "csat_n"),
    }


NEEDS = {  # aggregate columns each metric reads
    "tickets": ["tickets"], "fdr": ["fdr_hit", "tickets"], "fcr": ["fcr_hit", "resolved"],
    "rating_rate": ["rated", "tickets"], "good_rate": ["good", "rated"], "bad_rate": ["bad", "rated"],
    "bad_rate_service": ["bad", "bad_product", "rated"], "independent_closure": ["escalated", "tickets"],
    "independent_closure_narrow": ["escalated_not_product", "not_product"],
    "dts_avg_hours": ["dts_avg", "dts_n"], "dts_p50_hours": ["dts_q", "dts_n"],
    "dts_p80_hours": ["dts_q", "dts_n"], "handoff_rate": ["handed_off", "tickets"],
    "first_response_avg_minutes": ["fr_avg", "fr_n"], "aht_minutes": ["aht_avg", "aht_n"],
    "longest_wait_minutes": ["wait_max", "wait_n"], "csat_avg": ["csat_avg", "csat_n"],
}
SCOPES = [("agent", "assignee"), ("team", "team"), ("org", "'org'")]
BREAKDOWNS = [("", None, METRICS), ("month", "month", MONTH_METRICS), ("channel", "channel", CHANNEL_METRICS)]


@dataclass
class Cycle:
    root: Path
    start: dt.date          # inclusive, local
    end: dt.date            # inclusive, local
    timezone: str
    data_dir: Path

    def table(self, name: str) -> Path | None:
        """data/NAME.parquet or data/NAME.csv (None when the table is absent)."""
        for suffix in (".parquet", ".csv"):
            p = self.data_dir / f"{name}{suffix}"
            if p.is_file():
                return p
        if (self.data_dir / f"{name}.xlsx").is_file():
            raise SystemExit(f"{name}.xlsx: the baselines read csv and parquet only")
        return None


def read_cycle(root: str | Path) -> Cycle:
    root = Path(root)
    with open(root / "cycle.yaml", encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh)
    period = cfg["period"]
    start, end = period["start"], period["end"]
    if isinstance(start, str):
        start = dt.date.fromisoformat(start)
    if isinstance(end, str):
        end = dt.date.fromisoformat(end)
    return Cycle(root=root, start=start, end=end, timezone=cfg.get("timezone") or "UTC",
                 data_dir=root / (cfg.get("data") or "data"))
