"""The commands that only read: check, history, adjustments, explain, schema.

None of them takes the workspace lock: they change nothing (``explain --csv``
writes only the file the user names, outside the workspace's own folders).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from merit.usecases._writing import Progress, workspace_root


@dataclass
class TableRows:
    """One input table as ``merit check`` read it (``file`` None: the table is absent)."""

    name: str
    file: str | None  # as shown to the user
    rows: int | None  # records read
    in_period: int | None = None  # records whose period column is in the cycle (None: no such column)
    period_column: str | None = None
    absent_columns: list[str] = field(default_factory=list)  # contract columns not in the file
    # metric -> what it lacks here ("the table", "column csat", "columns a, b"): undefined everywhere
    undefined: dict[str, str] = field(default_factory=dict)
    # dimension -> what it lacks ("column channel"): breakdowns by it have no rows
    empty_breakdowns: dict[str, str] = field(default_factory=dict)


@dataclass
class CheckReport:
    """What ``merit check`` found valid: the cycle, its tables and its ruleset."""

    cycle: str
    tables: list[TableRows]  # every input table, in the contract's order (absent ones too)
    missing: list[str]  # the tables absent (their metrics are undefined), by name
    ruleset: str
    ruleset_files: list[str]
    metrics: int
    kpis: int
    # the ruleset's texts given in one language only (merit.core.ruleset_words.MissingTranslation:
    # path, present language, file and line): readers of the other language see them untranslated
    missing_translations: list = field(default_factory=list)
    backend: str | None = None  # the engine the tables were validated on, when not the embedded DuckDB


def check(workspace: Path | str, *, progress: Progress | None = None, backend: str | None = None) -> CheckReport:
    """``merit check``: validate cycle.yaml, the ruleset, every input table (with the active
    adjustments applied) and the keys the ruleset's strict lookups need, without writing; say
    per table what was read and which metrics its data leaves undefined."""
    from merit.core.cohorts import check_lookup_keys
    from merit.core.compile.needs import undefined_metrics
    from merit.core.contract import contract
    from merit.core.ruleset_words import missing_translations
    from merit.cycles.run import prepare_cycle

    prep = prepare_cycle(workspace, progress=progress, backend=backend)
    check_lookup_keys(prep.plan, prep.tables, prep.ws)
    found = undefined_metrics(prep.plan, prep.tables.tables, prep.tables.absent)
    gaps = {mid: found[mid] for mid in prep.plan.ruleset.metrics if mid in found}  # in the ruleset's order
    return CheckReport(
        cycle=prep.ws.config.name,
        tables=[_table_rows(prep, name, gaps) for name in contract().tables],
        missing=sorted(prep.tables.missing),
        ruleset=prep.loaded.ruleset.name, ruleset_files=list(prep.loaded.files),
        metrics=len(prep.plan.metrics), kpis=len(prep.plan.ruleset.scoring.kpis),
        missing_translations=missing_translations(prep.loaded.ruleset, prep.loaded),
        backend=prep.backend.where() if prep.backend.kind != "duckdb" else None)


def _table_rows(prep, name: str, gaps: dict) -> TableRows:
    """What ``merit check`` says of table *name*: its file, rows, absent columns, undefined metrics."""
    from merit.core.compile.needs import absent_reads
    from merit.core.contract import contract
    from merit.core.evaluate import rows_in_period

    tables = prep.tables
    undefined = {mid: _lacking(gap, name) for mid, gap in gaps.items() if gap.concerns(name)}
    if name not in tables.tables:
        return TableRows(name, None, None, undefined=undefined)
    cfg = prep.plan.tables.get(name)
    period = cfg.period if cfg is not None and cfg.period else contract().tables[name].period
    table = tables.tables[name]
    absent = tables.absent.get(name, frozenset())
    empty = {}
    for dim, reads in prep.plan.dimension_columns.get(name, {}).items():
        lacking = absent_reads(reads, tables.absent)
        if lacking:
            columns = [f"{t}.{c}" if t != name else c for t, c in lacking]
            empty[dim] = f"column{'s' if len(columns) > 1 else ''} {', '.join(columns)}"
    rows = tables.counts.get(name)
    return TableRows(name, tables.sources[name].display, int(table.count().execute()) if rows is None else rows,
                     in_period=rows_in_period(table, period, prep.ws) if period else None, period_column=period,
                     absent_columns=[c for c in contract().tables[name].names if c in absent],
                     undefined=undefined, empty_breakdowns=empty)


def _lacking(gap, table: str) -> str:
    """What a metric's *gap* says it lacks in *table*: the table, or some of its columns."""
    if table in gap.tables:
        return "the table"
    columns = [c for t, c in gap.columns if t == table]
    return f"column{'s' if len(columns) > 1 else ''} {', '.join(columns)}"


@dataclass
class History:
    """The recorded runs of a workspace, each with ``current``: whether out/ holds its outputs."""

    root: Path
    runs: list[dict] = field(default_factory=list)  # oldest first
    out_digest: str | None = None  # of out/ as it is (None: no out/)

    @property
    def out_matches_no_run(self) -> bool:
        return self.out_digest is not None and not any(r["current"] for r in self.runs)


def history(workspace: Path | str) -> History:
    """``merit history``: every recorded run."""
    from merit.cycles import history as _history

    root = workspace_root(workspace)
    current = _history.folder_digest(root / "out")
    runs = _history.list_runs(root)
    for run in runs:
        run["current"] = run["outputs_sha256"] == current
    return History(root, runs, current)


def history_run(workspace: Path | str, run_id: int) -> dict:
    """``merit history WS RUN_ID``: one run in detail (inputs, files, hashes), with ``current``."""
    from merit.cycles import history as _history

    root = workspace_root(workspace)
    current = _history.folder_digest(root / "out")
    run = _history.get_run(root, run_id)
    run["current"] = run["outputs_sha256"] == current
    return run


def list_adjustments(workspace: Path | str, *, active_only: bool = False) -> tuple[Path, list]:
    """``merit adjustments``: (workspace root, merit.cycles.adjustments.Adjustment each, in id order)."""
    from merit.cycles import adjustments

    root = workspace_root(workspace)
    return root, adjustments.list_adjustments(root, active_only=active_only)


def explain(workspace: Path | str, *, agent: str, metric: str, csv_out: Path | None = None,
            progress: Progress | None = None, backend: str | None = None):
    """``merit explain``: the records behind one agent's number (merit.cycles.explain.Explanation);
    with *csv_out*, all of them written there too (no live formulas; numbers stay numbers)."""
    from merit.core.xlsx import csv_safe_frame
    from merit.cycles.explain import explain_metric

    report = explain_metric(workspace, agent=agent, metric=metric, progress=progress, backend=backend)
    if csv_out is not None and report.records is not None:
        csv_safe_frame(report.records).to_csv(csv_out, index=False, lineterminator="\n")
    return report


def ruleset_json_schema() -> dict:
    """``merit schema``: the JSON Schema of rulesets (for editors that validate YAML)."""
    from merit.core.ruleset import Ruleset

    doc = Ruleset.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "merit ruleset"
    return doc
