"""Time zones: an instant's local wall-clock time in the cycle's zone, as an Ibis column
(run by the engine) and as a plain Python value; timestamps are stored as naive UTC instants."""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.types as ir

from merit.core.backends.portability import wall_clock
from merit.core.errors import ExpressionError


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone *name*; an ExpressionError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ExpressionError(f"unknown time zone '{name}'", expected="an IANA zone such as Asia/Shanghai or UTC")


@lru_cache(maxsize=64)
def constant_offset(name: str) -> int | None:
    """The zone's UTC offset in seconds if it is the same from 2000 to 2100."""
    tz = zone(name)
    offsets = set()
    for year in range(2000, 2101):
        for month in range(1, 13):
            for day in (1, 15):
                moment = _dt.datetime(year, month, day, 12, tzinfo=_dt.timezone.utc)
                offsets.add(moment.astimezone(tz).utcoffset())
                if len(offsets) > 1:
                    return None
    (offset,) = offsets
    return int(offset.total_seconds())


def to_local(ts: ir.TimestampValue, timezone: str, engine: str | None = None) -> ir.TimestampValue:
    """Naive UTC instant -> naive local wall-clock time in *timezone*.

    Zones whose offset is constant (UTC, Asia/Shanghai, ...) compile to
    ``ts + interval``; others to the engine's conversion, which follows daylight-saving
    changes (merit.core.backends.portability.wall_clock; *engine*: the name of the connection
    that runs it, when the expression's tables do not say it).
    """
    if ts.type().timezone is None:  # (one with a zone is converted by the engine)
        offset = constant_offset(timezone)
        if offset is not None:
            return ts if offset == 0 else ts + ibis.interval(seconds=offset)
    return wall_clock(ts, timezone, engine)


def local_wall_clock(value: _dt.datetime, timezone: str) -> _dt.datetime:
    """Scalar mode's :func:`to_local`: a naive value is a UTC instant."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(zone(timezone)).replace(tzinfo=None)


def naive_utc(v: _dt.datetime) -> _dt.datetime:
    """*v* as a naive UTC instant (an aware value is converted, a naive one is one already)."""
    if v.tzinfo is not None:
        return v.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return v
