"""Team, Technical and management metrics of the default ruleset, checked
against hand-computed numbers.

The fixture workspace is ``tests/fixtures/full_ws`` (period 2026-07-01 ..
2026-09-30, Asia/Shanghai, 92 days); every expected value below is derived by
hand from the metric definitions (docs/metrics.md) and the default parameters in
``tests/fixtures/full_ws/EXPECTED.md`` (never from the program's output), and
the arithmetic is repeated as a comment next to each value.

The tests run the CLI (``merit run WS --no-pdf``, in-process: tests/merit_cli.py) on a
copy of the fixture and read ``out/metrics.csv`` and ``out/lists.csv``.

Conventions asserted here (see EXPECTED.md, "Readings"):
* an undefined value is the empty string, never 0 (its ``n`` empty or 0);
* a count of nothing is 0 (an agent who submitted no requirement);
* a credited sum of nothing (an agent who authored no item, owns no
  innovation, ...) while the table is present is 0 -- see EMPTY_SUM;
* ``n`` is asserted only where it is unambiguous: plain counts (hires,
  leavers, requirements_submitted, requirements_landed: the records) and nps
  (the responses).  People metrics, rates of interceptions, credit-split
  sums, cost_per_interaction and availability are checked on value only.
"""

from __future__ import annotations

import shutil
from fractions import Fraction as F
from pathlib import Path

import pytest

from tests.conftest import MeritResult, run_merit
from tests.metrics_helpers import check_metric, index_metrics, read_csv_rows, scope_of

FIXTURE = Path(__file__).parent / "fixtures" / "full_ws"

# The value of a credited sum (knowledge_points, requirement_points,
# innovation_points, influence_points, influence_revenue) for an agent with no
# record in the period while the table itself is present: "produced nothing"
# reads as 0 (the table exists, so the data is there).  Switch to None if the
# lead decides such an agent's sum is undefined.
EMPTY_SUM = 0


# --------------------------------------------------------------------------- helpers

def _run(ws: Path) -> MeritResult:
    return run_merit("run", ws, "--no-pdf")


_read_csv = read_csv_rows


_index = index_metrics
_scope_of = scope_of
_check = check_metric


def _approx(value):
    return pytest.approx(float(value), rel=1e-9, abs=1e-9)


def _copy_fixture(root: Path) -> Path:
    ws = root / "ws"
    shutil.copytree(FIXTURE, ws, ignore=shutil.ignore_patterns("EXPECTED.md", "out"))
    return ws


def _ok(proc: MeritResult) -> None:
    if proc.returncode != 0:
        pytest.fail(f"merit run exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")


# --------------------------------------------------------------------------- the run

@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    ws = _copy_fixture(tmp_path_factory.mktemp("full"))
    proc = _run(ws)
    return ws, proc


@pytest.fixture(scope="module")
def full_metrics(full_run):
    ws, proc = full_run
    _ok(proc)
    header, rows = _read_csv(ws / "out" / "metrics.csv")
    return header, rows, _index(rows)


# --------------------------------------------------------------------------- expectations
#
# Period: 2026-07-01 .. 2026-09-30 local (Asia/Shanghai) = 31 + 31 + 30 = 92 days = 132480 minutes.
#
# Roster (level coefficient; days employed in the period):
#   alpha: A1 A2 P4 (1.2), A3 A4 A5 A6 P3 (1.0), A7 A8 A9 A10 P2 (0.8) -- all 92 days
#          (A8 hired 07-01 = a hire; A9 hired 06-30 = not a hire; A10 leaves 10-31 = not a leaver)
#   beta:  B1 P3 92 d, B2 P4 92 d, B3 P2 hired 08-01 -> 61 d, B4 P3 left 08-15 -> 46 d,
#          B5 P2 left 06-30 -> 0 d, B6 P3 hired 10-01 -> 0 d, B7 P2 hired 09-30 -> 1 d,
#          B8 P4 left 07-01 -> 1 d, B9 P3 left 09-30 -> 92 d
#   person-days: alpha 10*92 = 920; beta 92+92+61+46+1+1+92 = 385; org 1305
#   coefficient-days: alpha 9.6*92 = 883.2;
#                     beta 92*1.0 + 92*1.2 + 61*0.8 + 46*1.0 + 1*0.8 + 1*1.2 + 92*1.0
#                        = 92 + 110.4 + 48.8 + 46 + 0.8 + 1.2 + 92 = 391.2; org 1274.4

CASES: list[tuple[str, str, str, str, object, int | None]] = []


def exp(metric: str, sid: str, value, n: int | None = None, breakdown: str = "") -> None:
    CASES.append((_scope_of(sid), sid, breakdown, metric, value, n))


# ---- headcount_avg: person-days / 92
exp("headcount_avg", "alpha", 10)                 # 920 / 92
exp("headcount_avg", "beta", F(385, 92))          # 385 / 92 = 4.18478...
exp("headcount_avg", "org", F(1305, 92))          # (920 + 385) / 92 = 14.18478...

