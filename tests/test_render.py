"""Scorecard PDFs: real PDFs, read back with pdftotext as a reader would see them.

The hand-made fixture is run (and its PDFs rendered) once per test run (``service_rendered`` in
tests/conftest.py); a test that changes it works on a copy.  merit runs in-process
(tests/merit_cli.py)."""

from __future__ import annotations

import json

import re
import shutil
import subprocess
from itertools import permutations
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import copy_of, pdf_text, run_merit

FIXTURE = Path(__file__).parent / "fixtures" / "service_ws"

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")


def copy_fixture(tmp: Path, name: str = "ws") -> Path:
    ws = tmp / name
    shutil.copytree(FIXTURE, ws, ignore=shutil.ignore_patterns("out", ".out*"))
    return ws


def evaluated(ws: Path):
    from merit.core.evaluate import evaluate
    from merit.cycles.run import prepare_cycle as prepare
    from merit.core.scoring import score

    prep = prepare(ws)
    evaluation = evaluate(prep.plan, prep.tables, prep.ws)
    return prep, evaluation, score(evaluation)


@pytest.fixture(scope="module")
def run_ws(service_rendered) -> Path:
    """The hand-made fixture, run once through the CLI (PDFs on by default): read it, never change it."""
    return service_rendered


def metric(ws: Path, scope: str, sid: str, mid: str) -> float:
    df = pd.read_csv(ws / "out" / "metrics.csv", dtype={"id": str, "breakdown": str}, keep_default_na=False)
    row = df[(df.scope == scope) & (df.id == sid) & (df.breakdown == "") & (df.metric == mid)]
    assert len(row) == 1, (scope, sid, mid)
    value = row.iloc[0]["value"]
    return float(value) if value != "" else float("nan")


def as_rate(v: float) -> str:
    return f"{v * 100:.1f} %"


# ---------------------------------------------------------------- content
def test_files_and_manifest(run_ws):
    pdf = run_ws / "out" / "pdf"
    assert sorted(p.name for p in (pdf / "agents").iterdir()) == ["A1.pdf", "A2.pdf", "A3.pdf", "B1.pdf", "B2.pdf"]
    assert sorted(p.name for p in (pdf / "teams").iterdir()) == ["alpha.pdf", "beta.pdf"]
    assert (pdf / "manifest.json").is_file()
    assert not (pdf / "agents" / "A4.pdf").exists()  # not employed in the period


def test_agent_scorecard_content(run_ws):
    text = pdf_text(run_ws / "out" / "pdf" / "agents" / "A1.pdf")
    assert "张伟" in text and "A1" in text
    assert "alpha" in text and "P3" in text
    assert "2026-JulAug-service-fixture" in text and "2026-07-01 – 2026-08-31" in text
    # Every scored KPI's value, as in metrics.csv.
    for mid in ("fdr", "fcr", "bad_rate_service", "good_rate", "independent_closure", "handoff_rate"):
        assert as_rate(metric(run_ws, "agent", "A1", mid)) in text, mid
    assert f"{metric(run_ws, 'agent', 'A1', 'dts_p80_hours'):,.1f}" in text
    assert f"{metric(run_ws, 'agent', 'A1', 'productivity'):,.2f}" in text
    # 5 tickets: every KPI is below its minimum sample.
    assert "insufficient data" in text
    # The team median of FDR: A1 0.4 and A2 0.5 (A3 has no ticket) → 45.0 %, from which A1 would read
    # A2's FDR; the organisation has 4 agents with an FDR, also below privacy.min_group_size (5).
    median = pd.Series([metric(run_ws, "agent", a, "fdr") for a in ("A1", "A2", "A3")]).median()
    assert as_rate(median) == "45.0 %"
    fdr_line = next(line for line in text.splitlines() if "24-hour resolution rate (FDR)" in line and "%" in line)
    assert "40.0 %" in fdr_line and "85.0 %" in fdr_line and "45.0 %" not in fdr_line  # value, target, no median
    assert "too few to compare" in text
    # 95 % interval of a rate.
    assert "95 %: 11.8–76.9 %" in text
    # The product-caused bad review is shown, by ticket id, with the rule.
    assert "What was excluded" in text
    assert re.search(r"\bT04\b", text)
    assert "bad_review_cause == 'product'" in text
    # Appendix generated from the ruleset's own labels and descriptions.
    assert "How each number is computed" in text
    assert "Unresolved tickets stay in the denominator" in text
    assert "Page 1 of" in text


