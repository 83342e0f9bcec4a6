"""Tickets, with their handoffs and survey answers, one chunk of whole days at a time; the
incidents (outages) that make tickets escalate; the customers who raise them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from merit.demo.arrays import SECONDS_PER_DAY, RowSampler, categorical, dates, id_width, ids, take, weekday
from merit.demo.columns import drawn_values
from merit.demo.vocabulary import (CHANNELS, FIRST_RESPONSE_MEDIAN_S, HANDLE_MEDIAN_MIN, HOURS_WEEKDAY,
                                   HOURS_WEEKEND, RATED_P, RESOLUTION_MEDIAN_H)
from merit.demo.world import World
from merit.demo.zone import timestamps

RATINGS = drawn_values("tickets", "rating", ("good", "neutral", "bad"))
GOOD, NEUTRAL, BAD = (RATINGS.index(r) for r in ("good", "neutral", "bad"))
# A bad review's cause for a product issue and for another ticket; the last share gives no cause.
CAUSES = drawn_values("tickets", "bad_review_cause", ("product", "service"))
CAUSE_P_PRODUCT_ISSUE = [0.7, 0.2, 0.1]
CAUSE_P_OTHER = [0.2, 0.65, 0.15]
# NPS score (0-10) weights by the ticket's csat (row 0: no csat given).
SCORE_P = np.array([
    [1, 1, 1, 2, 2, 4, 6, 10, 14, 16, 13],
    [10, 9, 8, 5, 3, 1, 1, 0.5, 0.2, 0.1, 0.1],
    [3, 4, 6, 8, 9, 8, 5, 3, 1, 0.5, 0.2],
    [0.2, 0.5, 1, 3, 7, 12, 14, 10, 5, 2, 1],
    [0.1, 0.1, 0.2, 0.5, 1, 3, 8, 16, 20, 10, 6],
    [0.1, 0.1, 0.1, 0.2, 0.4, 1, 2, 6, 14, 24, 30],
])


def incidents(rng: np.random.Generator, w: World) -> tuple[np.ndarray, np.ndarray]:
    """Outages as (start, end) UTC seconds, sorted; the first crosses the period start."""
    k = max(3, int(round(w.period_days / 20)))
    local_start = w.start * SECONDS_PER_DAY
    starts = local_start + rng.integers(3600, w.period_days * SECONDS_PER_DAY - 7200, k - 1)
    minutes = np.clip(rng.lognormal(np.log(25.0), 0.9, k - 1), 3, 600)
    starts = np.concatenate([[local_start - 35 * 60], starts])
    ends = np.concatenate([[local_start + 20 * 60], starts[1:] + np.round(minutes * 60).astype(np.int64)])
    order = np.argsort(starts, kind="stable")
    return w.zone.to_utc(starts[order]), w.zone.to_utc(ends[order])


def incidents_table(w: World, inc: tuple[np.ndarray, np.ndarray], fmt: str) -> dict:
    starts, ends = inc
    return {
        "incident_id": ids("INC", np.arange(1, len(starts) + 1), 3),
        "started_at": timestamps(w.zone, starts, None, fmt),
        "ended_at": timestamps(w.zone, ends, None, fmt),
    }


class Customers:
    """A long-tailed customer base: a few large customers, many small ones."""

    def __init__(self, rng: np.random.Generator, tickets: int):
        self.n = int(np.clip(round(tickets / 25), 40, 400_000))
        weight = 1.0 / np.arange(1, self.n + 1) ** 0.85
        weight = weight[rng.permutation(self.n)]
        self.cum = np.cumsum(weight / weight.sum())
        self.cum[-1] = 1.0
        self.ids = ids("C", np.arange(1, self.n + 1), id_width(self.n, 5))

    def draw(self, rng: np.random.Generator, m: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cum, rng.random(m), side="right"), self.n - 1)


def ticket_chunk(rng: np.random.Generator, w: World, customers: Customers, inc, day_index: np.ndarray,
                 counts: np.ndarray, first: int, width: int, survey_first: int, fmt: str
                 ) -> tuple[dict, dict, dict]:
    """Tickets created on the given days (indexes into w.days), plus their handoffs and surveys.
    The draws happen in this order: tickets, handoffs, surveys."""
    t = _draw_tickets(rng, w, customers, inc, day_index, counts)
    ticket_ids = ids("T", first + np.arange(t.n) + 1, width)
    tickets = _tickets_table(w, customers, t, ticket_ids, fmt)
    handoffs = _handoffs(rng, w, t, ticket_ids, fmt)
    surveys = _surveys(rng, w, customers, t, survey_first, width)
    return tickets, handoffs, surveys


@dataclass
class _Tickets:
    """The drawn tickets of one chunk, in order of creation (UTC seconds; indexes into the
    world's days, agents and channels)."""

    n: int
    d: np.ndarray  # day index
    agent: np.ndarray
    channel: np.ndarray
    customer: np.ndarray
    created: np.ndarray
    # filled in by the draws, in order: _draw_escalations, _draw_service, _draw_reviews
    escalated: np.ndarray = None
    product: np.ndarray = None
    first_at: np.ndarray = None
    wait: np.ndarray = None
    resolve_s: np.ndarray = None
    resolved_at: np.ndarray = None
    resolved: np.ndarray = None
    reopened: np.ndarray = None
    closed_at: np.ndarray = None
    closed: np.ndarray = None
    rated: np.ndarray = None
    rating: np.ndarray = None
    cause: np.ndarray = None
    bad: np.ndarray = None
    csat: np.ndarray = None
    handle: np.ndarray = None
    mode: np.ndarray = None  # CSV: 0 local time, 1 with its offset, 2 in UTC


def _draw_tickets(rng, w: World, customers: Customers, inc, day_index: np.ndarray, counts: np.ndarray
                  ) -> _Tickets:
    n = int(counts.sum())
    d = np.repeat(day_index, counts)
    wd = weekday(w.days[d])
    u = rng.random(n)
    hour = np.where(wd < 5, np.searchsorted(np.cumsum(HOURS_WEEKDAY) / HOURS_WEEKDAY.sum(), u, side="right"),
                    np.searchsorted(np.cumsum(HOURS_WEEKEND) / HOURS_WEEKEND.sum(), u, side="right"))
    hour = np.minimum(hour, 23)
    local = w.days[d] * SECONDS_PER_DAY + hour * 3600 + rng.integers(0, 3600, n)
    order = np.argsort(local, kind="stable")
    local, d, hour, wd = local[order], d[order], hour[order], wd[order]

    agent = w.assign(d, rng.random(n))
    channel = w.channel(d, rng.random(n))
    customer = customers.draw(rng, n)
    t = _Tickets(n, d, agent, channel, customer, w.zone.to_utc(local))
    _draw_escalations(rng, w, t, inc)
    _draw_service(rng, w, t, off_hours=(hour < 9) | (hour >= 21) | (wd >= 5))
    _draw_reviews(rng, w, t)
    return t


def _draw_escalations(rng, w: World, t: _Tickets, inc) -> None:
    """Escalations and product issues: most tickets raised during an outage are both."""
    in_incident = np.zeros(t.n, dtype=bool)
    for s, e in zip(*inc):  # a handful of outages
        in_incident |= (t.created >= s) & (t.created <= e + 3600)
    t.escalated = rng.random(t.n) < np.where(in_incident, 0.35, w.escalation[t.agent])
    t.product = rng.random(t.n) < np.where(in_incident, 0.85, np.where(t.escalated, 0.55, 0.05))


def _draw_service(rng, w: World, t: _Tickets, off_hours: np.ndarray) -> None:
    """First response, wait, resolution, reopening and closing."""
    n, channel, agent = t.n, t.channel, t.agent
    first_s = rng.lognormal(np.log(FIRST_RESPONSE_MEDIAN_S[channel]), 0.8) * np.where(off_hours, 4.0, 1.0)
    first_s = np.clip(np.round(first_s), 5, 20 * 3600).astype(np.int64)
    t.wait = np.round(first_s * rng.uniform(0.3, 0.9, n)).astype(np.int64)
    mu = np.log(RESOLUTION_MEDIAN_H[channel] * 3600 * w.speed[agent]) + 1.0 * t.escalated + 0.4 * t.product
    resolve_s = np.round(rng.lognormal(mu, 1.0)).astype(np.int64)
    t.resolve_s = np.maximum(resolve_s, first_s + rng.integers(60, 900, n))
    t.first_at = t.created + first_s
    t.resolved_at = t.created + t.resolve_s
    t.resolved = (rng.random(n) >= 0.04 + 0.06 * t.escalated) & (t.resolved_at <= w.export_utc)

    reopened = np.where(rng.random(n) < 0.05 + 0.06 * t.product + 0.02 * np.maximum(w.quality[agent], 0),
                        np.where(rng.random(n) < 0.8, 1, 2), 0)
    t.reopened = np.where(t.resolved, reopened, 0).astype(np.int64)
    confirm = np.minimum(rng.lognormal(np.log(18 * 3600), 0.9, n), 72 * 3600)
    confirm += t.reopened * rng.lognormal(np.log(30 * 3600), 0.7, n)
    t.closed_at = t.resolved_at + np.round(confirm).astype(np.int64)
    t.closed = t.resolved & (t.closed_at <= w.export_utc)


def _draw_reviews(rng, w: World, t: _Tickets) -> None:
    """Ratings, causes and csat (more bad reviews for product issues, reopened or slow tickets
    and weaker agents), handling time and how CSV writes the timestamps."""
    n, channel, agent = t.n, t.channel, t.agent
    hours = t.resolve_s / 3600.0
    t.rated = rng.random(n) < RATED_P[channel] * np.where(t.resolved, 1.0, 0.2)
    logit = (-3.0 + w.quality[agent] + 1.6 * t.product + 1.0 * (t.reopened > 0) + 0.8 * (hours > 24)
             + 1.0 * ~t.resolved)
    p_bad = 1.0 / (1.0 + np.exp(-logit))
    r = rng.random(n)
    t.rating = np.where(r < p_bad, BAD, np.where(r < p_bad + 0.12, NEUTRAL, GOOD))
    t.bad = t.rated & (t.rating == BAD)
    t.cause = np.where(t.product, categorical(rng, CAUSE_P_PRODUCT_ISSUE, n), categorical(rng, CAUSE_P_OTHER, n))
    csat_good = np.where(rng.random(n) < 0.7, 5, 4)
    csat_neutral = np.array([3, 4, 2])[categorical(rng, [0.6, 0.25, 0.15], n)]
    csat_bad = np.where(rng.random(n) < 0.6, 1, 2)
    t.csat = np.select([t.rating == GOOD, t.rating == NEUTRAL], [csat_good, csat_neutral], csat_bad)
    handle = rng.lognormal(np.log(HANDLE_MEDIAN_MIN[channel]) + 0.5 * np.log(w.speed[agent]) + 0.35 * t.escalated,
                           0.55)
    t.handle = np.round(np.clip(handle, 1.0, 600.0), 1)
    t.mode = categorical(rng, [0.98, 0.01, 0.01], n)


def _tickets_table(w: World, customers: Customers, t: _Tickets, ticket_ids: pa.Array, fmt: str) -> dict:
    mode = t.mode
    no_cause = len(CAUSES)
    return {
        "ticket_id": ticket_ids,
        "customer_id": customers.ids.take(pa.array(t.customer)),
        "channel": take(CHANNELS, t.channel),
        "created_at": timestamps(w.zone, t.created, None, fmt, mode),
        "first_response_at": timestamps(w.zone, t.first_at, None, fmt, mode),
        "resolved_at": timestamps(w.zone, t.resolved_at, t.resolved, fmt, mode),
        "closed_at": timestamps(w.zone, t.closed_at, t.closed, fmt, mode),
        "assignee": w.ids.take(pa.array(t.agent)),
        "reopened": t.reopened,
        "escalated": pa.array(t.escalated),
        "product_issue": pa.array(t.product),
        "rating": take(RATINGS, t.rating, ~t.rated),
        "csat": pa.array(t.csat.astype(np.int64), mask=~t.rated),
        "bad_review_cause": take(CAUSES + ("",), t.cause, ~t.bad | (t.cause == no_cause)),
        "handle_minutes": t.handle,
        "wait_seconds": t.wait,
    }


def _handoffs(rng, w: World, t: _Tickets, ticket_ids: pa.Array, fmt: str) -> dict:
    """~11 % of tickets, more when escalated; a colleague on duty that day: from the colleague
    to the assignee, the other way, or a round trip."""
    has = rng.random(t.n) < np.where(t.escalated, 0.3, 0.09)
    rows = np.flatnonzero(has)
    m = len(rows)
    c1 = w.assign(t.d[rows], rng.random(m))
    c2 = w.assign(t.d[rows], rng.random(m))
    mate = np.where(c1 == t.agent[rows], c2, c1)
    keep = mate != t.agent[rows]
    rows, mate = rows[keep], mate[keep]
    m = len(rows)
    span = np.where(t.resolved[rows], t.resolve_s[rows],
                    np.minimum(2 * SECONDS_PER_DAY, w.export_utc - t.created[rows]))
    two = rng.random(m) < 0.2
    inward = rng.random(m) < 0.75
    at1 = t.created[rows] + np.round(span * rng.uniform(0.05, 0.5, m)).astype(np.int64)
    at2 = t.created[rows] + np.round(span * rng.uniform(0.55, 0.95, m)).astype(np.int64)
    own = t.agent[rows]
    h_row = np.concatenate([rows, rows[two]])
    h_from = np.concatenate([np.where(inward & ~two, mate, own), mate[two]])
    h_to = np.concatenate([np.where(inward & ~two, own, mate), own[two]])
    h_at = np.concatenate([at1, at2[two]])
    h_order = np.lexsort((h_at, h_row))
    h_row, h_from, h_to, h_at = h_row[h_order], h_from[h_order], h_to[h_order], h_at[h_order]
    return {
        "ticket_id": ticket_ids.take(pa.array(h_row)),
        "from_agent": w.ids.take(pa.array(h_from)),
        "to_agent": w.ids.take(pa.array(h_to)),
        "at": timestamps(w.zone, h_at, None, fmt),
    }


def _surveys(rng, w: World, customers: Customers, t: _Tickets, survey_first: int, width: int) -> dict:
    """NPS answers: ~8 % of resolved tickets get a 0-10 answer a few days later, agreeing with
    the ticket's csat; most name the agent."""
    s_rows = np.flatnonzero(t.resolved & (rng.random(t.n) < 0.08))
    k = len(s_rows)
    after = np.where(t.closed[s_rows], t.closed_at[s_rows], t.resolved_at[s_rows])
    answered = (w.zone.to_local(after) // SECONDS_PER_DAY) + rng.integers(0, 5, k)
    level = np.where(t.rated[s_rows], t.csat[s_rows], 0)
    score = RowSampler(SCORE_P)(level, rng.random(k))
    named = rng.random(k) < 0.85
    return {
        "response_id": ids("R", survey_first + np.arange(1, k + 1), width),
        "customer_id": customers.ids.take(pa.array(t.customer[s_rows])),
        "answered_on": dates(answered),
        "score": score.astype(np.int64),
        "agent_id": w.ids.take(pa.array(t.agent[s_rows], mask=~named)),
    }