# ---- hires / leavers: hired_on / left_on inside the period (n = the records)
exp("hires", "alpha", 1, 1)       # A8 (hired 07-01, the first day); A9 hired 06-30 is not in the period
exp("hires", "beta", 2, 2)        # B3 (08-01), B7 (09-30, the last day); B6 (10-01) is after
exp("hires", "org", 3, 3)         # 1 + 2
exp("leavers", "alpha", 0, 0)     # A10 leaves 10-31, after the period: a count of nothing is 0
exp("leavers", "beta", 3, 3)      # B8 (07-01), B4 (08-15), B9 (09-30); B5 (06-30) is before
exp("leavers", "org", 3, 3)       # 0 + 3

# ---- hire_rate / attrition_rate: count / headcount_avg
exp("hire_rate", "alpha", F(1, 10))               # 1 / 10
exp("hire_rate", "beta", F(184, 385))             # 2 / (385/92) = 184/385 = 0.47792...
exp("hire_rate", "org", F(92, 435))               # 3 / (1305/92) = 276/1305 = 92/435 = 0.21149...
exp("attrition_rate", "alpha", 0)                 # 0 / 10 = 0 (defined: headcount > 0)
exp("attrition_rate", "beta", F(276, 385))        # 3 / (385/92) = 276/385 = 0.71688...
exp("attrition_rate", "org", F(92, 435))          # 3 / (1305/92) = 276/1305 = 92/435

# ---- capacity: coefficient-days / 92;  capability: capacity / headcount_avg
exp("capacity", "alpha", F(48, 5))                # 883.2 / 92 = 2*1.2 + 4*1.0 + 4*0.8 = 9.6 (the seed)
exp("capacity", "beta", F(489, 115))              # 391.2 / 92 = 4.25217...
exp("capacity", "org", F(1593, 115))              # 1274.4 / 92 = 13.85217...
exp("capability", "alpha", F(24, 25))             # 9.6 / 10 = 0.96 (the seed)
exp("capability", "beta", F(1956, 1925))          # 391.2 / 385 = 1.01610...
exp("capability", "org", F(708, 725))             # 1274.4 / 1305 = 0.97655...

# ---- engagement = actual / (coefficient * days worked); work_efficiency = effective / actual
#   person-days = hours / 8; in-period rows only (A1 06-30 and A2 10-01 are outside)
#   agent: actual hours (non_support excluded), effective hours, coefficient * days worked
#   A1 seed day 07-15: 3 os + 1 tr + 1 rv + 1 td + 1 tb (+ 1 non_support): actual 7, eff 3+1+0.5+1+0.5 = 6, 1.2*1
#   A2 07-01 8 os; 09-30 4 os + 4 rv: actual 16, eff 8+4+2 = 14, 1.2*2 = 2.4
#   A3 07-02 6 os + 2 td; 07-03 4 tr + 4 ns; 07-04 0 h (not a day): actual 12, eff 12, 1.0*2 = 2
#   A4 08-03 6 os + 2 meeting (unknown: actual yes, effective 0); 08-04 8 ns (a day: hours > 0): actual 8, eff 6, 1.0*2
#   A7 07-20 8 os, 07-21 8 os, 07-22 8 rv: actual 24, eff 16+4 = 20, 0.8*3 = 2.4
#   B1 08-10 8 os; 08-11 4 os + 2 tr + 2 tb: actual 16, eff 8+4+2+1 = 15, 1.0*2
#   B3 08-05 7 os + 1 ns: actual 7, eff 7, 0.8*1
#   B4 07-10 8 os; 07-11 4 td: actual 12, eff 12, 1.0*2
exp("engagement", "A1", F(35, 48))       # (7/8) / 1.2 = 0.875 / 1.2 = 0.72916...
exp("engagement", "A2", F(5, 6))         # (16/8) / 2.4 = 2 / 2.4
exp("engagement", "A3", F(3, 4))         # (12/8) / 2 = 1.5 / 2
exp("engagement", "A4", F(1, 2))         # (8/8) / 2
exp("engagement", "A7", F(5, 4))         # (24/8) / 2.4 = 3 / 2.4 = 1.25 (a P2 can exceed 1)
exp("engagement", "B1", 1)               # (16/8) / 2
exp("engagement", "B3", F(35, 32))       # (7/8) / 0.8 = 1.09375
exp("engagement", "B4", F(3, 4))         # (12/8) / 2
exp("engagement", "alpha", F(67, 80))    # (7+16+12+8+24)/8 = 67/8 over 1.2+2.4+2+2+2.4 = 10 -> 0.8375
exp("engagement", "beta", F(175, 192))   # (16+7+12)/8 = 35/8 over 2+0.8+2 = 4.8 -> 0.91145...
exp("engagement", "org", F(255, 296))    # (67+35)/8 = 51/4 over 14.8 -> 0.86148...
exp("work_efficiency", "A1", F(6, 7))       # (6/8) / (7/8) = 0.75 / 0.875 = 0.857142...
exp("work_efficiency", "A2", F(7, 8))       # 14 / 16
exp("work_efficiency", "A3", 1)             # 12 / 12
exp("work_efficiency", "A4", F(3, 4))       # 6 / 8
exp("work_efficiency", "A7", F(5, 6))       # 20 / 24
exp("work_efficiency", "B1", F(15, 16))     # 15 / 16
exp("work_efficiency", "B3", 1)             # 7 / 7
exp("work_efficiency", "B4", 1)             # 12 / 12
exp("work_efficiency", "alpha", F(58, 67))  # (6+14+12+6+20) = 58 / (7+16+12+8+24) = 67
exp("work_efficiency", "beta", F(34, 35))   # (15+7+12) = 34 / (16+7+12) = 35
exp("work_efficiency", "org", F(92, 102))   # (58+34) = 92 / (67+35) = 102 -> 46/51
for _a in ("A5", "A6", "A8", "A9", "A10", "B2", "B9"):   # employed, no timelog row in the period
    exp("engagement", _a, None)
    exp("work_efficiency", _a, None)

