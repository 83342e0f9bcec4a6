"""Evaluating a workspace's cycle: ``demo``, ``run``, ``render``, ``check`` and ``explain``."""

from __future__ import annotations

from pathlib import Path
from textwrap import fill
from typing import Optional

import typer
from merit import usecases
from merit.cli.app import app, backend_option, language_option, out, progress_bar, user_errors, waiting
from merit.cli.output import OutputFormat, format_option, frame_records, frame_rows, table, write_csv, write_json


@app.command()
def demo(
    directory: Path = typer.Argument(Path("merit-demo"), help="Where to write the demo workspace."),
    agents: int = typer.Option(48, min=3, help="Number of agents."),
    tickets: Optional[int] = typer.Option(None, min=0, help="Number of tickets (default: realistic for the team)."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same workspace."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Render scorecard PDFs."),
) -> None:
    """Write a realistic synthetic workspace, run its cycle and say where the results are."""
    with user_errors():
        with progress_bar() as bar:
            result = usecases.demo(directory, agents=agents, tickets=tickets, seed=seed, pdf=pdf, progress=bar,
                                   on_wait=waiting)
    out.print(f"Demo workspace: {directory}")
    _summary(result)


def _summary(result) -> None:
    ws = result.ws
    scores = result.scores.table
    graded = scores["grade"].replace("", None).dropna()
    out.print(f"Cycle {ws.config.name} ({ws.config.period.start} – {ws.config.period.end}): "
              f"{len(scores)} agents scored, {graded.size} graded.")
    out.print("Results:")
    for path in result.files:
        if path.suffix != ".pdf":
            out.print(f"  {path}")
    pdfs = [p for p in result.files if p.suffix == ".pdf"]
    if pdfs:
        out.print(f"  {ws.out_dir / 'pdf'}/  ({len(pdfs)} PDFs)")
    if result.run_id is not None:
        out.print(f"Recorded as run {result.run_id} (draft) in the workspace history (merit history).")


