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
    name: str
    file: str  # as shown to the user
    rows: int | None


@dataclass
class CheckReport:
    """What ``merit check`` found valid: the cycle, its tables and its ruleset."""

    cycle: str
    tables: list[TableRows]  # the tables read, by name
    missing: list[str]  # the tables absent (their metrics are undefined), by name
    ruleset: str
    ruleset_files: list[str]
    metrics: int
    kpis: int


def check(workspace: Path | str, *, progress: Progress | None = None) -> CheckReport:
    """``merit check``: validate cycle.yaml, the ruleset, every input table (with the active
    adjustments applied) and the keys the ruleset's strict lookups need, without writing."""
    from merit.core.cohorts import check_lookup_keys
    from merit.cycles.run import prepare_cycle

    prep = prepare_cycle(workspace, progress=progress)
    check_lookup_keys(prep.plan, prep.tables, prep.ws)
    counts = {name: int(t.count().execute()) for name, t in prep.tables.tables.items()}
    return CheckReport(
        cycle=prep.ws.config.name,
        tables=[TableRows(name, src.display, counts.get(name)) for name, src in sorted(prep.tables.sources.items())],
        missing=sorted(prep.tables.missing),
        ruleset=prep.loaded.ruleset.name, ruleset_files=list(prep.loaded.files),
        metrics=len(prep.plan.metrics), kpis=len(prep.plan.ruleset.scoring.kpis))


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
            progress: Progress | None = None):
    """``merit explain``: the records behind one agent's number (merit.cycles.explain.Explanation);
    with *csv_out*, all of them written there too (no live formulas; numbers stay numbers)."""
    from merit.core.xlsx import csv_safe_frame
    from merit.cycles.explain import explain_metric

    report = explain_metric(workspace, agent=agent, metric=metric, progress=progress)
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