# ---- utilization: online_support hours / all logged hours (every activity, non_support included)
exp("utilization", "alpha", F(43, 80))    # os 3+12+6+6+16 = 43 / all 8+16+16+16+24 = 80 -> 0.5375
exp("utilization", "beta", F(27, 36))     # os 12+7+8 = 27 / all 16+8+12 = 36 -> 0.75
exp("utilization", "org", F(70, 116))     # 70 / 116 -> 35/58 = 0.60344...

# ---- interceptions (rows dated in the period; 06-30 smart alpha and 10-01 tool beta are outside)
exp("smart_interception_rate", "alpha", F(30, 100))   # 07-10: 30 / 100
exp("smart_interception_rate", "beta", F(50, 200))    # 08-10: 50 / 200
exp("smart_interception_rate", "org", F(100, 400))    # (30+50+20) / (100+200+100), 09-10 has no team
exp("tool_interception_rate", "alpha", F(25, 70))     # slow_sql 10/40 + net_diag 15/30 -> 25/70 = 5/14
exp("tool_interception_rate", "beta", F(5, 50))       # net_diag 08-20: 5/50
exp("tool_interception_rate", "org", F(60, 180))      # (10+30+5+15) / (40+60+50+30) = 1/3
exp("tool_interception_rate", "alpha", F(10, 40), breakdown="tool=slow_sql")   # 07-15
exp("tool_interception_rate", "alpha", F(15, 30), breakdown="tool=net_diag")   # 09-20
exp("tool_interception_rate", "beta", F(5, 50), breakdown="tool=net_diag")     # 08-20 (10-01 is outside)
exp("tool_interception_rate", "org", F(40, 100), breakdown="tool=slow_sql")    # (10+30) / (40+60)
exp("tool_interception_rate", "org", F(20, 80), breakdown="tool=net_diag")     # (5+15) / (50+30)

# ---- knowledge (published in the period; K07 06-30 and K08 10-01 are outside)
#   final grades: K01 {A,S,B} -> A (8); K02 {S,B,S} -> S (30); K03 {C,S,B,A} -> lower middle of S A|B C = B (3);
#   K04 {A,S} -> lower of S,A = A (8); K05 ungraded (0); K06 {C} -> C (1); K09 {B,C} -> C (1);
#   K10 {B,B,A,C,S} -> S A B B C -> B (3)
#   authors: K01 A1; K02 A1 A3; K03 A2 A4 B1; K04 B1; K05 B3 B4; K06 A7; K09 A5 A6; K10 A3
exp("knowledge_items", "A1", F(3, 2))      # K01 1 + K02 1/2
exp("knowledge_items", "A2", F(1, 3))      # K03 1/3
exp("knowledge_items", "A3", F(3, 2))      # K02 1/2 + K10 1
exp("knowledge_items", "A4", F(1, 3))      # K03 1/3
exp("knowledge_items", "A5", F(1, 2))      # K09 1/2
exp("knowledge_items", "A6", F(1, 2))      # K09 1/2
exp("knowledge_items", "A7", 1)            # K06
exp("knowledge_items", "A8", 0)            # none (a count of nothing)
exp("knowledge_items", "B1", F(4, 3))      # K03 1/3 + K04 1 (K08 is outside)
exp("knowledge_items", "B3", F(1, 2))      # K05 1/2
exp("knowledge_items", "B4", F(1, 2))      # K05 1/2
exp("knowledge_items", "B2", 0)            # none
exp("knowledge_items", "alpha", F(17, 3))  # K01 1 + K02 1 + K03 2/3 + K06 1 + K09 1 + K10 1
exp("knowledge_items", "beta", F(7, 3))    # K03 1/3 + K04 1 + K05 1
exp("knowledge_items", "org", 8)           # K01 K02 K03 K04 K05 K06 K09 K10
exp("knowledge_points", "A1", 23)          # K01 8 + K02 30/2
exp("knowledge_points", "A2", 1)           # K03 3/3
exp("knowledge_points", "A3", 18)          # K02 30/2 + K10 3
exp("knowledge_points", "A4", 1)           # K03 3/3
exp("knowledge_points", "A5", F(1, 2))     # K09 C 1/2
exp("knowledge_points", "A6", F(1, 2))     # K09 C 1/2
exp("knowledge_points", "A7", 1)           # K06 C 1
exp("knowledge_points", "A8", EMPTY_SUM)   # no item
exp("knowledge_points", "B1", 9)           # K03 3/3 + K04 8
exp("knowledge_points", "B3", 0)           # K05 ungraded: 0 (an item, not an empty sum)
exp("knowledge_points", "B4", 0)           # K05 ungraded
exp("knowledge_points", "alpha", 45)       # 23 + 1 + 18 + 1 + 1/2 + 1/2 + 1 = 8 + 30 + 2 + 1 + 1 + 3
exp("knowledge_points", "beta", 9)         # 9 + 0 + 0 = K03 1 + K04 8 + K05 0
exp("knowledge_points", "org", 54)         # 8 + 30 + 3 + 8 + 0 + 1 + 1 + 3
exp("knowledge_ungraded", "B3", F(1, 2))   # K05 1/2
exp("knowledge_ungraded", "B4", F(1, 2))   # K05 1/2
exp("knowledge_ungraded", "A1", 0)         # K01, K02 graded
exp("knowledge_ungraded", "alpha", 0)
exp("knowledge_ungraded", "beta", 1)       # K05 1/2 + 1/2
exp("knowledge_ungraded", "org", 1)        # K05