def test_excluded_tickets_of_each_agent(run_ws):
    text = pdf_text(run_ws / "out" / "pdf" / "agents" / "B1.pdf")
    assert re.search(r"\bT12, T14\b", text)  # B1's two product-caused bad reviews
    text = pdf_text(run_ws / "out" / "pdf" / "agents" / "B2.pdf")
    assert "No record of yours was excluded" in text  # T18: bad with an empty cause counts as service
    assert not re.search(r"\bT18\b", text)


def test_team_scorecard_content(run_ws):
    text = pdf_text(run_ws / "out" / "pdf" / "teams" / "alpha.pdf")
    for name in ("张伟", "李娜", "王芳"):
        assert name in text
    assert "刘洋" not in text and "陈静" not in text  # beta's agents
    assert as_rate(metric(run_ws, "team", "alpha", "fdr")) in text
    assert "Team median" in text and "45.0 %" in text
    assert "By month" in text and "2026-07" in text and "2026-08" in text
    assert "By channel" in text and "phone" in text
    assert "Service metrics" in text


def test_cjk_font_embedded(run_ws):
    fonts = subprocess.run(["pdffonts", str(run_ws / "out" / "pdf" / "agents" / "A1.pdf")],
                           capture_output=True, text=True).stdout
    assert "Noto-Sans-CJK" in fonts
    assert "Type 3" not in fonts


def test_pdf_dates_come_from_the_cycle(run_ws):
    info = subprocess.run(["pdfinfo", str(run_ws / "out" / "pdf" / "agents" / "A1.pdf")],
                          capture_output=True, text=True).stdout
    assert re.search(r"CreationDate:\s+Mon Aug 31 15:59:59 2026 UTC", info), info


# ---------------------------------------------------------------- safety
def test_hostile_values_are_text(tmp_path):
    ws = copy_fixture(tmp_path)
    agents = (ws / "data" / "agents.csv").read_text(encoding="utf-8")
    agents = agents.replace("A1,张伟,alpha", 'A1,"张伟<img src=""file:///etc/passwd"">",alpha')
    agents = agents.replace("B2,陈静,beta", "B2,{{ 7*7 }}{% if true %}陈静{% endif %},../beta</team>")
    agents = agents.replace("B1,刘洋,beta", "B1,刘洋,../beta</team>")
    (ws / "data" / "agents.csv").write_text(agents, encoding="utf-8")
    proc = run_merit("run", str(ws), "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    # (the scorecards of the hostile names only: the other agents' are as in every test)
    proc = run_merit("render", str(ws), "--agent", "A1", "--agent", "B2", "--team", "alpha", "--team", "../beta</team>")
    assert proc.returncode == 0, proc.stderr
    text = pdf_text(ws / "out" / "pdf" / "agents" / "A1.pdf")
    assert '张伟<img src="file:///etc/passwd">' in text
    assert "root:" not in text
    text = pdf_text(ws / "out" / "pdf" / "agents" / "B2.pdf")
    assert "{{ 7*7 }}{% if true %}陈静{% endif %}" in text
    assert "49" not in text.split("Key performance")[0]
    teams = sorted(p.name for p in (ws / "out" / "pdf" / "teams").iterdir())
    assert teams == ["alpha.pdf", "beta_team.pdf"]  # a team name cannot escape the folder
    assert "../beta</team>" in pdf_text(ws / "out" / "pdf" / "teams" / "beta_team.pdf")


def test_fetcher_serves_only_bundled_assets():
    from merit.render.pdf import AssetFetcher, assets_dir, html_to_pdf

    fetcher = AssetFetcher()
    logo = assets_dir().resolve() / "logo.svg"
    assert fetcher.fetch(logo.as_uri()).read().startswith(b"<svg")
    for url in ("file:///etc/passwd", logo.as_uri() + "/../../../../../../etc/passwd",
                assets_dir().resolve().as_uri() + "/%2e%2e/%2e%2e/__init__.py",
                "http://example.com/x.png", "https://example.com/x.css", "data:text/plain,hello",
                "ftp://example.com/x"):
        with pytest.raises(PermissionError):
            fetcher.fetch(url)
    # Through WeasyPrint: the document still renders, the fetcher refused the URLs.
    from merit.render import pdf as render

    html_to_pdf("<p>x</p>")  # initialises the worker state
    render._STATE["fetcher"].refused.clear()
    pdf = html_to_pdf('<img src="file:///etc/passwd"><link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
                      '<img src="../__init__.py"><p>ok</p>')
    assert pdf.startswith(b"%PDF")
    refused = render._STATE["fetcher"].refused
    assert "file:///etc/passwd" in refused
    assert any(u.startswith("http://127.0.0.1") for u in refused)
    assert any(u.endswith("templates/__init__.py") for u in refused)


def test_autoescape_is_on():
    from merit.render.pdf import make_environment

    env = make_environment()
    html = env.get_template("agent.html").environment.from_string("{{ x }}").render(x="<b>{{ 1 }}</b>")
    assert html == "&lt;b&gt;{{ 1 }}&lt;/b&gt;"


# ---------------------------------------------------------------- determinism and skip-unchanged
SOME = {"agents": ["A1", "B1"], "teams": ["alpha", "beta"]}


@pytest.fixture(scope="module")
def rendered_again(tmp_path_factory):
    """Another copy of the fixture, evaluated and rendered in this process with no previous PDFs
    (two agents and both teams: SOME), counting the PDFs rendered: (workspace, pdf folder, names
    rendered, (prep, evaluation, scores))."""
    from merit.render import pdf as render

    ws = copy_fixture(tmp_path_factory.mktemp("again"))
    calls: list[str] = []
    real = render._render_job

    def counting(job):
        calls.append(Path(job[2]).name)
        return real(job)

    evaluation = evaluated(ws)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render, "_render_job", counting)
        render.render_into(*evaluation, ws.parent / "pdf1", workers=1, previous=None, **SOME)
    return ws, ws.parent / "pdf1", calls, evaluation


