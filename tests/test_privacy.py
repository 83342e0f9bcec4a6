"""Privacy of the agent scorecards: an agent's PDF reveals no colleague.

Real PDFs, read back with pdftotext as the agent would.  The workspace is
built here so every number that matters is known by hand:

* three teams: ``big`` (5 agents), ``trio`` (3) and ``pair`` (2), so the
  organisation has 10 agents and ``privacy.min_group_size`` is the default 5;
* every ticket is resolved (2 h or 30 h after creation), never reopened,
  escalated or badly rated: the agents differ in their 24-hour resolution
  rate (FDR) and the KPIs that follow from it, and agree on the others;
* adjustments whose reasons (and recorder) name colleagues, a knowledge
  title that names one, and a ruleset expression that names two.

Each workspace is run (and its PDFs rendered) once per module.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta
from itertools import permutations
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import pdf_text, run_merit

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")

MASK = "[colleague]"

# agent_id, name, team, tickets, of which resolved within 24 hours (after the adjustments below)
AGENTS = [
    ("A001", "周杰", "big", 8, 5),     # FDR 62.5 %
    ("A002", "吴磊", "big", 9, 6),     # 66.7 %
    ("A003", "郑爽", "big", 11, 7),    # 63.6 %
    ("A004", "王强", "big", 12, 9),    # 75.0 %
    ("A005", "冯敏", "big", 13, 10),   # 76.9 %
    ("A006", "陈莉", "trio", 7, 4),    # 57.1 %
    ("A007", "褚红", "trio", 15, 11),  # 73.3 %
    ("A008", "卫东", "trio", 17, 12),  # 70.6 %
    ("A009", "蒋丽", "pair", 5, 2),    # 40.0 %
    ("A010", "沈涛", "pair", 7, 6),    # 85.7 %
]
NAMES = {aid: name for aid, name, *_ in AGENTS}
TEAM = {aid: team for aid, _, team, *_ in AGENTS}
FDR = {aid: fast / n for aid, _, _, n, fast in AGENTS}
# By hand:  big:  62.5, 63.6, 66.7, 75.0, 76.9 → median 66.7 % (A002's FDR: allowed, 5 agents)
#           trio: 57.1, 70.6, 73.3 → median 70.6 % (A008's exact FDR: a leak)
#           pair: 40.0, 85.7 → median (2/5 + 6/7) / 2 = 62.9 % (with one's own FDR, the other's follows)
#           org:  40.0 57.1 62.5 63.6 66.7 | 70.6 73.3 75.0 76.9 85.7 → (6/9 + 12/17) / 2 = 68.6 %
BIG_MEDIAN, TRIO_MEDIAN, PAIR_MEDIAN, ORG_MEDIAN = "66.7 %", "70.6 %", "62.9 %", "68.6 %"
# The default ruleset's targets for level P3, printed on every scorecard (not a colleague's number).
TARGETS = {"85.0 %", "90.0 %", "3.0 %", "88.0 %", "5.00", "24.0", "10.0 %", "10.00", "6.00", "3.00"}
REASSIGNED = "T900"  # A009's ticket (resolved in 2 h), reassigned to A010 by an adjustment

RULESET = """\
name: privacy-test
extends: default
metrics:
  mentored_tickets:           # the ruleset's own text names agents: the appendix shows it
    label: Tickets of the mentoring programme
    unit: count
    table: tickets
    where: assignee in ['A006', 'A007']
    agg: count
# Small samples, so that these few tickets are scored.
scoring:
  kpis:
    fdr: {min_n: 5}
    fcr: {min_n: 5}
    bad_rate_service: {min_n: 5}
    good_rate: {min_n: 5}
    independent_closure: {min_n: 5}
    productivity: {min_n: 5}
    dts_p80_hours: {min_n: 5}
    handoff_rate: {min_n: 5}
"""


def raw_text(path: Path) -> str:
    """The text in the order it was written (keeps each score tile together)."""
    return pdf_text(path, "-raw")


def flat(text: str) -> str:
    return " ".join(text.split())


def before_appendix(text: str) -> str:
    """The scorecard's own figures (the appendix is generated from the ruleset)."""
    return text.split("How each number is computed")[0]


def numbers(text: str) -> set[str]:
    """Every decimal number on the page as printed: "66.7 %" (a rate) or "30.0"."""
    return set(re.findall(r"(?<![\d.,])\d[\d,]*\.\d+(?: %)?", text))


