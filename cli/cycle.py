"""The cycle lifecycle's commands: history, restore, publish, adjust, adjustments, revoke, diff, export.

Like the rest of the CLI, a thin shell over merit.usecases (which takes the
workspace lock for the commands that write).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from merit import usecases
from merit.cli.app import app, language_option, out, progress_bar, user_errors, waiting
from merit.cli.output import (OutputFormat, chosen_format, format_option, table, write_csv, write_json,
                              write_records_csv)


def _when(ts: str | None) -> str:
    """A stored UTC time in the machine's local time, to the minute."""
    if not ts:
        return ""
    try:
        return dt.datetime.fromisoformat(ts).astimezone().strftime("%Y-%m-%d %H:%M %z")
    except ValueError:
        return ts


def _by_option(help_text: str = "Who is doing this (default: $MERIT_USER, $USER or the login name)."):
    return typer.Option(None, "--by", help=help_text)


# ------------------------------------------------------------------ history / restore / publish
HISTORY_COLUMNS = ("run_id", "status", "cycle_name", "started_at", "finished_at", "run_by", "ruleset_name",
                   "agents", "adjustments", "current", "published_at", "published_by")


@app.command("history")
def history_cmd(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    run_id: Optional[int] = typer.Argument(None, metavar="[RUN_ID]", help="Show this run in detail."),
    fmt: OutputFormat = format_option("the runs (csv: one row per run; json: every recorded field)"),
    as_json: bool = typer.Option(False, "--json", help="The same as --format json."),
) -> None:
    """List the recorded runs of the workspace (or show one run: inputs, files, hashes)."""
    fmt = chosen_format(fmt, as_json)
    if run_id is not None:
        with user_errors():
            run = usecases.history_run(workspace, run_id)
        if fmt is OutputFormat.table:
            _show_run(run)
        else:  # one run's detail is nested (inputs, files): JSON either way
            write_json(run)
        return
    with user_errors():
        found = usecases.history(workspace)
    runs = found.runs
    if fmt is OutputFormat.json:
        write_json(runs)
    elif fmt is OutputFormat.csv:
        write_records_csv(HISTORY_COLUMNS, ({**r, "agents": r["summary"].get("agents"),
                                            "adjustments": " ".join(f"#{a}" for a in r["adjustments"])}
                                           for r in runs))
    elif not runs:
        out.print("No runs recorded yet (merit run WORKSPACE records one).")
    else:
        _history_table(found.root.name, runs)
        if found.out_matches_no_run:
            out.print("out/ matches no recorded run (edited by hand, or written by an interrupted run).")


def _history_table(workspace_name: str, runs: list[dict]) -> None:
    shown = table(f"History of {workspace_name} ({runs[-1]['cycle_name']})",
                  [("run", "right"), ("status", "left"), ("when", "left"), ("by", "left"), ("ruleset", "left"),
                   ("agents", "right"), ("adjustments", "left"), ("in out/", "left")])
    for r in runs:
        shown.add_row(str(r["run_id"]), r["status"], _when(r["finished_at"]), r["run_by"], r["ruleset_name"],
                      str(r["summary"].get("agents", "")), ", ".join(f"#{a}" for a in r["adjustments"]) or "-",
                      "yes" if r["current"] else "")
    out.print(shown)


def _show_run(run: dict) -> None:
    out.print(f"[bold]Run {run['run_id']}[/] — {run['status']}"
              + (" (current out/)" if run["current"] else ""), markup=True)
    rows = [
        ("cycle", f"{run['cycle_name']} ({run['period_start']} – {run['period_end']})"),
        ("started", _when(run["started_at"])), ("finished", _when(run["finished_at"])),
        ("by", f"{run['run_by']} on {run['host'] or '?'}"),
        ("ruleset", f"{run['ruleset_ref']} → {run['ruleset_name']} (sha256 {run['ruleset_sha256']})"),
        ("engine", f"merit {run['engine_version']}"),
        ("adjustments", ", ".join(f"#{a}" for a in run["adjustments"]) or "none"),
        ("outputs", run["outputs_sha256"]),
    ]
    if run["published_at"]:
        rows.append(("published", f"{_when(run['published_at'])} by {run['published_by']}"))
    summary = run["summary"]
    if summary:
        grades = ", ".join(f"{g}: {n}" for g, n in summary.get("grades", {}).items())
        rows.append(("agents", f"{summary.get('agents')} scored, {summary.get('graded')} graded ({grades})"))
    for k, v in rows:
        out.print(f"  {k:<12} {v}")
    out.print("  inputs")
    for i in run["inputs"]:  # a sha256 is 64 characters: on a line of its own, so that 80 columns hold it
        rows = "" if i["rows_in_period"] is None else f", {i['rows_in_period']} rows in the period"
        out.print(f"    {i['table_name']}: {i['file']}{rows}")
        out.print(f"      sha256 {i['sha256']}")
    out.print(f"  {len(run['files'])} files stored ({sum(f['size'] for f in run['files'])} bytes)")


