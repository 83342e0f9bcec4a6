"""Reading out/metrics.csv and checking hand-computed values against it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest


def read_csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def index_metrics(rows: list[dict[str, str]]) -> dict[tuple[str, str, str, str], dict[str, str]]:
    return {(r["scope"], r["id"], r["breakdown"] or "", r["metric"]): r for r in rows}


def scope_of(sid: str, teams=("alpha", "beta")) -> str:
    if sid == "org":
        return "org"
    return "team" if sid in teams else "agent"


def check_metric(row: dict[str, str] | None, value, n: int | None, what: str) -> None:
    """value None = undefined (empty value, n 0); n None = n not asserted."""
    assert row is not None, f"no row in out/metrics.csv for {what}"
    if value is None:
        assert row["value"] == "", f"{what}: expected undefined (empty value), got {row['value']!r}"
        assert row["n"] in ("", "0") or float(row["n"]) == 0, f"{what}: n of an undefined value should be 0, got {row['n']!r}"
        return
    assert row["value"] != "", f"{what}: expected {value} ({float(value)!r}), got an empty value (note: {row.get('note')!r})"
    assert float(row["value"]) == pytest.approx(float(value), rel=1e-9, abs=1e-9), \
        f"{what}: value expected {value} = {float(value)!r}, got {row['value']!r}"
    if n is not None:
        assert row["n"] != "", f"{what}: n is empty"
        assert float(row["n"]) == n, f"{what}: n expected {n}, got {row['n']!r}"
