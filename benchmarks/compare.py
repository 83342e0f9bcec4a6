#!/usr/bin/env python
"""Compare two metrics CSVs in merit's long format.

    python benchmarks/compare.py A.csv B.csv [--tol 1e-9] [--scope org] [--metrics tickets,fdr]

Rows are matched on (scope, id, breakdown, metric).  Values agree when both
are empty or |a - b| <= tol * max(1, |a|, |b|); the n columns must be equal
where both files have one.  Rows present in one file only are reported
(restrict with --scope / --metrics when one side computes more metrics).
Exit code 0 when everything compared agrees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

KEY = ["scope", "id", "breakdown", "metric"]


def load(path: Path, scopes: list[str] | None, metrics: list[str] | None,
         breakdowns: bool = True) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"scope": str, "id": str, "breakdown": str, "metric": str},
                     keep_default_na=False, na_values={"value": [""], "n": [""]})
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    if "n" in df:
        df["n"] = pd.to_numeric(df["n"], errors="coerce")
    if scopes:
        df = df[df["scope"].isin(scopes)]
    if metrics:
        df = df[df["metric"].isin(metrics)]
    if not breakdowns:
        df = df[df["breakdown"] == ""]
    return df


def compare(a: pd.DataFrame, b: pd.DataFrame, tol: float = 1e-9) -> dict:
    m = a.merge(b, on=KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    only_a = m[m["_merge"] == "left_only"]
    only_b = m[m["_merge"] == "right_only"]
    both = m[m["_merge"] == "both"]
    va, vb = both["value_a"].to_numpy(float), both["value_b"].to_numpy(float)
    scale = np.maximum(1.0, np.maximum(np.abs(np.nan_to_num(va)), np.abs(np.nan_to_num(vb))))
    same_v = (np.isnan(va) & np.isnan(vb)) | (np.abs(va - vb) <= tol * scale)
    same_n = np.ones(len(both), bool)
    if "n_a" in both and "n_b" in both:
        na, nb = both["n_a"].to_numpy(float), both["n_b"].to_numpy(float)
        same_n = (na == nb) | np.isnan(na) | np.isnan(nb)
    bad = both[~(same_v & same_n)]
    return {"compared": len(both), "value_mismatch": int((~same_v).sum()), "n_mismatch": int((~same_n).sum()),
            "only_a": only_a, "only_b": only_b, "mismatches": bad}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--scope", action="append", help="only this scope (repeatable)")
    ap.add_argument("--metrics", help="comma-separated metric ids to compare")
    ap.add_argument("--no-breakdowns", action="store_true", help="only rows without a breakdown")
    args = ap.parse_args(argv)
    metrics = args.metrics.split(",") if args.metrics else None
    a = load(args.a, args.scope, metrics, not args.no_breakdowns)
    b = load(args.b, args.scope, metrics, not args.no_breakdowns)
    r = compare(a, b, args.tol)
    ok = r["value_mismatch"] == 0 and r["n_mismatch"] == 0 and r["only_a"].empty and r["only_b"].empty
    print(f"compared {r['compared']} rows: {r['value_mismatch']} value and {r['n_mismatch']} n mismatches; "
          f"{len(r['only_a'])} only in {args.a.name}, {len(r['only_b'])} only in {args.b.name}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for title, df in (("mismatches", r["mismatches"]), (f"only in {args.a.name}", r["only_a"]),
                          (f"only in {args.b.name}", r["only_b"])):
            if not df.empty:
                print(f"-- {title} (first 20)")
                print(df.drop(columns="_merge").head(20).to_string(index=False))
    print("AGREE" if ok else "DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
