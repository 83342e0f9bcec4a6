"""Numbers and values as the scorecards print them, in the reader's language (merit.i18n.formats):
once, here, so templates stay simple."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from merit.i18n import DEFAULT_LANGUAGE, formats, gettext_for

DASH = "–"


def is_number(v) -> bool:
    return v is not None and not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) \
        and math.isfinite(float(v))


def fmt_value(v, unit: str | None, language: str | None = DEFAULT_LANGUAGE, currency: str | None = None) -> str:
    """A metric value as the scorecards print it in *language* ("40.0 %" for a rate of 0.4);
    money in *currency* (an ISO 4217 code: the ruleset's) when one is given."""
    if not is_number(v):
        return DASH
    v = float(v)
    if unit == "rate":
        return formats.format_percent(v, language, 1)
    if unit == "percent":
        return formats.format_percent(v / 100, language, 1)
    if unit == "count":
        return formats.format_integer(v, language) if v.is_integer() else formats.format_decimal(v, language, 2)
    if unit in ("hours", "minutes", "days"):
        return formats.format_decimal(v, language, 1)
    if unit == "currency":
        return formats.format_currency(v, currency, language, 0) if currency else formats.format_integer(v, language)
    return formats.format_decimal(v, language, 2)


def fmt_delta(d, unit: str | None, language: str | None = DEFAULT_LANGUAGE) -> str:
    if not is_number(d):
        return ""
    d = float(d)
    if unit == "rate":
        # TRANSLATORS: a change in percentage points, e.g. "+2.5 pp".
        return gettext_for(language)("%(delta)s pp") % {"delta": formats.format_signed(d * 100, language, 1)}
    if unit in ("count", "currency"):
        return formats.format_signed(d, language, 0)
    if unit in ("hours", "minutes", "days", "percent"):
        return formats.format_signed(d, language, 1)
    return formats.format_signed(d, language, 2)


def fmt_interval(low, high, unit: str | None, language: str | None = DEFAULT_LANGUAGE,
                 currency: str | None = None) -> str:
    if not (is_number(low) and is_number(high)):
        return ""
    if unit == "rate":
        return formats.format_percent_range(low, high, language, 1)
    return f"{fmt_value(low, unit, language, currency)}–{fmt_value(high, unit, language, currency)}"


def fmt_points(v, language: str | None = DEFAULT_LANGUAGE) -> str:
    return formats.format_decimal(v, language, 1, group=False) if is_number(v) else DASH


def fmt_count(v, language: str | None = DEFAULT_LANGUAGE) -> str:
    """A number of records ("1,234"); "" when there is none."""
    return formats.format_integer(int(v), language) if is_number(v) else ""


def fmt_share(fraction, language: str | None = DEFAULT_LANGUAGE, digits: int = 1) -> str:
    """A share of a whole (a weight): "12.5 %"."""
    return formats.format_percent(fraction, language, digits) if is_number(fraction) else ""


def fmt_number(v, language: str | None = DEFAULT_LANGUAGE) -> str:
    """A parameter or weight as written (``:g``), with the locale's decimal sign."""
    if not is_number(v):
        return DASH
    text = f"{float(v):g}"
    if "e" in text or "." not in text:
        return text
    return formats.format_decimal(float(text), language, len(text.split(".")[1]), group=False)


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


def percentile_band(rank, ranked: int, language: str | None = DEFAULT_LANGUAGE) -> str:
    """A rank as a coarse band (no exact position among named peers)."""
    _ = gettext_for(language)
    if not is_number(rank) or not ranked:
        return _("not ranked")
    share = float(rank) / ranked
    for cut, text in ((0.10, _("top 10 %")), (0.25, _("top 25 %")), (0.50, _("top 50 %"))):
        if share <= cut:
            return text
    return _("lower 50 %")
