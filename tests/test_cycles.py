"""Performance cycles through the CLI: history, publish, restore, adjustments
and revocation, trends, what-if, export, the workspace lock, and a killed run.

The commands run in-process (tests/merit_cli.py); the lock and the killed run are
about processes, so those tests start real `merit` processes.

Expected numbers are worked out by hand from tests/fixtures/service_ws/EXPECTED.md
and tests/fixtures/full_ws/EXPECTED.md (see the comments next to each).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, MERIT, MeritResult, assert_user_error, run_merit

ALL_KPIS = ["fdr", "fcr", "bad_rate_service", "good_rate", "independent_closure", "productivity",
            "dts_p80_hours", "handoff_rate", "knowledge_points", "requirement_points", "innovation_points",
            "influence_points"]


# ------------------------------------------------------------------ helpers
def digest(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def ok(proc: MeritResult | subprocess.CompletedProcess):
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc


def history_json(ws: Path, *extra) -> list | dict:
    return json.loads(ok(run_merit("history", ws, *extra, "--json")).stdout)


def metric(ws: Path, scope_id: str, name: str) -> tuple[str, str]:
    with open(ws / "out" / "metrics.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["id"] == scope_id and r["metric"] == name and r["breakdown"] == "":
                return r["value"], r["n"]
    raise AssertionError(f"no {name} for {scope_id}")


def results(ws: Path) -> dict:
    return json.loads((ws / "out" / "results.json").read_text(encoding="utf-8"))


def one_kpi_ruleset(path: Path, name: str, kpi: str, direction: str, points) -> Path:
    """A ruleset scoring a single KPI (total = that KPI's points) with grades A ≥ 60, B ≥ 45, C."""
    lines = [f"name: {name}", "extends: default", "scoring:", "  kpis:"]
    lines += [f"    {k}: null" for k in ALL_KPIS if k != kpi]
    lines.append(f"    {kpi}: {{weight: 1, min_n: 1, direction: {direction}, "
                 f"curve: {{points: {json.dumps(points)}}}, by_level: {{}}}}")
    lines += ["  grades:", "    - {grade: A, min: 60}", "    - {grade: B, min: 45}", "    - {grade: C, min: 0}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------ history, publish, restore
def test_history_publish_restore(service_ws):
    ok(run_merit("run", service_ws, "--no-pdf", "--by", "alice"))
    first = digest(service_ws / "out")
    runs = history_json(service_ws)
    assert [(r["run_id"], r["status"], r["run_by"]) for r in runs] == [(1, "draft", "alice")]
    assert runs[0]["current"] is True
    detail = history_json(service_ws, "1")
    tickets_sha = hashlib.sha256((service_ws / "data" / "tickets.csv").read_bytes()).hexdigest()
    assert {i["table_name"]: i["sha256"] for i in detail["inputs"]}["tickets"] == tickets_sha
    assert detail["ruleset_name"] == "default" and len(detail["ruleset_sha256"]) == 64
    assert detail["engine_version"]
    assert {f["path"] for f in detail["files"]} == set(first)

    proc = ok(run_merit("publish", service_ws, "--by", "boss"))
    assert "Published run 1" in proc.stdout
    published = history_json(service_ws, "1")
    assert published["status"] == "published" and published["published_by"] == "boss"

    # a later run (here with different results) is a new draft; the published run is unchanged
    ok(run_merit("adjust", service_ws, "--ticket", "T02", "--set", "bad_review_cause=product",
                 "--reason", "crash confirmed as a product bug", "--by", "hr"))
    ok(run_merit("run", service_ws, "--no-pdf", "--by", "carol"))
    assert digest(service_ws / "out") != first
    runs = history_json(service_ws)
    assert [(r["run_id"], r["status"]) for r in runs] == [(1, "published"), (2, "draft")]
    assert runs[1]["current"] and not runs[0]["current"] and runs[1]["adjustments"] == [1]
    assert history_json(service_ws, "1") | {"current": None} == published | {"current": None}

    # publishing again the already published run changes nothing
    assert "already published" in ok(run_merit("publish", service_ws, "--run", "1")).stdout

    # the database itself refuses to change a published run
    con = sqlite3.connect(service_ws / ".merit" / "history.db")
    for sql in ("UPDATE runs SET run_by = 'mallory' WHERE run_id = 1",
                "DELETE FROM run_files WHERE run_id = 1",
                "DELETE FROM runs WHERE run_id = 1"):
        with pytest.raises(sqlite3.DatabaseError, match="published"):
            con.execute(sql)
    con.close()

    # restore brings back the published outputs byte for byte, atomically, without a new run
    ok(run_merit("restore", service_ws, "1"))
    assert digest(service_ws / "out") == first
    runs = history_json(service_ws)
    assert len(runs) == 2 and runs[0]["current"]
    assert not [p for p in service_ws.iterdir() if p.name.startswith(".out")]
    assert_user_error(run_merit("restore", service_ws, "9"), "no run 9")


def test_publish_without_runs_is_an_error(service_ws):
    assert_user_error(run_merit("publish", service_ws), "nothing to publish")


# ------------------------------------------------------------------ adjustments
def test_adjustment_applies_and_revocation_undoes_it(service_ws):
    ok(run_merit("run", service_ws, "--no-pdf"))
    # EXPECTED.md: A1 bad_rate_service = T02 (service) / (4 rated − T04 product) = 1/3, n 3
    assert metric(service_ws, "A1", "bad_rate_service") == ("0.333333333333", "3")
    before = digest(service_ws / "out")

    proc = ok(run_merit("adjust", service_ws, "--ticket", "T02", "--set", "bad_review_cause=product",
                        "--reason", "the customer's crash was a product bug", "--by", "HR Li"))
    assert "#1" in proc.stdout
    assert digest(service_ws / "out") == before  # recorded only; applies on the next run
    ok(run_merit("run", service_ws, "--no-pdf"))
    # T02 becomes product-caused: A1 numerator 1 → 0, denominator 3 → 2: 0/2 = 0
    assert metric(service_ws, "A1", "bad_rate_service") == ("0", "2")
    # alpha: (T07) 1 / (9 rated − T04 − T02) = 1/7; org: 3 / (17 − 4) = 3/13; B1 unchanged 1/3
    assert metric(service_ws, "alpha", "bad_rate_service") == ("0.142857142857", "7")
    assert metric(service_ws, "org", "bad_rate_service") == ("0.230769230769", "13")
    assert metric(service_ws, "B1", "bad_rate_service") == ("0.333333333333", "3")
    assert metric(service_ws, "A1", "bad_rate") == ("0.5", "4")  # all causes: unchanged
    doc = results(service_ws)
    assert doc["manifest"]["adjustments"] == [1]
    [adj] = doc["adjustments"]
    assert adj["agents"] == ["A1"] and adj["record"] == ["T02"] and adj["in_period"]
    assert (adj["field"], adj["before"], adj["after"], adj["by"]) == ("bad_review_cause", "service", "product", "HR Li")
    assert "product-caused" in adj["text"] and "HR Li" in adj["text"] and "product bug" in adj["text"]
    # same inputs + same active adjustments → byte-identical outputs
    adjusted = digest(service_ws / "out")
    ok(run_merit("run", service_ws, "--no-pdf"))
    assert digest(service_ws / "out") == adjusted

    # a second adjustment of the same field must wait for a revocation
    assert_user_error(run_merit("adjust", service_ws, "--ticket", "T02", "--set", "bad_review_cause=service",
                                "--reason", "x", "--by", "y"), "already has active adjustment #1")

    proc = ok(run_merit("revoke", service_ws, "1", "--reason", "appeal overturned by the panel", "--by", "boss"))
    assert "Revoked adjustment #1" in proc.stdout
    ok(run_merit("run", service_ws, "--no-pdf"))
    assert metric(service_ws, "A1", "bad_rate_service") == ("0.333333333333", "3")
    assert results(service_ws)["adjustments"] == [] and results(service_ws)["manifest"]["adjustments"] == []
    assert digest(service_ws / "out") == before
    listed = json.loads(ok(run_merit("adjustments", service_ws, "--json")).stdout)
    assert listed[0]["revoked_by"] == "boss" and listed[0]["revoke_reason"] == "appeal overturned by the panel"
    assert_user_error(run_merit("revoke", service_ws, "1", "--reason", "again", "--by", "boss"), "already revoked")
    # the audit log has every step
    con = sqlite3.connect(service_ws / ".merit" / "history.db")
    kinds = [r[0] for r in con.execute("SELECT kind FROM events ORDER BY event_id")]
    con.close()
    assert kinds == ["run", "adjust", "run", "run", "revoke", "run"]


def test_adjustment_of_other_fields_and_assignee(service_ws):
    # T05 (A1, neutral) rated bad/service and reassigned to A2: A1 loses a rated ticket, A2 gains a bad one
    ok(run_merit("adjust", service_ws, "--ticket", "T05", "--set", "assignee=A2", "--reason", "wrong queue",
                 "--by", "hr"))
    ok(run_merit("run", service_ws, "--no-pdf"))
    # A1 tickets 5 → 4; A2 6 → 7 (EXPECTED.md tickets)
    assert metric(service_ws, "A1", "tickets")[0] == "4" and metric(service_ws, "A2", "tickets")[0] == "7"
    [adj] = results(service_ws)["adjustments"]
    assert adj["agents"] == ["A1", "A2"]  # both agents' numbers moved


@pytest.mark.parametrize("args, needles", [
    (["--ticket", "T99", "--set", "rating=bad"], ["no ticket 'T99'"]),
    (["--ticket", "T02", "--set", "created_at=2026-07-01"], ["not a correctable field", "bad_review_cause"]),
    (["--ticket", "T02", "--set", "bad_review_cause=weather"], ["'weather'", "product, service"]),
    (["--ticket", "T02", "--set", "csat=9"], ["'9'", "at most 5"]),
    (["--ticket", "T02", "--set", "escalated=maybe"], ["'maybe'", "true/false"]),
    (["--ticket", "T02", "--set", "assignee=ZZ"], ["'ZZ' is not an agent_id"]),
    (["--ticket", "T02", "--set", "resolved_at=2026-08-01 09:00"], ["before the ticket's created_at"]),
    (["--ticket", "T02", "--set", "rating"], ["FIELD=VALUE"]),
    (["--grade", "K01:E1", "--set", "grade=A"], ["no grades table"]),
    (["--ticket", "T02", "--set", "rating=bad", "--reason", " "], ["needs a reason"]),
])
def test_adjustment_validation(service_ws, args, needles):
    if "--reason" not in args:
        args = args + ["--reason", "r"]
    assert_user_error(run_merit("adjust", service_ws, *args, "--by", "hr"), *needles)
    assert not (service_ws / "out").exists()


def test_grade_adjustment(tmp_path):
    ws = tmp_path / "full"
    shutil.copytree(FIXTURES / "full_ws", ws)
    ok(run_merit("run", ws, "--no-pdf"))
    # full_ws EXPECTED.md: A1 knowledge_points = K01 (A, S, B → A: 8) + K02 (½ × S: 15) = 23
    assert metric(ws, "A1", "knowledge_points")[0] == "23"
    assert_user_error(run_merit("adjust", ws, "--grade", "K01:E9", "--set", "grade=S", "--reason", "r", "--by", "p"),
                      "no grade of item 'K01' by panelist 'E9'")
    assert_user_error(run_merit("adjust", ws, "--grade", "K01:E3", "--set", "grade=Z", "--reason", "r", "--by", "p"),
                      "S, A, B, C")
    ok(run_merit("adjust", ws, "--grade", "K01:E3", "--set", "grade=s", "--reason", "re-graded on appeal",
                 "--by", "panel chair"))
    ok(run_merit("run", ws, "--no-pdf"))
    # K01 grades A, S, S → median S: 30; A1 = 30 + 15 = 45
    assert metric(ws, "A1", "knowledge_points")[0] == "45"
    [adj] = results(ws)["adjustments"]
    assert adj["record"] == ["K01", "E3"] and (adj["before"], adj["after"]) == ("B", "S")
    assert adj["agents"] == ["A1"] and "grade changed from B to S" in adj["text"]


# ------------------------------------------------------------------ trends
def test_trends_against_published_previous_cycle(tmp_path):
    prev, cur = tmp_path / "2026-Q2", tmp_path / "2026-Q3"
    shutil.copytree(FIXTURES / "service_ws", prev)
    shutil.copytree(FIXTURES / "service_ws", cur)
    cfg = prev / "cycle.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("name: 2026-JulAug-service-fixture", "name: prev"),
                   encoding="utf-8")
    ok(run_merit("run", prev, "--no-pdf"))
    ok(run_merit("publish", prev))
    # a later draft of the previous cycle must not be what trends compare against
    ok(run_merit("adjust", prev, "--ticket", "T13", "--set", "bad_review_cause=product", "--reason", "r", "--by", "x"))
    ok(run_merit("run", prev, "--no-pdf"))

    with open(cur / "cycle.yaml", "a", encoding="utf-8") as fh:
        fh.write("previous: [../2026-Q2]\n")
    ok(run_merit("adjust", cur, "--ticket", "T02", "--set", "bad_review_cause=product", "--reason", "r", "--by", "x"))
    ok(run_merit("run", cur, "--no-pdf"))
    with open(cur / "out" / "scores.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    assert header[:7] == ["agent_id", "name", "team", "level", "total", "grade", "rank"]
    assert {"delta_total", "previous_grade", "previous_rank", "delta_bad_rate_service", "delta_fdr"} <= set(header)
    by_id = {r["agent_id"]: r for r in rows}
    assert by_id["A1"]["delta_bad_rate_service"] == "-0.333333333333"  # 1/3 (published) → 0
    assert by_id["B1"]["delta_bad_rate_service"] == "0"  # the draft's T13 change is not compared against
    assert by_id["A1"]["delta_fdr"] == "0"
    doc = results(cur)
    trends = doc["trends"]
    assert [c["name"] for c in trends["cycles"]] == ["prev", "2026-JulAug-service-fixture"]
    assert "published run 1" in trends["cycles"][0]["source"]
    a1 = trends["agents"]["A1"]["kpis"]["bad_rate_service"]
    assert (a1["previous"], a1["current"], a1["delta"]) == (0.333333333333, 0.0, -0.333333333333)
    assert trends["teams"]["alpha"]["bad_rate_service"]["series"] == [0.25, 0.142857142857]  # 2/8 → 1/7
    assert trends["org"]["tickets"]["series"] == [20.0, 20.0]
    assert doc["manifest"]["previous"][0]["ref"] == "../2026-Q2"

    # no previous cycle: no trend columns
    ok(run_merit("run", prev, "--no-pdf"))
    with open(prev / "out" / "scores.csv", newline="", encoding="utf-8") as fh:
        assert not any(c.startswith("delta_") for c in next(csv.reader(fh)))
    assert "trends" not in results(prev)


def test_missing_previous_cycle_is_a_clear_error(service_ws):
    with open(service_ws / "cycle.yaml", "a", encoding="utf-8") as fh:
        fh.write("previous: [../nowhere]\n")
    assert_user_error(run_merit("run", service_ws, "--no-pdf"), "cycle.yaml", "previous", "'../nowhere' not found")
    assert not (service_ws / "out").exists()


# ------------------------------------------------------------------ what-if
def test_diff_worked_example(service_ws):
    # Base: fdr only, points = 100 × fdr.  EXPECTED.md fdr: A1 2/5, A2 1/2, B1 2/3, B2 2/3 (A3: none)
    #   totals A1 40 (C), A2 50 (B), B1 66.67 (A), B2 66.67 (A); ranks B1 1, B2 1, A2 3, A1 4.
    # Other: bad_rate_service only, points = 100 × (1 − rate): A1 1/3, A2 1/5, B1 1/3, B2 1/3
    #   totals A1 66.67 (A), A2 80 (A), B1 66.67 (A), B2 66.67 (A); ranks A2 1, A1 2, B1 2, B2 2.
    one_kpi_ruleset(service_ws / "fdr_only.yaml", "fdr_only", "fdr", "higher", [[0, 0], [1, 100]])
    one_kpi_ruleset(service_ws / "bad_only.yaml", "bad_only", "bad_rate_service", "lower", [[0, 100], [1, 0]])
    cfg = service_ws / "cycle.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("ruleset: default", "ruleset: fdr_only.yaml"),
                   encoding="utf-8")
    ok(run_merit("run", service_ws, "--no-pdf"))
    before_out = digest(service_ws / "out")
    before_db = (service_ws / ".merit" / "history.db").read_bytes()
    target = service_ws.parent / "diff.csv"
    proc = ok(run_merit("diff", service_ws, "--ruleset", service_ws / "bad_only.yaml", "--csv", target))
    assert "4 agents change grade or rank" in proc.stdout
    with open(target, newline="", encoding="utf-8") as fh:
        rows = {r["agent_id"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"A1", "A2", "B1", "B2"}  # A3 (no tickets) has no total either way
    pick = ("total_before", "total_after", "total_change", "grade_before", "grade_after",
            "rank_before", "rank_after", "rank_change")
    assert tuple(rows["A2"][k] for k in pick) == ("50", "80", "30", "B", "A", "3", "1", "2")
    assert tuple(rows["A1"][k] for k in pick) == ("40", "66.6666666667", "26.6666666667", "C", "A", "4", "2", "2")
    assert tuple(rows["B1"][k] for k in pick) == ("66.6666666667", "66.6666666667", "0", "A", "A", "1", "2", "-1")
    assert tuple(rows["B2"][k] for k in pick) == ("66.6666666667", "66.6666666667", "0", "A", "A", "1", "2", "-1")
    with open(target.with_name("diff-distribution.csv"), newline="", encoding="utf-8") as fh:
        dist = {r["measure"]: r for r in csv.DictReader(fh)}
    assert (dist["grade A"]["before"], dist["grade A"]["after"]) == ("2", "4")
    assert (dist["grade B"]["before"], dist["grade B"]["after"], dist["grade C"]["after"]) == ("1", "0", "0")
    assert dist["total mean"]["after"] == "70"  # (66.67 × 3 + 80) / 4
    assert dist["agents scored"]["before"] == dist["agents scored"]["after"] == "4"
    # nothing recorded, nothing written to out/
    assert digest(service_ws / "out") == before_out
    assert (service_ws / ".merit" / "history.db").read_bytes() == before_db
    assert len(history_json(service_ws)) == 1
    # a shipped ruleset by name works too
    ok(run_merit("diff", service_ws, "--ruleset", "small_team", "--csv", service_ws.parent / "st.csv"))


# ------------------------------------------------------------------ export
def test_export_xlsx(service_ws):
    import openpyxl

    one_kpi_ruleset(service_ws / "fdr_only.yaml", "fdr_only", "fdr", "higher", [[0, 0], [1, 100]])
    cfg = service_ws / "cycle.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("ruleset: default", "ruleset: fdr_only.yaml"),
                   encoding="utf-8")
    assert_user_error(run_merit("export", service_ws, "--format", "xlsx"), "nothing to export")
    ok(run_merit("run", service_ws, "--no-pdf"))
    first, second = service_ws.parent / "a.xlsx", service_ws.parent / "b.xlsx"
    ok(run_merit("export", service_ws, "--format", "xlsx", "--out", first))
    time.sleep(1.1)  # a clock-stamped file would differ now
    ok(run_merit("export", service_ws, "--format", "xlsx", "--out", second))
    assert first.read_bytes() == second.read_bytes()
    wb = openpyxl.load_workbook(first)
    assert wb.sheetnames == ["Summary", "alpha", "beta"]
    alpha = list(wb["alpha"].iter_rows(values_only=True))
    head = alpha[0]
    # column titles are labels (issue 13), in the cycle's language (en here)
    assert head[:7] == ("Agent id", "Name", "Level", "Total", "Grade", "Rank", "Team rank")
    rows = {r[0]: dict(zip(head, r)) for r in alpha[1:]}
    assert set(rows) == {"A1", "A2", "A3"}
    assert (rows["A1"]["Total"], rows["A1"]["Grade"], rows["A1"]["Rank"]) == (40, "C", 4)
    assert (rows["A2"]["Total"], rows["A2"]["Grade"], rows["A2"]["Team rank"]) == (50, "B", 1)
    fdr_value = next(h for h in head if h.endswith(": value"))
    assert rows["A1"][fdr_value] == 0.4
    beta = {r[0]: r for r in list(wb["beta"].iter_rows(values_only=True))[1:]}
    assert set(beta) == {"B1", "B2"}
    summary = {r[0]: r for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Cycle"][1] == "2026-JulAug-service-fixture"
    assert summary["alpha"][1:3] == (3, 2) and summary["All teams"][1:3] == (5, 4)
    assert_user_error(run_merit("export", service_ws, "--format", "pdf"), "unknown export format")
    # a recorded run can be exported too
    ok(run_merit("export", service_ws, "--format", "xlsx", "--run", "1", "--out", service_ws.parent / "r1.xlsx"))


# ------------------------------------------------------------------ safety: the lock
def test_second_process_fails_clearly_while_the_lock_is_held(service_ws):
    from merit.core.lock import workspace_lock

    env = {**os.environ, "MERIT_LOCK_TIMEOUT": "1"}
    with workspace_lock(service_ws):
        start = time.monotonic()
        # (both at once: each waits its own second for the lock)
        run, adjust = (subprocess.Popen([str(MERIT), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=env)
                       for args in (["run", str(service_ws), "--no-pdf"],
                                    ["adjust", str(service_ws), "--ticket", "T02", "--set", "rating=good",
                                     "--reason", "r", "--by", "x"]))
        out, err = run.communicate(timeout=120)
        waited = time.monotonic() - start
        assert_user_error(MeritResult([], run.returncode, out, err),
                          "another merit process is working on this workspace", f"pid {os.getpid()}", "waited 1 s")
        assert waited >= 1
        out, err = adjust.communicate(timeout=120)
        assert_user_error(MeritResult([], adjust.returncode, out, err), "another merit process")
    assert not (service_ws / "out").exists()
    ok(run_merit("run", service_ws, "--no-pdf"))  # the lock is free again


def test_second_process_waits_for_the_lock(service_ws):
    from merit.core.lock import workspace_lock

    held, release = threading.Event(), threading.Event()

    def hold():
        with workspace_lock(service_ws):
            held.set()
            release.wait(30)
    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    proc = subprocess.Popen([str(MERIT), "run", str(service_ws), "--no-pdf"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "MERIT_LOCK_TIMEOUT": "60"})
    time.sleep(1.5)
    assert proc.poll() is None  # still waiting
    release.set()
    t.join()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert len(history_json(service_ws)) == 1


# ------------------------------------------------------------------ safety: a killed run
def test_killed_run_leaves_outputs_and_history_intact(tmp_path):
    from merit.demo import generate_workspace

    # 200 agents' PDFs keep the second run writing long enough to be killed; the number of tickets
    # does not matter to what is checked
    ws = generate_workspace(tmp_path / "big", agents=200, tickets=3_000, fmt="parquet")
    ok(run_merit("run", ws, "--no-pdf", "--by", "first"))
    before = digest(ws / "out")
    assert before

    # A different result (another ruleset, with PDFs) so that a torn write would show. Killed as soon
    # as its staging folder appears (while it writes and renders), with its whole process group.
    proc = subprocess.Popen([str(MERIT), "run", str(ws), "--ruleset", "small_team", "--by", "killed"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    staged = False
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith(".out.staging-") for p in ws.iterdir()):
            staged = True
            break
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert staged, "the run finished before it could be killed"
    assert proc.returncode == -signal.SIGKILL

    assert digest(ws / "out") == before  # the previous outputs, byte for byte
    con = sqlite3.connect(ws / ".merit" / "history.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    runs = history_json(ws)
    assert [(r["run_id"], r["run_by"]) for r in runs] == [(1, "first")] and runs[0]["current"]

    # the next run succeeds (no stale lock), and cleans up the killed run's staging folder
    done = run_merit("run", ws, "--no-pdf", "--by", "after", env={"MERIT_LOCK_TIMEOUT": "5"})
    assert done.returncode == 0, done.stderr
    assert not [p for p in ws.iterdir() if p.name.startswith(".out.")]
    runs = history_json(ws)
    assert [r["run_by"] for r in runs] == ["first", "after"] and runs[1]["current"]
