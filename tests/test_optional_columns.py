"""Only what a metric needs is required: a contract column other than a table's key, attribution
and period (and the agents' name and team) may be absent from its file; the metrics that read it
are undefined in every scope with a note naming it, as are those computed from them, and scoring
leaves them out; `merit check` says per table what it read and what will be undefined.

Every expected value is worked out by hand from the tiny files below.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from merit.core.contract import contract
from tests.conftest import assert_user_error, run_merit

# The cycle is September 2026 (UTC).  t5 is created in August (out of the period); t7 is
# unassigned (organisation only).
TICKETS = [
    # ticket_id, created_at, assignee, channel, resolved_at, rating
    ("t1", "2026-09-01 09:00", "a1", "im", "2026-09-01 10:00", "good"),      # 1 h
    ("t2", "2026-09-02 09:00", "a1", "email", "2026-09-03 12:00", "bad"),    # 27 h
    ("t3", "2026-09-03 09:00", "a2", "im", "", ""),                          # unresolved
    ("t4", "2026-09-04 09:00", "a2", "im", "2026-09-04 09:30", "good"),      # 0.5 h
    ("t5", "2026-08-31 09:00", "a1", "im", "2026-08-31 10:00", "good"),      # August
    ("t6", "2026-09-05 09:00", "b1", "email", "2026-09-05 11:00", ""),       # 2 h
    ("t7", "2026-09-06 09:00", "", "im", "", "bad"),                         # unassigned
]
TICKET_COLUMNS = ("ticket_id", "created_at", "assignee", "channel", "resolved_at", "rating")

RULESET = """\
name: mini
tables:
  tickets:
    agent: assignee
    period: created_at
    key: ticket_id
    roster: [level]
    dimensions:
      channel: channel
metrics:
  tickets: {table: tickets, agg: count, breakdowns: [channel]}
  resolved: {table: tickets, agg: count, where: not is_empty(resolved_at)}
  good_rate:
    table: tickets
    agg: ratio
    where: not is_empty(rating)
    numerator: rating == 'good'
  fdr:
    table: tickets
    agg: ratio
    numerator: hours_between(created_at, resolved_at) <= 24
    breakdowns: [channel]
  fdr_std: {agg: standardized, metric: fdr, by: channel, weights: {im: 0.5, email: 0.5}}
  csat_avg: {table: tickets, agg: mean, value: csat}
  bad_rate_service:
    table: tickets
    agg: ratio
    where: not is_empty(rating)
    numerator: rating == 'bad' and bad_review_cause != 'product'
    denominator: not (rating == 'bad' and bad_review_cause == 'product')
  csat_share: {formula: csat_avg / 5}
  good_percent: {formula: good_rate * 100}
  levels_known: {table: tickets, agg: count, where: not is_empty(level)}
scoring:
  min_scored_weight: 0.5
  kpis:
    good_rate: {weight: 1, min_n: 1, curve: {points: [[0, 0], [1, 100]]}}
    csat_avg: {weight: 1, min_n: 1, curve: {points: [[1, 0], [5, 100]]}}
  grades:
    - {grade: A, min: 80}
    - {grade: B, min: 0}