# ---- requirements (cohort submitted_on in the period; R11 06-30 and R12 10-01 are outside)
#   points of landed ones = kano_points x multiplier(impact_share):
#   R01 excitement 1.0 -> 5*4 = 20   R02 performance 0.6 -> 3*3 = 9   R03 basic 0.3 -> 2*2 = 4
#   R04 basic 0.29 -> 2*1 = 2         R05 indifferent 0.8 -> 0*3 = 0   R07 performance 0.99 -> 3*3 = 9
#   R08 reverse 1.0 -> 0*4 = 0        R13 performance 0.3 (landed 10-05, after the period) -> 3*2 = 6
#   R14 excitement 0.6 -> 5*3 = 15    R15 basic 0.59 -> 2*2 = 4
#   not landed: R06 open, R09 accepted, R10 rejected
_REQ = {  # sid: (submitted, landed, points)
    "A1": (2, 2, 29),       # R01 R02: 20 + 9
    "A2": (2, 2, 6),        # R03 R04: 4 + 2
    "A3": (2, 1, 0),        # R05 landed (0 points), R06 open
    "A4": (1, 1, 6),        # R13
    "B1": (2, 2, 9),        # R07 R08: 9 + 0 (R12 is outside)
    "B2": (2, 1, 4),        # R09 accepted, R15 landed 4
    "B3": (1, 1, 15),       # R14
    "B4": (1, 0, 0),        # R10 rejected: a sum over no landed requirement of a submitter -> 0
    "alpha": (7, 6, 41),    # 2+2+2+1; 2+2+1+1; 29+6+0+6
    "beta": (6, 4, 28),     # 2+2+1+1; 2+1+1+0; 9+4+15+0
    "org": (13, 10, 69),    # 7+6; 6+4; 41+28
}
for _sid, (_s, _l, _p) in _REQ.items():
    exp("requirements_submitted", _sid, _s, _s)
    exp("requirements_landed", _sid, _l, _l)
    exp("requirement_points", _sid, _p)
exp("requirements_submitted", "A5", 0, 0)         # nothing submitted: a count of nothing is 0
exp("requirements_landed", "A5", 0, 0)
exp("requirement_points", "A5", EMPTY_SUM)
exp("requirements_submitted", "B9", 0, 0)
exp("requirement_points", "B9", EMPTY_SUM)

# ---- innovations (recognized_on in the period; I04 06-30 and I06 10-01 are outside)
#   I01 patent national 10*4 = 40 / 2 (A1 A2); I02 article company 3*2 = 6 (B1);
#   I03 contest industry 5*3 = 15 / 3 (A3 B2 B1); I05 other team 2*1 = 2 (A4); I07 book team 10*1 = 10 (A5)
exp("innovation_points", "A1", 20)        # 40 / 2
exp("innovation_points", "A2", 20)        # 40 / 2
exp("innovation_points", "A3", 5)         # 15 / 3
exp("innovation_points", "A4", 2)         # 2 * 1
exp("innovation_points", "A5", 10)        # 10 * 1
exp("innovation_points", "A6", EMPTY_SUM)
exp("innovation_points", "B1", 11)        # 6 + 15/3
exp("innovation_points", "B2", 5)         # 15 / 3
exp("innovation_points", "B9", EMPTY_SUM)
exp("innovation_points", "alpha", 57)     # 20 + 20 + 5 + 2 + 10
exp("innovation_points", "beta", 16)      # 11 + 5
exp("innovation_points", "org", 73)       # 40 + 6 + 15 + 2 + 10

# ---- influence (date in the period; F06 06-30 and F07 10-01 are outside)
#   F01 onsite 5, 12000 (A1); F02 diagnosis 3, 9000 (A2 B1); F03 tuning 3, 0 (B2);
#   F04 thanks_letter 1, 0 (A3 A4 A7); F05 training 2, 3000 (B3)
_INF = {  # sid: (points, revenue)
    "A1": (5, 12000),               # F01
    "A2": (F(3, 2), 4500),          # F02 3/2, 9000/2
    "A3": (F(1, 3), 0),             # F04 1/3
    "A4": (F(1, 3), 0),
    "A7": (F(1, 3), 0),
    "B1": (F(3, 2), 4500),          # F02 (F07 is outside)
    "B2": (3, 0),                   # F03
    "B3": (2, 3000),                # F05 (09-30, the last day)
    "alpha": (F(15, 2), 16500),     # 5 + 3/2 + 3*(1/3); 12000 + 4500
    "beta": (F(13, 2), 7500),       # 3/2 + 3 + 2; 4500 + 0 + 3000
    "org": (14, 24000),             # 5 + 3 + 3 + 1 + 2; 12000 + 9000 + 0 + 0 + 3000
}
for _sid, (_pts, _rev) in _INF.items():
    exp("influence_points", _sid, _pts)
    exp("influence_revenue", _sid, _rev)
