"""Organisation-wide tables: interceptions (per day and tool) and costs (per month and team)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from merit.demo.arrays import dates, day, strings, take
from merit.demo.columns import drawn_values
from merit.demo.world import World

INTERCEPTION_KINDS = drawn_values("interceptions", "kind", ("smart", "tool"))
SMART, TOOL = (INTERCEPTION_KINDS.index(k) for k in ("smart", "tool"))
# The chatbot is the smart assistant; the config checker serves the whole organisation (no team).
TOOLS = ("chatbot", "config-checker", "log-analyzer", "self-diagnosis")
TOOL_VOLUME = np.array([1.5, 0.25, 0.3, 0.2])  # inquiries per ticket of the team
TOOL_RATE = np.array([0.30, 0.18, 0.22, 0.15])  # share intercepted at the period's start


def interceptions(rng: np.random.Generator, w: World, tickets: int) -> dict:
    """One row per day and (kind, tool, team), interception rates improving over the period."""
    days = np.arange(w.start, w.end + 1)
    t = len(w.teams)
    team_share = np.bincount(w.team, minlength=t) / w.n
    day_tickets = tickets * w.day_p[(days - w.t_first)]
    # (kind, tool, team) combinations in sorted order; team -1 = org-wide.
    combos = ([(SMART, "chatbot", i) for i in range(t)] + [(TOOL, "config-checker", -1)]
              + [(TOOL, "log-analyzer", i) for i in range(t)] + [(TOOL, "self-diagnosis", i) for i in range(t)])
    kind = np.array([k for k, _, _ in combos])
    tool = np.array([TOOLS.index(x) for _, x, _ in combos])
    team = np.array([x for _, _, x in combos])
    volume = TOOL_VOLUME[tool] * np.where(team >= 0, team_share[np.maximum(team, 0)], 1.0)
    rate0 = TOOL_RATE[tool] + rng.normal(0, 0.03, len(combos))
    c = len(combos)
    lam = day_tickets[:, None] * volume[None, :] + 1.0
    inquiries = rng.poisson(lam)
    frac = ((days - w.start) / max(w.period_days - 1, 1))[:, None]
    rate = np.clip(rate0[None, :] + 0.1 * frac, 0.01, 0.95)
    intercepted = rng.binomial(inquiries, rate)
    dd = np.repeat(days, c)
    ci = np.tile(np.arange(c), len(days))
    return {
        "date": dates(dd),
        "kind": take(INTERCEPTION_KINDS, kind[ci]),
        "tool": take(TOOLS, tool[ci]),
        "inquiries": inquiries.ravel().astype(np.int64),
        "intercepted": intercepted.ravel().astype(np.int64),
        "team": take(w.teams, np.maximum(team[ci], 0), team[ci] < 0),
    }


def costs(rng: np.random.Generator, w: World) -> dict:
    """Per month and team: salaries of the agents employed that month plus overhead and tooling."""
    first = pd.Timestamp(w.start, unit="D")
    last = pd.Timestamp(w.end, unit="D")
    months = pd.period_range(first, last, freq="M")
    t = len(w.teams)
    out_month, out_team, out_amount = [], [], []
    for month in months:  # a handful of months
        m_days = np.arange(day(month.start_time.date()), day(month.end_time.date()) + 1)
        employed = w.employed(m_days).mean(axis=0)  # fraction of the month employed
        salary = np.bincount(w.team, weights=employed * w.cost, minlength=t)
        tooling = np.round(rng.uniform(15000, 40000, t) / 100) * 100
        out_month += [str(month)] * t
        out_team += list(range(t))
        out_amount.append(np.round(salary * 1.35 + tooling, 2))
    return {
        "month": strings(out_month),
        "team": take(w.teams, np.array(out_team, dtype=np.int64)),
        "amount": np.concatenate(out_amount),
    }
