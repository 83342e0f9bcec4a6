"""Readable at a glance (issue 13): contrast of every text of the scorecards (WCAG AA), chart
text sizes, the team trend chart's axis, and the terminal's tables (complete at 80 columns when
redirected, no '…') with their ``--format csv|json`` twins."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from merit.render import charts

from .conftest import FIXTURES, run_merit
from .test_cycles import ok, one_kpi_ruleset

BASE_CSS = Path(__file__).resolve().parent.parent / "templates" / "base.css"
WHITE = "#ffffff"
AA_NORMAL = 4.5  # WCAG 2.x AA, normal text (all of the scorecards' text is held to it, large or not)


# ------------------------------------------------------------------ contrast
def luminance(colour: str) -> float:
    """WCAG relative luminance of a #rgb or #rrggbb colour."""
    h = colour.lstrip("#")
    h = "".join(c * 2 for c in h) if len(h) == 3 else h
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


COLOUR = r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b"


def css_rules(text: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, {property: value}) for every innermost rule of a stylesheet; the margin boxes of
    @page count as rules of their own (``@top-left`` …)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    rules = []
    for selector, body in re.findall(r"([^{};]+)\{([^{}]*)\}", text):
        decls = {}
        for decl in body.split(";"):
            if ":" in decl:
                prop, value = decl.split(":", 1)
                decls[prop.strip().lower()] = value.strip()
        for one in selector.split(","):
            rules.append((" ".join(one.split()), decls))
    return rules


def colour_of(value: str | None) -> str | None:
    """The first #rgb or #rrggbb colour in a CSS value, as #rrggbb."""
    found = re.search(COLOUR, value or "")
    if not found:
        return None
    h = found.group(0).lower().lstrip("#")
    return "#" + ("".join(c * 2 for c in h) if len(h) == 3 else h)


def text_pairs(rules) -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for every rule that sets a text colour: against its own
    background where it sets one, else against the background of the rule it sits in (the longest
    selector that is an ancestor of it: ``.tile.accent`` for ``.tile.accent .small``), else against
    each light background the sheet uses (text without a dark container may land on any of them)."""
    backgrounds = {sel: colour_of(d.get("background-color") or d.get("background")) for sel, d in rules}
    backgrounds = {sel: bg for sel, bg in backgrounds.items() if bg}
    light = sorted({bg for bg in backgrounds.values() if luminance(bg) > 0.5} | {WHITE})
    pairs = []
    for sel, decls in rules:
        text = colour_of(decls.get("color"))
        if text is None:
            continue
        own = backgrounds.get(sel)
        ancestors = [a for a in backgrounds if sel.startswith(a + " ") or sel.startswith(a + ".")]
        if own:
            pairs.append((sel, text, own))
        elif ancestors:
            pairs.append((sel, text, backgrounds[max(ancestors, key=len)]))
        else:
            pairs += [(sel, text, bg) for bg in light]
    return pairs


def test_css_parser_on_a_sample():
    rules = css_rules("/* x */ .a { color: #111; } .b, .c .d { background: #ffffff; color:#fff }"
                      " @page { @top-left { color: #636b78; } } .c { background: #0f766e; } .c .e { color: #fff; }")
    assert ("@top-left", {"color": "#636b78"}) in rules
    pairs = text_pairs(rules)
    assert pairs == [(".a", "#111111", WHITE), (".b", WHITE, WHITE), (".c .d", WHITE, WHITE),
                     ("@top-left", "#636b78", WHITE), (".c .e", WHITE, "#0f766e")]


def test_every_text_of_the_stylesheet_meets_wcag_aa():
    pairs = text_pairs(css_rules(BASE_CSS.read_text(encoding="utf-8")))
    assert len(pairs) > 40  # the parser saw the sheet
    failing = [(sel, fg, bg, round(contrast(fg, bg), 2)) for sel, fg, bg in pairs if contrast(fg, bg) < AA_NORMAL]
    assert failing == []


def test_previous_cycle_on_the_dark_total_tile_is_white():
    """The previous cycle's figure and its change sit on the teal total tile: white, not grey or red."""
    rules = dict(css_rules(BASE_CSS.read_text(encoding="utf-8")))
    tile = colour_of(rules[".tile.accent"]["background"])
    for sel in (".tile.accent .muted", ".tile.accent .trend", ".tile.accent .up", ".tile.accent .down",
                ".tile.accent .small"):
        assert contrast(colour_of(rules[sel]["color"]), tile) >= AA_NORMAL, sel


