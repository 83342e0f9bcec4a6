"""generate_workspace: the arguments checked, the world drawn, then every table written in a
fixed order, each from its own random stream, and cycle.yaml."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from merit.core.contract import contract
from merit.core.errors import MeritError
from merit.demo import credits, organisation, roster, service
from merit.demo.arrays import id_width
from merit.demo.sink import CHUNK_ROWS, Sink, write_table
from merit.demo.world import World, cycle_name, default_ticket_count

Progress = Callable[[str, float], None]


def check_arguments(agents: int, tickets: int | None, start: date, end: date, timezone: str, fmt: str) -> None:
    if agents < 3:
        raise MeritError(f"the demo needs at least 3 agents, one per team (got {agents})", field="agents")
    if tickets is not None and tickets < 0:
        raise MeritError(f"the number of tickets cannot be negative (got {tickets})", field="tickets")
    if end < start:
        raise MeritError(f"period end {end} is before its start {start}", field="end")
    if (end - start).days > 3 * 366:
        raise MeritError("the demo period is limited to three years", field="end")
    if fmt not in ("csv", "parquet"):
        raise MeritError(f"unknown data format '{fmt}'", field="fmt", expected="csv or parquet")
    try:
        pd.Timestamp("2026-01-01").tz_localize(timezone)
    except (LookupError, ValueError, OSError):  # (an unknown key; a malformed name; a path too long)
        raise MeritError(f"unknown time zone '{timezone}'", field="timezone",
                         expected="an IANA name such as Asia/Shanghai or UTC") from None


def generate_workspace(root: Path, *, agents: int = 48, tickets: int | None = None, seed: int = 7,
                       start: date = date(2026, 7, 1), end: date = date(2026, 9, 30),
                       timezone: str = "Asia/Shanghai", name: str | None = None,
                       fmt: str = "csv", progress: Progress | None = None) -> Path:
    """Write a synthetic performance-cycle workspace into ``root`` and return it.

    ``root/cycle.yaml`` and ``root/data/<table>.<fmt>`` for every table of the
    input contract.  ``tickets=None`` picks about seven tickets per agent per
    working day of the period.  The same arguments give byte-identical files.
    Existing data files of the same table names (in any format) are replaced;
    nothing else in ``root`` is touched.
    """
    check_arguments(agents, tickets, start, end, timezone, fmt)
    report = progress or (lambda step, fraction: None)
    root = Path(root)
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    n_tickets = default_ticket_count(agents, start, end) if tickets is None else int(tickets)

    seeds = np.random.SeedSequence(seed).spawn(12)
    rngs = [np.random.default_rng(s) for s in seeds]
    report("agents", 0.0)
    world = World(rngs[0], agents, start, end, timezone)
    _remove_stale(data)
    write_table(data, "agents", fmt, roster.agents_table(world))
    incidents = service.incidents(rngs[1], world)
    write_table(data, "incidents", fmt, service.incidents_table(world, incidents, fmt))
    customers = service.Customers(rngs[2], n_tickets)
    _write_tickets(data, fmt, seed, rngs[3], world, customers, incidents, n_tickets, report)
    report("timelog", 0.86)
    _write_timelog(data, fmt, seed, world)
    _write_credits_and_costs(data, fmt, rngs, world, customers, n_tickets, report)
    _write_cycle(root, name or cycle_name(start, end), agents, n_tickets, seed, start, end, timezone)
    report("done", 1.0)
    return root


def _remove_stale(data: Path) -> None:
    """Data files of the contract's tables, in any format (so that switching between CSV and
    Parquet leaves no duplicates)."""
    for table in contract().tables:
        for suffix in (".csv", ".parquet", ".xlsx"):
            stale = data / f"{table}{suffix}"
            if stale.exists():
                stale.unlink()


def _day_chunks(counts: np.ndarray) -> list[np.ndarray]:
    """The period's days (indexes) in chunks of about CHUNK_ROWS tickets."""
    chunks: list[np.ndarray] = []
    current: list[int] = []
    size = 0
    for i, c in enumerate(counts.tolist()):  # days of the period
        current.append(i)
        size += c
        if size >= CHUNK_ROWS:
            chunks.append(np.array(current))
            current, size = [], 0
    if current:
        chunks.append(np.array(current))
    return chunks


def _write_tickets(data: Path, fmt: str, seed: int, rng: np.random.Generator, world: World,
                   customers: service.Customers, incidents, n_tickets: int, report: Progress) -> None:
    """Tickets, handoffs and surveys, one chunk of whole days at a time (each chunk drawn from
    its own stream, so memory stays bounded)."""
    counts = rng.multinomial(n_tickets, world.day_p)
    sinks = {t: Sink(data / f"{t}.{fmt}", t, fmt) for t in ("tickets", "handoffs", "surveys")}
    width = id_width(n_tickets, 6)
    done = 0
    try:
        for k, day_index in enumerate(_day_chunks(counts)):
            report("tickets", 0.05 + 0.8 * done / max(n_tickets, 1))
            chunk_rng = np.random.default_rng([seed, 1000 + k])
            made = service.ticket_chunk(chunk_rng, world, customers, incidents, day_index, counts[day_index],
                                        done, width, sinks["surveys"].rows, fmt)
            for table, columns in zip(("tickets", "handoffs", "surveys"), made):
                sinks[table].write(columns)
            done += int(counts[day_index].sum())
    finally:
        for sink in sinks.values():
            sink.close()


def _write_timelog(data: Path, fmt: str, seed: int, world: World) -> None:
    """The timelog, in blocks of agents (each drawn from its own stream)."""
    sink = Sink(data / f"timelog.{fmt}", "timelog", fmt)
    try:
        block = max(1, 2_000_000 // max(world.period_days * 6, 1))
        for k, first in enumerate(range(0, world.n, block)):  # blocks of agents
            rng = np.random.default_rng([seed, 2000 + k])
            sink.write(roster.timelog(rng, world, first, min(world.n, first + block)))
    finally:
        sink.close()


def _write_credits_and_costs(data: Path, fmt: str, rngs: list[np.random.Generator], world: World,
                             customers: service.Customers, n_tickets: int, report: Progress) -> None:
    report("knowledge", 0.92)
    knowledge, grades = credits.knowledge(rngs[4], world, fmt)
    write_table(data, "knowledge", fmt, knowledge)
    write_table(data, "grades", fmt, grades)
    report("requirements", 0.94)
    write_table(data, "requirements", fmt, credits.requirements(rngs[5], world))
    write_table(data, "innovations", fmt, credits.innovations(rngs[6], world))
    write_table(data, "influence", fmt, credits.influence(rngs[7], world, customers))
    report("interceptions", 0.97)
    write_table(data, "interceptions", fmt, organisation.interceptions(rngs[8], world, n_tickets))
    write_table(data, "costs", fmt, organisation.costs(rngs[9], world))


def _write_cycle(root: Path, name: str, agents: int, n_tickets: int, seed: int, start: date, end: date,
                 timezone: str) -> None:
    cycle = (
        f"# merit demo workspace: {agents} agents, {n_tickets} tickets, seed {seed}\n"
        f"name: {name}\n"
        f"period: {{start: {start.isoformat()}, end: {end.isoformat()}}}\n"
        f"timezone: {timezone}\n"
        f"ruleset: default\n"
        f"data: data\n"
        f"language: zh-CN  # the readers' language of the scorecards, sheets and exports (en or zh-CN)\n"
    )
    (root / "cycle.yaml").write_text(cycle, encoding="utf-8")
