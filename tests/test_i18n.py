"""The reader's language (issue 13): the catalogue covers every text, and scorecards, the
export workbook and the panel's sheets read in Chinese and in English.

Real documents only: PDFs read back with pdftotext, workbooks with openpyxl.  One agent and one
team are rendered per language (the hand-made service fixture, evaluated once per module)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from merit.i18n import LANGUAGES, UnknownLanguage, catalogue_path, check_language, formats, translator

from .conftest import FIXTURES, pdf_text, run_merit
from .panelist import fill_xlsx, read_csv

ROOT = Path(__file__).resolve().parents[1]
SERVICE = Path(__file__).parent / "fixtures" / "service_ws"
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


# ------------------------------------------------------------------ the catalogue
def extracted_messages() -> set:
    """Every msgid of templates/*.html and the marked Python (babel.cfg's extractors, as
    `pybabel extract` runs them)."""
    from babel.messages.extract import extract_from_dir

    method_map = [("engine/**.py", "python"), ("cli/**.py", "python"),
                  ("templates/**.html", "jinja2.ext.babel_extract")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true",
                                     "trimmed": "true", "silent": "false"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options, keywords=keywords):
        found.add(message)
    return found


def test_every_text_has_a_chinese_translation():
    from babel.messages.pofile import read_po

    with catalogue_path("zh-CN").open("rb") as fh:
        catalogue = read_po(fh, locale="zh_CN")
    translated = {m.id for m in catalogue if m.id and not m.fuzzy
                  and all(m.string if isinstance(m.string, tuple) else [m.string])}
    messages = extracted_messages()
    assert len(messages) > 250  # the extractors found the templates and the code
    missing = sorted(str(m) for m in messages - translated)
    assert not missing, "no zh-CN translation (pybabel update, then translate; docs/i18n.md):\n" + "\n".join(missing)
    for m in catalogue:  # a translation keeps the placeholders its text fills in
        if m.id and m.string and isinstance(m.id, str):
            assert sorted(PLACEHOLDER.findall(m.id)) == sorted(PLACEHOLDER.findall(m.string)), m.id


def test_languages_and_formats():
    assert LANGUAGES == ("en", "zh-CN") and check_language("zh_cn") == "zh-CN" and check_language(None) == "en"
    with pytest.raises(UnknownLanguage, match=r"unknown language 'fr' \(merit writes en, zh-CN\)"):
        check_language("fr")
    assert translator("zh-CN").gettext("Total score") == "总分"
    assert translator("en").gettext("Total score") == "Total score"
    assert (formats.format_percent(0.4, "en"), formats.format_percent(0.4, "zh-CN")) == ("40.0 %", "40.0%")
    assert formats.format_decimal(1234.567, "zh-CN", 2) == "1,234.57"
    assert formats.format_currency(1234.6, "CNY", "zh-CN", 0) == "¥1,235"
    import datetime as dt
    day = dt.date(2026, 8, 31)
    assert (formats.format_date(day, "en"), formats.format_date(day, "zh-CN")) == ("2026-08-31", "2026年8月31日")


def test_cycle_language_is_checked(tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(SERVICE, ws, ignore=shutil.ignore_patterns("out", ".out*"))
    with (ws / "cycle.yaml").open("a", encoding="utf-8") as fh:
        fh.write("language: fr\n")
    proc = run_merit("check", ws)
    assert proc.returncode != 0
    assert "field 'language'" in proc.stderr and "unknown language 'fr' (merit writes en, zh-CN)" in proc.stderr


# ------------------------------------------------------------------ scorecards
@pytest.fixture(scope="module")
def rendered(tmp_path_factory, service_rendered) -> dict:
    """{(language, 'agent'|'team'): text} of agent A1 and team alpha of the service fixture: the
    English ones from the suite's shared run of it (its cycle.yaml names no language), the others
    rendered here from one evaluation."""
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) not installed")
    from merit.core.evaluate import evaluate
    from merit.core.scoring import score
    from merit.cycles.run import prepare_cycle
    from merit.render.pdf import render_into

    assert "language" not in (service_rendered / "cycle.yaml").read_text(encoding="utf-8")
    english = service_rendered / "out" / "pdf"
    texts = {("en", "agent"): pdf_text(english / "agents" / "A1.pdf"),
             ("en", "team"): pdf_text(english / "teams" / "alpha.pdf")}
    ws = tmp_path_factory.mktemp("i18n") / "ws"
    shutil.copytree(SERVICE, ws, ignore=shutil.ignore_patterns("out", ".out*"))
    prep = prepare_cycle(ws)
    evaluation = evaluate(prep.plan, prep.tables, prep.ws)
    scores = score(evaluation)
    for language in LANGUAGES[1:]:
        out = ws / f"pdf-{language}"
        render_into(prep, evaluation, scores, out, agents=["A1"], teams=["alpha"], workers=1, language=language)
        texts[(language, "agent")] = pdf_text(out / "agents" / "A1.pdf")
        texts[(language, "team")] = pdf_text(out / "teams" / "alpha.pdf")
    return texts


def english_ui_texts() -> list[str]:
    """merit's English texts of two words or more, as they would print (placeholders cut out)."""
    out = []
    for m in extracted_messages():
        if isinstance(m, tuple):
            continue
        for part in PLACEHOLDER.split(m):
            part = re.sub(r"<[^>]+>", "", part).replace("%%", "%").strip(" .,;:()")
            if len(part.split()) >= 2 and re.search(r"[a-z]{3}", part) and "merit explain" not in part:
                out.append(part)
    return out


@pytest.mark.parametrize("kind", ["agent", "team"])
def test_chinese_scorecards_have_no_english_ui_text(rendered, kind):
    text = " ".join(rendered[("zh-CN", kind)].split())
    leftovers = [t for t in english_ui_texts() if t in text]
    assert not leftovers, leftovers


def test_chinese_scorecards_use_the_seed_terms(rendered):
    agent, team = rendered[("zh-CN", "agent")], rendered[("zh-CN", "team")]
    for word in ("个人绩效表", "关键绩效指标", "24小时解决率", "一次性解决率", "好评率", "独立闭环率", "服务人效",
                 "转手率", "各项数值的计算方法", "排除了哪些记录及原因", "第 1 页，共", "2026年7月1日 – 2026年8月31日"):
        assert word in agent, word
    assert "40.0%" in agent and "95%：11.8–76.9%" in agent  # A1's FDR, in Chinese number style
    assert "not (rating" not in agent.split("各项数值的计算方法")[0]  # exclusions in words, not expressions
    for word in ("团队绩效表", "团队中位数", "全组织中位数", "第 1 页，共"):
        assert word in team, word


def test_english_scorecards(rendered):
    agent, team = rendered[("en", "agent")], rendered[("en", "team")]
    for word in ("Individual scorecard", "Key performance indicators", "How each number is computed",
                 "Page 1 of", "2026-07-01 – 2026-08-31", "40.0 %", "95 %: 11.8–76.9 %"):
        assert word in agent, word
    assert "个人绩效表" not in agent and "Team scorecard" in team and "团队绩效表" not in team


# ------------------------------------------------------------------ export workbook
@pytest.fixture(scope="module")
def run_ws(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("i18n-run") / "ws"
    shutil.copytree(SERVICE, ws, ignore=shutil.ignore_patterns("out", ".out*"))
    proc = run_merit("run", ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    return ws


@pytest.mark.parametrize("language, titles, summary", [
    ("en", ["Agent id", "Name", "Level", "Total", "Grade", "Rank", "Team rank",
            "24-hour resolution rate (FDR): points"], ["Cycle", "Period start", "Period end"]),
    ("zh-CN", ["客服编号", "姓名", "职级", "总分", "等级", "排名", "团队排名", "24小时解决率：得分"],
     ["周期", "周期开始", "周期结束"]),
])
def test_export_workbook_in_each_language(run_ws, tmp_path, language, titles, summary):
    from openpyxl import load_workbook

    from merit.usecases import export

    path = export(run_ws, out=tmp_path / f"{language}.xlsx", language=language)
    wb = load_workbook(path)
    assert wb.sheetnames == [translator(language).gettext("Summary"), "alpha", "beta"]
    sheet = wb["alpha"]
    head = [c.value for c in sheet[1]]
    assert head[:8] == titles
    assert "fdr" not in " ".join(head)  # labels, never ids
    fdr_value = head.index(translator(language).gettext("%(kpi)s: value") % {"kpi": titles[7].rsplit("：", 1)[0]
                           if language == "zh-CN" else "24-hour resolution rate (FDR)"}) + 1
    a1 = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "A1")
    assert a1[fdr_value - 1].value == pytest.approx(0.4) and a1[fdr_value - 1].number_format == "0.0%"
    assert [r[0].value for r in wb.worksheets[0].iter_rows(max_row=3)] == summary


# ------------------------------------------------------------------ panel sheets
PANEL = """\
panelists:
  - {id: E1, name: 专家一, team: qa}
  - {id: E2, name: 专家二, team: qa}
  - {id: E3, name: 专家三}
per_item: 2
"""


def _sheets_issued(tmp_path: Path, language: str) -> Path:
    """The full fixture with PANEL and no grades yet, its grading sheets issued in *language*."""
    from merit.usecases import panel_assign

    ws = tmp_path / "ws"
    shutil.copytree(FIXTURES / "full_ws", ws)
    (ws / "panel.yaml").write_text(PANEL, encoding="utf-8")
    (ws / "data" / "grades.csv").unlink()
    panel_assign(ws, language=language)
    return ws


def test_panel_sheets_in_chinese_are_collected(tmp_path):
    from openpyxl import load_workbook

    from merit.usecases import panel_collect

    ws = _sheets_issued(tmp_path, "zh-CN")
    wb = load_workbook(ws / "panel" / "sheets" / "E1.xlsx")
    assert wb.sheetnames == ["评分", "评分标准"]
    head = [c.value for c in wb["评分"][1]]
    assert head == ["评审专家", "条目编号", "类型", "标题", "作者", "发布日期", "等级", "评语", "校验码（请勿修改）"]
    rubric = [c.value for c in wb["评分标准"]["A"]]
    assert rubric[0].startswith("专家一 的评分表") and "请为“评分”工作表中的每个条目给出一个等级" in rubric[1]
    csv_head = (ws / "panel" / "sheets" / "E1.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert csv_head.startswith("评审专家,条目编号,")

    # the panelist types grades into the Chinese sheet: collected like an English one
    items = [r["item_id"] for r in read_csv(ws / "panel" / "assignments.csv") if r["panelist"] == "E1"][:2]
    fill_xlsx(ws / "panel" / "sheets" / "E1.xlsx", ws / "panel" / "returned" / "E1.xlsx", {i: "A" for i in items})
    result = panel_collect(ws)
    assert result.added == 2
    grades = read_csv(ws / "data" / "grades.csv")
    assert sorted((g["item_id"], g["panelist"], g["grade"]) for g in grades) == sorted((i, "E1", "A") for i in items)


def test_panel_sheets_in_english_have_titles_not_ids(tmp_path):
    from openpyxl import load_workbook

    ws = _sheets_issued(tmp_path, "en")
    wb = load_workbook(ws / "panel" / "sheets" / "E1.xlsx")
    assert wb.sheetnames == ["Grading", "Rubric"]
    assert [c.value for c in wb["Grading"][1]][:3] == ["Panelist", "Item id", "Kind"]
    assert wb["Rubric"]["A1"].value.startswith("Grading sheet of 专家一")
    # a returned sheet's columns are found by their titles in either language, or by the ids
    from merit.panel.sheets import column_ids

    known = column_ids()
    assert (known["item id"], known["check (do not change)"], known["item_id"]) == ("item_id", "check", "item_id")