@app.command("restore")
def restore_cmd(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    run_id: int = typer.Argument(..., help="The run to restore (see merit history)."),
    by: Optional[str] = _by_option(),
) -> None:
    """Put a recorded run's outputs back into out/ (atomically; the history is unchanged)."""
    with user_errors():
        run, out_dir = usecases.restore(workspace, run_id, by=by, on_wait=waiting)
    out.print(f"Restored run {run['run_id']} ({run['status']}, {_when(run['finished_at'])}, "
              f"by {run['run_by']}): {len(run['files'])} files in {out_dir}")


@app.command("publish")
def publish_cmd(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    by: Optional[str] = _by_option(),
    run_id: Optional[int] = typer.Option(None, "--run", help="Publish this run instead of the latest."),
) -> None:
    """Freeze the latest run: it becomes immutable; later runs are new drafts."""
    with user_errors():
        run, new = usecases.publish(workspace, by=by, run_id=run_id, on_wait=waiting)
    if new:
        out.print(f"Published run {run['run_id']} ({run['cycle_name']}, {_when(run['finished_at'])}) "
                  f"by {run['published_by']}. It can no longer change; later runs are drafts.")
    else:
        out.print(f"Run {run['run_id']} was already published ({_when(run['published_at'])} "
                  f"by {run['published_by']}); nothing changed.")


# ------------------------------------------------------------------ adjustments
@app.command("adjust")
def adjust_cmd(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    ticket: Optional[str] = typer.Option(None, "--ticket", help="The ticket_id to correct."),
    grade: Optional[str] = typer.Option(None, "--grade",
                                        help="The grade to correct, as ITEM_ID:PANELIST (or ITEM_ID with --panelist)."),
    panelist: Optional[str] = typer.Option(None, "--panelist", help="The panelist of --grade (when ids contain ':')."),
    set_: list[str] = typer.Option([], "--set", help="FIELD=VALUE (repeatable); an empty VALUE clears the field."),
    reason: str = typer.Option(..., "--reason", help="Why (shown on the agent's scorecard and in the audit)."),
    by: Optional[str] = _by_option("Who decides the adjustment (default: $MERIT_USER, $USER or the login name)."),
) -> None:
    """Record an adjustment (appeal, correction) to a ticket or a knowledge grade; applied on the next run."""
    with user_errors():
        made = usecases.adjust(workspace, ticket=ticket, grade=grade, panelist=panelist, sets=set_,
                               reason=reason, by=by, on_wait=waiting)
    for a in made:
        out.print(f"Adjustment #{a.id}: {a.change_text()} (was {a.before or 'empty'}), by {a.by}: {a.reason}")
    out.print("It applies from the next `merit run`.")


ADJUSTMENT_COLUMNS = ("id", "active", "table", "record", "field", "before", "after", "reason", "by", "at",
                      "revoked_at", "revoked_by", "revoke_reason")


@app.command("adjustments")
def adjustments_cmd(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    active: bool = typer.Option(False, "--active", help="Only the active (not revoked) adjustments."),
    fmt: OutputFormat = format_option("the adjustments"),
    as_json: bool = typer.Option(False, "--json", help="The same as --format json."),
) -> None:
    """List the adjustments recorded in the workspace, with their revocations."""
    fmt = chosen_format(fmt, as_json)
    with user_errors():
        root, items = usecases.list_adjustments(workspace, active_only=active)
    if fmt is OutputFormat.json:
        write_json([a.to_dict() for a in items])
        return
    if fmt is OutputFormat.csv:
        write_records_csv(ADJUSTMENT_COLUMNS, ({**a.to_dict(), "record": ":".join(a.keys), "active": a.active}
                                               for a in items))
        return
    if not items:
        out.print("No adjustments recorded.")
        return
    out.print(f"Adjustments of {root.name}: {sum(a.active for a in items)} active, "
              f"{sum(not a.active for a in items)} revoked")
    for a in items:
        out.print(f"#{a.id} {'active' if a.active else 'revoked'}  {a.record}: {a.field} "
                  f"{a.before or '(empty)'} → {a.after or '(empty)'}")
        out.print(f"    {_when(a.at)} by {a.by}: {a.reason}")
        if not a.active:
            out.print(f"    revoked {_when(a.revoked_at)} by {a.revoked_by}: {a.revoke_reason}")


