"""`merit` on a real PostgreSQL server (started by the tests, tests/backend_servers.py), as a user
runs it: the tickets in a table of the database (`sources: {tickets: {table: ...}}`), the other
tables files copied there, the same files out as on DuckDB; the manifest's identity of the table;
an adjustment applied on the engine; problems of a table named by its key; a `table:` source
without a backend."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.conftest import FIXTURES, assert_user_error, copy_of
from tests.merit_cli import run_merit

pytestmark = pytest.mark.backends
WRITTEN = ("metrics.csv", "scores.csv", "lists.csv")


@pytest.fixture(scope="module")
def duckdb_run(tmp_path_factory) -> Path:
    ws = copy_of(FIXTURES / "service_ws", tmp_path_factory.mktemp("duck") / "ws")
    assert run_merit("run", ws, "--no-pdf").returncode == 0
    return ws


def _table_from_csv(url: str, table: str, path: Path, change=None) -> None:
    """*path*'s rows as a table of text columns (empty cells NULL), as a warehouse would hold them."""
    with open(path, newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    if change:
        rows = [change(dict(zip(header, r))) for r in rows]
        rows = [[r[h] for h in header] for r in rows]
    schema = table.split(".")[0]
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"CREATE TABLE {table} ({', '.join(f'{chr(34)}{h}{chr(34)} text' for h in header)})")
        with con.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            for r in rows:
                copy.write_row([x if x != "" else None for x in r])


def _on_postgres(ws: Path, url: str, table: str) -> Path:
    doc = yaml.safe_load((ws / "cycle.yaml").read_text(encoding="utf-8"))
    doc["backend"] = {"kind": "postgres", "url": url}
    doc["sources"] = {"tickets": {"table": table}}
    (ws / "cycle.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (ws / "data" / "tickets.csv").unlink()
    return ws


def test_tickets_in_a_table_give_the_files_of_a_duckdb_run(postgres_url, duckdb_run, tmp_path):
    _table_from_csv(postgres_url, "support.tickets", FIXTURES / "service_ws" / "data" / "tickets.csv")
    ws = _on_postgres(copy_of(FIXTURES / "service_ws", tmp_path / "ws"), postgres_url, "support.tickets")
    assert run_merit("run", ws, "--no-pdf").returncode == 0
    for name in WRITTEN:
        assert (ws / "out" / name).read_bytes() == (duckdb_run / "out" / name).read_bytes(), name
    manifest = json.loads((ws / "out" / "results.json").read_text(encoding="utf-8"))["manifest"]
    tickets = manifest["inputs"]["tickets"]
    # 22 ticket rows in the fixture, 20 created in July-August (EXPECTED.md)
    assert (tickets["table"], tickets["rows"], tickets["rows_in_period"]) == ("support.tickets", 22, 20)
    assert tickets["checksum"].startswith("md5-64-sum:") and "sha256" not in tickets
    assert manifest["inputs"]["agents"]["file"].endswith("agents.csv")
    assert manifest["engine"]["backend"] == f"postgres ({postgres_url})"
    report = run_merit("check", ws)
    assert report.returncode == 0 and "tickets: table support.tickets" in report.stdout
    assert "22 rows read, 20 in the period (by created_at)" in report.stdout
    assert f"validated on postgres ({postgres_url})" in report.stdout

    # the same rows again: the same checksum; one value changed: another
    again = run_merit("run", ws, "--no-pdf")
    assert again.returncode == 0
    assert json.loads((ws / "out" / "results.json").read_text())["manifest"]["inputs"]["tickets"] == tickets
    _table_from_csv(postgres_url, "support.tickets", FIXTURES / "service_ws" / "data" / "tickets.csv",
                    change=lambda r: {**r, "csat": "4"} if r["ticket_id"] == "T20" else r)
    assert run_merit("run", ws, "--no-pdf").returncode == 0
    changed = json.loads((ws / "out" / "results.json").read_text())["manifest"]["inputs"]["tickets"]
    assert changed["rows"] == 22 and changed["checksum"] != tickets["checksum"]


def test_an_adjustment_applies_on_the_engine(postgres_url, tmp_path):
    ws = copy_of(FIXTURES / "service_ws", tmp_path / "ws")
    assert run_merit("adjust", ws, "--ticket", "T02", "--set", "bad_review_cause=product",
                     "--reason", "a product bug", "--by", "HR Li").returncode == 0
    assert run_merit("run", ws, "--no-pdf", "--backend", postgres_url).returncode == 0
    rows = {(r["scope"], r["id"], r["metric"]): (r["value"], r["n"])
            for r in csv.DictReader(open(ws / "out" / "metrics.csv", encoding="utf-8")) if not r["breakdown"]}
    # EXPECTED.md: T02 becomes product-caused: A1 0/2; alpha 1/7; org 3/13
    assert rows[("agent", "A1", "bad_rate_service")] == ("0", "2")
    assert rows[("team", "alpha", "bad_rate_service")] == ("0.142857142857", "7")
    assert rows[("org", "org", "bad_rate_service")] == ("0.230769230769", "13")


def test_problems_of_a_table_name_the_table_the_key_and_the_column(postgres_url, tmp_path):
    _table_from_csv(postgres_url, "support.bad_tickets", FIXTURES / "service_ws" / "data" / "tickets.csv",
                    change=lambda r: {**r, "created_at": "yesterday"} if r["ticket_id"] in ("T03", "T05") else r)
    ws = _on_postgres(copy_of(FIXTURES / "service_ws", tmp_path / "ws"), postgres_url, "support.bad_tickets")
    proc = run_merit("run", ws, "--no-pdf")
    assert_user_error(proc, "table support.bad_tickets", "created_at", "2 values are not valid timestamps",
                      "'yesterday'", "T03")
    assert not (ws / "out").exists()


def test_a_table_source_needs_a_backend_that_holds_tables(tmp_path):
    ws = copy_of(FIXTURES / "service_ws", tmp_path / "ws")
    doc = yaml.safe_load((ws / "cycle.yaml").read_text(encoding="utf-8"))
    doc["sources"] = {"tickets": {"table": "support.tickets"}}
    (ws / "cycle.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    proc = run_merit("check", ws)
    assert_user_error(proc, "sources.tickets.table", "embedded DuckDB, which holds no tables", "backend:")