def ticket_rows() -> list[str]:
    rows, number = [], 1
    start = datetime(2026, 7, 1, 9, 0)
    for aid, _, _, n, fast in AGENTS:
        for j in range(n):
            tid = f"T{number:03d}"
            number += 1
            if aid == "A010" and j == 0:
                tid, owner = REASSIGNED, "A009"
            else:
                owner = aid
            created = start + timedelta(days=j)
            resolved = created + timedelta(hours=2 if j < fast else 30)
            times = [f"{t:%Y-%m-%d %H:%M}" for t in (created, created + timedelta(minutes=10), resolved,
                                                     resolved + timedelta(days=1))]
            rows.append(",".join([tid, f"C{number:03d}", "im", *times, owner,
                                  "0", "false", "false", "good", "5", "", "30", "60"]))
    return rows


def build_workspace(root: Path, ruleset: str = RULESET) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "cycle.yaml").write_text(
        "name: 2026-JulAug-privacy\nperiod: {start: 2026-07-01, end: 2026-08-31}\n"
        "timezone: Asia/Shanghai\nruleset: privacy.yaml\n", encoding="utf-8")
    (root / "privacy.yaml").write_text(ruleset, encoding="utf-8")
    agents = ["agent_id,name,team,level,role,hired_on,left_on,cost_per_month"]
    agents += [f"{aid},{name},{team},P3,web,2020-01-01,,20000" for aid, name, team, *_ in AGENTS]
    (root / "data" / "agents.csv").write_text("\n".join(agents) + "\n", encoding="utf-8")
    header = ("ticket_id,customer_id,channel,created_at,first_response_at,resolved_at,closed_at,assignee,"
              "reopened,escalated,product_issue,rating,csat,bad_review_cause,handle_minutes,wait_seconds")
    (root / "data" / "tickets.csv").write_text("\n".join([header] + ticket_rows()) + "\n", encoding="utf-8")
    # Seven logged days each: productivity = resolved tickets / 7.
    timelog = ["agent_id,date,activity,hours"]
    timelog += [f"{aid},2026-07-{6 + d:02d},online_support,8" for aid, *_ in AGENTS for d in range(7)]
    (root / "data" / "timelog.csv").write_text("\n".join(timelog) + "\n", encoding="utf-8")
    knowledge = ["item_id,kind,title,authors,published_on,views,citations",
                 "K001,faq,Refund FAQ (reviewed with 陈莉 / A006),A003,2026-07-20,10,1",
                 "K002,sop,Escalation SOP,A003;A006,2026-07-21,5,0"]
    (root / "data" / "knowledge.csv").write_text("\n".join(knowledge) + "\n", encoding="utf-8")
    return root


def adjust(ws: Path, *args: str) -> None:
    proc = run_merit("adjust", ws, *args)
    assert proc.returncode == 0, proc.stderr


def run_small_teams(root: Path, ruleset: str = RULESET) -> dict:
    """The workspace above, adjusted and run through the CLI (PDFs included): its
    path and the text of every PDF."""
    ws = build_workspace(root, ruleset)
    first_ticket = {}
    number = 1
    for aid, _, _, n, _ in AGENTS:
        first_ticket[aid] = f"T{number:03d}"
        number += n
    adjust(ws, "--ticket", first_ticket["A002"], "--set", "csat=4", "--reason", "actually handled by A006 (陈莉)",
           "--by", "HR Li")
    adjust(ws, "--ticket", REASSIGNED, "--set", "assignee=A010",
           "--reason", "A009 (蒋丽) was on leave; 沈涛 took it over", "--by", "HR Li")
    adjust(ws, "--ticket", first_ticket["A007"], "--set", "csat=3", "--reason", "checked with A008 and 周杰",
           "--by", "卫东")
    proc = run_merit("run", ws)
    assert proc.returncode == 0, proc.stderr
    pdf = ws / "out" / "pdf"
    agents = {aid: pdf / "agents" / f"{aid}.pdf" for aid in NAMES}
    return {"ws": ws,
            "agents": PdfTexts(agents, pdf_text),
            "raw": PdfTexts(agents, lambda path: flat(raw_text(path))),
            "teams": PdfTexts({t: pdf / "teams" / f"{t}.pdf" for t in ("big", "trio", "pair")}, pdf_text)}


class PdfTexts(dict):
    """The text of each PDF by key, read when first asked for (pdftotext takes about 0.3 s a PDF)."""

    def __init__(self, paths: dict, read):
        super().__init__()
        self._paths, self._read = paths, read

    def __missing__(self, key):
        self[key] = text = self._read(self._paths[key])
        return text


