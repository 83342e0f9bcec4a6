"""The world every table shares: the calendar, the agents (teams, levels, hires and leavers,
traits), who is present on which day, and the ticket load."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from merit.demo.arrays import SECONDS_PER_DAY, RowSampler, categorical, day, id_width, ids, strings, take, weekday
from merit.demo.zone import Zone
from merit.demo.vocabulary import (CHANNEL_MIX_END, CHANNEL_MIX_START, DAY_FACTOR, GIVEN, LEVEL_AUTHOR,
                                   LEVEL_COST, LEVEL_ESCALATION, LEVEL_HIRED_SHARE, LEVEL_LOAD, LEVEL_QUALITY,
                                   LEVEL_SHARE, LEVEL_SPEED, SENIOR, SURNAMES, TEAMS)


def default_ticket_count(agents: int, start: date, end: date) -> int:
    """About seven tickets per agent per working day of the period."""
    days = np.arange(day(start), day(end) + 1)
    weekdays = int((weekday(days) < 5).sum())
    return max(1, int(round(agents * max(weekdays, 1) * 7.0)))


def cycle_name(start: date, end: date) -> str:
    last_of_month = (date(end.year + (end.month == 12), end.month % 12 + 1, 1) - timedelta(days=1))
    if start.day == 1 and end == last_of_month:
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        if months == 12 and start.month == 1:
            return f"{start.year}"
        if months == 6 and start.month in (1, 7):
            return f"{start.year}-H{1 if start.month == 1 else 2}"
        if months == 3 and start.month in (1, 4, 7, 10):
            return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        if months == 1:
            return f"{start:%Y-%m}"
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


def _names(rng: np.random.Generator, n: int) -> pa.Array:
    """*n* distinct Chinese names: a surname and one or two given characters."""
    surnames, given = strings(SURNAMES), strings(GIVEN + [""])
    blank = len(GIVEN)
    found: list[str] = []
    seen: set[str] = set()
    while len(found) < n:  # a couple of rounds at most
        m = 3 * (n - len(found)) + 16
        s = rng.integers(0, len(SURNAMES), m)
        g1 = rng.integers(0, len(GIVEN), m)
        g2 = np.where(rng.random(m) < 0.3, blank, rng.integers(0, len(GIVEN), m))
        batch = pc.binary_join_element_wise(take(surnames, s), take(given, g1), take(given, g2), "")
        fresh = pd.unique(np.asarray(batch.to_pylist(), dtype=object))
        for name in fresh:  # bounded by the number of agents
            if name not in seen:
                seen.add(name)
                found.append(name)
    return strings(found[:n])


class World:
    """Everything the tables share: calendar, agents, presence and load.

    The random draws happen in a fixed order (the same arguments give byte-identical files):
    teams, roster changes, levels, roles, names, traits, then presence.
    """

    def __init__(self, rng: np.random.Generator, agents: int, start: date, end: date, zone_name: str):
        self.start = day(start)
        self.end = day(end)
        self.period_days = self.end - self.start + 1
        self.scale = self.period_days / 91.0
        # Calendar of the tickets: a few days before and after the period too
        # (an export never lines up exactly with the cycle).
        self.t_first = self.start - 3
        self.t_last = self.end + 2
        self.export_local = (self.end + 4) * SECONDS_PER_DAY + 9 * 3600
        self.zone = Zone(zone_name, self.start - 130, self.end + 40)
        self.export_utc = int(self.zone.to_utc(np.array([self.export_local]))[0])
        self._agents(rng, agents)
        self._presence(rng)

    # -- agents -----------------------------------------------------------
    def _agents(self, rng: np.random.Generator, n: int) -> None:
        n_teams, team = self._teams(rng, n)
        hired, left_on, no_timelog = self._roster_changes(rng, n)
        level = self._levels(rng, n, hired, left_on)
        role = team.copy()
        cross = rng.random(n) < 0.12
        role[cross] = rng.integers(0, n_teams, int(cross.sum()))
        names = _names(rng, n)
        speed = LEVEL_SPEED[level] * rng.lognormal(0.0, 0.15, n)
        quality = LEVEL_QUALITY[level] + rng.normal(0.0, 0.3, n)
        escalation = np.clip(LEVEL_ESCALATION[level] * rng.lognormal(0.0, 0.2, n), 0.01, 0.5)
        load = LEVEL_LOAD[level] * rng.lognormal(0.0, 0.2, n)
        cost = (np.round(LEVEL_COST[level] * rng.lognormal(0.0, 0.08, n) / 100.0) * 100).astype(np.int64)

        # Agent ids follow the order of hiring.
        by_hire = np.lexsort((np.arange(n), hired))
        self.n = n
        self.team, self.level, self.role = team[by_hire], level[by_hire], role[by_hire]
        self.hired, self.left, self.no_timelog = hired[by_hire], left_on[by_hire], no_timelog[by_hire]
        self.names = names.take(pa.array(by_hire))
        self.speed, self.quality, self.escalation = speed[by_hire], quality[by_hire], escalation[by_hire]
        self.load, self.cost = load[by_hire], cost[by_hire]
        self.ids = ids("A", np.arange(1, n + 1), id_width(n))
        self.last_day = np.where(self.left < 0, np.iinfo(np.int64).max, self.left)

    def _teams(self, rng: np.random.Generator, n: int) -> tuple[int, np.ndarray]:
        """Teams of uneven size (about 16 agents a team), each with at least one agent."""
        n_teams = min(len(TEAMS), max(3, int(round(n / 16))))
        self.teams = tuple(sorted(TEAMS[:n_teams]))
        share = rng.dirichlet(np.full(n_teams, 6.0))
        team = np.concatenate([np.arange(n_teams), categorical(rng, share, n - n_teams)])
        return n_teams, team[rng.permutation(n)]

    def _roster_changes(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hire and leaving days (-1: still employed), and who has no timelog.  Roster changes:
        late hires (very few tickets), hires and leavers during the period, one long-gone
        leaver, a few agents without timelog."""
        order = rng.permutation(n)
        wanted = [2, max(1, int(round(0.04 * n))), max(1, int(round(0.03 * n))), 1 if n >= 20 else 0,
                  max(2, int(round(0.02 * n)))]
        budget = n - max(3, n // 2)  # at least half the roster is plainly employed all period
        sizes = []
        for k in wanted:  # five roster groups
            sizes.append(min(k, budget))
            budget -= sizes[-1]
        cuts = np.cumsum(sizes)
        late, mid, left, gone, notl = np.split(order[: cuts[-1]], cuts[:-1])

        hired = self.start - rng.integers(20, 6 * 365, n)
        hired[late] = self.end - rng.integers(2, 6, len(late))
        hired[mid] = self.start + rng.integers(5, max(6, int(0.6 * self.period_days)), len(mid))
        left_on = np.full(n, -1, dtype=np.int64)
        left_on[left] = self.start + rng.integers(10, max(11, self.period_days - 5), len(left))
        left_on[gone] = self.start - rng.integers(10, 60, len(gone))
        hired[gone] = np.minimum(hired[gone], left_on[gone] - 200)
        no_timelog = np.zeros(n, dtype=bool)
        no_timelog[notl] = True
        return hired, left_on, no_timelog

    def _levels(self, rng: np.random.Generator, n: int, hired: np.ndarray, left_on: np.ndarray) -> np.ndarray:
        """Levels (indexes into LEVELS); hires of the period are mostly junior, and a roster of 12
        or more has at least three seniors employed all along (the expert panel)."""
        level = categorical(rng, LEVEL_SHARE, n)
        in_period = hired >= self.start
        level[in_period] = categorical(rng, LEVEL_HIRED_SHARE, int(in_period.sum()))
        established = np.flatnonzero(~in_period & (left_on < 0))
        if n >= 12 and (level[established] == SENIOR).sum() < 3:
            level[established[:3]] = SENIOR
        return level

    def employed(self, days: np.ndarray) -> np.ndarray:
        """(days × agents) bool: employed on that day."""
        d = np.asarray(days)[:, None]
        return (self.hired[None, :] <= d) & (d <= self.last_day[None, :])

    # -- presence and ticket load ------------------------------------------
    def _presence(self, rng: np.random.Generator) -> None:
        days = np.arange(self.t_first, self.t_last + 1)
        wd = weekday(days)
        employed = self.employed(days)
        weekday_ = (wd < 5)[:, None]
        u = rng.random(employed.shape)
        present = employed & np.where(weekday_, u >= 0.04, u < 0.22)
        nobody = ~present.any(axis=1)
        present[nobody] = employed[nobody]
        tenure = days[:, None] - self.hired[None, :]
        ramp = np.where(tenure < 10, 0.3, np.where(tenure < 30, 0.7, 1.0))
        self.days = days
        self.present = present
        self.employed_t = employed
        self.assign = RowSampler(present * ramp * self.load[None, :])
        volume = DAY_FACTOR[wd] * employed.sum(axis=1) * present.any(axis=1)
        self.day_p = volume / volume.sum()
        frac = np.clip((days - self.start) / max(self.period_days - 1, 1), 0.0, 1.0)[:, None]
        self.channel = RowSampler(CHANNEL_MIX_START[None, :] * (1 - frac) + CHANNEL_MIX_END[None, :] * frac)

    def author_sampler(self, first_day: int, last_day: int) -> tuple[RowSampler, int]:
        days = np.arange(first_day, last_day + 1)
        weight = self.employed(days) * LEVEL_AUTHOR[self.level][None, :]
        return RowSampler(weight), first_day