def test_same_inputs_same_bytes(run_ws, rendered_again):
    _ws, other, _calls, _evaluation = rendered_again
    for rel in ("agents/A1.pdf", "agents/B1.pdf", "teams/alpha.pdf", "teams/beta.pdf"):
        assert (other / rel).read_bytes() == (run_ws / "out" / "pdf" / rel).read_bytes(), rel
    manifest, full = (json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["files"]
                      for folder in (other, run_ws / "out" / "pdf"))
    assert manifest == {rel: full[rel] for rel in manifest} and len(manifest) == 4


def test_unchanged_pdfs_are_not_rendered_again(rendered_again, tmp_path, monkeypatch):
    from merit.render import pdf as render

    fixture_ws, first, first_calls, (prep, evaluation, scores) = rendered_again
    assert sorted(first_calls) == ["A1.pdf", "B1.pdf", "alpha.pdf", "beta.pdf"]  # no previous PDFs: all rendered
    calls: list[str] = []
    real = render._render_job

    def counting(job):
        calls.append(Path(job[2]).name)
        return real(job)

    monkeypatch.setattr(render, "_render_job", counting)
    second = tmp_path / "pdf2"
    render.render_into(prep, evaluation, scores, second, workers=1, previous=first, **SOME)
    assert calls == []
    assert (second / "agents" / "A1.pdf").read_bytes() == (first / "agents" / "A1.pdf").read_bytes()
    # One agent's name changes: that agent's and that team's PDFs are rendered again.
    ws = copy_of(fixture_ws, tmp_path / "ws")
    agents = (ws / "data" / "agents.csv").read_text(encoding="utf-8").replace("刘洋", "刘洋洋")
    (ws / "data" / "agents.csv").write_text(agents, encoding="utf-8")
    prep, evaluation, scores = evaluated(ws)
    render.render_into(prep, evaluation, scores, tmp_path / "pdf3", workers=1, previous=second, **SOME)
    assert sorted(calls) == ["B1.pdf", "beta.pdf"]


def test_render_command_one_agent(run_ws, tmp_path):
    ws = copy_of(run_ws, tmp_path / "ws")
    before = (ws / "out" / "pdf" / "agents" / "A2.pdf").read_bytes()
    proc = run_merit("render", str(ws), "--agent", "A1")
    assert proc.returncode == 0, proc.stderr
    assert (ws / "out" / "pdf" / "agents" / "A2.pdf").read_bytes() == before  # carried over
    assert (ws / "out" / "metrics.csv").is_file()  # the rest of out/ untouched
    proc = run_merit("render", str(ws), "--team", "nope")
    assert proc.returncode == 2 and "unknown team 'nope'" in proc.stderr


# ---------------------------------------------------------------- privacy
def test_agent_pdf_names_no_other_agent(demo_ws):
    """Every fourth agent scorecard of the demo workspace (rendered once per test run; a dozen, from
    every team), each against every colleague of the organisation."""
    scores = pd.read_csv(demo_ws / "out" / "scores.csv", dtype=str, keep_default_na=False)
    people = scores[["agent_id", "name"]].values.tolist()
    readers = [aid for aid, _ in people[::4]]
    assert len(people) >= 40 and len(readers) >= 10
    texts = {aid: pdf_text(demo_ws / "out" / "pdf" / "agents" / f"{aid}.pdf") for aid in readers}
    names = dict(people)
    for me, other in permutations(names, 2):
        if me not in texts:
            continue
        if names[other] in names[me] or other in me:
            continue  # 陆晶 inside 陆晶晶: the own name, not a leak
        text = texts[me]
        assert names[me] in text
        assert names[other] not in text, (me, other)
        assert not re.search(rf"(?<![\w]){re.escape(other)}(?![\w])", text), (me, other)


