"""The real `merit` command: check, run, explain, and what users see on mistakes."""

from __future__ import annotations

import csv
import hashlib
import json

from tests.conftest import assert_user_error, run_merit


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_check_validates_without_writing(service_ws):
    proc = run_merit("check", service_ws)
    assert proc.returncode == 0, proc.stderr
    assert "all checks passed" in proc.stdout
    for table in ("agents", "tickets", "handoffs", "timelog", "surveys"):
        assert table in proc.stdout
    assert "knowledge" in proc.stdout and "absent" in proc.stdout  # optional tables listed as absent
    assert not (service_ws / "out").exists()


def test_run_writes_outputs_and_is_deterministic(service_ws):
    proc = run_merit("run", service_ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    out = service_ws / "out"
    assert {"metrics.csv", "scores.csv", "results.json"} <= {p.name for p in out.iterdir()}
    first = digest(out)
    proc = run_merit("run", service_ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    assert digest(out) == first  # byte-identical
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    manifest = doc["manifest"]
    assert manifest["engine"]["name"] == "merit"
    assert manifest["ruleset"]["name"] == "default" and len(manifest["ruleset"]["sha256"]) == 64
    tickets_sha = hashlib.sha256((service_ws / "data" / "tickets.csv").read_bytes()).hexdigest()
    assert manifest["inputs"]["tickets"]["sha256"] == tickets_sha
    assert doc["cycle"]["timezone"] == "Asia/Shanghai"
    # undefined is null in JSON, never 0: A3 has no tickets
    fdr_a3 = [m for m in doc["metrics"] if m["scope"] == "agent" and m["id"] == "A3" and m["metric"] == "fdr"]
    assert fdr_a3[0]["value"] is None


def test_missing_optional_table_leaves_metric_undefined_with_note(service_ws):
    (service_ws / "data" / "handoffs.csv").unlink()
    proc = run_merit("run", service_ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    with open(service_ws / "out" / "metrics.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["metric"] == "handoff_rate"]
    assert rows and all(r["value"] == "" for r in rows)
    assert all("handoffs" in r["note"] for r in rows)


def test_bad_data_is_exit_2_and_leaves_previous_out_untouched(service_ws):
    assert run_merit("run", service_ws, "--no-pdf").returncode == 0
    before = digest(service_ws / "out")
    tickets = service_ws / "data" / "tickets.csv"
    lines = tickets.read_text(encoding="utf-8").splitlines()
    # line 3 of the file: make created_at unparsable
    fields = lines[2].split(",")
    fields[3] = "yesterday"
    lines[2] = ",".join(fields)
    tickets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run_merit("run", service_ws, "--no-pdf")
    assert_user_error(proc, "tickets.csv", "line 3", "created_at", "'yesterday'")
    assert digest(service_ws / "out") == before
    assert not [p for p in service_ws.iterdir() if p.name.startswith(".out")]  # no staging left behind


def test_bad_cycle_yaml(service_ws):
    (service_ws / "cycle.yaml").write_text(
        "name: x\nperiod: {start: 2026-07-01, end: 2026-06-01}\ntimezone: Mars/Olympus\n", encoding="utf-8")
    proc = run_merit("run", service_ws, "--no-pdf")
    assert_user_error(proc, "cycle.yaml", "line 3", "Mars/Olympus")
    assert "before its start" in proc.stderr
    assert "field 'timezone': unknown time zone 'Mars/Olympus'" in proc.stderr
    assert "Value error" not in proc.stderr  # (pydantic's own prefix is not the user's business)
    assert not (service_ws / "out").exists()


def test_missing_workspace_and_required_table(tmp_path, service_ws):
    assert_user_error(run_merit("run", tmp_path / "nope"), "not found")
    (service_ws / "data" / "agents.csv").unlink()
    assert_user_error(run_merit("check", service_ws), "agents")


def test_explain_shows_excluded_product_reviews(service_ws):
    # A1's rated tickets (EXPECTED.md): T01 good, T02 bad/service, T04 bad/product, T05 neutral
    proc = run_merit("explain", service_ws, "--agent", "A1", "--metric", "bad_rate_service",
                     "--csv", service_ws / "explain.csv")
    assert proc.returncode == 0, proc.stderr
    assert "1 / 3" in proc.stdout
    with open(service_ws / "explain.csv", newline="", encoding="utf-8") as fh:
        rows = {r["ticket_id"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"T01", "T02", "T04", "T05"}
    assert rows["T04"]["counted"] == "excluded from both"
    assert rows["T02"]["counted"] == "numerator and denominator"
    assert rows["T01"]["counted"] == rows["T05"]["counted"] == "denominator only"
    assert rows["T04"]["line"] == "5"  # T04 is on line 5 of tickets.csv


def test_explain_formula_and_unknowns(service_ws):
    proc = run_merit("explain", service_ws, "--agent", "A1", "--metric", "productivity")
    assert proc.returncode == 0, proc.stderr
    assert "resolved_tickets / days_worked" in proc.stdout and "0.8" in proc.stdout  # 4 resolved / 5 days
    assert_user_error(run_merit("explain", service_ws, "--agent", "NOPE", "--metric", "fdr"), "unknown agent 'NOPE'")
    assert_user_error(run_merit("explain", service_ws, "--agent", "A1", "--metric", "nope"), "unknown metric 'nope'")
    # --backend as on run, render and check (docs/backends.md)
    proc = run_merit("explain", service_ws, "--agent", "A1", "--metric", "productivity", "--backend", "duckdb")
    assert proc.returncode == 0 and "0.8" in proc.stdout, proc.stderr
    assert_user_error(run_merit("explain", service_ws, "--agent", "A1", "--metric", "fdr", "--backend", "oracle"),
                      "field '--backend': unknown backend 'oracle'")


def test_engine_settings_from_the_environment_are_checked(service_ws):
    for name, value, needle in [("MERIT_THREADS", "two", "MERIT_THREADS='two' is not a number of threads"),
                                ("MERIT_THREADS", "0", "MERIT_THREADS='0' is not a number of threads"),
                                ("MERIT_MEMORY_LIMIT", "lots", "MERIT_MEMORY_LIMIT='lots' is not a memory size")]:
        assert_user_error(run_merit("check", service_ws, env={name: value}), needle)
    proc = run_merit("check", service_ws, env={"MERIT_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    for value in ("many", "0"):
        assert_user_error(run_merit("render", service_ws, "--agent", "A1", env={"MERIT_RENDER_WORKERS": value}),
                          f"MERIT_RENDER_WORKERS={value!r} is not a number of processes")
    assert not (service_ws / "out").exists() and not [p for p in service_ws.iterdir() if p.name.startswith(".out")]