def test_grade_badges_carry_readable_white_text():
    rules = dict(css_rules(BASE_CSS.read_text(encoding="utf-8")))
    assert colour_of(rules[".grade"]["color"]) == WHITE
    for grade, colour in charts.GRADE_COLOURS.items():
        assert colour_of(rules[f".grade-{grade}"]["background"]) == colour  # the sheet and the charts agree
        assert contrast(WHITE, colour) >= AA_NORMAL, grade


# ------------------------------------------------------------------ charts
def sample_charts(language: str = "en") -> dict[str, str]:
    kpi_rows = [{"label": "First-contact resolution (FCR)", "lo": 0.6, "hi": 0.95, "value": 0.8, "median": 0.7,
                 "target": 0.85, "lo_text": "60.0 %", "hi_text": "95.0 %"},
                {"label": "80th-percentile resolution time (P80), hours", "lo": 72, "hi": 8, "value": None,
                 "median": None, "target": 24, "lo_text": "72.0", "hi_text": "8.0"}]
    pct = lambda v: f"{v * 100:.1f} %"  # noqa: E731
    return {
        "kpis": str(charts.kpi_positions(kpi_rows, language=language)),
        "histogram": str(charts.histogram([0, 2, 5, 1], [0, 25, 50, 75, 100], marker=60, language=language)),
        "bars": str(charts.bars(["S", "A", "B"], [1, 4, None], reference=2, reference_label="target",
                                language=language)),
        "trend": str(charts.trend_panels(["2026-Q1", "2026-Q2", "2026-Q3"], [
            {"label": "FCR", "values": [0.838, None, 0.844], "fmt": pct, "unit": "rate"},
            {"label": "Good-review rate", "values": [0.5, 0.6, 0.7], "fmt": pct, "unit": "rate"},
            {"label": "P80, hours", "values": [30.0, 24.0, 20.5], "unit": "hours"}], language=language)),
    }


def test_chart_text_is_at_least_7_points_and_readable():
    for name, svg in sample_charts().items():
        sizes = [float(s) for s in re.findall(r'<text [^>]*font-size="([0-9.]+)"', svg)]
        fills = set(re.findall(r'<text [^>]*fill="(#[0-9a-f]{6})"', svg))
        assert sizes and fills, name
        assert min(sizes) * 0.75 >= charts.MIN_FONT_PT - 0.01 >= 7.0 - 0.01, (name, min(sizes))  # px → pt
        assert fills <= set(charts.TEXT_COLOURS), (name, fills)
    for colour in charts.TEXT_COLOURS:
        for bg in (WHITE, "#fafafa", "#f9fafb"):
            assert contrast(colour, bg) >= AA_NORMAL, (colour, bg)


def test_charts_are_placed_at_their_own_size():
    """An SVG unit is a CSS px only while the stylesheet does not scale the charts: sizes hold."""
    for sel, decls in css_rules(BASE_CSS.read_text(encoding="utf-8")):
        if "svg" in sel:
            assert not {"width", "height", "transform", "zoom"} & set(decls), (sel, decls)


def test_chart_words_follow_the_language():
    en = sample_charts("en")
    assert ">better<" in en["kpis"] and ">target<" in en["kpis"] and ">you<" in en["histogram"]
    zh = sample_charts("zh-CN")
    assert zh["bars"] == en["bars"]  # bars write no words of their own
    from merit.i18n import translator

    word = translator("zh-CN").gettext("better")
    assert f">{word}<" in zh["kpis"]


def test_trend_axis_is_zero_anchored_per_unit():
    lo, hi = charts.trend_axis([0.838, 0.844], "rate")
    assert (lo, hi) == (0.0, 1.0)
    assert (hi - lo) > 100 * (0.844 - 0.838)  # 83.8 % → 84.4 % is not a line from bottom to top
    assert charts.trend_axis([83.8, 84.4], "percent") == (0.0, 100.0)
    assert charts.trend_axis([30.0, 24.0, 20.5], "hours") == (0.0, 30.0)
    assert charts.trend_axis([31.0, 24.0], "hours") == (0.0, 40.0)
    assert charts.trend_axis([-13.0, 38.0], "score") == (-15.0, 40.0)
    assert charts.trend_axis([None, None], "count") == (0.0, 1.0)
    assert charts.trend_axis([0.0, 0.0], None) == (0.0, 1.0)


def test_trend_panels_of_one_unit_share_their_axis_and_print_values():
    svg = sample_charts()["trend"]
    texts = re.findall(r"<text [^>]*>([^<]*)</text>", svg)
    for value in ("83.8 %", "84.4 %", "50.0 %", "60.0 %", "70.0 %", "30", "24", "20.5"):
        assert value in texts, value
    assert texts.count("0.0 %") == 2 and texts.count("100.0 %") == 2  # both rate panels on 0–100 %
    # FCR's two points sit within a pixel of each other: a flat line, not a full-height one
    ys = [float(y) for y in re.findall(r'<circle cx="[0-9.]+" cy="([0-9.]+)"', svg)[:2]]
    assert abs(ys[0] - ys[1]) < 1.0


