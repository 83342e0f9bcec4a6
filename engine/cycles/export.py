"""Scores for HR systems: an Excel workbook, one sheet per team plus a summary.

The source is ``out/results.json`` (what the last run or restore wrote), or
any recorded run's results.json (``--run ID``).  The workbook is
deterministic: its document dates are the cycle's end, not the clock, and
every zip entry carries that same fixed time, so the same results give a
byte-identical file.

Every text (agent and team names, ids, grades) is a text cell, never a
formula, whatever it begins with (merit.core.xlsx.xlsx_row).

The workbook is for people, in the reader's language (the cycle's ``language`` or the one asked
for): sheet and column titles are labels (the ruleset's KPI labels in that language, merit's
words from its catalogue), never ids; numbers are numbers with a display format (percentages,
one decimal for totals and points as on the scorecards, two for other values, the ruleset's
``currency`` for money).  The machine-readable files (results.json, scores.csv) keep the ids.
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
from merit.i18n import check_language, formats, gettext_for



def N_(text: str) -> str:  # noqa: N802 (gettext's name): marks a text for the catalogue, translated later
    return text


SUMMARY = N_("Summary")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
# Excel display formats per unit (the value stays the number; rates as fractions)
_FORMATS = {"rate": "0.0%", "percent": "0.0", "count": "#,##0", "hours": "0.0", "minutes": "0.0", "days": "0.0",
            "points": "0.0", "score": "0.0"}
POINTS_FORMAT = "0.0"  # totals and points: one decimal, as the scorecards print them


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


class Words:
    """The words of one export: merit's (the catalogue) and the ruleset's KPI labels and units in the
    reader's language.  The ruleset is the one that computed the results when it is still the
    workspace's (same sha256); else results.json's labels (the default language) are used."""

    def __init__(self, doc: dict, language: str, ws_root: Path | None = None):
        self.language = language
        self._ = gettext_for(language)
        rs_doc = doc.get("ruleset", {})
        self.metrics = rs_doc.get("metrics", {}) or {}
        self.kpis = (rs_doc.get("scoring", {}) or {}).get("kpis", {}) or {}
        self.loaded = _same_ruleset(doc, ws_root)
        self.currency = getattr(self.loaded.ruleset, "currency", None) if self.loaded else None

    def kpi(self, kid: str) -> str:
        from merit.core.ruleset_words import words

        if self.loaded is not None:
            kpi = self.loaded.ruleset.scoring.kpis.get(kid)
            metric = self.loaded.ruleset.metrics.get((kpi.metric if kpi else None) or kid)
            text = (words(kpi.label, self.language) if kpi else "") or (words(metric.label, self.language)
                                                                        if metric else "")
            if text:
                return text
        spec = self.kpis.get(kid, {})
        mid = spec.get("metric") or kid
        return spec.get("label") or self.metrics.get(mid, {}).get("label") or kid

    def unit(self, kid: str) -> str | None:
        mid = self.kpis.get(kid, {}).get("metric") or kid
        return self.metrics.get(mid, {}).get("unit")

    def value_format(self, kid: str) -> str:
        unit = self.unit(kid)
        if unit == "currency" and self.currency:
            return formats.currency_number_format(self.currency, self.language, 0)
        return _FORMATS.get(unit, "0.00")


def _same_ruleset(doc: dict, ws_root: Path | None):
    """The workspace's loaded ruleset when it is the one that computed *doc* (else None)."""
    from merit.core.errors import MeritError as Refused
    from merit.core.ruleset import load_ruleset

    info = (doc.get("manifest", {}) or {}).get("ruleset", {}) or {}
    if ws_root is None or not info.get("ref"):
        return None
    try:
        loaded = load_ruleset(info["ref"], relative_to=ws_root)
    except Refused:  # changed or removed since: results.json's own labels
        return None
    return loaded if loaded.sha256 == info.get("sha256") else None


def build_workbook(doc: dict, source: str, language: str | None = None, ws_root: Path | None = None):
    """The workbook of a results document (*source*: where it was read, for the summary) in
    *language*, and the fixed date stamped on it (the cycle's end, never the clock)."""
    from openpyxl import Workbook

    language = check_language(language)
    said = Words(doc, language, ws_root)
    _ = said._
    cycle = doc["cycle"]
    scores = doc.get("scores") or []
    teams = sorted({str(r["team"]) for r in scores})
    wb = Workbook()
    summary = wb.active
    summary.title = _(SUMMARY)
    _fill_summary(summary, doc, source, scores, teams, said)
    kpi_ids: list[str] = []
    for row in scores:
        for k in row.get("kpis", {}):
            if k not in kpi_ids:
                kpi_ids.append(k)
    trends = (doc.get("trends") or {}).get("agents", {})
    used = {summary.title.lower()}
    for team in teams:
        _fill_team(wb.create_sheet(_sheet_name(team, used)), [r for r in scores if str(r["team"]) == team],
                   kpi_ids, trends, said)
    fixed = dt.datetime.combine(dt.date.fromisoformat(cycle["period"]["end"]), dt.time(0))
    wb.properties.creator = "merit"
    wb.properties.lastModifiedBy = "merit"
    wb.properties.title = _("%(cycle)s scores") % {"cycle": cycle["name"]}
    wb.properties.created = fixed
    wb.properties.modified = fixed
    return wb, fixed


def _bold_row(sheet, width: int) -> None:
    from openpyxl.styles import Font

    for c in range(1, width + 1):
        sheet.cell(sheet.max_row, c).font = Font(bold=True)


