"""Scores for HR systems: an Excel workbook, one sheet per team plus a summary.

The source is ``out/results.json`` (what the last run or restore wrote), or
any recorded run's results.json (``--run ID``).  The workbook is
deterministic: its document dates are the cycle's end, not the clock, and
every zip entry carries that same fixed time, so the same results give a
byte-identical file.

Every text (agent and team names, ids, grades) is a text cell, never a
formula, whatever it begins with (merit.core.xlsx.xlsx_row).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

from merit.cycles import history
from merit.core.errors import MeritError
from merit.core.files import write_atomic
from merit.core.xlsx import deterministic_xlsx, xlsx_row
from merit.core.workspace import open_workspace

SUMMARY = "Summary"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(team: str, used: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("_", team).strip("'") or "team"
    base = base[:31]
    name, i = base, 2
    while name.lower() in used:
        suffix = f" ({i})"
        name = base[:31 - len(suffix)] + suffix
        i += 1
    used.add(name.lower())
    return name


def _load(ws_root: Path, run_id: int | None) -> tuple[dict, str]:
    if run_id is not None:
        with history.opened(ws_root, readonly=True) as con:
            run = history.get_run(ws_root, run_id, con=con)
            data = history.read_file(con, run_id, "results.json")
        return json.loads(data.decode("utf-8")), f"run {run_id} ({run['status']})"
    path = ws_root / "out" / "results.json"
    if not path.is_file():
        raise MeritError("nothing to export: out/results.json not found (run `merit run` first)", file=str(path))
    return json.loads(path.read_text(encoding="utf-8")), "out/results.json"


def build_workbook(doc: dict, source: str):
    """The workbook of a results document (*source*: where it was read, for the summary) and the
    fixed date stamped on it (the cycle's end, never the clock)."""
    from openpyxl import Workbook

    cycle = doc["cycle"]
    scores = doc.get("scores") or []
    teams = sorted({str(r["team"]) for r in scores})
    wb = Workbook()
    summary = wb.active
    summary.title = SUMMARY
    _fill_summary(summary, doc, source, scores, teams)
    kpi_ids: list[str] = []
    for row in scores:
        for k in row.get("kpis", {}):
            if k not in kpi_ids:
                kpi_ids.append(k)
    trends = (doc.get("trends") or {}).get("agents", {})
    used = {SUMMARY.lower()}
    for team in teams:
        _fill_team(wb.create_sheet(_sheet_name(team, used)), [r for r in scores if str(r["team"]) == team],
                   kpi_ids, trends)
    fixed = dt.datetime.combine(dt.date.fromisoformat(cycle["period"]["end"]), dt.time(0))
    wb.properties.creator = "merit"
    wb.properties.lastModifiedBy = "merit"
    wb.properties.title = f"{cycle['name']} scores"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    return wb, fixed


def _fill_summary(summary, doc: dict, source: str, scores: list[dict], teams: list[str]) -> None:
    """The cycle and what produced the scores, then per team (and for all) counts, totals and grades."""
    from openpyxl.styles import Font

    bold = Font(bold=True)
    cycle = doc["cycle"]
    manifest = doc.get("manifest", {})
    rs = manifest.get("ruleset", {})
    info = [
        ("cycle", cycle["name"]),
        ("period start", cycle["period"]["start"]),
        ("period end", cycle["period"]["end"]),
        ("timezone", cycle.get("timezone")),
        ("ruleset", rs.get("name")),
        ("ruleset sha256", rs.get("sha256")),
        ("engine", f"merit {manifest.get('engine', {}).get('version', '')}"),
        ("source", source),
        ("adjustments applied", ", ".join(f"#{a}" for a in manifest.get("adjustments", [])) or "none"),
    ]
    for k, v in info:
        summary.append(xlsx_row(summary, [k, v]))
        summary.cell(summary.max_row, 1).font = bold
    summary.append([])
    grades = _grade_order(doc, scores)
    header = ["team", "agents", "graded", "mean total", "best total", "lowest total", *[f"grade {g}" for g in grades]]
    summary.append(xlsx_row(summary, header))
    for c in range(1, len(header) + 1):
        summary.cell(summary.max_row, c).font = bold
    for team in teams + [None]:
        rows = [r for r in scores if team is None or str(r["team"]) == team]
        totals = [r["total"] for r in rows if r.get("total") is not None]
        summary.append(xlsx_row(summary, [
            team if team is not None else "all teams", len(rows), len(totals),
            round(sum(totals) / len(totals), 2) if totals else None,
            max(totals) if totals else None, min(totals) if totals else None,
            *[sum(1 for r in rows if r.get("grade") == g) for g in grades],
        ]))
    summary.column_dimensions["A"].width = 22
    summary.column_dimensions["B"].width = 24


def _grade_order(doc: dict, scores: list[dict]) -> list[str]:
    """The ruleset's grades, best first (forced distribution, else bands), then any other given."""
    given: list[str] = []
    for row in scores:
        g = row.get("grade")
        if g and g not in given:
            given.append(g)
    scoring = doc.get("ruleset", {}).get("scoring", {})
    order = [b.get("grade") for b in (scoring.get("grades") or [])]
    ranked = list(scoring.get("forced_distribution") or {}) or order
    return [g for g in ranked if g] + [g for g in given if g not in ranked]


def _fill_team(sheet, rows: list[dict], kpi_ids: list[str], trends: dict) -> None:
    """One team's agents, by team rank: total, grade, ranks, each KPI's points and value (and the
    change against the previous cycle when there is one)."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    columns = ["agent_id", "name", "level", "total", "grade", "rank", "team_rank"]
    columns += [f"{k} points" for k in kpi_ids] + [f"{k} value" for k in kpi_ids]
    if trends:
        columns += ["total change", "previous grade", "previous rank"] + [f"{k} change" for k in kpi_ids]
    sheet.append(xlsx_row(sheet, columns))
    for c in range(1, len(columns) + 1):
        sheet.cell(1, c).font = Font(bold=True)
    rows = sorted(rows, key=lambda r: (r.get("team_rank") is None, r.get("team_rank") or 0, str(r["agent_id"])))
    for r in rows:
        kp = r.get("kpis", {})
        line = [r["agent_id"], r["name"], r["level"], r.get("total"), r.get("grade") or None, r.get("rank"),
                r.get("team_rank")]
        line += [kp.get(k, {}).get("points") for k in kpi_ids]
        line += [kp.get(k, {}).get("value") for k in kpi_ids]
        if trends:
            t = trends.get(str(r["agent_id"]), {})
            line += [t.get("total", {}).get("delta"), t.get("grade", {}).get("previous"),
                     t.get("rank", {}).get("previous")]
            line += [t.get("kpis", {}).get(k, {}).get("delta") for k in kpi_ids]
        sheet.append(xlsx_row(sheet, line))  # names stay text, never formulas
    sheet.freeze_panes = "C2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(rows) + 1)}"
    for i, col in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(10, min(24, len(col) + 2))


def export_xlsx(path: Path | str, *, out: Path | None = None, run_id: int | None = None) -> Path:
    ws = open_workspace(path)
    doc, source = _load(ws.root, run_id)
    wb, fixed = build_workbook(doc, source)
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl and zipfile stamp the clock on save: put the fixed date back.
    data = deterministic_xlsx(buf.getvalue(), fixed)
    if out is None:
        name = re.sub(r"[^\w.-]+", "-", doc["cycle"]["name"]).strip("-") or "cycle"
        suffix = f"-run{run_id}" if run_id is not None else ""
        out = ws.root / "exports" / f"{name}{suffix}-scores.xlsx"
    return write_atomic(out, data)
