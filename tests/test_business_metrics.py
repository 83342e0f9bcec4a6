"""Business metrics of the default ruleset, checked against hand-computed numbers.

The fixture workspace is ``tests/fixtures/service_ws``; every expected value
below is derived by hand from the metric definitions (docs/metrics.md) in
``tests/fixtures/service_ws/EXPECTED.md`` (never from the program's output),
and the arithmetic is repeated as a comment next to each value.

The tests run the CLI (``merit run WS --no-pdf``, in-process: tests/merit_cli.py) on a
copy of the fixture and read ``out/metrics.csv`` / ``out/scores.csv``.

Conventions asserted here (see EXPECTED.md, "Readings"):
* an undefined value (zero denominator, no values to average) is the empty
  string, never 0, and its ``n`` is 0 (an empty ``n`` is tolerated);
* a count of nothing is 0 (``tickets`` of the agent with no tickets);
* ``n`` of a ratio is its denominator's count, of a mean/quantile/max the
  number of values, of ``tickets`` the count; ``nps`` the responses;
  ``fdr_standardized`` the scope's tickets in the weighted channels;
  ``productivity`` see PRODUCTIVITY_N below.
"""

from __future__ import annotations

import csv
import shutil
from fractions import Fraction as F
from pathlib import Path

import pytest

from tests.conftest import MeritResult, run_merit
from tests.metrics_helpers import check_metric, index_metrics, read_csv_rows, scope_of

FIXTURE = Path(__file__).parent / "fixtures" / "service_ws"

# What ``n`` of productivity counts.  README (outputs): "the number of records behind it";
# the records behind resolved/days are the resolved tickets (days from the
# weekday calendar are not records).  Switch to "days" if the lead decides n
# is the denominator (days worked) -- the numbers for both are below.
PRODUCTIVITY_N = "resolved"


# --------------------------------------------------------------------------- helpers

def _run(ws: Path) -> MeritResult:
    return run_merit("run", ws, "--no-pdf")


def _read_metrics(ws: Path) -> tuple[list[str], list[dict[str, str]]]:
    return read_csv_rows(ws / "out" / "metrics.csv")


_index = index_metrics
_scope_of = scope_of
_check = check_metric


# --------------------------------------------------------------------------- the run

@pytest.fixture(scope="module")
def service_run(tmp_path_factory):
    ws = tmp_path_factory.mktemp("service") / "ws"
    shutil.copytree(FIXTURE, ws, ignore=shutil.ignore_patterns("EXPECTED.md", "out"))
    proc = _run(ws)
    return ws, proc


