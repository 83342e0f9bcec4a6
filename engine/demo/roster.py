"""The agents table and the timelog (hours per activity per day present)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from merit.demo.arrays import dates, take, weekday
from merit.demo.vocabulary import ACTIVITIES, ACTIVITY_SHARE_BY_LEVEL, ACTIVITY_SHARE_WEEKEND, LEVELS
from merit.demo.world import World


def agents_table(w: World) -> dict:
    return {
        "agent_id": w.ids,
        "name": w.names,
        "team": take(w.teams, w.team),
        "level": take(LEVELS, w.level),
        "role": take(w.teams, w.role),
        "hired_on": dates(w.hired),
        "left_on": dates(np.maximum(w.left, 0), mask=w.left < 0),
        "cost_per_month": w.cost,
    }


def timelog(rng: np.random.Generator, w: World, first: int, last: int) -> dict:
    """Agents [first, last): per present day in the period, hours by activity summing to ~8."""
    in_period = (w.days >= w.start) & (w.days <= w.end)
    days = w.days[in_period]
    present = w.present[in_period][:, first:last].T  # agents × days
    present &= ~w.no_timelog[first:last, None]
    present &= rng.random(present.shape) >= 0.02  # forgot to log
    a_idx, d_idx = np.nonzero(present)  # agent-major, then date
    m = len(a_idx)
    level = w.level[first + a_idx]
    weekend = weekday(days[d_idx]) >= 5
    alpha = ACTIVITY_SHARE_BY_LEVEL[level] * 25.0
    alpha[weekend] = ACTIVITY_SHARE_WEEKEND * 25.0
    share = rng.gamma(alpha)
    share /= share.sum(axis=1, keepdims=True)
    total = np.clip(rng.normal(8.0, 0.6, m), 5.0, 11.0)
    hours = np.round(share * total[:, None] * 4.0) / 4.0  # quarter hours
    keep = hours > 0
    rows, act = np.nonzero(keep)
    return {
        "agent_id": w.ids.take(pa.array(first + a_idx[rows])),
        "date": dates(days[d_idx[rows]]),
        "activity": take(ACTIVITIES, act),
        "hours": hours[rows, act],
    }