exp("influence_points", "A5", EMPTY_SUM)
exp("influence_revenue", "A5", EMPTY_SUM)
exp("influence_points", "B4", EMPTY_SUM)

# ---- cost_per_interaction: costs of months 2026-07..09 / tickets created in the period
exp("cost_per_interaction", "alpha", 7000)    # (30000 + 30000 + 20000 + 11000) = 91000 / 13 (2026-06, 2026-10 out)
exp("cost_per_interaction", "beta", 4000)     # (20000 + 18000 + 14000) = 52000 / 13 (2026-06 out)
exp("cost_per_interaction", "org", 5500)      # 143000 / 26

# ---- availability (org): downtime clipped to [07-01 00:00, 10-01 00:00) local
#   I0 06-01 (before) 0; I1 06-30 23:00..07-01 00:30 -> 30; I2 10:00..10:20 local (02:00Z..02:20Z) -> 20;
#   I3 16:30Z..17:00Z = 10-01 00:30..01:00 local -> 0; I4 09-30 23:50..10-01 00:10 -> 10; total 60
exp("availability", "org", F(2207, 2208))               # 1 - 60/132480 = 1 - 1/2208 = 0.999547...
exp("availability_target_met", "org", 0)                # 0.999547 < 0.9999
exp("downtime_budget_minutes", "org", F(1656, 125))     # 0.0001 * 132480 = 13.248

# ---- nps: (promoters 9-10 - detractors 0-6) / responses * 100, answered in the period
#   S13 (06-30, A1, 0) and S14 (10-01, B1, 10) are outside; S11, S12 have no agent (org only)
exp("nps", "A1", F(100, 3), 3)     # 10 P, 9 P, 6 D -> (2-1)/3*100
exp("nps", "A2", 0, 2)             # 7, 8 passives -> 0/2 (defined, zero)
exp("nps", "A3", None)             # no response
exp("nps", "B1", -50, 4)           # 9 P, 5 D, 4 D, 2 D -> (1-3)/4*100
exp("nps", "B3", 100, 1)           # 10 P
exp("nps", "alpha", 20, 5)         # P 2, D 1 of 5 -> 100/5
exp("nps", "beta", -20, 5)         # P 2 (S06 S10), D 3 of 5 -> -100/5
exp("nps", "org", F(50, 3), 12)    # + S11 9 P, S12 10 P: P 6, D 4 of 12 -> 200/12


def _case_id(case) -> str:
    scope, sid, bd, metric, _v, _n = case
    return f"{scope}:{sid}:{bd or 'all'}:{metric}"


# --------------------------------------------------------------------------- tests

def test_run_exits_zero(full_run):
    ws, proc = full_run
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert (ws / "out" / "metrics.csv").is_file()
    assert (ws / "out" / "lists.csv").is_file()


def test_metrics_header_and_unique_keys(full_metrics):
    header, rows, index = full_metrics
    assert header[:9] == ["scope", "id", "breakdown", "metric", "value", "n", "low", "high", "note"]
    assert len(index) == len(rows), "a (scope, id, breakdown, metric) appears more than once"


@pytest.mark.parametrize("scope,sid,breakdown,metric,value,n", CASES, ids=[_case_id(c) for c in CASES])
def test_full_metric(full_metrics, scope, sid, breakdown, metric, value, n):
    _h, _rows, index = full_metrics
    _check(index.get((scope, sid, breakdown, metric)), value, n, _case_id((scope, sid, breakdown, metric, value, n)))


def test_seed_capacity_capability(full_metrics):
    """Seed 000: 2 P4 (1.2) + 4 P3 (1.0) + 4 P2 (0.8) -> capacity (1.2*2 + 1*4 + 0.8*4) = 9.6,
    capability 9.6 / 10 = 0.96.  Team alpha is exactly that team, employed all 92 days."""
    _h, _rows, index = full_metrics
    capacity = index.get(("team", "alpha", "", "capacity"))
    capability = index.get(("team", "alpha", "", "capability"))
    headcount = index.get(("team", "alpha", "", "headcount_avg"))
    _check(headcount, 10, None, "alpha headcount_avg")
    _check(capacity, F(12, 10) * 2 + 1 * 4 + F(8, 10) * 4, None, "alpha capacity")   # 9.6
    _check(capability, F(96, 10) / 10, None, "alpha capability")                   # 0.96
    assert round(float(capacity["value"]), 6) == 9.6
    assert round(float(capability["value"]), 6) == 0.96