"""


def write_csv(path: Path, header, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def make_ws(root: Path, *, ticket_columns=TICKET_COLUMNS, ruleset: str = "mini.yaml") -> Path:
    """Agents with only their required columns (agent_id, name, team), tickets with *ticket_columns*."""
    data = root / "data"
    data.mkdir(parents=True)
    (root / "cycle.yaml").write_text("name: 2026-09\nperiod: {start: 2026-09-01, end: 2026-09-30}\n"
                                     f"timezone: UTC\nruleset: {ruleset}\n", encoding="utf-8")
    (root / "mini.yaml").write_text(RULESET, encoding="utf-8")
    write_csv(data / "agents.csv", ["agent_id", "name", "team"],
              [["a1", "Ann", "red"], ["a2", "Bob", "red"], ["b1", "Cy", "blue"]])
    keep = [TICKET_COLUMNS.index(c) for c in ticket_columns]
    write_csv(data / "tickets.csv", ticket_columns, [[row[i] for i in keep] for row in TICKETS])
    return root


def metrics_rows(ws: Path) -> dict[tuple[str, str, str, str], dict[str, str]]:
    with open(ws / "out" / "metrics.csv", encoding="utf-8", newline="") as fh:
        return {(r["scope"], r["id"], r["breakdown"], r["metric"]): r for r in csv.DictReader(fh)}


def values(rows, metric: str, breakdown: str = "") -> dict[tuple[str, str], tuple[str, str, str]]:
    """(scope, id) -> (value, n, note) of *metric*."""
    return {(s, i): (r["value"], r["n"], r["note"]) for (s, i, b, m), r in rows.items()
            if m == metric and b == breakdown}


CSAT = "undefined: column tickets.csat is not in the workspace's data"
CAUSE = "undefined: column tickets.bad_review_cause is not in the workspace's data"
LEVEL = "undefined: column agents.level is not in the workspace's data"
SCOPES = [("agent", "a1"), ("agent", "a2"), ("agent", "b1"), ("team", "blue"), ("team", "red"), ("org", "org")]


# --------------------------------------------------------------------------
# The contract's rule
# --------------------------------------------------------------------------


def test_required_columns_are_key_attribution_period_and_the_agents_identity():
    tables = contract().tables
    assert tables["tickets"].required_columns == ("ticket_id", "created_at", "assignee")
    assert tables["agents"].required_columns == ("agent_id", "name", "team")
    assert tables["timelog"].required_columns == ("agent_id", "date")
    assert tables["knowledge"].required_columns == ("item_id", "authors", "published_on")
    assert tables["costs"].required_columns == ("month", "team")
    # never-empty ids must be there too; an optional attribution column says so itself
    assert tables["handoffs"].required_columns == ("ticket_id",)
    assert tables["surveys"].required_columns == ("response_id", "answered_on")
    assert tables["interceptions"].required_columns == ("date",)


def test_loading_records_the_absent_columns_and_reads_them_as_empty(tmp_path):
    from merit.core.tables import load_tables
    from merit.core.workspace import open_workspace

    tables = load_tables(open_workspace(make_ws(tmp_path / "ws", ticket_columns=(
        "assignee", "ticket_id", "created_at", "rating"))))  # (any order)
    assert tables.absent["agents"] == {"level", "role", "hired_on", "left_on", "cost_per_month", "email"}
    assert tables.absent["tickets"] == set(contract().tables["tickets"].names) - {
        "assignee", "ticket_id", "created_at", "rating"}
    assert "handoffs" not in tables.absent  # an absent table is in tables.missing
    got = tables.tables["tickets"].order_by("_row").select("ticket_id", "csat", "rating").execute()
    assert got["csat"].isna().all() and list(got["rating"].fillna("")) == ["good", "bad", "", "good", "good", "",
                                                                          "bad"]


# --------------------------------------------------------------------------
# Undefined metrics, with notes, in every scope
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_without_csat(tmp_path_factory) -> Path:
    """tickets without csat and bad_review_cause (and 9 other optional columns); agents without level."""
    ws = make_ws(tmp_path_factory.mktemp("nocsat") / "ws")
    proc = run_merit("run", ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    return ws


def test_the_other_metrics_are_exact(run_without_csat):
    rows = metrics_rows(run_without_csat)
    # in the period: t1, t2 (a1); t3, t4 (a2); t6 (b1); t7 (unassigned)
    assert values(rows, "tickets") == {("agent", "a1"): ("2", "2", ""), ("agent", "a2"): ("2", "2", ""),
                                       ("agent", "b1"): ("1", "1", ""), ("team", "blue"): ("1", "1", ""),
                                       ("team", "red"): ("4", "4", ""), ("org", "org"): ("6", "6", "")}
    assert values(rows, "resolved") == {("agent", "a1"): ("2", "2", ""), ("agent", "a2"): ("1", "1", ""),
                                        ("agent", "b1"): ("1", "1", ""), ("team", "blue"): ("1", "1", ""),
                                        ("team", "red"): ("3", "3", ""), ("org", "org"): ("4", "4", "")}
    # rated: a1 t1 good, t2 bad; a2 t4 good; b1 none; org also t7 bad
    good = values(rows, "good_rate")
    assert {k: (v[0], v[1]) for k, v in good.items()} == {
        ("agent", "a1"): ("0.5", "2"), ("agent", "a2"): ("1", "1"), ("agent", "b1"): ("", "0"),
        ("team", "blue"): ("", "0"), ("team", "red"): ("0.666666666667", "3"), ("org", "org"): ("0.5", "4")}
    assert values(rows, "good_percent")[("agent", "a1")][0] == "50"
    # within 24 hours: t1, t4, t6 (t2 took 27 h; t3 and t7 are unresolved)
    fdr = values(rows, "fdr")
    assert {k: v[0] for k, v in fdr.items()} == {("agent", "a1"): "0.5", ("agent", "a2"): "0.5",
                                                  ("agent", "b1"): "1", ("team", "blue"): "1",
                                                  ("team", "red"): "0.5", ("org", "org"): "0.5"}
    # a1: im 1/1, email 0/1 -> 0.5 * 1 + 0.5 * 0; b1: email only -> 1
    std = values(rows, "fdr_std")
    assert (std[("agent", "a1")][0], std[("agent", "b1")][0]) == ("0.5", "1")
    assert values(rows, "tickets", "channel=email") == {("agent", "a1"): ("1", "1", ""),
                                                       ("agent", "b1"): ("1", "1", ""),
                                                       ("team", "blue"): ("1", "1", ""),
                                                       ("team", "red"): ("1", "1", ""),
                                                       ("org", "org"): ("2", "2", "")}


def test_metrics_reading_an_absent_column_are_undefined_everywhere_with_a_note(run_without_csat):
    rows = metrics_rows(run_without_csat)
    for metric, note in (("csat_avg", CSAT), ("bad_rate_service", CAUSE), ("csat_share", CSAT),
                         ("levels_known", LEVEL)):
        assert values(rows, metric) == {scope: ("", "", note) for scope in SCOPES}, metric
    doc = json.loads((run_without_csat / "out" / "results.json").read_text(encoding="utf-8"))
    assert doc["notes"] == {"bad_rate_service": CAUSE, "csat_avg": CSAT, "csat_share": CSAT,
                            "levels_known": LEVEL}
    csat = [m for m in doc["metrics"] if m["metric"] == "csat_avg"]
    assert len(csat) == 6 and all(m["value"] is None and m["n"] is None for m in csat)


def test_scoring_leaves_an_undefined_kpi_out_as_insufficient_data(run_without_csat):
    with open(run_without_csat / "out" / "scores.csv", encoding="utf-8", newline="") as fh:
        scores = {r["agent_id"]: r for r in csv.DictReader(fh)}
    # csat_avg carries half the weight and has no points: the total is good_rate's points alone,
    # on half the weight (min_scored_weight 0.5); b1 has no rated ticket, so no total at all
    assert {a: (r["csat_avg"], r["good_rate"], r["total"], r["grade"], r["rank"]) for a, r in scores.items()} == {
        "a1": ("", "50", "50", "B", "2"), "a2": ("", "100", "100", "A", "1"), "b1": ("", "", "", "", "")}
    doc = json.loads((run_without_csat / "out" / "results.json").read_text(encoding="utf-8"))
    a1 = next(s for s in doc["scores"] if s["agent_id"] == "a1")
    assert a1["level"] is None and a1["rated"] is True and a1["scored_weight"] == 0.5
    # (the target is the curve's best point, 5)
    assert a1["kpis"]["csat_avg"] == {"metric": "csat_avg", "weight": 1, "value": None, "n": 0, "target": 5,
                                      "points": None, "status": "undefined", "weight_share": 0}
    assert a1["kpis"]["good_rate"]["weight_share"] == 1 and a1["kpis"]["good_rate"]["status"] == "ok"


def test_a_breakdown_by_an_absent_column_has_no_rows_and_its_standardised_metric_is_undefined(tmp_path):
    columns = tuple(c for c in TICKET_COLUMNS if c != "channel")
    ws = make_ws(tmp_path / "ws", ticket_columns=columns)
    proc = run_merit("run", ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    rows = metrics_rows(ws)
    assert not [key for key in rows if key[2]]  # no channel= rows
    assert values(rows, "tickets")[("org", "org")] == ("6", "6", "")
    channel = "undefined: column tickets.channel is not in the workspace's data"
    assert values(rows, "fdr_std") == {scope: ("", "", channel) for scope in SCOPES}
    assert values(rows, "fdr")[("agent", "a1")] == ("0.5", "2", "")
    lines = run_merit("check", ws).stdout.splitlines()
    at = lines.index("tickets: ws/data/tickets.csv")
    assert lines[at + 5:at + 8] == [  # in the ruleset's order
        "  undefined: fdr_std (column channel), csat_avg (column csat), bad_rate_service",
        "    (column bad_review_cause), csat_share (column csat)",
        "  no breakdown by channel (column channel)"]


def test_only_the_required_columns_still_give_the_counts(tmp_path):
    ws = make_ws(tmp_path / "ws", ticket_columns=("ticket_id", "created_at", "assignee"))
    proc = run_merit("run", ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    rows = metrics_rows(ws)
    assert values(rows, "tickets")[("team", "red")] == ("4", "4", "")
    resolved = "undefined: column tickets.resolved_at is not in the workspace's data"
    assert values(rows, "resolved") == {scope: ("", "", resolved) for scope in SCOPES}
    # two absent columns are named together, in sorted order
    assert values(rows, "bad_rate_service")[("org", "org")][2] == (
        "undefined: columns tickets.bad_review_cause and tickets.rating are not in the workspace's data")
    assert values(rows, "good_percent")[("org", "org")][2] == (
        "undefined: column tickets.rating is not in the workspace's data")


def test_a_missing_required_column_is_still_an_error(tmp_path):
    ws = make_ws(tmp_path / "ws", ticket_columns=("ticket_id", "created_at", "channel"))
    assert_user_error(run_merit("check", ws), "tickets.csv", "line 1", "missing column 'assignee'")


# --------------------------------------------------------------------------
# merit check
# --------------------------------------------------------------------------


def test_check_reports_source_rows_and_undefined_metrics(run_without_csat):
    proc = run_merit("check", run_without_csat)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:14] == [
        "2026-09: all checks passed",
        "agents: ws/data/agents.csv",
        "  3 rows read",
        "  not in the file: level, role, hired_on, left_on, cost_per_month, email",
        "  undefined: levels_known (column level)",
        "tickets: ws/data/tickets.csv",
        "  7 rows read, 6 in the period (by created_at)",  # t5 is in August
        "  not in the file: customer_id, first_response_at, closed_at, reopened,",
        "    escalated, product_issue, csat, bad_review_cause, handle_minutes,",
        "    wait_seconds",
        "  undefined: csat_avg (column csat), bad_rate_service (column bad_review_cause),",
        "    csat_share (column csat)",
        "absent, read by no metric: handoffs, timelog, knowledge, grades, requirements,",
        "  innovations, influence, interceptions, surveys, incidents, costs",
    ]
    ruleset = " ".join(line.strip() for line in lines[14:])
    assert ruleset.startswith("ruleset: mini (") and ruleset.endswith("10 metrics, 2 scored KPIs")
    assert all(len(line) <= 80 for line in lines), lines