def _fill_summary(summary, doc: dict, source: str, scores: list[dict], teams: list[str], said: Words) -> None:
    """The cycle and what produced the scores, then per team (and for all) counts, totals and grades."""
    _ = said._
    cycle = doc["cycle"]
    manifest = doc.get("manifest", {})
    rs = manifest.get("ruleset", {})
    start, end = (dt.date.fromisoformat(cycle["period"][k]) for k in ("start", "end"))
    info = [
        (_("Cycle"), cycle["name"]),
        (_("Period start"), formats.format_date(start, said.language)),
        (_("Period end"), formats.format_date(end, said.language)),
        (_("Time zone"), cycle.get("timezone")),
        (_("Ruleset"), rs.get("name")),
        (_("Ruleset sha256"), rs.get("sha256")),
        (_("Engine"), f"merit {manifest.get('engine', {}).get('version', '')}"),
        (_("Source"), source),
        (_("Adjustments applied"), ", ".join(f"#{a}" for a in manifest.get("adjustments", [])) or _("none")),
    ]
    for k, v in info:
        summary.append(xlsx_row(summary, [k, v]))
        _bold_row(summary, 1)
    summary.append([])
    grades = _grade_order(doc, scores)
    header = [_("Team"), _("Agents"), _("Graded"), _("Mean total"), _("Best total"), _("Lowest total"),
              *[_("Grade %(grade)s") % {"grade": g} for g in grades]]
    summary.append(xlsx_row(summary, header))
    _bold_row(summary, len(header))
    for team in teams + [None]:
        rows = [r for r in scores if team is None or str(r["team"]) == team]
        totals = [r["total"] for r in rows if r.get("total") is not None]
        summary.append(xlsx_row(summary, [
            team if team is not None else _("All teams"), len(rows), len(totals),
            round(sum(totals) / len(totals), 1) if totals else None,
            round(max(totals), 1) if totals else None, round(min(totals), 1) if totals else None,
            *[sum(1 for r in rows if r.get("grade") == g) for g in grades],
        ]))
        for c in (4, 5, 6):
            summary.cell(summary.max_row, c).number_format = POINTS_FORMAT
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


def _team_columns(kpi_ids: list[str], trends: dict, said: Words) -> list[tuple[str, str | None]]:
    """The team sheet's (title, display format) per column."""
    _ = said._
    columns = [(_("Agent id"), None), (_("Name"), None), (_("Level"), None), (_("Total"), POINTS_FORMAT),
               (_("Grade"), None), (_("Rank"), "0"), (_("Team rank"), "0")]
    columns += [(_("%(kpi)s: points") % {"kpi": said.kpi(k)}, POINTS_FORMAT) for k in kpi_ids]
    columns += [(_("%(kpi)s: value") % {"kpi": said.kpi(k)}, said.value_format(k)) for k in kpi_ids]
    if trends:
        columns += [(_("Total: change"), "+0.0;-0.0;0.0"), (_("Previous grade"), None), (_("Previous rank"), "0")]
        columns += [(_("%(kpi)s: change") % {"kpi": said.kpi(k)},
                     "+0.0%;-0.0%;0.0%" if said.unit(k) == "rate" else "+0.00;-0.00;0.00") for k in kpi_ids]
    return columns


def _rounded(v, digits: int = 1):
    return round(float(v), digits) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _fill_team(sheet, rows: list[dict], kpi_ids: list[str], trends: dict, said: Words) -> None:
    """One team's agents, by team rank: total, grade, ranks, each KPI's points and value (and the
    change against the previous cycle when there is one)."""
    from openpyxl.utils import get_column_letter

    columns = _team_columns(kpi_ids, trends, said)
    sheet.append(xlsx_row(sheet, [title for title, _ in columns]))
    _bold_row(sheet, len(columns))
    rows = sorted(rows, key=lambda r: (r.get("team_rank") is None, r.get("team_rank") or 0, str(r["agent_id"])))
    for r in rows:
        kp = r.get("kpis", {})
        line = [r["agent_id"], r["name"], r["level"], _rounded(r.get("total")), r.get("grade") or None,
                r.get("rank"), r.get("team_rank")]
        line += [_rounded(kp.get(k, {}).get("points")) for k in kpi_ids]
        line += [kp.get(k, {}).get("value") for k in kpi_ids]
        if trends:
            t = trends.get(str(r["agent_id"]), {})
            line += [_rounded(t.get("total", {}).get("delta")), t.get("grade", {}).get("previous"),
                     t.get("rank", {}).get("previous")]
            line += [t.get("kpis", {}).get(k, {}).get("delta") for k in kpi_ids]
        sheet.append(xlsx_row(sheet, line))  # names stay text, never formulas
        for j, (_, fmt) in enumerate(columns, start=1):
            if fmt:
                sheet.cell(sheet.max_row, j).number_format = fmt
    sheet.freeze_panes = "C2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(rows) + 1)}"
    for i, (title, _) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(10, min(28, len(title) + 2))


def export_xlsx(path: Path | str, *, out: Path | None = None, run_id: int | None = None,
                language: str | None = None) -> Path:
    """The HR workbook of the workspace's results (or of run *run_id*) in *language* (None: the
    cycle's)."""
    ws = open_workspace(path)
    doc, source = _load(ws.root, run_id)
    wb, fixed = build_workbook(doc, source, language or ws.config.language, ws.root)
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl and zipfile stamp the clock on save: put the fixed date back.
    data = deterministic_xlsx(buf.getvalue(), fixed)
    if out is None:
        name = re.sub(r"[^\w.-]+", "-", doc["cycle"]["name"]).strip("-") or "cycle"
        suffix = f"-run{run_id}" if run_id is not None else ""
        out = ws.root / "exports" / f"{name}{suffix}-scores.xlsx"
    return write_atomic(out, data)