def test_seed_engagement_work_efficiency(full_metrics):
    """Seed 000: a P4 day of 3 h online_support, 1 h each of training, review, tool_dev, tool_bugfix
    and 1 h non_support -> actual 7/8 = 0.875, effective (3 + 1 + 0.5 + 1 + 0.5)/8 = 0.75;
    engagement 0.875 / 1.2 = 0.729, work_efficiency 0.75 / 0.875 = 0.8571.  A1 logs exactly that day
    in the period (its 06-30 row is outside)."""
    _h, _rows, index = full_metrics
    eng = index.get(("agent", "A1", "", "engagement"))
    eff = index.get(("agent", "A1", "", "work_efficiency"))
    _check(eng, F(875, 1000) / F(12, 10), None, "A1 engagement")         # 0.875 / 1.2
    _check(eff, F(75, 100) / F(875, 1000), None, "A1 work_efficiency")   # 0.75 / 0.875
    assert round(float(eng["value"]), 3) == 0.729
    assert round(float(eff["value"]), 4) == 0.8571


def test_out_of_period_records_are_ignored(full_metrics):
    """Each table has records just outside the period; counting any of them changes these values."""
    _h, _rows, index = full_metrics

    def v(scope, sid, metric, bd=""):
        row = index.get((scope, sid, bd, metric))
        assert row is not None and row["value"] != "", (scope, sid, metric, bd)
        return float(row["value"])

    assert v("agent", "A1", "engagement") == _approx(F(35, 48))      # with A1's 06-30 8 h: 15/8 / 2.4
    assert v("agent", "A2", "engagement") == _approx(F(5, 6))        # with A2's 10-01 8 h: 3 / 3.6
    assert v("agent", "A1", "knowledge_items") == _approx(F(3, 2))   # not 5/2 (K07, 06-30)
    assert v("agent", "B1", "knowledge_items") == _approx(F(4, 3))   # not 7/3 (K08, 10-01)
    assert v("agent", "A1", "requirements_submitted") == 2           # not 3 (R11, 06-30)
    assert v("agent", "B1", "requirements_submitted") == 2           # not 3 (R12, 10-01)
    assert v("agent", "A4", "requirements_landed") == 1              # R13 landed after the period: status as exported
    assert v("org", "org", "innovation_points") == 73                # not + 50 (I04) or + 15 (I06)
    assert v("org", "org", "influence_revenue") == 24000             # not + 50000 (F06) or + 7000 (F07)
    assert v("team", "alpha", "smart_interception_rate") == _approx(F(3, 10))   # not 1030/1100
    assert v("team", "beta", "tool_interception_rate", "tool=net_diag") == _approx(F(1, 10))  # not 105/150
    assert v("team", "alpha", "cost_per_interaction") == 7000        # not (91000 + 1000 + 5000) / 13
    assert v("org", "org", "nps") == _approx(F(50, 3))               # S13 / S14 ignored
    assert v("team", "beta", "hires") == 2                            # B6 hired 10-01 is not a hire
    assert v("team", "beta", "leavers") == 3                          # B5 left 06-30 is not a leaver


def test_tool_breakdowns_are_the_tools(full_metrics):
    """The per-tool breakdown of tool_interception_rate is over kind = tool rows only: smart rows (whose
    tool is empty) must not add a ``tool=`` / ``tool=nan`` breakdown; beta has no slow_sql row."""
    _h, rows, _index_ = full_metrics
    tools = {}
    for r in rows:
        if r["metric"] in ("tool_interception_rate", "smart_interception_rate") and r["breakdown"]:
            tools.setdefault((r["scope"], r["id"], r["metric"]), set()).add(r["breakdown"])
    assert tools.get(("org", "org", "tool_interception_rate")) == {"tool=slow_sql", "tool=net_diag"}, tools
    assert tools.get(("team", "alpha", "tool_interception_rate")) == {"tool=slow_sql", "tool=net_diag"}, tools
    assert tools.get(("team", "beta", "tool_interception_rate"), set()) <= {"tool=slow_sql", "tool=net_diag"}, tools
    assert not any(m == "smart_interception_rate" for (_s, _i, m) in tools), tools


# --------------------------------------------------------------------------- per-customer lists