@app.command("revoke")
def revoke_cmd(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    adj_id: int = typer.Argument(..., metavar="ADJ_ID", help="The adjustment to revoke (see merit adjustments)."),
    reason: str = typer.Option(..., "--reason", help="Why it is revoked."),
    by: Optional[str] = _by_option(),
) -> None:
    """Revoke an adjustment (recorded, never deleted); the next run no longer applies it."""
    with user_errors():
        a = usecases.revoke(workspace, adj_id, reason=reason, by=by, on_wait=waiting)
    out.print(f"Revoked adjustment #{a.id} ({a.change_text()}), by {a.revoked_by}: {a.revoke_reason}. "
              "The next `merit run` no longer applies it.")


# ------------------------------------------------------------------ what-if and export
DIFF_COLUMNS = ("agent_id", "name", "team", "total_before", "total_after", "total_change",
                "grade_before", "grade_after", "rank_before", "rank_after", "rank_change")


@app.command("diff")
def diff_cmd(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    ruleset: str = typer.Option(..., "--ruleset", help="The other ruleset: a path (.yaml) or a shipped name."),
    csv_out: Optional[Path] = typer.Option(None, "--csv",
                                           help="Write the changed agents here (default: WORKSPACE/whatif/…csv); "
                                                "the distribution goes beside it (…-distribution.csv)."),
    fmt: OutputFormat = format_option("the changes (csv: the changed agents; json: changes and distribution)"),
) -> None:
    """What if: score the same data under another ruleset; show every agent whose grade or rank changes."""
    with user_errors():
        with progress_bar() as bar:
            result, paths = usecases.diff(workspace, ruleset, csv_out=csv_out, progress=bar, on_wait=waiting)
    changes = result.changes_text()[list(DIFF_COLUMNS)]
    distribution = result.distribution_text()
    if fmt is OutputFormat.csv:
        write_csv(DIFF_COLUMNS, changes.itertuples(index=False))
        return
    if fmt is OutputFormat.json:
        write_json({"base": result.base_name, "other": result.other_name, "cycle": result.cycle,
                    "adjustments": list(result.adjustment_ids),
                    "changes": [dict(zip(DIFF_COLUMNS, row)) for row in changes.itertuples(index=False)],
                    "distribution": [dict(zip(distribution.columns, row))
                                     for row in distribution.itertuples(index=False)],
                    "written": [str(p) for p in paths]})
        return
    out.print(f"What if {result.other_name} instead of {result.base_name} "
              f"({result.cycle}; same data, {len(result.adjustment_ids)} active adjustments; nothing recorded):")
    if result.changes.empty:
        out.print("No agent's grade or rank changes.")
    else:
        _diff_table(len(result.changes), changes)
    dist = table("Distribution of totals and grades",
                 [("measure", "left"), ("before", "right"), ("after", "right"), ("change", "right")])
    for row in distribution.itertuples(index=False):
        dist.add_row(*[str(v) for v in row])
    out.print(dist)
    for p in paths:
        out.print(f"written: {p}")


def _diff_table(count: int, changes) -> None:
    """The changed agents, before → after in one column per measure, so that 80 columns hold them."""
    shown = table(f"{count} agents change grade or rank",
                  [("agent", "left"), ("name", "left"), ("team", "left"), ("total before → after", "right"),
                   ("grade", "left"), ("rank before → after", "right")])
    for r in changes.itertuples(index=False):
        total = f"{r.total_before} → {r.total_after}" + (f" ({r.total_change})" if r.total_change else "")
        rank = f"{r.rank_before} → {r.rank_after}" + (f" ({r.rank_change})" if r.rank_change else "")
        shown.add_row(str(r.agent_id), str(r.name), str(r.team), total, f"{r.grade_before} → {r.grade_after}", rank)
    out.print(shown)


@app.command("export")
def export_cmd(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    fmt: str = typer.Option("xlsx", "--format", help="Export format (xlsx)."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Where to write (default: WORKSPACE/exports/…)."),
    run_id: Optional[int] = typer.Option(None, "--run", help="Export this recorded run instead of the current out/."),
    language: Optional[str] = language_option("the workbook's sheet and column titles"),
) -> None:
    """Export the scores for HR systems: an Excel workbook, one sheet per team plus a summary."""
    with user_errors():
        path = usecases.export(workspace, fmt=fmt, out=out_file, run_id=run_id, on_wait=waiting,
                               language=language)
    out.print(f"Scores exported to {path}")