@pytest.fixture(scope="module")
def small_teams(tmp_path_factory) -> dict:
    return run_small_teams(tmp_path_factory.mktemp("privacy") / "ws")


def kpi_line(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(label))


# ---------------------------------------------------------------- the workspace is what the comments say
def test_workspace_numbers(small_teams):
    metrics = pd.read_csv(small_teams["ws"] / "out" / "metrics.csv", dtype={"id": str, "breakdown": str},
                          keep_default_na=False)
    fdr = metrics[(metrics.scope == "agent") & (metrics.metric == "fdr") & (metrics.breakdown == "")]
    got = dict(zip(fdr["id"], fdr["value"].astype(float)))
    assert got == pytest.approx(FDR)


# ---------------------------------------------------------------- peer statistics
def test_team_of_two_shows_no_team_median(small_teams):
    for aid in ("A009", "A010"):
        text = small_teams["agents"][aid]
        assert PAIR_MEDIAN not in text, aid  # with the own 40.0 %, the colleague's 85.7 % follows
        line = kpi_line(text, "24-hour resolution rate (FDR)")
        assert ORG_MEDIAN in line, (aid, line)  # the organisation's median (10 agents) instead
        assert "too small to compare" in flat(text), aid


def test_team_of_three_shows_no_team_median(small_teams):
    for aid in ("A006", "A007"):
        text = small_teams["agents"][aid]
        assert TRIO_MEDIAN not in text, aid  # A008's exact FDR
        assert ORG_MEDIAN in kpi_line(text, "24-hour resolution rate (FDR)"), aid


def test_team_of_five_shows_the_team_median(small_teams):
    for aid in ("A001", "A003", "A004", "A005"):
        line = kpi_line(small_teams["agents"][aid], "24-hour resolution rate (FDR)")
        assert BIG_MEDIAN in line and ORG_MEDIAN not in line, (aid, line)


def test_team_scorecards_are_unaffected(small_teams):
    text = small_teams["teams"]["pair"]
    for aid in ("A009", "A010"):
        assert NAMES[aid] in text and aid in text
    assert "40.0 %" in text and "85.7 %" in text and PAIR_MEDIAN in text
    assert TRIO_MEDIAN in small_teams["teams"]["trio"]


# ---------------------------------------------------------------- free text
def test_adjustment_reason_names_no_colleague(small_teams):
    text = flat(small_teams["agents"]["A002"])
    assert f"because actually handled by {MASK} ({MASK})" in text
    assert "陈莉" not in text and "A006" not in text
    # The reassignment: each side keeps its own name and id, the other's is masked.
    text = flat(small_teams["agents"]["A009"])
    assert f"because A009 (蒋丽) was on leave; {MASK} took it over" in text
    text = flat(small_teams["agents"]["A010"])
    assert f"because {MASK} ({MASK}) was on leave; 沈涛 took it over" in text
    # The recorder is masked too when the recorder is a colleague.
    text = flat(small_teams["agents"]["A007"])
    assert f"by {MASK}, because checked with {MASK} and {MASK}" in text


def test_knowledge_title_names_no_colleague(small_teams):
    text = flat(small_teams["agents"]["A003"])
    assert f"Refund FAQ (reviewed with {MASK} / {MASK})" in text
    text = flat(small_teams["agents"]["A006"])
    assert "Escalation SOP" in text and "shared with 1" in text


def test_ruleset_text_names_no_colleague(small_teams):
    text = flat(small_teams["agents"]["A001"])
    assert f"only: assignee in ['{MASK}', '{MASK}']" in text
    text = flat(small_teams["agents"]["A006"])
    assert f"only: assignee in ['A006', '{MASK}']" in text


