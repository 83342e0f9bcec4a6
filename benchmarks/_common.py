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