def test_long_labels_wrap_without_losing_words():
    lines = charts.wrap_label("80th-percentile resolution time (P80), hours", 7.5, 188)
    assert len(lines) == 2 and " ".join(lines) == "80th-percentile resolution time (P80), hours"
    assert charts.wrap_label("一次性解决率", 7.5, 188) == ["一次性解决率"]


# ------------------------------------------------------------------ terminal tables
@pytest.fixture(scope="module")
def scored_ws(tmp_path_factory) -> Path:
    """The service fixture run under a one-KPI ruleset, with a second ruleset to diff against
    (the expected changes are worked out in tests/test_cycles.py::test_diff)."""
    ws = tmp_path_factory.mktemp("readability") / "ws"
    shutil.copytree(FIXTURES / "service_ws", ws)
    one_kpi_ruleset(ws / "fdr_only.yaml", "fdr_only", "fdr", "higher", [[0, 0], [1, 100]])
    one_kpi_ruleset(ws / "bad_only.yaml", "bad_only", "bad_rate_service", "lower", [[0, 100], [1, 0]])
    cfg = ws / "cycle.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("ruleset: default", "ruleset: fdr_only.yaml"),
                   encoding="utf-8")
    ok(run_merit("run", ws, "--no-pdf", "--by", "Zhang Wei-Ming (support operations)"))
    return ws


def assert_complete_at_80(text: str, *expected: str) -> None:
    """No table line wider than 80 cells (a sentence or a path may be longer: the terminal folds
    it), nothing cut with '…', every expected word somewhere."""
    from rich.cells import cell_len

    assert "…" not in text, text
    table_lines = [line for line in text.splitlines() if "  " in line.strip() or line.startswith("─")]
    assert table_lines and max(cell_len(line) for line in table_lines) <= 80, text
    flat = " ".join(text.split())
    for word in expected:
        assert word in flat, (word, text)


def test_history_table_and_formats(scored_ws):
    table = ok(run_merit("history", scored_ws)).stdout
    assert_complete_at_80(table, "run", "status", "when", "by", "ruleset", "agents", "adjustments", "in out/",
                          "draft", "fdr_only", "yes")
    for word in ("Zhang", "Wei-Ming", "(support", "operations)"):  # a long value folds, whole
        assert word in table
    rows = list(csv.DictReader(io.StringIO(ok(run_merit("history", scored_ws, "--format", "csv")).stdout)))
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == ["run_id", "status", "cycle_name", "started_at", "finished_at", "run_by", "ruleset_name",
                         "agents", "adjustments", "current", "published_at", "published_by"]
    assert {k: row[k] for k in ("run_id", "status", "run_by", "ruleset_name", "adjustments", "current",
                                "published_at")} == {
        "run_id": "1", "status": "draft", "run_by": "Zhang Wei-Ming (support operations)",
        "ruleset_name": "fdr_only", "adjustments": "", "current": "True", "published_at": ""}
    runs = json.loads(ok(run_merit("history", scored_ws, "--format", "json")).stdout)
    assert runs == json.loads(ok(run_merit("history", scored_ws, "--json")).stdout)
    assert [(r["run_id"], r["status"], r["ruleset_name"], r["current"]) for r in runs] == [
        (1, "draft", "fdr_only", True)]


DIFF_EXPECTED = {  # agent: total before/after/change, grade before/after, rank before/after/change
    "A1": ("40.00", "66.67", "+26.67", "C", "A", "4", "2", "+2"),
    "A2": ("50.00", "80.00", "+30.00", "B", "A", "3", "1", "+2"),
    "B1": ("66.67", "66.67", "+0.00", "A", "A", "1", "2", "-1"),
    "B2": ("66.67", "66.67", "+0.00", "A", "A", "1", "2", "-1"),
}


