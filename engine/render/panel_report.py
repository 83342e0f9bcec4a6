"""The expert panel's ``report.pdf``: its context (display-ready text) and rendering.

The report's numbers come from :mod:`merit.panel.report`; this module turns them
into the template's context and renders ``templates/panel_report.html`` through
the scorecards' renderer (jinja2 with autoescape, merit's stylesheet, the fetcher
that serves only bundled assets, fixed metadata dates).
"""

from __future__ import annotations

import datetime as dt
import functools

import pandas as pd

from merit import __version__
from merit.panel import report as panel_report
from merit.panel.agreement import Alpha
from merit.panel.assignment import PanelData
from merit.panel.report import Report, num
from merit.i18n import check_language, formats, gettext_for
from merit.render.pdf import html_to_pdf, render_html

PDF_TEMPLATE = "panel_report.html"


def pdf_context(data: PanelData, rep: Report, language: str | None = None) -> dict:
    """The report's context in *language* (None: the cycle's)."""
    ws = data.ws
    cfg = ws.config
    language = check_language(language or cfg.language)
    _ = gettext_for(language)

    def number(x, digits: int) -> str:
        text = num(x, digits)
        return formats.format_decimal(float(text), language, len(text.split(".")[1]) if "." in text else 0,
                                      group=False) if text else ""
    end_local = dt.datetime.combine(cfg.period.end, dt.time(23, 59, 59), tzinfo=ws.zone)
    items = rep.items
    graded = items[items["n_grades"] > 0]
    counts = graded["final_grade"].value_counts()
    best_first = list(reversed(data.order))

    def alpha_text(a: Alpha) -> str:
        return number(a.value, 3) if a.value is not None else _("undefined")

    def item_row(r):
        return {"id": r.item_id, "kind": r.kind, "title": r.title, "authors": r.authors, "n": int(r.n_grades),
                "by_panelist": r.by_panelist.replace(";", ", ").replace("=", ": "), "final": r.final_grade,
                "spread": "" if pd.isna(r.spread) else int(r.spread), "flagged": bool(r.flagged)}

    return {
        "language": language,
        "cycle": {"name": cfg.name, "start": cfg.period.start.isoformat(), "end": cfg.period.end.isoformat(),
                  "period": formats.format_period(cfg.period.start, cfg.period.end, language),
                  "timezone": cfg.timezone, "engine": f"merit {__version__}", "pdf_date": end_local.isoformat()},
        "panel": {"per_item": data.panel.config.per_item, "blind": data.panel.config.blind,
                  "exclude_same_team": data.panel.config.exclude_same_team,
                  "panelists": len(data.panel.ids), "flag_spread": data.flag_spread,
                  "order": " > ".join(best_first)},
        "summary": {"n_items": int(len(items)), "graded": int(len(graded)),
                    "complete": int((items["n_grades"] >= data.panel.config.per_item).sum()),
                    "flagged": int(items["flagged"].sum()),
                    "finals": [{"grade": g, "n": int(counts.get(g, 0))} for g in best_first]},
        "alpha": {"value": alpha_text(rep.alpha), "units": rep.alpha.units, "pairable": rep.alpha.pairable,
                  "d_o": number(rep.alpha.observed, 3), "d_e": number(rep.alpha.expected, 3)},
        "by_kind": [{"kind": k, "value": alpha_text(a), "units": a.units, "pairable": a.pairable}
                    for k, a in rep.by_kind.items()],
        "flagged": [item_row(r) for r in items[items["flagged"]].itertuples()],
        "items": [item_row(r) for r in items.itertuples()],
        "panelists": [{"id": r.panelist, "name": r.name, "team": r.team, "assigned": int(r.assigned),
                       "graded": int(r.graded), "compared": int(r.compared),
                       "severity": number(r.severity, 2), "mad": number(r.mean_abs_distance, 2),
                       "disagreement": "" if pd.isna(r.disagreement_rate)
                       else formats.format_percent(r.disagreement_rate, language, 0)}
                      for r in rep.panelists.itertuples()],
    }


def render_pdf(data: PanelData, rep: Report, language: str | None = None) -> bytes:
    """The report's PDF in *language* (None: the cycle's)."""
    return html_to_pdf(render_html(PDF_TEMPLATE, pdf_context(data, rep, language)))


def report(workspace, *, pdf: bool = True, progress=None, language: str | None = None) -> Report:
    """``merit panel report``: report.csv, panelists.csv, agreement.csv (and report.pdf, in
    *language*) in the panel folder (merit.panel.report.report, with this module's PDF)."""
    renderer = functools.partial(render_pdf, language=language) if pdf else None
    return panel_report.report(workspace, progress=progress, render_pdf=renderer)