@app.command()
def run(
    workspace: Path = typer.Argument(..., help="The workspace folder (with cycle.yaml)."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Render scorecard PDFs."),
    ruleset: Optional[str] = typer.Option(None, help="Use this ruleset instead of cycle.yaml's."),
    by: Optional[str] = typer.Option(None, "--by", help="Who runs it, for the history (default: $MERIT_USER, "
                                                         "$USER or the login name)."),
    language: Optional[str] = language_option("the scorecards"),
    backend: Optional[str] = backend_option(),
) -> None:
    """Evaluate the cycle and write out/ (metrics.csv, scores.csv, results.json, PDFs)."""
    with user_errors():
        with progress_bar() as bar:
            result = usecases.run(workspace, pdf=pdf, ruleset=ruleset, by=by, progress=bar, on_wait=waiting,
                                  language=language, backend=backend)
    _summary(result)


@app.command()
def render(
    workspace: Path = typer.Argument(..., help="The workspace folder (with cycle.yaml)."),
    agent: Optional[list[str]] = typer.Option(None, "--agent", help="Render only this agent's scorecard (repeatable)."),
    team: Optional[list[str]] = typer.Option(None, "--team", help="Render only this team's scorecard (repeatable)."),
    workers: Optional[int] = typer.Option(None, min=1, help="Render processes (default: MERIT_RENDER_WORKERS, else one per core)."),
    language: Optional[str] = language_option("the scorecards"),
    backend: Optional[str] = backend_option(),
) -> None:
    """Render the scorecard PDFs into out/pdf (replaced atomically; the other outputs are untouched)."""
    only = agent or team
    with user_errors():
        with progress_bar() as bar:
            files = usecases.render(workspace, agents=agent or ([] if only else None),
                                    teams=team or ([] if only else None), progress=bar, workers=workers,
                                    on_wait=waiting, language=language, backend=backend)
    out.print(f"{len(files)} scorecards in {Path(workspace) / 'out' / 'pdf'}")


@app.command()
def check(workspace: Path = typer.Argument(..., help="The workspace folder (with cycle.yaml)."),
          backend: Optional[str] = backend_option()) -> None:
    """Validate cycle.yaml, the ruleset and every input table without writing anything."""
    with user_errors():
        with progress_bar() as bar:
            report = usecases.check(workspace, progress=bar, backend=backend)
    out.print(f"{report.cycle}: all checks passed", markup=False)
    if report.backend:
        out.print(fill(f"validated on {report.backend}", width=80, subsequent_indent="  "), markup=False)
    unused = [t.name for t in report.tables if t.file is None and not t.undefined]
    for t in report.tables:
        if t.name not in unused:
            for line in _table_lines(t):
                out.print(line, markup=False)
    if unused:
        out.print(fill("absent, read by no metric: " + ", ".join(unused), width=80, subsequent_indent="  "),
                  markup=False)
    out.print(fill(f"ruleset: {report.ruleset} ({', '.join(report.ruleset_files)}), {report.metrics} "
                   f"metrics, {report.kpis} scored KPIs", width=80, subsequent_indent="  "), markup=False)
    if report.missing_translations:
        out.print(fill(f"texts in one language only ({len(report.missing_translations)}): readers of the other "
                       f"language see them untranslated", width=80, subsequent_indent="  "), markup=False)
        for m in report.missing_translations:
            out.print(fill(f"{m.path}: {m.present} only ({m.where})", width=80, initial_indent="  ",
                           subsequent_indent="    "), markup=False)


def _table_lines(t) -> list[str]:
    """One table of `merit check`'s report, wrapped at 80 columns."""
    def item(text: str) -> str:
        return fill(text, width=80, initial_indent="  ", subsequent_indent="    ", break_long_words=False,
                    break_on_hyphens=False)

    if t.file is None:
        lines = [f"{t.name}: absent"]
        if t.undefined:
            lines.append(item("undefined: " + ", ".join(t.undefined)))
        return lines
    rows = f"{t.rows} row{'' if t.rows == 1 else 's'} read"
    if t.period_column is not None:
        rows += f", {t.in_period} in the period (by {t.period_column})"
    lines = [f"{t.name}: {t.file}", item(rows)]
    if t.absent_columns:
        lines.append(item("not in the file: " + ", ".join(t.absent_columns)))
    if t.undefined:
        lines.append(item("undefined: " + ", ".join(f"{mid} ({why})" for mid, why in t.undefined.items())))
    if t.empty_breakdowns:
        dims = [f"{dim} ({why})" for dim, why in t.empty_breakdowns.items()]
        lines.append(item("no breakdown by " + ", ".join(dims)))
    return lines


@app.command()
def explain(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    agent: str = typer.Option(..., "--agent", help="Agent id."),
    metric: str = typer.Option(..., "--metric", help="Metric id."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Also write the records to this CSV file."),
    limit: int = typer.Option(50, help="Show at most this many records (the CSV has all)."),
    fmt: OutputFormat = format_option("the records (csv and json: all of them, without the summary)"),
    backend: Optional[str] = backend_option(),
) -> None:
    """Show the records behind one agent's number: which counted, which were excluded, and why."""
    with user_errors():
        with progress_bar() as bar:
            report = usecases.explain(workspace, agent=agent, metric=metric, csv_out=csv_out, progress=bar,
                                      backend=backend)
    records = report.records
    if fmt is not OutputFormat.table:
        if fmt is OutputFormat.csv:
            write_csv([] if records is None else [str(c) for c in records.columns],
                      [] if records is None else frame_rows(records))
        else:
            write_json({"title": report.title, "summary": list(report.summary),
                        "records": [] if records is None else frame_records(records)})
        return
    out.print(f"[bold]{report.title}[/]", markup=True)
    for line in report.summary:
        out.print(line)
    if records is not None and len(records):
        shown = table(None, [(str(col), "left") for col in records.columns])
        for row in frame_rows(records.head(limit)):
            shown.add_row(*["" if v is None else str(v) for v in row])
        out.print(shown)
        if len(records) > limit:
            out.print(f"... {len(records) - limit} more (use --csv FILE or --format csv to get them all)")
    if csv_out is not None and records is not None:
        out.print(f"records written to {csv_out}")