def test_diff_table_and_formats(scored_ws):
    args = ("diff", scored_ws, "--ruleset", scored_ws / "bad_only.yaml", "--csv", scored_ws.parent / "d.csv")
    table = ok(run_merit(*args)).stdout
    assert_complete_at_80(table, "4 agents change grade or rank", "agent", "name", "team",
                          "total before → after", "grade", "rank before → after",
                          "50.00 → 80.00 (+30.00)", "B → A", "3 → 1 (+2)", "40.00 → 66.67 (+26.67)",
                          "Distribution of totals and grades", "measure", "before", "after", "change")
    rows = list(csv.reader(io.StringIO(ok(run_merit(*args, "--format", "csv")).stdout)))
    assert rows[0] == ["agent_id", "name", "team", "total_before", "total_after", "total_change",
                       "grade_before", "grade_after", "rank_before", "rank_after", "rank_change"]
    assert {r[0]: tuple(r[3:]) for r in rows[1:]} == DIFF_EXPECTED
    got = json.loads(ok(run_merit(*args, "--format", "json")).stdout)
    assert list(got) == ["base", "other", "cycle", "adjustments", "changes", "distribution", "written"]
    assert (got["base"], got["other"], got["adjustments"]) == ("fdr_only", "bad_only", [])
    assert {c["agent_id"]: (c["total_before"], c["total_after"], c["total_change"], c["grade_before"],
                            c["grade_after"], c["rank_before"], c["rank_after"], c["rank_change"])
            for c in got["changes"]} == DIFF_EXPECTED
    dist = {d["measure"]: (d["before"], d["after"]) for d in got["distribution"]}
    assert dist["grade A"] == ("2", "4") and dist["total mean"][1] == "70.00"


PANEL = """\
panelists:
  - {id: E1, name: 专家一, team: qa}
  - {id: E2, name: 专家二, team: qa}
  - {id: E3, name: 专家三}
  - {id: A1}
  - {id: B2, name: 韩梅}
per_item: 3
"""


@pytest.fixture(scope="module")
def panel_ws(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("readability_panel") / "ws"
    shutil.copytree(FIXTURES / "full_ws", ws)
    (ws / "panel.yaml").write_text(PANEL, encoding="utf-8")
    ok(run_merit("panel", "assign", ws))
    return ws


def test_panel_status_table_and_formats(panel_ws):
    table = ok(run_merit("panel", "status", panel_ws)).stdout
    assert_complete_at_80(table, "Panelists", "panelist", "name", "team", "assigned", "graded", "open",
                          "专家一", "Items of the cycle (3 grades each)", "item", "kind", "title", "grades",
                          "pending", "final", "note", "证书过期导致的中断", "calibration",
                          "Missing before the cycle can be run (4 items):")
    items = list(csv.DictReader(io.StringIO(ok(run_merit("panel", "status", panel_ws, "--format", "csv")).stdout)))
    assert list(items[0]) == ["item_id", "kind", "title", "needed", "grades", "assigned", "pending",
                              "final_grade", "flagged", "missing"]
    k10 = next(r for r in items if r["item_id"] == "K10")
    assert (k10["grades"], k10["final_grade"], k10["flagged"], k10["missing"]) == ("5", "B", "True", "")
    k05 = next(r for r in items if r["item_id"] == "K05")
    assert (k05["kind"], k05["title"], k05["grades"], k05["needed"]) == ("case", "证书过期导致的中断", "0", "3")
    people = list(csv.DictReader(io.StringIO(
        ok(run_merit("panel", "status", panel_ws, "--format", "csv", "--panelists")).stdout)))
    assert list(people[0]) == ["panelist", "name", "team", "assigned", "graded", "open"]
    assert sum(int(p["assigned"]) for p in people) == 7 and {p["graded"] for p in people} == {"0"}
    got = json.loads(ok(run_merit("panel", "status", panel_ws, "--format", "json")).stdout)
    assert list(got) == ["per_item", "ready", "panelists", "items", "missing"]
    assert (got["per_item"], got["ready"], len(got["missing"])) == (3, False, 4)
    e1 = next(p for p in got["panelists"] if p["panelist"] == "E1")
    assert (e1["name"], e1["team"]) == ("专家一", "qa")
    assert next(i for i in got["items"] if i["item_id"] == "K10")["flagged"] is True


def test_csv_output_neutralises_formula_text(tmp_path, monkeypatch, capsys):
    from merit.cli.output import write_csv

    write_csv(["name", "value"], [["=HYPERLINK(\"x\")", -5], ["@SUM(A1)", "+1.5"], ["plain", None]])
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["name", "value"], ["'=HYPERLINK(\"x\")", "-5"], ["'@SUM(A1)", "+1.5"], ["plain", ""]]


def test_language_option_is_checked():
    proc = run_merit("render", FIXTURES / "service_ws", "--language", "fr")
    assert proc.returncode == 2 and "unknown language 'fr'" in proc.stderr
    for command in (["run"], ["render"], ["export"], ["panel", "assign"], ["panel", "report"]):
        helptext = run_merit(*command, "--help").stdout
        assert "--language" in helptext and "zh-CN" in helptext, command
