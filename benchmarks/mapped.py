#!/usr/bin/env python
"""A mapped-source workspace: the same tickets as a Zendesk-shaped export, read through `sources:`.

    python benchmarks/mapped.py SOURCE_WS DEST_WS

DEST_WS gets the other tables of SOURCE_WS as they are (hard links, else copies, into
``data/``), and its tickets as ``exports/zendesk-tickets.csv``, written the way Zendesk's CSV
export writes them: Zendesk's headers, timestamps with the account's offset
(``2026-06-28 00:56:41 +0800``), the assignee by the agent's name, ``Via`` and ``Satisfaction
Score`` in Zendesk's words, escalation and product issues as tags.  The columns Zendesk has no
field for (first response, closing, CSAT, bad review cause, handle and wait times) are custom
fields.  ``cycle.yaml`` reads the export with ``preset: zendesk`` plus ``columns`` for the rest.

Every metric of the export is the same as of SOURCE_WS (the harness compares merit's outputs on
both), so the time of `merit run` on DEST_WS against SOURCE_WS is the price of the mapping.
The DuckDB baseline reads the same export with its own hand-written mapping
(``baseline_duckdb.py``, ``zendesk_cohort``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import duckdb
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import read_cycle  # noqa: E402

EXPORT = "exports/zendesk-tickets.csv"
# Zendesk's `Via` for each contract channel, and `Satisfaction Score` for each rating.
VIA = {"ticket": "Web form", "email": "Email", "im": "Chat", "phone": "Voice", "wechat": "WeChat", "other": "Other"}
SCORE = {"good": "Good", "bad": "Bad", "neutral": "Neutral"}
CAUSE = {"product": "Product", "service": "Service"}

# What cycle.yaml adds to the preset: the custom fields, and the values Zendesk's own lists lack.
SOURCE_ENTRY = {
    "file": EXPORT,
    "preset": "zendesk",
    "columns": {
        "first_response_at": "First reply at",
        "closed_at": "Closed at",
        "product_issue": {"expr": "has_tag(tags, 'product_issue')"},
        "rating": {"column": "Satisfaction Score",
                   "values": {"Good": "good", "Bad": "bad", "Neutral": "neutral", "Offered": "",
                              "Not Offered": ""}},
        "csat": "CSAT [int]",
        "bad_review_cause": {"column": "Bad review cause [list]", "values": {"Product": "product",
                                                                            "Service": "service"}},
        "handle_minutes": "Handle time (min) [num]",
        "wait_seconds": "Longest wait (s) [num]",
    },
}


def sql_str(s) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def case(column: str, mapping: dict[str, str], other: str = "") -> str:
    whens = " ".join(f"WHEN {column} = {sql_str(k)} THEN {sql_str(v)}" for k, v in mapping.items())
    return f"CASE {whens} ELSE {sql_str(other)} END"


def zoned(ts: str, tz: str) -> str:
    """SQL: a TIMESTAMPTZ as Zendesk writes it, local wall time and offset (``+0800``)."""
    local = f"timezone({sql_str(tz)}, {ts})"
    off = f"CAST((epoch({local}) - epoch({ts})) / 60 AS INTEGER)"
    sign = f"CASE WHEN {off} < 0 THEN '-' ELSE '+' END"
    return (f"CASE WHEN {ts} IS NULL THEN '' ELSE strftime({local}, '%Y-%m-%d %H:%M:%S') || ' ' || {sign} || "
            f"lpad(CAST(abs({off}) // 60 AS VARCHAR), 2, '0') || lpad(CAST(abs({off}) % 60 AS VARCHAR), 2, '0') END")


def text(col: str, types: dict[str, str]) -> str:
    return f"nullif(trim({col}), '')" if types[col] == "VARCHAR" else col


def export_tickets(src_ws: Path, dest: Path) -> None:
    cyc = read_cycle(src_ws)
    tickets, agents = cyc.table("tickets"), cyc.table("agents")
    con = duckdb.connect()
    con.execute(f"SET TimeZone = {sql_str(cyc.timezone)}")
    src = (f"read_parquet({sql_str(tickets)})" if tickets.suffix == ".parquet"
           else f"read_csv({sql_str(tickets)}, header = true, all_varchar = true)")
    a_src = (f"read_parquet({sql_str(agents)})" if agents.suffix == ".parquet"
             else f"read_csv({sql_str(agents)}, header = true, all_varchar = true)")
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}

    def ts(col):
        return f"CAST({text(col, types)} AS TIMESTAMPTZ)"

    def flag(col):
        return f"lower(CAST({col} AS VARCHAR)) IN ('true', '1', 'yes')"

    tags = (f"concat_ws(' ', CASE WHEN {flag('escalated')} THEN 'escalated' END, "
            f"CASE WHEN {flag('product_issue')} THEN 'product_issue' END)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"""
COPY (
  SELECT t.ticket_id AS "Id", t.customer_id AS "Requester id",
         {case("lower(" + text("channel", types) + ")", VIA)} AS "Via",
         {zoned(ts("created_at"), cyc.timezone)} AS "Created at",
         {zoned(ts("first_response_at"), cyc.timezone)} AS "First reply at",
         {zoned(ts("resolved_at"), cyc.timezone)} AS "Solved at",
         {zoned(ts("closed_at"), cyc.timezone)} AS "Closed at",
         a.name AS "Assignee", t.reopened AS "Reopens", {tags} AS "Tags",
         {case("lower(" + text("rating", types) + ")", SCORE, "Offered")} AS "Satisfaction Score",
         t.csat AS "CSAT [int]",
         {case("lower(" + text("bad_review_cause", types) + ")", CAUSE)} AS "Bad review cause [list]",
         t.handle_minutes AS "Handle time (min) [num]", t.wait_seconds AS "Longest wait (s) [num]"
  FROM {src} t LEFT JOIN {a_src} a ON a.agent_id = t.assignee
  ORDER BY t.ticket_id
) TO {sql_str(dest)} (HEADER, DELIMITER ',')
""")


def link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def make_mapped_workspace(src_ws: Path, dest_ws: Path) -> Path:
    """DEST_WS: SOURCE_WS with its tickets as a Zendesk export read through `sources:`."""
    tmp = dest_ws.with_name(dest_ws.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "data").mkdir(parents=True)
    for f in sorted((src_ws / "data").iterdir()):
        if f.is_file() and f.stem != "tickets":
            link_or_copy(f, tmp / "data" / f.name)
    export_tickets(src_ws, tmp / EXPORT)
    cfg = yaml.safe_load((src_ws / "cycle.yaml").read_text(encoding="utf-8"))
    cfg["sources"] = {"tickets": SOURCE_ENTRY}
    (tmp / "cycle.yaml").write_text("# merit benchmark: the tickets as a Zendesk export (benchmarks/mapped.py)\n"
                                    + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.rename(dest_ws)
    return dest_ws


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    print(make_mapped_workspace(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()))