def test_no_agent_pdf_names_or_quotes_a_colleague(small_teams):
    """Every pair of agents: no name, no id, no exact KPI value or total of the other.

    A colleague's value may appear only where it is also one of the reader's own
    numbers, a target, or a median of five or more agents (the organisation's, or
    team big's on its members' scorecards: its median FDR is A002's)."""
    ws = small_teams["ws"]
    metrics = pd.read_csv(ws / "out" / "metrics.csv", dtype={"id": str, "breakdown": str}, keep_default_na=False)
    metrics = metrics[(metrics.scope == "agent") & (metrics.breakdown == "")].replace("", None)
    wide = metrics.pivot(index="id", columns="metric", values="value").astype(float)
    scores = pd.read_csv(ws / "out" / "scores.csv", dtype={"agent_id": str}, keep_default_na=False)
    wide["total"] = scores.set_index("agent_id")["total"].replace("", None).astype(float)
    kpis = {"fdr": "rate", "fcr": "rate", "bad_rate_service": "rate", "good_rate": "rate",
            "independent_closure": "rate", "productivity": "number", "dts_p80_hours": "hours", "total": "hours"}

    def shown(v, unit):
        return None if pd.isna(v) else (f"{v * 100:.1f} %" if unit == "rate" else
                                        f"{v:,.2f}" if unit == "number" else f"{v:,.1f}")

    def every_way(values) -> set[str]:
        """A number as the scorecard may print it whatever its unit (an interval's lower
        end has no unit: "95 %: 74.1–100.0 %")."""
        values = [float(v) for v in values if v is not None and not pd.isna(v)]
        return {t for v in values for t in (shown(v, "rate"), shown(v, "rate")[:-2], shown(v, "number"),
                                            shown(v, "hours"))}

    def medians(frame) -> set[str]:
        return every_way(frame[c].median() for c in frame.columns if frame[c].count() >= 5)

    allowed = medians(wide) | TARGETS
    allowed_big = allowed | medians(wide[wide.index.map(TEAM) == "big"])
    assert BIG_MEDIAN in allowed_big and ORG_MEDIAN in allowed and PAIR_MEDIAN not in allowed
    values = {aid: {k: shown(wide.at[aid, k], u) for k, u in kpis.items()} for aid in NAMES}
    assert values["A009"]["fdr"] == "40.0 %" and values["A010"]["fdr"] == "85.7 %"
    checked = 0
    for me, other in permutations(NAMES, 2):
        text = small_teams["agents"][me]
        assert NAMES[me] in text and me in text
        assert NAMES[other] not in text, (me, other)
        assert not re.search(rf"(?<![A-Za-z0-9_]){other}(?![A-Za-z0-9_])", text), (me, other)
        printed = numbers(before_appendix(text))
        mine = every_way(metrics.loc[metrics.id == me, ["value", "low", "high"]].to_numpy().ravel()) \
            | every_way([wide.at[me, "total"]])
        fine = mine | (allowed_big if TEAM[me] == "big" else allowed)
        for kpi, value in values[other].items():
            if value is None or value in fine:
                continue
            checked += 1
            assert value not in printed, (me, other, kpi, value)
    assert checked > 150


