"""Numbers and values as the scorecards print them: once, here, so templates stay simple."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

DASH = "–"


def is_number(v) -> bool:
    return v is not None and not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) \
        and math.isfinite(float(v))


def fmt_value(v, unit: str | None) -> str:
    """A metric value as the scorecards print it ("40.0 %" for a rate of 0.4)."""
    if not is_number(v):
        return DASH
    v = float(v)
    if unit == "rate":
        return f"{v * 100:.1f} %"
    if unit == "percent":
        return f"{v:.1f} %"
    if unit == "count":
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
    if unit in ("hours", "minutes", "days"):
        return f"{v:,.1f}"
    if unit == "currency":
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def fmt_delta(d, unit: str | None) -> str:
    if not is_number(d):
        return ""
    d = float(d)
    if unit == "rate":
        return f"{d * 100:+.1f} pp"
    if unit in ("count", "currency"):
        return f"{d:+,.0f}"
    if unit in ("hours", "minutes", "days", "percent"):
        return f"{d:+,.1f}"
    return f"{d:+,.2f}"


def fmt_interval(low, high, unit: str | None) -> str:
    if not (is_number(low) and is_number(high)):
        return ""
    if unit == "rate":
        return f"{low * 100:.1f}–{high * 100:.1f} %"
    return f"{fmt_value(low, unit)}–{fmt_value(high, unit)}"


def fmt_points(v) -> str:
    return f"{float(v):.1f}" if is_number(v) else DASH


def as_float(v):
    """A plain float (or None) for JSON and charts."""
    return float(v) if is_number(v) else None


def plain(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.strftime("%Y-%m-%d") if (v.hour, v.minute, v.second) == (0, 0, 0) else v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "; ".join(str(x) for x in v)
    if v is pd.NA or v is pd.NaT:
        return ""
    return str(v)


def percentile_band(rank, ranked: int) -> str:
    """A rank as a coarse band (no exact position among named peers)."""
    if not is_number(rank) or not ranked:
        return "not ranked"
    share = float(rank) / ranked
    for cut, text in ((0.10, "top 10 %"), (0.25, "top 25 %"), (0.50, "top 50 %")):
        if share <= cut:
            return text
    return "lower 50 %"
