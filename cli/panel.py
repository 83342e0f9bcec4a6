"""`merit panel …`: the expert panel's grading workflow (assign, collect, status, report).

Wired into the main application by merit.cli.main (``app.add_typer(panel_app, name="panel")``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from merit import usecases
from merit.cli.app import err, language_option, out, progress_bar, user_errors, waiting
from merit.cli.output import OutputFormat, format_option, frame_records, frame_rows, table, write_csv, write_json

panel_app = typer.Typer(
    name="panel",
    help="Expert panel grading of knowledge items: assign sheets, collect grades, follow progress, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

WS_ARG = typer.Argument(..., help="The workspace folder (with cycle.yaml and panel.yaml).")


@panel_app.command()
def assign(workspace: Path = WS_ARG,
           language: Optional[str] = language_option("the grading sheets (instructions, rubric, column titles)"),
           ) -> None:
    """Give each item of the cycle that needs grading to per_item panelists and write their sheets."""
    with user_errors():
        with progress_bar() as bar:
            res = usecases.panel_assign(workspace, progress=bar, on_wait=waiting, language=language)
    a = res.assignment
    out.print(f"{len(a.needing)} items needed panelists; {len(a.new)} new assignments "
              f"({len(a.all)} in the cycle).")
    if a.loads:
        out.print("Load per panelist: " + ", ".join(f"{p} {n}" for p, n in a.loads.items()))
    for item, wanted, found in a.shortfalls:
        err.print(f"warning: item {item} can have only {found} of {wanted} panelists "
                  "(the others are its authors or, with exclude_same_team, of an author's team)")
    n = len(res.sheets) // 2
    out.print(f"{n} grading sheets (XLSX and CSV) in {res.folder / 'sheets'}")
    out.print(f"Assignments recorded in {res.folder / 'assignments.csv'}")


def _parse_at(value: Optional[str]) -> Optional[dt.datetime]:
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        raise typer.BadParameter("expected a local time such as '2026-10-05 10:00'") from None


@panel_app.command()
def collect(
    workspace: Path = WS_ARG,
    sheets: Optional[list[Path]] = typer.Argument(None, help="Returned sheets (.xlsx/.csv) or folders "
                                                        "(default: the panel folder's returned/)."),
    at: Optional[str] = typer.Option(None, "--at", help="Time recorded for these grades, local to the cycle's "
                                                        "time zone (default: now)."),
) -> None:
    """Merge returned sheets into data/grades.csv (all or nothing); regrades go to the audit trail."""
    when = _parse_at(at)
    with user_errors():
        with progress_bar() as bar:
            res = usecases.panel_collect(workspace, sheets or None, at=when, progress=bar, on_wait=waiting)
    out.print(f"{len(res.files)} sheets read: {res.added} new grades, {res.changed} regrades, "
              f"{res.unchanged} unchanged, {res.empty} rows not graded yet.")
    if res.changes:
        out.print(f"Grades: {res.grades_file}")
        out.print(f"Audit trail: {res.audit_file}")


STATUS_ITEM_COLUMNS = ("item_id", "kind", "title", "needed", "grades", "assigned", "pending", "final_grade",
                       "flagged", "missing")
STATUS_PANELIST_COLUMNS = ("panelist", "name", "team", "assigned", "graded", "open")


@panel_app.command()
def status(
    workspace: Path = WS_ARG,
    fmt: OutputFormat = format_option("the progress (csv: the items, or the panelists with --panelists; "
                                      "json: both)"),
    panelists: bool = typer.Option(False, "--panelists", help="With --format csv: the panelists' progress."),
) -> None:
    """Progress per panelist and per item, and what is missing before the cycle can be run."""
    with user_errors():
        with progress_bar() as bar:
            st = usecases.panel_status(workspace, progress=bar)
    items = st.items[list(STATUS_ITEM_COLUMNS)]
    if fmt is OutputFormat.csv:
        frame, columns = (st.panelists, STATUS_PANELIST_COLUMNS) if panelists else (items, STATUS_ITEM_COLUMNS)
        write_csv(columns, frame_rows(frame[list(columns)]))
        return
    if fmt is OutputFormat.json:
        write_json({"per_item": st.per_item, "ready": st.ready,
                    "panelists": frame_records(st.panelists[list(STATUS_PANELIST_COLUMNS)]),
                    "items": frame_records(items), "missing": list(st.missing)})
        return
    _status_tables(st)
    if st.ready:
        out.print("All items have their grades: the cycle can be run.")
    else:
        out.print(f"Missing before the cycle can be run ({len(st.missing)} items):")
        for line in st.missing:
            out.print(f"  {line}")


def _status_tables(st) -> None:
    shown = table("Panelists", [("panelist", "left"), ("name", "left"), ("team", "left"), ("assigned", "right"),
                                ("graded", "right"), ("open", "right")])
    for r in st.panelists.itertuples(index=False):
        shown.add_row(*[str(v) for v in r])
    out.print(shown)
    shown = table(f"Items of the cycle ({st.per_item} grades each)",
                  [("item", "left"), ("kind", "left"), ("title", "left"), ("grades", "right"),
                   ("pending", "left"), ("final", "left"), ("note", "left")])
    for r in st.items.itertuples(index=False):
        shown.add_row(r.item_id, r.kind or "", r.title or "", f"{r.grades}/{r.needed}", r.pending.replace(";", ", "),
                      r.final_grade or "–", "calibration" if r.flagged else "")
    out.print(shown)


@panel_app.command()
def report(
    workspace: Path = WS_ARG,
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also render report.pdf."),
    language: Optional[str] = language_option("the report"),
) -> None:
    """Final grades, items to calibrate, agreement (Krippendorff's alpha) and panelist severity: CSV and PDF."""
    with user_errors():
        with progress_bar() as bar:
            rep = usecases.panel_report(workspace, pdf=pdf, progress=bar, on_wait=waiting, language=language)
    items = rep.items
    alpha = "undefined" if rep.alpha.value is None else f"{rep.alpha.value:.3f}"
    out.print(f"{int((items['n_grades'] > 0).sum())} of {len(items)} items graded, "
              f"{int(items['flagged'].sum())} flagged for calibration; Krippendorff's alpha (ordinal) {alpha} "
              f"over {rep.alpha.units} items.")
    for path in rep.files:
        out.print(f"  {path}")