def test_no_group_large_enough_shows_no_peer_statistic(small_teams, tmp_path):
    """With min_group_size 11 neither a team nor the organisation (10 agents) is large enough."""
    ws = tmp_path / "ws"
    shutil.copytree(small_teams["ws"], ws)
    (ws / "privacy.yaml").write_text(RULESET + "privacy: {min_group_size: 11}\n", encoding="utf-8")
    proc = run_merit("render", ws, "--agent", "A001", "--agent", "A009", "--team", "big", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    for aid in ("A001", "A009"):
        text = pdf_text(ws / "out" / "pdf" / "agents" / f"{aid}.pdf")
        page = flat(before_appendix(text))
        assert page.count("too small to compare") >= 2, aid  # the team and the organisation tiles
        assert "fewer than 11 rated agents" in page
        assert "Team median" not in page and "Organisation median" not in page
        assert "rated agents · median" not in page and "top 50 %" not in page and "lower 50 %" not in page
        line = kpi_line(text, "24-hour resolution rate (FDR)")
        assert BIG_MEDIAN not in line and ORG_MEDIAN not in line and PAIR_MEDIAN not in line, line
        assert "How totals are spread is not shown" in page
        assert "Where your team and the organisation are too small to compare, none is shown." in page
    # The team scorecard is for team leads and HR: unaffected.
    text = pdf_text(ws / "out" / "pdf" / "teams" / "big.pdf")
    assert "Team median" in text and BIG_MEDIAN in text


def test_tiles_and_histogram_use_the_organisation_for_small_teams(small_teams):
    for aid in ("A006", "A009"):
        page = small_teams["raw"][aid]
        assert "IN YOUR TEAM too small to compare fewer than 5 rated agents; see the organisation" in page, aid
        assert "of 10 rated agents" in page
        assert "The organisation's total scores (10 rated agents)" in page
        assert "Your team's total scores" not in page and "of 3 rated agents" not in page
    page = small_teams["raw"]["A001"]
    # A001 has team big's lowest FDR and the same other KPIs (but P80 and productivity): 5th of 5.
    assert "IN YOUR TEAM lower 50 % of 5 rated agents · median" in page
    assert "Your team's total scores (5 rated agents)" in page


# ---------------------------------------------------------------- the mask itself
def test_colleague_mask_word_boundaries_and_prefixes():
    from merit.render.context import ColleagueMask

    mask = ColleagueMask(pd.DataFrame({"agent_id": ["A1", "A10", "L1", "L2", "W1", "W2", "E1"],
                                       "name": ["Li Na", "Al", "陆晶", "陆晶晶", "王芳", "王芳", "Ann"]}))
    # Ids and ASCII names match whole words only, in any case; CJK names match anywhere.
    assert mask("A1 and A10 and a10, A100, XA1", "A1") == f"A1 and {MASK} and {MASK}, A100, XA1"
    assert mask("see A10陈 and li na", "A1") == f"see {MASK}陈 and li na"
    assert mask("Alan, Al, al.", "L1") == f"Alan, {MASK}, {MASK}."
    assert mask("Annex by ann", "A1") == f"Annex by {MASK}"
    # The longest name wins: 陆晶 inside 陆晶晶 is 陆晶晶.
    assert mask("陆晶晶 and 陆晶", "L1") == f"{MASK} and 陆晶"
    assert mask("陆晶晶 and 陆晶", "L2") == f"陆晶晶 and {MASK}"
    # A name two agents share is the reader's own.
    assert mask("王芳 (W2)", "W1") == f"王芳 ({MASK})"
    assert mask(None, "A1") is None and mask("", "A1") == ""


# ---------------------------------------------------------------- not rated
def evaluated(ws: Path):
    from merit.core.evaluate import evaluate
    from merit.cycles.run import prepare_cycle as prepare
    from merit.core.scoring import score

    prep = prepare(ws)
    evaluation = evaluate(prep.plan, prep.tables, prep.ws)
    return prep, evaluation, score(evaluation)


def test_not_rated_agent_shows_figures_without_total(service_rendered):
    """service_ws: A1 has 5 tickets, below every service KPI's minimum sample, and no
    knowledge, requirements, innovation or influence table: 0 % of the weight has enough data.
    (Its scorecards as ``merit run`` rendered them, once per test run: tests/conftest.py.)"""
    pdf = service_rendered / "out" / "pdf"
    page = flat(before_appendix(raw_text(pdf / "agents" / "A1.pdf")))
    assert "TOTAL SCORE not rated too little data GRADE –" in page
    assert "Not rated: too little data. Your KPIs with enough data carry 0.0 % of the weight; a total, " \
           "a grade and a rank need at least 50 %." in page
    assert "/ 100" not in page
    assert "40.0 %" in kpi_line(pdf_text(pdf / "agents" / "A1.pdf"), "24-hour resolution rate")
    text = flat(pdf_text(pdf / "teams" / "alpha.pdf"))
    for aid, name in (("A1", "张伟"), ("A2", "李娜"), ("A3", "王芳")):
        assert re.search(rf"{name} {aid} P\d not rated –", text), aid
    assert "0 rated · 3 not rated" in text and "3 not rated (too little data)" in text


def test_rated_false_hides_a_total_everywhere(small_teams, tmp_path):
    """An agent merit.core.scoring marks as not rated shows no total even if one was computed,
    and does not count among the rated agents of the team (team big: 4 left, too few)."""
    from merit.render.pdf import render_into

    prep, evaluation, scores = evaluated(small_teams["ws"])
    table = scores.table
    at = table.index[table["agent_id"] == "A001"][0]
    total = f"{table.at[at, 'total']:.1f}"
    table["rated"] = table.get("rated", table["total"].notna())
    table.loc[at, "rated"] = False  # the total stays in the table: the scorecard must not show it
    render_into(prep, evaluation, scores, tmp_path / "pdf", agents=["A001"], teams=["big"], workers=1,
                previous=None)
    page = flat(before_appendix(raw_text(tmp_path / "pdf" / "agents" / "A001.pdf")))
    assert "Not rated: too little data." in page and "/ 100" not in page and total not in page
    assert "IN YOUR TEAM too small to compare fewer than 5 rated agents" in page
    assert "of 9 rated agents" in page  # the organisation without A001
    text = flat(pdf_text(tmp_path / "pdf" / "teams" / "big.pdf"))
    assert re.search(r"周杰 A001 P3 not rated –", text) and total not in text.split("Team median")[0]
