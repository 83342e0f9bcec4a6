"""The synthetic demo workspace (engine/demo.py)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from merit.demo import TABLE_COLUMNS, default_ticket_count, generate_workspace
from merit.core.errors import MeritError

# The input contract (docs/data.md, docs/contract.md), restated independently of the demo generator.
CONTRACT = {
    "agents": "agent_id name team level role hired_on left_on cost_per_month",
    "tickets": "ticket_id customer_id channel created_at first_response_at resolved_at closed_at assignee "
               "reopened escalated product_issue rating csat bad_review_cause handle_minutes wait_seconds",
    "handoffs": "ticket_id from_agent to_agent at",
    "timelog": "agent_id date activity hours",
    "knowledge": "item_id kind title authors published_on views citations",
    "grades": "item_id panelist grade graded_at comment",
    "requirements": "requirement_id title submitter submitted_on kano impact_share status landed_on",
    "innovations": "innovation_id kind title owners honor recognized_on",
    "influence": "record_id kind owners customer_id revenue date",
    "interceptions": "date kind tool inquiries intercepted team",
    "surveys": "response_id customer_id answered_on score agent_id",
    "incidents": "incident_id started_at ended_at",
    "costs": "month team amount",
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    return generate_workspace(tmp_path_factory.mktemp("demo") / "ws", agents=40, seed=11)


@pytest.fixture(scope="module")
def db(ws):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    for table in CONTRACT:
        path = ws / "data" / f"{table}.csv"
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_csv('{path}', all_varchar = true, header = true)")
    # Timestamps as instants: naive text is local (Asia/Shanghai), offsets honoured.
    con.execute("""CREATE VIEW t AS SELECT *, created_at::TIMESTAMPTZ AS c, first_response_at::TIMESTAMPTZ AS f,
                   resolved_at::TIMESTAMPTZ AS r, closed_at::TIMESTAMPTZ AS x FROM tickets""")
    yield con
    con.close()


def one(con, sql):
    return con.execute(sql).fetchone()


def values(con, sql):
    return {row[0] for row in con.execute(sql).fetchall()}


def test_contract_columns_match_spec():
    assert {t: tuple(c.split()) for t, c in CONTRACT.items()} == TABLE_COLUMNS


def test_every_table_with_exactly_the_contract_columns(ws):
    assert (ws / "cycle.yaml").is_file()
    files = sorted(p.name for p in (ws / "data").iterdir())
    assert files == sorted(f"{t}.csv" for t in CONTRACT)
    for table, cols in CONTRACT.items():
        header = (ws / "data" / f"{table}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        assert header == ",".join(cols.split()), table


def test_cycle_yaml(ws):
    from merit.core.workspace import open_workspace

    cfg = open_workspace(ws).config
    assert cfg.name == "2026-Q3"
    assert (cfg.period.start, cfg.period.end) == (date(2026, 7, 1), date(2026, 9, 30))
    assert cfg.timezone == "Asia/Shanghai" and cfg.ruleset == "default"


def test_deterministic_and_seed_sensitive(tmp_path):
    def files(root):
        return {p.name: p.read_bytes() for p in sorted((root / "data").iterdir())} | {
            "cycle.yaml": (root / "cycle.yaml").read_bytes()}

    kw = dict(agents=24, tickets=4000, seed=3)
    a = files(generate_workspace(tmp_path / "a", **kw))
    b = files(generate_workspace(tmp_path / "b", **kw))
    assert a == b
    c = files(generate_workspace(tmp_path / "c", **(kw | {"seed": 4})))
    assert c["tickets.csv"] != a["tickets.csv"]
    pa_ = files(generate_workspace(tmp_path / "pa", fmt="parquet", **kw))
    pb = files(generate_workspace(tmp_path / "pb", fmt="parquet", **kw))
    assert pa_ == pb


def test_default_size_is_realistic():
    n = default_ticket_count(48, date(2026, 7, 1), date(2026, 9, 30))
    assert 20_000 <= n <= 30_000


def test_value_sets(db):
    assert values(db, "SELECT level FROM agents") == {"P2", "P3", "P4"}
    assert len(values(db, "SELECT team FROM agents")) >= 3
    assert one(db, "SELECT count(*) = count(DISTINCT agent_id) AND count(*) = count(DISTINCT name) FROM agents")[0]
    assert values(db, "SELECT channel FROM tickets") == {"im", "phone", "email", "ticket", "wechat"}
    assert values(db, "SELECT rating FROM tickets") == {"good", "neutral", "bad", None}
    assert values(db, "SELECT bad_review_cause FROM tickets") == {"product", "service", None}
    assert values(db, "SELECT csat FROM tickets") == {"1", "2", "3", "4", "5", None}
    assert values(db, "SELECT escalated FROM tickets") == {"true", "false"}
    assert values(db, "SELECT product_issue FROM tickets") == {"true", "false"}
    assert one(db, "SELECT count(*) = count(DISTINCT ticket_id) FROM tickets")[0]
    assert one(db, "SELECT min(reopened::INT), max(reopened::INT) FROM tickets") == (0, 2)
    assert one(db, "SELECT min(handle_minutes::DOUBLE) > 0, min(wait_seconds::INT) >= 0 FROM tickets") == (True, True)
    # csat and bad_review_cause only on rated / bad tickets
    assert one(db, "SELECT count(*) FROM tickets WHERE (rating IS NULL) <> (csat IS NULL)")[0] == 0
    assert one(db, "SELECT count(*) FROM tickets WHERE bad_review_cause IS NOT NULL AND rating <> 'bad'")[0] == 0
    assert values(db, "SELECT activity FROM timelog") == {
        "online_support", "training", "review", "tool_dev", "tool_bugfix", "non_support"}
    assert values(db, "SELECT kind FROM knowledge") == {"faq", "sop", "case", "best_practice"}
    assert values(db, "SELECT grade FROM grades") == {"S", "A", "B", "C"}
    assert values(db, "SELECT kano FROM requirements") <= {
        "basic", "performance", "excitement", "indifferent", "reverse"}
    assert values(db, "SELECT status FROM requirements") <= {"open", "accepted", "landed", "rejected"}
    assert one(db, "SELECT min(impact_share::DOUBLE) >= 0 AND max(impact_share::DOUBLE) <= 1 FROM requirements")[0]
    assert values(db, "SELECT kind FROM innovations") <= {"patent", "book", "article", "contest", "other"}
    assert values(db, "SELECT honor FROM innovations") <= {"team", "company", "industry", "national", "international"}
    assert values(db, "SELECT kind FROM influence") <= {"onsite", "diagnosis", "tuning", "training", "thanks_letter"}
    assert values(db, "SELECT kind FROM interceptions") == {"smart", "tool"}
    assert len(values(db, "SELECT tool FROM interceptions WHERE kind = 'tool'")) >= 2
    assert None in values(db, "SELECT team FROM interceptions")
    assert one(db, "SELECT count(*) FROM interceptions WHERE intercepted::INT > inquiries::INT")[0] == 0
    assert one(db, "SELECT min(score::INT), max(score::INT) FROM surveys") == (0, 10)
    assert None in values(db, "SELECT agent_id FROM surveys")
    assert one(db, "SELECT count(*) FROM costs WHERE NOT regexp_full_match(month, '\\d{4}-\\d{2}')")[0] == 0
    # lists of known agent ids, never more than one credit per person
    for table, col in (("knowledge", "authors"), ("innovations", "owners"), ("influence", "owners")):
        bad = one(db, f"""SELECT count(*) FROM (SELECT unnest(string_split({col}, ';')) AS a FROM {table})
                          WHERE a NOT IN (SELECT agent_id FROM agents)""")[0]
        assert bad == 0, table
        dup = one(db, f"""SELECT count(*) FROM {table}
                          WHERE len(string_split({col}, ';')) <> len(list_distinct(string_split({col}, ';')))""")[0]
        assert dup == 0, table


def test_time_consistency(db):
    assert one(db, "SELECT count(*) FROM t WHERE f < c OR r < c OR r < f OR x < r")[0] == 0
    assert one(db, "SELECT count(*) FROM t WHERE x IS NOT NULL AND r IS NULL")[0] == 0
    assert one(db, "SELECT count(*) FROM t WHERE wait_seconds::INT > epoch(f - c)")[0] == 0
    # handoffs happen between creation and resolution (or while still open)
    assert one(db, """SELECT count(*) FROM handoffs h JOIN t USING (ticket_id)
                      WHERE h.at::TIMESTAMPTZ < t.c OR h.at::TIMESTAMPTZ > coalesce(t.r, t.c + INTERVAL 3 DAY)""")[0] == 0
    assert one(db, "SELECT count(*) FROM handoffs WHERE from_agent = to_agent")[0] == 0
    # tickets go only to agents employed on that (local) day
    assert one(db, """SELECT count(*) FROM t JOIN agents a ON a.agent_id = t.assignee
                      WHERE c::DATE < a.hired_on::DATE OR c::DATE > coalesce(a.left_on::DATE, DATE '9999-12-31')""")[0] == 0
    assert one(db, "SELECT count(*) FROM agents WHERE left_on::DATE < hired_on::DATE")[0] == 0
    assert one(db, "SELECT count(*) FROM requirements WHERE landed_on::DATE < submitted_on::DATE")[0] == 0
    assert one(db, "SELECT count(*) FROM requirements WHERE (status = 'landed') <> (landed_on IS NOT NULL)")[0] == 0
    assert one(db, """SELECT count(*) FROM grades g JOIN knowledge k USING (item_id)
                      WHERE g.graded_at::TIMESTAMP::DATE < k.published_on::DATE
                         OR list_contains(string_split(k.authors, ';'), g.panelist)""")[0] == 0
    assert one(db, "SELECT count(*) FROM incidents WHERE ended_at::TIMESTAMP <= started_at::TIMESTAMP")[0] == 0
    # one outage crosses the period start
    assert one(db, """SELECT count(*) FROM incidents WHERE started_at::TIMESTAMP < TIMESTAMP '2026-07-01'
                      AND ended_at::TIMESTAMP > TIMESTAMP '2026-07-01'""")[0] == 1


def test_realistic_shape(db):
    n, unresolved, rated, escalated, product, offsets = one(db, """
        SELECT count(*), avg((resolved_at IS NULL)::INT), avg((rating IS NOT NULL)::INT),
               avg((escalated = 'true')::INT), avg((product_issue = 'true')::INT),
               count(*) FILTER (WHERE created_at LIKE '%+%') FROM tickets""")
    assert 0.03 < unresolved < 0.08
    assert 0.40 <= rated <= 0.60
    assert 0.07 <= escalated <= 0.13 and 0.07 <= product <= 0.14
    assert offsets > 0
    assert values(db, "SELECT substr(created_at, 20) FROM tickets WHERE created_at LIKE '%T%'") == {"+08:00", "+00:00"}
    # bad reviews of both causes (and some without a cause)
    assert one(db, """SELECT count(*) FILTER (WHERE bad_review_cause = 'product'),
                             count(*) FILTER (WHERE bad_review_cause = 'service'),
                             count(*) FILTER (WHERE bad_review_cause IS NULL)
                      FROM tickets WHERE rating = 'bad'""") > (0, 0, 0)
    # weekends and nights are quieter than working hours
    by_part = dict(db.execute("""SELECT isodow(c) >= 6 OR hour(c) NOT BETWEEN 9 AND 18, count(*) FROM t
                                 GROUP BY 1""").fetchall())
    assert by_part[False] > by_part[True]
    # handoffs on ~10-15 % of tickets
    share = one(db, "SELECT count(DISTINCT ticket_id) FROM handoffs")[0] / n
    assert 0.08 <= share <= 0.16
    # some agents have very few tickets, some no timelog at all, some roster changes
    few = one(db, """SELECT count(*) FROM agents a WHERE a.hired_on::DATE <= DATE '2026-09-30'
                     AND (SELECT count(*) FROM tickets WHERE assignee = a.agent_id) BETWEEN 1 AND 20""")[0]
    assert few >= 1
    assert one(db, "SELECT count(*) FROM agents WHERE agent_id NOT IN (SELECT agent_id FROM timelog)")[0] >= 2
    assert one(db, "SELECT count(*) FROM agents WHERE hired_on::DATE BETWEEN DATE '2026-07-01' AND DATE '2026-09-30'")[0] >= 2
    assert one(db, "SELECT count(*) FROM agents WHERE left_on::DATE BETWEEN DATE '2026-07-01' AND DATE '2026-09-30'")[0] >= 1
    # timelog days sum to about eight hours, mostly online support
    lo, avg, hi = one(db, """SELECT min(h), avg(h), max(h) FROM
                             (SELECT sum(hours::DOUBLE) AS h FROM timelog GROUP BY agent_id, date)""")
    assert 4 <= lo and 7.5 <= avg <= 8.5 and hi <= 12
    top = one(db, "SELECT activity FROM timelog GROUP BY 1 ORDER BY sum(hours::DOUBLE) DESC LIMIT 1")[0]
    assert top == "online_support"
    # graded items have 3-5 panelists; some items are ungraded
    assert one(db, "SELECT min(k), max(k) FROM (SELECT count(*) k FROM grades GROUP BY item_id)")[1] <= 5
    assert one(db, "SELECT count(*) FROM knowledge WHERE item_id NOT IN (SELECT item_id FROM grades)")[0] >= 1
    assert one(db, "SELECT count(*) FROM requirements WHERE status = 'landed'")[0] >= 1


def test_parquet_output_same_data(ws, tmp_path):
    pq_ws = generate_workspace(tmp_path / "p", agents=40, seed=11, fmt="parquet")
    files = sorted(p.name for p in (pq_ws / "data").iterdir())
    assert files == sorted(f"{t}.parquet" for t in CONTRACT)
    for table, cols in CONTRACT.items():
        assert pq.read_schema(pq_ws / "data" / f"{table}.parquet").names == cols.split()
    tickets = pq.read_table(pq_ws / "data" / "tickets.parquet")
    assert str(tickets.schema.field("created_at").type).startswith("timestamp[")  # naive local
    assert str(tickets.schema.field("escalated").type) == "bool"
    con = duckdb.connect()
    same = con.execute(f"""
        SELECT count(*) FROM read_parquet('{pq_ws}/data/tickets.parquet') p
        JOIN read_csv('{ws}/data/tickets.csv', all_varchar = true) c USING (ticket_id)
        WHERE p.assignee = c.assignee AND p.channel = c.channel""").fetchone()[0]
    assert same == tickets.num_rows
    con.close()


def test_switching_format_replaces_stale_files(tmp_path):
    root = generate_workspace(tmp_path / "w", agents=12, tickets=300)
    generate_workspace(root, agents=12, tickets=300, fmt="parquet")
    assert all(p.suffix == ".parquet" for p in (root / "data").iterdir())


def test_progress_is_bounded_and_monotonic(tmp_path):
    calls = []
    generate_workspace(tmp_path / "w", agents=12, tickets=500, progress=lambda s, f: calls.append((s, f)))
    fractions = [f for _, f in calls]
    assert 3 <= len(calls) <= 40
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] == 1.0


def test_other_zone_and_period(tmp_path):
    root = generate_workspace(tmp_path / "w", agents=12, tickets=2000, timezone="Europe/Berlin",
                              start=date(2026, 10, 1), end=date(2026, 12, 31))
    assert "name: 2026-Q4" in (root / "cycle.yaml").read_text()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Europe/Berlin'")
    bad = con.execute(f"""SELECT count(*) FROM read_csv('{root}/data/tickets.csv', all_varchar = true)
                          WHERE resolved_at::TIMESTAMPTZ < created_at::TIMESTAMPTZ
                             OR first_response_at::TIMESTAMPTZ < created_at::TIMESTAMPTZ""").fetchone()[0]
    assert bad == 0
    suffixes = {r[0] for r in con.execute(f"""SELECT substr(created_at, 20) FROM
                read_csv('{root}/data/tickets.csv', all_varchar = true) WHERE created_at LIKE '%T%'""").fetchall()}
    assert suffixes <= {"+01:00", "+02:00", "+00:00"} and "+00:00" in suffixes
    con.close()


def test_bad_arguments(tmp_path):
    with pytest.raises(MeritError):
        generate_workspace(tmp_path / "w", agents=2)
    with pytest.raises(MeritError):
        generate_workspace(tmp_path / "w", fmt="xlsx")
    with pytest.raises(MeritError):
        generate_workspace(tmp_path / "w", timezone="Mars/Olympus")
    with pytest.raises(MeritError):
        generate_workspace(tmp_path / "w", start=date(2026, 9, 30), end=date(2026, 7, 1))


def test_tiny_and_empty_workspaces(tmp_path):
    generate_workspace(tmp_path / "tiny", agents=3, tickets=50)
    root = generate_workspace(tmp_path / "empty", agents=8, tickets=0, fmt="parquet")
    assert pq.read_table(root / "data" / "tickets.parquet").num_rows == 0


def test_loads_through_the_engine(tmp_path):
    tables = pytest.importorskip("merit.core.tables")
    from merit.core.workspace import open_workspace

    for fmt in ("csv", "parquet"):
        root = generate_workspace(tmp_path / fmt, agents=16, tickets=3000, fmt=fmt)
        loaded = tables.load_tables(open_workspace(root))  # raises on any invalid value
        assert loaded.counts["tickets"] == 3000 and not loaded.missing


def test_larger_run(tmp_path, capsys):
    t0 = time.perf_counter()
    root = generate_workspace(tmp_path / "big", agents=500, tickets=200_000, fmt="parquet")
    took = time.perf_counter() - t0
    meta = pq.read_metadata(root / "data" / "tickets.parquet")
    assert meta.num_rows == 200_000
    assert pq.read_metadata(root / "data" / "agents.parquet").num_rows == 500
    assert took < 60
    assert capsys.readouterr() == ("", "")
