"""The `merit` command: a thin shell over the engine.

Every user mistake arrives here as a MeritError and leaves as a message on
stderr with exit code 2; nothing else is caught, so a real bug still shows
its traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from merit import __version__
from merit.core.errors import MeritError
from merit.usecases import Terminated

app = typer.Typer(
    name="merit",
    help="Rules-driven performance scoring for after-sales technical support teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_USER_ERROR = 2


def fail(exc: MeritError) -> None:
    sys.stderr.write(f"error: {exc.format()}\n")
    raise typer.Exit(EXIT_USER_ERROR)


@contextmanager
def user_errors():
    try:
        yield
    except MeritError as exc:
        fail(exc)
    except Terminated as exc:
        stopped(exc)


def stopped(exc: Terminated) -> None:
    """SIGTERM reached a writer, which has cleaned up: say so, then end by the signal."""
    sys.stderr.write("merit: stopped by SIGTERM; what it was writing was discarded\n")
    sys.stderr.flush()
    signal.signal(exc.signum, signal.SIG_DFL)
    os.kill(os.getpid(), exc.signum)
    raise typer.Exit(128 + exc.signum)  # only if the signal did not end the process


def waiting(message: str) -> None:
    """Told while a writer waits for the workspace lock."""
    err.print(message)


@contextmanager
def progress_bar(enabled: bool = True):
    """A progress display whose callback takes a step name (and an optional fraction)."""
    if not enabled or not err.is_terminal:
        yield lambda step, fraction=None: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("starting", total=1.0)

        def update(step: str, fraction: float | None = None) -> None:
            if fraction is None:
                progress.update(task, description=step)
            else:
                progress.update(task, description=step, completed=fraction)

        yield update


def _version(value: bool) -> None:
    if value:
        out.print(f"merit {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Show the version and exit.")) -> None:
    """merit evaluates a performance cycle's data into scorecards through a YAML ruleset."""


@app.command()
def demo(
    directory: Path = typer.Argument(Path("merit-demo"), help="Where to write the demo workspace."),
    agents: int = typer.Option(48, min=3, help="Number of agents."),
    tickets: Optional[int] = typer.Option(None, min=0, help="Number of tickets (default: realistic for the team)."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same workspace."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Render scorecard PDFs."),
) -> None:
    """Write a realistic synthetic workspace, run its cycle and say where the results are."""
    from merit import usecases

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
    if getattr(result, "run_id", None) is not None:
        out.print(f"Recorded as run {result.run_id} (draft) in the workspace history (merit history).")


@app.command()
def run(
    workspace: Path = typer.Argument(..., help="The workspace folder (with cycle.yaml)."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Render scorecard PDFs."),
    ruleset: Optional[str] = typer.Option(None, help="Use this ruleset instead of cycle.yaml's."),
    by: Optional[str] = typer.Option(None, "--by", help="Who runs it, for the history (default: $MERIT_USER, $USER or the login name)."),
) -> None:
    """Evaluate the cycle and write out/ (metrics.csv, scores.csv, results.json, PDFs)."""
    from merit import usecases

    with user_errors():
        with progress_bar() as bar:
            result = usecases.run(workspace, pdf=pdf, ruleset=ruleset, by=by, progress=bar, on_wait=waiting)
    _summary(result)


@app.command()
def render(
    workspace: Path = typer.Argument(..., help="The workspace folder (with cycle.yaml)."),
    agent: Optional[list[str]] = typer.Option(None, "--agent", help="Render only this agent's scorecard (repeatable)."),
    team: Optional[list[str]] = typer.Option(None, "--team", help="Render only this team's scorecard (repeatable)."),
    workers: Optional[int] = typer.Option(None, min=1, help="Worker processes (default: one per core)."),
) -> None:
    """Render the scorecard PDFs into out/pdf (replaced atomically; the other outputs are untouched)."""
    from merit import usecases

    only = agent or team
    with user_errors():
        with progress_bar() as bar:
            files = usecases.render(workspace, agents=agent or ([] if only else None),
                                    teams=team or ([] if only else None), progress=bar, workers=workers,
                                    on_wait=waiting)
    out.print(f"{len(files)} scorecards in {Path(workspace) / 'out' / 'pdf'}")


@app.command()
def check(workspace: Path = typer.Argument(..., help="The workspace folder (with cycle.yaml).")) -> None:
    """Validate cycle.yaml, the ruleset and every input table without writing anything."""
    from merit.core.cohorts import check_lookup_keys
    from merit.core.pipeline import prepare

    with user_errors():
        with progress_bar() as bar:
            prep = prepare(workspace, progress=bar)
            check_lookup_keys(prep.plan, prep.tables, prep.ws)  # data the ruleset's strict lookups need
        counts = {name: int(t.count().execute()) for name, t in prep.tables.tables.items()}
    table = Table(title=f"{prep.ws.config.name}: all checks passed", show_lines=False)
    table.add_column("table")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, src in sorted(prep.tables.sources.items()):
        table.add_row(name, src.display, str(counts.get(name, "")))
    for name in sorted(prep.tables.missing):
        table.add_row(name, "(absent: its metrics are undefined)", "")
    out.print(table)
    out.print(f"ruleset: {prep.loaded.ruleset.name} ({', '.join(prep.loaded.files)}), "
              f"{len(prep.plan.metrics)} metrics, {len(prep.plan.ruleset.scoring.kpis)} scored KPIs")


@app.command()
def explain(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    agent: str = typer.Option(..., "--agent", help="Agent id."),
    metric: str = typer.Option(..., "--metric", help="Metric id."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Also write the records to this CSV file."),
    limit: int = typer.Option(50, help="Show at most this many records (the CSV has all)."),
) -> None:
    """Show the records behind one agent's number: which counted, which were excluded, and why."""
    from merit.cycles.explain import explain_metric

    with user_errors():
        with progress_bar() as bar:
            report = explain_metric(workspace, agent=agent, metric=metric, progress=bar)
    out.print(f"[bold]{report.title}[/]", markup=True)
    for line in report.summary:
        out.print(line)
    if report.records is not None and len(report.records):
        table = Table(show_lines=False)
        for col in report.records.columns:
            table.add_column(str(col))
        for row in report.records.head(limit).itertuples(index=False):
            table.add_row(*["" if v is None else str(v) for v in row])
        out.print(table)
        if len(report.records) > limit:
            out.print(f"... {len(report.records) - limit} more (use --csv to get them all)")
    if csv_out is not None and report.records is not None:
        from merit.core.xlsx import csv_safe_frame  # no live formulas: '=... (numbers stay numbers)

        csv_safe_frame(report.records).to_csv(csv_out, index=False, lineterminator="\n")
        out.print(f"records written to {csv_out}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of rulesets (for editors that validate YAML)."""
    from merit.core.ruleset import Ruleset

    doc = Ruleset.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "merit ruleset"
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


from merit.cli.panel import panel_app  # noqa: E402  (merit panel …)

app.add_typer(panel_app, name="panel")

from merit.cli.cycle import register as _register_cycle  # noqa: E402  (history, publish, adjust, diff, export …)

_register_cycle(app)


if __name__ == "__main__":  # pragma: no cover
    app()