def test_trend_against_previous_cycle(run_ws, tmp_path):
    ws = copy_fixture(tmp_path)
    cycle = (ws / "cycle.yaml").read_text(encoding="utf-8").replace("name: 2026-JulAug-service-fixture",
                                                                    "name: 2026-JulAug-again")
    (ws / "cycle.yaml").write_text(cycle + f"previous: ['{run_ws}']\n", encoding="utf-8")
    tickets = (ws / "data" / "tickets.csv").read_text(encoding="utf-8").splitlines()
    # Drop T02 (A1's late, reopened ticket): A1's FDR goes from 2/5 to 2/4.
    (ws / "data" / "tickets.csv").write_text("\n".join(t for t in tickets if not t.startswith("T02,")) + "\n",
                                            encoding="utf-8")
    from merit.render.pdf import render_into

    prep, evaluation, scores = evaluated(ws)
    render_into(prep, evaluation, scores, tmp_path / "pdf", agents=["A1"], teams=["alpha"], workers=1,
                previous=None)
    assert prep.trends is not None  # from results.json's trends, not the old metrics.csv
    text = pdf_text(tmp_path / "pdf" / "agents" / "A1.pdf")
    assert "Compared with 2026-JulAug-service-fixture" in text and "vs. previous" in text.lower()
    fdr_line = next(line for line in text.splitlines() if line.strip().startswith("24-hour resolution"))
    assert "50.0 %" in fdr_line and "+10.0 pp" in fdr_line
    assert "was 40.0 %" in text
    assert text.count("previous cycle") >= 2  # the previous total and grade under the tiles
    text = pdf_text(tmp_path / "pdf" / "teams" / "alpha.pdf")
    assert "Trend over the cycles" in text and "2026-JulAug-again" in text


# ---------------------------------------------------------------- adjustments and calibration
def test_adjustments_on_the_agents_own_scorecard_only(tmp_path):
    from merit.render.pdf import render_into

    ws = copy_fixture(tmp_path)
    for args in (("--ticket", "T02", "--set", "bad_review_cause=product", "--reason", "crash was a product bug"),
                 ("--ticket", "T12", "--set", "assignee=B2", "--reason", "misrouted by the queue")):
        proc = run_merit("adjust", str(ws), *args, "--by", "HR Li")
        assert proc.returncode == 0, proc.stderr
    prep, evaluation, scores = evaluated(ws)
    render_into(prep, evaluation, scores, tmp_path / "pdf", agents=["A1", "A2", "B1"], teams=[], workers=1,
                previous=None)
    texts = {a: " ".join(pdf_text(tmp_path / "pdf" / "agents" / f"{a}.pdf").split()) for a in ("A1", "A2", "B1")}
    assert "Adjustments that touched your numbers" in texts["A1"]
    assert "T02" in texts["A1"] and "crash was a product bug" in texts["A1"] and "HR Li" in texts["A1"]
    assert "Adjustments that touched" not in texts["A2"] and "crash was a product bug" not in texts["A2"]
    # A reassignment touches both agents; B1's scorecard does not name B2.
    assert "misrouted by the queue" in texts["B1"] and "crash was a product bug" not in texts["B1"]
    assert "another agent" in texts["B1"] and not re.search(r"\bB2\b", texts["B1"])


def test_flagged_knowledge_item_is_marked(tmp_path):
    from merit.render.pdf import render_into

    ws = tmp_path / "full"
    shutil.copytree(FIXTURE.parent / "full_ws", ws, ignore=shutil.ignore_patterns("out", ".out*"))
    prep, evaluation, scores = evaluated(ws)
    render_into(prep, evaluation, scores, tmp_path / "pdf", agents=["B1"], teams=[], workers=1, previous=None)
    text = " ".join(pdf_text(tmp_path / "pdf" / "agents" / "B1.pdf").split())
    # K03 (C … S: 3 steps) is flagged; K04 (A, S: 1 step) is not.
    assert re.search(r"K03: under calibration discussion — counted with its median grade", text), text
    assert "K04: under calibration" not in text