# (scope, id, list) -> [(key, value, n), ...] in rank order (rank = position + 1).
# Ticket cohort per customer (T90 06-30 23:30 local and T91 = 10-01 00:30 local are outside):
#   alpha: C01 T01 T02 T03 T04 (csat 5 5 4 -), C02 T05 T06 T07 (2 3 1), C03 T08 T09 T10 (4 4 4),
#          C04 T11 (-), C05 T12 T13 (- -)
#   beta:  C06 T14 T15 T16 (3 3 4), C07 T17 T18 T19 (1 2 3), C02 T20 (-),
#          C08 T21, C09 T22, C10 T23, C11 T24, C12 T25, C13 T26 (all -)
# n of a tickets list = tickets, of a csat list = csat responses.  Every customer with a csat has
# exactly 3 responses in each scope, so a minimum-responses rule of up to 3 changes nothing.
LISTS: dict[tuple[str, str, str], list[tuple[str, object, int]]] = {
    ("team", "alpha", "customers_most_tickets"): [
        ("C01", 4, 4), ("C02", 3, 3), ("C03", 3, 3),        # C02 / C03 tie at 3: key ascending
        ("C05", 2, 2), ("C04", 1, 1)],
    ("team", "alpha", "customers_lowest_csat"): [
        ("C02", 2, 3),                                       # (2+3+1)/3
        ("C03", 4, 3),                                       # (4+4+4)/3
        ("C01", F(14, 3), 3)],                               # (5+5+4)/3; T04 has no csat
    ("team", "alpha", "customers_highest_csat"): [
        ("C01", F(14, 3), 3), ("C03", 4, 3), ("C02", 2, 3)],
    ("team", "beta", "customers_most_tickets"): [
        ("C06", 3, 3), ("C07", 3, 3),                        # tie at 3: key ascending
        ("C02", 1, 1), ("C08", 1, 1), ("C09", 1, 1), ("C10", 1, 1),
        ("C11", 1, 1), ("C12", 1, 1), ("C13", 1, 1)],        # C13: T26 only (T91 outside)
    ("team", "beta", "customers_lowest_csat"): [
        ("C07", 2, 3),                                       # (1+2+3)/3
        ("C06", F(10, 3), 3)],                               # (3+3+4)/3
    ("team", "beta", "customers_highest_csat"): [
        ("C06", F(10, 3), 3), ("C07", 2, 3)],
    ("org", "org", "customers_most_tickets"): [              # 13 customers, top 10
        ("C01", 4, 4), ("C02", 4, 4),                        # C02: 3 alpha + 1 beta
        ("C03", 3, 3), ("C06", 3, 3), ("C07", 3, 3),
        ("C05", 2, 2),
        ("C04", 1, 1), ("C08", 1, 1), ("C09", 1, 1), ("C10", 1, 1)],   # C11 C12 C13 cut at 10
    ("org", "org", "customers_lowest_csat"): [
        ("C02", 2, 3), ("C07", 2, 3),                        # tie at 2 (same n): key ascending
        ("C06", F(10, 3), 3), ("C03", 4, 3), ("C01", F(14, 3), 3)],
    ("org", "org", "customers_highest_csat"): [
        ("C01", F(14, 3), 3), ("C03", 4, 3), ("C06", F(10, 3), 3),
        ("C02", 2, 3), ("C07", 2, 3)],                       # tie at 2: key ascending
}


@pytest.fixture(scope="module")
def full_lists(full_run):
    ws, proc = full_run
    _ok(proc)
    path = ws / "out" / "lists.csv"
    assert path.is_file(), "out/lists.csv not written"
    return _read_csv(path)


def test_lists_header(full_lists):
    header, _rows = full_lists
    assert header[:7] == ["scope", "id", "list", "rank", "key", "value", "n"]


@pytest.mark.parametrize("scope,sid,name", list(LISTS), ids=[":".join(k) for k in LISTS])
def test_customer_list(full_lists, scope, sid, name):
    _h, rows = full_lists
    got = sorted((r for r in rows if (r["scope"], r["id"], r["list"]) == (scope, sid, name)),
                 key=lambda r: int(r["rank"]))
    expected = LISTS[(scope, sid, name)]
    got_keys = [r["key"] for r in got]
    assert got_keys == [k for k, _v, _n in expected], f"{scope}:{sid}:{name} keys in rank order"
    assert [int(r["rank"]) for r in got] == list(range(1, len(expected) + 1))
    for r, (key, value, n) in zip(got, expected):
        assert float(r["value"]) == _approx(value), f"{scope}:{sid}:{name} {key} value"
        assert float(r["n"]) == n, f"{scope}:{sid}:{name} {key} n"


def test_lists_exclude_customers_without_csat(full_lists):
    """C04, C05 (alpha) and C08..C13 (beta) have tickets but no csat: not in the csat lists."""
    _h, rows = full_lists
    in_csat = {r["key"] for r in rows if r["list"] in ("customers_lowest_csat", "customers_highest_csat")}
    assert in_csat == {"C01", "C02", "C03", "C06", "C07"}, in_csat


# --------------------------------------------------------------------------- optional tables

# filename, table, its metrics, and a metric of another table that must keep its value
# (scope, id, metric, value), each worked out with that table alone deleted
OPTIONAL_TABLES = {
    "innovations": ("innovations.csv", ["innovation_points"], ("org", "org", "influence_points", 14)),
    "influence": ("influence.csv", ["influence_points", "influence_revenue"],
                  ("org", "org", "innovation_points", 73)),
    "requirements": ("requirements.csv", ["requirements_submitted", "requirements_landed", "requirement_points"],
                     ("org", "org", "innovation_points", 73)),
    "interceptions": ("interceptions.csv", ["smart_interception_rate", "tool_interception_rate"],
                      ("org", "org", "cost_per_interaction", 5500)),
    "incidents": ("incidents.csv", ["availability", "availability_target_met"],
                  ("org", "org", "cost_per_interaction", 5500)),
    "costs": ("costs.csv", ["cost_per_interaction"], ("team", "alpha", "capacity", F(48, 5))),
    "timelog": ("timelog.csv", ["engagement", "work_efficiency", "utilization"],
                ("team", "alpha", "capacity", F(48, 5))),
    "surveys": ("surveys.csv", ["nps"], ("org", "org", "innovation_points", 73)),
}


# Four tables deleted at once (one run for four: the suite's time), grouped so that no table's
# "still" metric reads another table of its group: each table's metrics are undefined with a note
# naming it, and the others' metrics keep their values.
@pytest.mark.parametrize("tables", [["innovations", "interceptions", "incidents", "timelog"],
                                    ["influence", "requirements", "costs", "surveys"]],
                         ids=["innovations+interceptions+incidents+timelog", "influence+requirements+costs+surveys"])