@pytest.fixture(scope="module")
def service_metrics(service_run):
    ws, proc = service_run
    if proc.returncode != 0:
        pytest.fail(f"merit run exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    header, rows = _read_metrics(ws)
    return header, rows, _index(rows)


# --------------------------------------------------------------------------- expectations
#
# Ticket cohort (created in 2026-07-01..2026-08-31 Asia/Shanghai): 20 tickets
#   A1 (alpha): T01 T02 T03 T04 T05            A2 (alpha): T06 T07 T08 T09 T19 T20
#   A3 (alpha): none (left 2026-07-15)         A4 (alpha): left 2026-06-15, not employed in the period
#   B1 (beta):  T10 T11 T12 T13 T14 T15        B2 (beta):  T16 T17 T18 (hired 2026-08-12)
# Ignored: T90 (created 2026-06-30 23:30 local) and T91 (2026-08-31T16:30Z = 2026-09-01 00:30 local).
# Unresolved: T03 (A1), T09 (A2), T15 (B1)  -> resolved: A1 4, A2 5, B1 5, B2 3; alpha 9, beta 8, org 17.

CASES: list[tuple[str, str, str, str, object, int]] = []


def exp(metric: str, sid: str, value, n: int, breakdown: str = "") -> None:
    CASES.append((_scope_of(sid), sid, breakdown, metric, value, n))


# ---- tickets: count of the cohort
exp("tickets", "A1", 5, 5)        # T01 T02 T03 T04 T05 (T90 is out of the period)
exp("tickets", "A2", 6, 6)        # T06 T07 T08 T09 T19 T20
exp("tickets", "A3", 0, 0)        # no tickets: a count of nothing is 0
exp("tickets", "B1", 6, 6)        # T10..T15 (T91 is out of the period)
exp("tickets", "B2", 3, 3)        # T16 T17 T18
exp("tickets", "alpha", 11, 11)   # 5 + 6 + 0
exp("tickets", "beta", 9, 9)      # 6 + 3
exp("tickets", "org", 20, 20)     # 11 + 9 (22 rows in tickets.csv, T90 and T91 ignored)

# ---- fdr: resolved within 24 h (<=) / all tickets; unresolved count as not within
exp("fdr", "A1", F(2, 5), 5)      # T01 23h Y, T02 24.5h N, T03 unresolved N, T04 26h N, T05 2h Y -> 2/5
exp("fdr", "A2", F(3, 6), 6)      # T06 1h Y, T07 48h N, T08 2h Y, T09 unres N, T19 12h Y, T20 25h N -> 3/6
exp("fdr", "A3", None, 0)         # no tickets
exp("fdr", "B1", F(4, 6), 6)      # T10 12h Y, T11 24h exactly Y, T12 72h N, T13 1h Y, T14 18h Y, T15 unres N -> 4/6
exp("fdr", "B2", F(2, 3), 3)      # T16 1.5h Y, T17 36h N, T18 8h Y -> 2/3
exp("fdr", "alpha", F(5, 11), 11)  # 2 + 3 = 5 / 11
exp("fdr", "beta", F(6, 9), 9)    # 4 + 2 = 6 / 9
exp("fdr", "org", F(11, 20), 20)  # 5 + 6 = 11 / 20

# ---- fcr: resolved with reopened = 0 / resolved
exp("fcr", "A1", F(2, 4), 4)      # resolved T01(0) T02(1) T04(0) T05(2) -> 2/4
exp("fcr", "A2", F(4, 5), 5)      # T06(0) T07(0) T08(1) T19(0) T20(0) -> 4/5 (T09 unresolved)
exp("fcr", "A3", None, 0)
exp("fcr", "B1", F(4, 5), 5)      # T10(0) T11(0) T12(1) T13(0) T14(0) -> 4/5 (T15 unresolved, reopened 1: excluded)
exp("fcr", "B2", F(2, 3), 3)      # T16(0) T17(1) T18(0) -> 2/3
exp("fcr", "alpha", F(6, 9), 9)   # 2 + 4 = 6 / (4 + 5)
exp("fcr", "beta", F(6, 8), 8)    # 4 + 2 = 6 / (5 + 3)
exp("fcr", "org", F(12, 17), 17)  # 6 + 6 = 12 / 17

# ---- rating_rate: rated / tickets
exp("rating_rate", "A1", F(4, 5), 5)      # T01 g, T02 b, T04 b, T05 n rated; T03 empty
exp("rating_rate", "A2", F(5, 6), 6)      # T06 g, T07 b, T08 g, T19 g, T20 g; T09 empty
exp("rating_rate", "A3", None, 0)
exp("rating_rate", "B1", F(5, 6), 6)      # T10 g, T11 n, T12 b, T13 b, T14 b; T15 empty
exp("rating_rate", "B2", F(3, 3), 3)      # T16 g, T17 g, T18 b
exp("rating_rate", "alpha", F(9, 11), 11)  # 4 + 5
exp("rating_rate", "beta", F(8, 9), 9)    # 5 + 3
exp("rating_rate", "org", F(17, 20), 20)  # 9 + 8

# ---- good_rate: good / rated
exp("good_rate", "A1", F(1, 4), 4)        # T01
exp("good_rate", "A2", F(4, 5), 5)        # T06 T08 T19 T20
exp("good_rate", "A3", None, 0)
exp("good_rate", "B1", F(1, 5), 5)        # T10
exp("good_rate", "B2", F(2, 3), 3)        # T16 T17
exp("good_rate", "alpha", F(5, 9), 9)     # 1 + 4 = 5 / 9
exp("good_rate", "beta", F(3, 8), 8)      # 1 + 2 = 3 / 8
exp("good_rate", "org", F(8, 17), 17)     # 5 + 3 = 8 / 17

# ---- bad_rate: bad (any cause) / rated
exp("bad_rate", "A1", F(2, 4), 4)         # T02 (service), T04 (product)
exp("bad_rate", "A2", F(1, 5), 5)         # T07 (empty cause)
exp("bad_rate", "A3", None, 0)
exp("bad_rate", "B1", F(3, 5), 5)         # T12 (product), T13 (service), T14 (product)
exp("bad_rate", "B2", F(1, 3), 3)         # T18 (empty cause)
exp("bad_rate", "alpha", F(3, 9), 9)      # 2 + 1 = 3 / 9
exp("bad_rate", "beta", F(4, 8), 8)       # 3 + 1 = 4 / 8
exp("bad_rate", "org", F(7, 17), 17)      # 3 + 4 = 7 / 17

# ---- bad_rate_service: bad with cause != product / (rated - bad with cause = product); empty cause = service
exp("bad_rate_service", "A1", F(1, 3), 3)      # num T02; den 4 - 1 (T04 product) = 3
exp("bad_rate_service", "A2", F(1, 5), 5)      # num T07 (empty cause counts); den 5 - 0 = 5
exp("bad_rate_service", "A3", None, 0)
exp("bad_rate_service", "B1", F(1, 3), 3)      # num T13; den 5 - 2 (T12, T14 product) = 3
exp("bad_rate_service", "B2", F(1, 3), 3)      # num T18 (empty cause); den 3 - 0 = 3
exp("bad_rate_service", "alpha", F(2, 8), 8)   # num T02 T07; den 9 - 1 = 8
exp("bad_rate_service", "beta", F(2, 6), 6)    # num T13 T18; den 8 - 2 = 6
exp("bad_rate_service", "org", F(4, 14), 14)   # num 2 + 2 = 4; den 17 - 3 = 14 -> 2/7

# ---- independent_closure: 1 - escalated / tickets   (escalated: T03 T04 T07 T12 T14)
exp("independent_closure", "A1", F(3, 5), 5)       # 1 - 2/5 (T03, T04)
exp("independent_closure", "A2", F(5, 6), 6)       # 1 - 1/6 (T07)
exp("independent_closure", "A3", None, 0)
exp("independent_closure", "B1", F(4, 6), 6)       # 1 - 2/6 (T12, T14)
exp("independent_closure", "B2", F(3, 3), 3)       # 1 - 0/3
exp("independent_closure", "alpha", F(8, 11), 11)  # 1 - 3/11
exp("independent_closure", "beta", F(7, 9), 9)     # 1 - 2/9
exp("independent_closure", "org", F(15, 20), 20)   # 1 - 5/20

# ---- independent_closure_narrow: 1 - (escalated and not product) / (not product)
#      product_issue: T03 (esc), T07 (esc), T12 (esc), T15 (not esc)
exp("independent_closure_narrow", "A1", F(3, 4), 4)      # den T01 T02 T04 T05 = 4; num T04 -> 1 - 1/4
exp("independent_closure_narrow", "A2", F(5, 5), 5)      # den T06 T08 T09 T19 T20 = 5; num 0 -> 1
exp("independent_closure_narrow", "A3", None, 0)
exp("independent_closure_narrow", "B1", F(3, 4), 4)      # den T10 T11 T13 T14 = 4; num T14 -> 1 - 1/4
exp("independent_closure_narrow", "B2", F(3, 3), 3)      # den 3; num 0 -> 1
exp("independent_closure_narrow", "alpha", F(8, 9), 9)   # den 4 + 5 = 9; num 1 -> 1 - 1/9
exp("independent_closure_narrow", "beta", F(6, 7), 7)    # den 4 + 3 = 7; num 1 -> 1 - 1/7
exp("independent_closure_narrow", "org", F(14, 16), 16)  # den 20 - 4 = 16; num T04 T14 = 2 -> 1 - 2/16

# ---- productivity: resolved / days worked
#   A1 timelog days with hours > 0 in the period: 07-01 (two rows, counted once), 07-04 (a Saturday: counts),
#      08-03, 08-20, 08-21 -> 5   (07-02 has 0 h: no; 06-30 and 09-01 are outside the period)
#   B1 timelog: 07-10, 08-03, 08-05 -> 3   (08-04 has 0 h: no)
#   A2 no timelog, employed all period: weekdays 07-01..08-31 = 23 (Jul) + 21 (Aug) = 44
#   A3 no timelog, employed 07-01..07-15: Wed 1 - Fri 3 (3) + 6-10 (5) + 13-15 (3) = 11
#   B2 no timelog, hired Wed 08-12: 12-14 (3) + 17-21 (5) + 24-28 (5) + 31 (1) = 14
#   A4 left 2026-06-15: 0 days, 0 tickets (no effect on the team/org sums)
_PROD = {  # sid: (value, resolved, days)
    "A1": (F(4, 5), 4, 5),          # 4 resolved / 5 days
    "A2": (F(5, 44), 5, 44),        # 5 / 44
    "A3": (F(0, 11), 0, 11),        # 0 / 11 = 0 (worked, resolved nothing: 0, not undefined)
    "B1": (F(5, 3), 5, 3),          # 5 / 3
    "B2": (F(3, 14), 3, 14),        # 3 / 14
    "alpha": (F(9, 60), 9, 60),     # (4 + 5 + 0) / (5 + 44 + 11)
    "beta": (F(8, 17), 8, 17),      # (5 + 3) / (3 + 14)
    "org": (F(17, 77), 17, 77),     # (9 + 8) / (60 + 17)
}
for _sid, (_v, _res, _days) in _PROD.items():
    exp("productivity", _sid, _v, _res if PRODUCTIVITY_N == "resolved" else _days)

# ---- dts_*_hours over resolved tickets (hours); quantiles: numpy 'linear', position (n-1)*q
#   A1 sorted [2, 23, 24.5, 26]                     (T05, T01, T02, T04)
#   A2 sorted [1, 2, 12, 25, 48]                    (T06, T08, T19, T20, T07)
#   B1 sorted [1, 12, 18, 24, 72]                   (T13, T10, T14, T11, T12)
#   B2 sorted [1.5, 8, 36]                          (T16, T18, T17)
#   alpha sorted [1, 2, 2, 12, 23, 24.5, 25, 26, 48]
#   beta  sorted [1, 1.5, 8, 12, 18, 24, 36, 72]
#   org   sorted [1, 1, 1.5, 2, 2, 8, 12, 12, 18, 23, 24, 24.5, 25, 26, 36, 48, 72]
exp("dts_avg_hours", "A1", F(151, 8), 4)        # 75.5 / 4 = 18.875
exp("dts_avg_hours", "A2", F(88, 5), 5)         # 88 / 5 = 17.6
exp("dts_avg_hours", "A3", None, 0)
exp("dts_avg_hours", "B1", F(127, 5), 5)        # 127 / 5 = 25.4
exp("dts_avg_hours", "B2", F(91, 6), 3)         # 45.5 / 3 = 15.1666...
exp("dts_avg_hours", "alpha", F(109, 6), 9)     # 163.5 / 9 = 18.1666...
exp("dts_avg_hours", "beta", F(345, 16), 8)     # 172.5 / 8 = 21.5625
exp("dts_avg_hours", "org", F(336, 17), 17)     # 336 / 17 = 19.7647...

exp("dts_p50_hours", "A1", F(95, 4), 4)         # pos 1.5: 23 + 0.5*(24.5-23) = 23.75
exp("dts_p50_hours", "A2", 12, 5)               # pos 2: 12
exp("dts_p50_hours", "A3", None, 0)
exp("dts_p50_hours", "B1", 18, 5)               # pos 2: 18
exp("dts_p50_hours", "B2", 8, 3)                # pos 1: 8
exp("dts_p50_hours", "alpha", 23, 9)            # pos 4: 23
exp("dts_p50_hours", "beta", 15, 8)             # pos 3.5: 12 + 0.5*(18-12) = 15
exp("dts_p50_hours", "org", 18, 17)             # pos 8: 18

exp("dts_p80_hours", "A1", F(251, 10), 4)       # pos 2.4: 24.5 + 0.4*(26-24.5) = 25.1
exp("dts_p80_hours", "A2", F(148, 5), 5)        # pos 3.2: 25 + 0.2*(48-25) = 29.6
exp("dts_p80_hours", "A3", None, 0)
exp("dts_p80_hours", "B1", F(168, 5), 5)        # pos 3.2: 24 + 0.2*(72-24) = 33.6
exp("dts_p80_hours", "B2", F(124, 5), 3)        # pos 1.6: 8 + 0.6*(36-8) = 24.8
exp("dts_p80_hours", "alpha", F(127, 5), 9)     # pos 6.4: 25 + 0.4*(26-25) = 25.4
exp("dts_p80_hours", "beta", F(156, 5), 8)      # pos 5.6: 24 + 0.6*(36-24) = 31.2
exp("dts_p80_hours", "org", F(129, 5), 17)      # pos 12.8: 25 + 0.8*(26-25) = 25.8

# ---- handoff_rate: tickets with >= 1 handoff / tickets (handoffs on T05 x2, T09, T13, T17; T90 out of period)
exp("handoff_rate", "A1", F(1, 5), 5)      # T05 (two handoffs, counted once)
exp("handoff_rate", "A2", F(1, 6), 6)      # T09
exp("handoff_rate", "A3", None, 0)
exp("handoff_rate", "B1", F(1, 6), 6)      # T13
exp("handoff_rate", "B2", F(1, 3), 3)      # T17
exp("handoff_rate", "alpha", F(2, 11), 11)
exp("handoff_rate", "beta", F(2, 9), 9)
exp("handoff_rate", "org", F(4, 20), 20)   # T05 T09 T13 T17

# ---- first_response_avg_minutes over tickets with a first response (T09 has none)
exp("first_response_avg_minutes", "A1", F(97, 5), 5)      # 10+20+5+60+2 = 97 / 5 = 19.4
exp("first_response_avg_minutes", "A2", F(86, 5), 5)      # 1+15+10+30+30 = 86 / 5 = 17.2
exp("first_response_avg_minutes", "A3", None, 0)
exp("first_response_avg_minutes", "B1", F(259, 6), 6)     # 5+30+90+4+10+120 = 259 / 6
exp("first_response_avg_minutes", "B2", F(29, 3), 3)      # 3+6+20 = 29 / 3
exp("first_response_avg_minutes", "alpha", F(183, 10), 10)  # 97 + 86 = 183 / 10
exp("first_response_avg_minutes", "beta", F(288, 9), 9)  # 259 + 29 = 288 / 9 = 32
exp("first_response_avg_minutes", "org", F(471, 19), 19)  # 183 + 288 = 471 / 19

# ---- aht_minutes: mean handle_minutes over resolved tickets
exp("aht_minutes", "A1", F(180, 4), 4)      # 30+45+90+15 = 180 / 4 = 45 (T03's 20 excluded)
exp("aht_minutes", "A2", F(260, 5), 5)      # 50+120+25+25+40 = 260 / 5 = 52 (T09's 5 excluded)
exp("aht_minutes", "A3", None, 0)
exp("aht_minutes", "B1", F(390, 5), 5)      # 40+60+200+35+55 = 390 / 5 = 78 (T15's 30 excluded)
exp("aht_minutes", "B2", F(130, 3), 3)      # 20+70+40 = 130 / 3
exp("aht_minutes", "alpha", F(440, 9), 9)   # 180 + 260 = 440 / 9
exp("aht_minutes", "beta", F(520, 8), 8)    # 390 + 130 = 520 / 8 = 65
exp("aht_minutes", "org", F(960, 17), 17)   # 440 + 520 = 960 / 17

# ---- longest_wait_minutes: max wait_seconds / 60 over all tickets (resolved or not)
exp("longest_wait_minutes", "A1", 5, 5)            # max(60,120,300,30,10) = 300 s (T03, unresolved)
exp("longest_wait_minutes", "A2", 15, 6)           # max(45,600,15,900,40,200) = 900 s (T09, unresolved)
exp("longest_wait_minutes", "A3", None, 0)
exp("longest_wait_minutes", "B1", 50, 6)           # max(20,240,1200,90,75,3000) = 3000 s (T15); T91's 7200 ignored
exp("longest_wait_minutes", "B2", F(5, 3), 3)      # max(5,50,100) = 100 s
exp("longest_wait_minutes", "alpha", 15, 11)       # 900 s (T90's 6000 ignored)
exp("longest_wait_minutes", "beta", 50, 9)         # 3000 s
exp("longest_wait_minutes", "org", 50, 20)         # 3000 s

# ---- csat_avg: mean of non-empty csat (T03 T09 T14 T15 have none)
exp("csat_avg", "A1", F(11, 4), 4)      # 5+2+1+3 = 11 / 4 = 2.75
exp("csat_avg", "A2", F(20, 5), 5)      # 4+2+5+4+5 = 20 / 5 = 4
exp("csat_avg", "A3", None, 0)
exp("csat_avg", "B1", F(12, 4), 4)      # 5+4+1+2 = 12 / 4 = 3
exp("csat_avg", "B2", F(10, 3), 3)      # 5+4+1 = 10 / 3
exp("csat_avg", "alpha", F(31, 9), 9)   # 11 + 20 = 31 / 9
exp("csat_avg", "beta", F(22, 7), 7)    # 12 + 10 = 22 / 7
exp("csat_avg", "org", F(53, 16), 16)   # 31 + 22 = 53 / 16

# ---- nps: (promoters 9-10 - detractors 0-6) / responses * 100; surveys answered in the period
#   S10 (09-01) and S11 (06-30) are outside; S09 has no agent_id (org only)
exp("nps", "A1", F(100, 3), 3)     # S01 10 P, S02 9 P, S03 6 D -> (2-1)/3*100
exp("nps", "A2", -50, 2)           # S04 8 passive, S05 3 D -> (0-1)/2*100
exp("nps", "A3", None, 0)          # no responses
exp("nps", "B1", 50, 2)            # S06 7 passive, S07 10 P -> (1-0)/2*100
exp("nps", "B2", 0, 2)             # S08 0 D, S12 9 P -> (1-1)/2*100 = 0 (defined, zero)
exp("nps", "alpha", 0, 5)          # P 2, D 2 of 5 -> 0
exp("nps", "beta", 25, 4)          # P 2 (S07 S12), D 1 (S08) of 4 -> 25
exp("nps", "org", 20, 10)          # + S09 P: P 5, D 3 of 10 -> 20

# ---- fdr_standardized: org channel mix im 8/20, phone 7/20, email 5/20
exp("fdr_standardized", "A1", F(4, 15), 5)        # 8/20*2/3 + 7/20*0 + 5/20*0 = 4/15
exp("fdr_standardized", "A2", F(77, 120), 6)      # 8/20*1 + 7/20*1/3 + 5/20*1/2 = 48/120+14/120+15/120
exp("fdr_standardized", "A3", None, 0)
exp("fdr_standardized", "B1", F(3, 4), 6)         # 8/20*1 + 7/20*1 + 5/20*0 = 15/20
exp("fdr_standardized", "B2", F(11, 15), 3)       # no email: (8/20*1/2 + 7/20*1) / (15/20) = (11/20)/(15/20)
exp("fdr_standardized", "alpha", F(113, 240), 11)  # 8/20*3/4 + 7/20*1/4 + 5/20*1/3 = 72/240+21/240+20/240
exp("fdr_standardized", "beta", F(13, 20), 9)     # 8/20*3/4 + 7/20*1 + 5/20*0 = 6/20+7/20
exp("fdr_standardized", "org", F(11, 20), 20)     # 8/20*6/8 + 7/20*4/7 + 5/20*1/5 = 11/20 (= org fdr)

# ---- channel breakdowns of tickets and fdr: (sid, channel, tickets, within)
_CHANNELS = [
    ("A1", "im", 3, 2),        # T01 Y, T02 N, T05 Y
    ("A1", "phone", 1, 0),     # T03 unresolved
    ("A1", "email", 1, 0),     # T04 26h
    ("A2", "im", 1, 1),        # T08 Y
    ("A2", "phone", 3, 1),     # T06 Y, T07 N, T20 N
    ("A2", "email", 2, 1),     # T09 N, T19 Y
    ("B1", "im", 2, 2),        # T10 Y, T11 Y
    ("B1", "phone", 2, 2),     # T13 Y, T14 Y
    ("B1", "email", 2, 0),     # T12 N, T15 N
    ("B2", "im", 2, 1),        # T16 Y, T17 N
    ("B2", "phone", 1, 1),     # T18 Y        (B2 has no email ticket: no assertion)
    ("alpha", "im", 4, 3),     # T01 T02 T05 T08
    ("alpha", "phone", 4, 1),  # T03 T06 T07 T20
    ("alpha", "email", 3, 1),  # T04 T09 T19
    ("beta", "im", 4, 3),      # T10 T11 T16 T17
    ("beta", "phone", 3, 3),   # T13 T14 T18
    ("beta", "email", 2, 0),   # T12 T15
    ("org", "im", 8, 6),
    ("org", "phone", 7, 4),
    ("org", "email", 5, 1),
]
for _sid, _ch, _t, _w in _CHANNELS:
    exp("tickets", _sid, _t, _t, f"channel={_ch}")
    exp("fdr", _sid, F(_w, _t), _t, f"channel={_ch}")

# ---- month breakdowns (local month of created_at)
#   2026-07: A1 T03 T04 T05 | A2 T06 T20 | B1 T10 T11 T12
#   2026-08: A1 T01 T02 | A2 T07 T08 T09 T19 (T19 = 2026-07-31T17:00Z = 08-01 01:00 local) | B1 T13 T14 T15 | B2 T16 T17 T18
#   entries: (sid, month, tickets, (fr_sum, fr_n), (csat_sum, csat_n), (aht_sum, aht_n))
_MONTHS = [
    ("A1", "2026-07", 3, (67, 3), (4, 2), (105, 2)),      # fr 5+60+2; csat 1+3 (T03 none); aht 90+15 (T03 unresolved)
    ("A1", "2026-08", 2, (30, 2), (7, 2), (75, 2)),       # fr 10+20; csat 5+2; aht 30+45
    ("A2", "2026-07", 2, (31, 2), (9, 2), (90, 2)),       # fr 1+30; csat 4+5; aht 50+40
    ("A2", "2026-08", 4, (55, 3), (11, 3), (170, 3)),     # fr 15+10+30 (T09 none); csat 2+5+4; aht 120+25+25
    ("B1", "2026-07", 3, (125, 3), (10, 3), (300, 3)),    # fr 5+30+90; csat 5+4+1; aht 40+60+200
    ("B1", "2026-08", 3, (134, 3), (2, 1), (90, 2)),      # fr 4+10+120; csat 2 (T14 T15 none); aht 35+55
    ("B2", "2026-08", 3, (29, 3), (10, 3), (130, 3)),     # fr 3+6+20; csat 5+4+1; aht 20+70+40
    ("alpha", "2026-07", 5, (98, 5), (13, 4), (195, 4)),  # A1 + A2
    ("alpha", "2026-08", 6, (85, 5), (18, 5), (245, 5)),
    ("beta", "2026-07", 3, (125, 3), (10, 3), (300, 3)),  # B1 only
    ("beta", "2026-08", 6, (163, 6), (12, 4), (220, 5)),  # B1 + B2
    ("org", "2026-07", 8, (223, 8), (23, 7), (495, 7)),   # alpha + beta
    ("org", "2026-08", 12, (248, 11), (30, 9), (465, 10)),
]
for _sid, _m, _t, (_frs, _frn), (_cs, _cn), (_as, _an) in _MONTHS:
    _bd = f"month={_m}"
    exp("tickets", _sid, _t, _t, _bd)
    exp("first_response_avg_minutes", _sid, F(_frs, _frn), _frn, _bd)
    exp("csat_avg", _sid, F(_cs, _cn), _cn, _bd)
    exp("aht_minutes", _sid, F(_as, _an), _an, _bd)


def _case_id(case) -> str:
    scope, sid, bd, metric, _v, _n = case
    return f"{scope}:{sid}:{bd or 'all'}:{metric}"


# --------------------------------------------------------------------------- tests

def test_run_exits_zero(service_run):
    ws, proc = service_run
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert (ws / "out" / "metrics.csv").is_file()
    assert (ws / "out" / "scores.csv").is_file()


def test_metrics_header_and_unique_keys(service_metrics):
    header, rows, index = service_metrics
    assert header[:6] == ["scope", "id", "breakdown", "metric", "value", "n"]
    assert len(index) == len(rows), "a (scope, id, breakdown, metric) appears more than once"


@pytest.mark.parametrize("scope,sid,breakdown,metric,value,n", CASES, ids=[_case_id(c) for c in CASES])
def test_business_metric(service_metrics, scope, sid, breakdown, metric, value, n):
    _h, _rows, index = service_metrics
    _check(index.get((scope, sid, breakdown, metric)), value, n, _case_id((scope, sid, breakdown, metric, value, n)))


def test_out_of_period_tickets_are_ignored(service_metrics):
    """T90 (2026-06-30 23:30 local) and T91 (2026-08-31T16:30Z = 2026-09-01 00:30 local) are not in the cohort;
    T03 (2026-07-01 00:30 local) and T08 (2026-08-31T15:30Z = 23:30 local) are."""
    _h, rows, index = service_metrics
    assert float(index[("org", "org", "", "tickets")]["value"]) == 20        # 22 rows - T90 - T91
    assert float(index[("agent", "A1", "", "tickets")]["value"]) == 5        # T90 was A1's
    assert float(index[("agent", "B1", "", "tickets")]["value"]) == 6        # T91 was B1's
    assert float(index[("org", "org", "", "longest_wait_minutes")]["value"]) == 50  # not 7200/60 (T91) or 6000/60 (T90)
    months = {r["breakdown"] for r in rows if r["breakdown"].startswith("month=")}
    assert "month=2026-06" not in months and "month=2026-09" not in months, months
    # T19 (2026-07-31T17:00Z) is August in Shanghai: org has 8 July and 12 August tickets
    assert float(index[("org", "org", "month=2026-07", "tickets")]["value"]) == 8
    assert float(index[("org", "org", "month=2026-08", "tickets")]["value"]) == 12


def test_scores_csv_one_row_per_employed_agent(service_run):
    ws, proc = service_run
    assert proc.returncode == 0, proc.stderr
    path = ws / "out" / "scores.csv"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("agent_id,name,team,level,total,grade,rank"), first
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    ids = [r["agent_id"] for r in rows]
    # A4 left on 2026-06-15, before the period: not employed in it, no row.
    # A3 (left 07-15, no tickets) and B2 (hired 08-12) were employed in the period: one row each.
    assert sorted(ids) == ["A1", "A2", "A3", "B1", "B2"], ids
    by_id = {r["agent_id"]: r for r in rows}
    assert (by_id["A1"]["name"], by_id["A1"]["team"], by_id["A1"]["level"]) == ("张伟", "alpha", "P3")
    assert (by_id["A3"]["name"], by_id["A3"]["team"], by_id["A3"]["level"]) == ("王芳", "alpha", "P4")
    assert (by_id["B2"]["name"], by_id["B2"]["team"], by_id["B2"]["level"]) == ("陈静", "beta", "P2")


# --------------------------------------------------------------------------- the seed's FDR example

_TICKET_COLUMNS = ("ticket_id,customer_id,channel,created_at,first_response_at,resolved_at,closed_at,assignee,"
                   "reopened,escalated,product_issue,rating,csat,bad_review_cause,handle_minutes,wait_seconds")


def _one_ticket_ws(root: Path, resolved_at: str) -> Path:
    ws = root / "ws"
    (ws / "data").mkdir(parents=True)
    (ws / "cycle.yaml").write_text(
        "name: fdr-seed\n"
        "period: {start: 2026-08-01, end: 2026-08-31}\n"
        "timezone: Asia/Shanghai\n"
        "ruleset: default\n",
        encoding="utf-8",
    )
    (ws / "data" / "agents.csv").write_text(
        "agent_id,name,team,level,role,hired_on,left_on,cost_per_month\n"
        "A1,张伟,alpha,P3,android,2024-03-01,,\n",
        encoding="utf-8",
    )
    (ws / "data" / "tickets.csv").write_text(
        _TICKET_COLUMNS + "\n"
        f"T1,C1,im,2026-08-20 20:00,2026-08-20 20:05,{resolved_at},,A1,0,false,false,,,,30,60\n",
        encoding="utf-8",
    )
    return ws


@pytest.mark.parametrize(
    "resolved_at,expected",
    [
        ("2026-08-21 19:00", 1.0),      # the seed: created 08-20 20:00, resolved 08-21 19:00 -> 23 h, within 24 h
        ("2026-08-21 20:00", 1.0),      # exactly 24 h: "<= fdr_window_hours" -> within
        ("2026-08-21 20:00:01", 0.0),   # 24 h 1 s -> not within
        ("", 0.0),                      # unresolved: in the denominator, not within
    ],
    ids=["seed-23h", "exactly-24h", "24h-plus-1s", "unresolved"],
)
def test_fdr_seed_example(tmp_path, resolved_at, expected):
    ws = _one_ticket_ws(tmp_path, resolved_at)
    proc = _run(ws)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    index = _index(_read_metrics(ws)[1])
    for key in (("org", "org", "", "fdr"), ("team", "alpha", "", "fdr"), ("agent", "A1", "", "fdr")):
        _check(index.get(key), expected, 1, ":".join(key))
