"""Lists at every scope, from the hand-made service fixture (tests/fixtures/service_ws).

The lists are grouped once at the finest scope asked and rolled up to the
wider ones (merit.core.aggregate.TableAggregates.listed); a quantile does not roll
up and is grouped from the records.  Expected values are worked out by hand
from the fixture's tickets (period 2026-07-01 .. 2026-08-31, Asia/Shanghai):

* T90 (2026-06-30 23:30 local) and T91 (2026-09-01 00:30 local) are outside
  the period; T08 (2026-08-31 23:30 local) and T19 (2026-08-01 01:00) are in.
* A1: T01 C101, T02 C102, T03 C103, T04 C101, T05 C104.
* alpha = A1 + A2 (T06 C105, T07 C102, T08 C106, T09 C107, T19 C103, T20 C108).
* beta: B1 (T10 C109, T11 C110, T12 C111, T13 C101, T14 C112, T15 C113),
  B2 (T16 C114, T17 C115, T18 C116).
* T92 is added here: customer C101, no assignee: it counts at org scope only.
"""

from __future__ import annotations

from tests.conftest import run_merit
from tests.metrics_helpers import read_csv_rows

RULESET = """\
name: lists-everywhere
extends: default
lists:
  customers_most_tickets:
    metric: tickets
    by: customer
    order: desc
    top: 3
    scopes: [agent, team, org]
  customers_slowest_median:
    metric: dts_p50_hours
    by: customer
    order: desc
    top: 2
    scopes: [agent]
"""


def _lists(ws) -> dict[tuple[str, str, str], list[tuple[str, float, int]]]:
    _header, rows = read_csv_rows(ws / "out" / "lists.csv")
    out: dict[tuple[str, str, str], list[tuple[str, float, int]]] = {}
    for r in sorted(rows, key=lambda r: int(r["rank"])):
        out.setdefault((r["scope"], r["id"], r["list"]), []).append((r["key"], float(r["value"]), int(r["n"])))
    return out


def test_lists_roll_up_and_count_unassigned_records_at_org(service_ws):
    (service_ws / "lists.yaml").write_text(RULESET, encoding="utf-8")
    cycle = service_ws / "cycle.yaml"
    cycle.write_text(cycle.read_text(encoding="utf-8").replace("ruleset: default", "ruleset: lists.yaml"),
                     encoding="utf-8")
    tickets = service_ws / "data" / "tickets.csv"
    with tickets.open("a", encoding="utf-8") as fh:
        fh.write("T92,C101,im,2026-08-01 10:00,2026-08-01 10:05,2026-08-01 12:00,,,0,false,false,,,,10,10\n")
    proc = run_merit("run", str(service_ws), "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    lists = _lists(service_ws)

    # A1: C101 T01+T04 = 2; C102, C103, C104 one each: ties by key ascending, top 3.
    assert lists[("agent", "A1", "customers_most_tickets")] == [("C101", 2, 2), ("C102", 1, 1), ("C103", 1, 1)]
    # alpha: C101 2 (A1), C102 2 (T02 + T07), C103 2 (T03 + T19); the rest one each.
    assert lists[("team", "alpha", "customers_most_tickets")] == [("C101", 2, 2), ("C102", 2, 2), ("C103", 2, 2)]
    # beta: every customer once (C101 via T13): C101, C109, C110 by key.
    assert lists[("team", "beta", "customers_most_tickets")] == [("C101", 1, 1), ("C109", 1, 1), ("C110", 1, 1)]
    # org: C101 = T01 + T04 + T13 + T92 (unassigned) = 4; C102 = 2; C103 = 2.
    assert lists[("org", "org", "customers_most_tickets")] == [("C101", 4, 4), ("C102", 2, 2), ("C103", 2, 2)]

    # dts_p50 per customer for A1: C101 T01 23 h, T04 26 h -> 24.5 (n 2); C102 T02 24.5 h (n 1);
    # C104 2 h; C103 unresolved (no value, not listed).  Tie at 24.5: C101 before C102.
    assert lists[("agent", "A1", "customers_slowest_median")] == [("C101", 24.5, 2), ("C102", 24.5, 1)]
    # B2: T16 1.5 h (C114), T17 36 h (C115), T18 8 h (C116).
    assert lists[("agent", "B2", "customers_slowest_median")] == [("C115", 36, 1), ("C116", 8, 1)]
    assert not any(key[0] != "agent" for key in lists if key[2] == "customers_slowest_median")