def test_missing_optional_table_leaves_metrics_undefined(tmp_path, tables):
    """docs/data.md: 'a metric whose table is absent is reported as undefined, not as an error'."""
    ws = _copy_fixture(tmp_path)
    for table in tables:
        (ws / "data" / OPTIONAL_TABLES[table][0]).unlink()
    proc = _run(ws)
    assert proc.returncode == 0, f"deleting {tables} must not be an error\n{proc.stdout}\n{proc.stderr}"
    _h, rows = _read_csv(ws / "out" / "metrics.csv")
    index = _index(rows)
    for table in tables:
        filename, metrics, still = OPTIONAL_TABLES[table]
        for metric in metrics:
            mine = [r for r in rows if r["metric"] == metric]
            assert ("org", "org", "", metric) in index, f"{metric}: the org row must still be written (undefined)"
            for r in mine:
                what = f"{r['scope']}:{r['id']}:{r['breakdown'] or 'all'}:{metric}"
                assert r["value"] == "", f"{what}: expected undefined without {filename}, got {r['value']!r}"
                assert table in (r.get("note") or "").lower(), \
                    f"{what}: note should name the table {table!r}, got {r.get('note')!r}"
        scope, sid, metric, value = still
        _check(index.get((scope, sid, "", metric)), value, None, f"{scope}:{sid}:{metric} without {filename}")


# --------------------------------------------------------------------------- availability (seed 003)

def test_availability_without_downtime_meets_target(tmp_path):
    """Only incidents outside the period (I0 before it, I3 = 10-01 00:30..01:00 local): no downtime,
    availability 1 >= 0.9999 -> met; the budget does not depend on incidents."""
    ws = _copy_fixture(tmp_path)
    (ws / "data" / "incidents.csv").write_text(
        "incident_id,started_at,ended_at\n"
        "I0,2026-06-01 10:00,2026-06-01 12:00\n"
        "I3,2026-09-30T16:30:00Z,2026-09-30T17:00:00Z\n",
        encoding="utf-8",
    )
    proc = _run(ws)
    _ok(proc)
    index = _index(_read_csv(ws / "out" / "metrics.csv")[1])
    _check(index.get(("org", "org", "", "availability")), 1, None, "availability")                       # 1 - 0/132480
    _check(index.get(("org", "org", "", "availability_target_met")), 1, None, "availability_target_met")
    _check(index.get(("org", "org", "", "downtime_budget_minutes")), F(1656, 125), None, "budget")       # 13.248


def _year_ws(root: Path, downtime_minutes: int) -> Path:
    """A one-year cycle (2025, 365 days, UTC) with one incident of the given length."""
    ws = root / "ws"
    (ws / "data").mkdir(parents=True)
    (ws / "cycle.yaml").write_text(
        "name: sla-year\n"
        "period: {start: 2025-01-01, end: 2025-12-31}\n"
        "ruleset: default\n",
        encoding="utf-8",
    )
    (ws / "data" / "agents.csv").write_text(
        "agent_id,name,team,level,role,hired_on,left_on,cost_per_month\n"
        "A1,周杰,alpha,P4,web,2020-03-01,,\n",
        encoding="utf-8",
    )
    (ws / "data" / "tickets.csv").write_text(
        "ticket_id,customer_id,channel,created_at,first_response_at,resolved_at,closed_at,assignee,"
        "reopened,escalated,product_issue,rating,csat,bad_review_cause,handle_minutes,wait_seconds\n"
        "T1,C1,im,2025-03-03 10:00,2025-03-03 10:05,2025-03-03 12:00,,A1,0,false,false,,,,30,60\n",
        encoding="utf-8",
    )
    end_h, end_m = divmod(downtime_minutes, 60)
    (ws / "data" / "incidents.csv").write_text(
        "incident_id,started_at,ended_at\n"
        f"I1,2025-05-05 10:00,2025-05-05 {10 + end_h:02d}:{end_m:02d}\n",
        encoding="utf-8",
    )
    return ws


@pytest.mark.parametrize("downtime,met", [(52, 1), (53, 0)], ids=["52min-met", "53min-missed"])
def test_seed_availability_year_budget(tmp_path, downtime, met):
    """Seed 003: 99.99 % over a year allows (1 - 0.9999) * 365 * 24 * 60 = 52.56 = 52.6 minutes."""
    ws = _year_ws(tmp_path, downtime)
    proc = _run(ws)
    _ok(proc)
    index = _index(_read_csv(ws / "out" / "metrics.csv")[1])
    budget = index.get(("org", "org", "", "downtime_budget_minutes"))
    _check(budget, F(5256, 100), None, "downtime_budget_minutes")        # 0.0001 * 525600 = 52.56
    assert round(float(budget["value"]), 1) == 52.6
    _check(index.get(("org", "org", "", "availability")), 1 - F(downtime, 525600), None, "availability")
    # 52: 1 - 52/525600 = 0.99990106 >= 0.9999;  53: 1 - 53/525600 = 0.99989916 < 0.9999
    _check(index.get(("org", "org", "", "availability_target_met")), met, None, "availability_target_met")
