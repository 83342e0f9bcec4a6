"""A cycle's run: the core pipeline with the cycle lifecycle around it.

Before evaluating, the workspace's active adjustments are applied to the
loaded tables (merit.cycles.adjustments); after scoring, the previous cycles'
trends are attached (merit.cycles.trends); the outputs carry both, and the run
is recorded in the workspace's history (merit.cycles.history) once ``out/``
was swapped in.  ``merit run``, ``demo``, ``render``, ``check``, ``explain``
and ``diff`` prepare a workspace through :func:`prepare_cycle`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

import pandas as pd

from merit.core.evaluate import Evaluation, evaluate
from merit.core.outputs import metrics_long
from merit.core.pipeline import Prepared, Progress, hash_inputs, manifest, outputs, prepare, write_outputs
from merit.core.scoring import Scores, score
from merit.core.tables import Tables
from merit.core.workspace import Workspace
from merit.cycles import adjustments as _adjustments
from merit.cycles import history as _history
from merit.cycles import trends as _trends

# Renders the PDFs into the staging folder of out/: (prepared cycle, evaluation, scores, folder).
RenderPdfs = Callable[["CyclePrepared", Evaluation, Scores, Path], None]


@dataclass
class CyclePrepared(Prepared):
    """A prepared workspace with what the cycle lifecycle adds."""

    # the active adjustments applied to the tables (merit.cycles.adjustments.AppliedAdjustment, in id order)
    adjustments: list = field(default_factory=list)
    # previous cycles (merit.cycles.trends.PreviousCycle, oldest first) and the results.json "trends"
    # section (None without previous cycles); set by attach_trends
    previous: list = field(default_factory=list)
    trends: dict | None = None

    @property
    def adjustments_by_agent(self) -> dict[str, list[dict]]:
        """Agent id → the adjustments that touched that agent's numbers (dicts with a 'text' line)."""
        return _adjustments.by_agent(self.adjustments)


@dataclass
class RunResult:
    ws: Workspace
    evaluation: Evaluation
    scores: Scores
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    run_id: int | None = None  # the run's id in the workspace's history (None when not recorded)


def prepare_cycle(path: Path | str, *, ruleset: str | None = None, progress: Progress | None = None,
                  adjustments: bool = True, backend: str | None = None) -> CyclePrepared:
    """The core pipeline's prepare, then the workspace's active adjustments applied to the tables."""
    progress = progress or (lambda step: None)
    applied: list = []

    def apply_adjustments(tables: Tables, ws: Workspace) -> None:
        progress("adjustments")
        applied.extend(_adjustments.apply_active(tables, ws))

    prep = prepare(path, ruleset=ruleset, progress=progress, transforms=[apply_adjustments] if adjustments else [],
                   backend=backend)
    return CyclePrepared(**{f.name: getattr(prep, f.name) for f in fields(Prepared)}, adjustments=applied)


def attach_trends(prep: CyclePrepared, evaluation: Evaluation, scores: Scores,
                  long: pd.DataFrame | None = None) -> dict | None:
    """Set ``prep.previous`` and ``prep.trends`` (the results.json "trends" section; None
    without previous cycles).  For callers outside run_cycle too, e.g. re-rendering PDFs."""
    if not prep.previous:
        prep.previous = _trends.load_previous(prep.ws)
    prep.trends = _trends.compute(prep.ws, metrics_long(evaluation) if long is None else long, scores,
                                  prep.previous)
    return prep.trends


def cycle_manifest(prep: CyclePrepared, evaluation: Evaluation, digests: dict) -> dict:
    """The core manifest, plus the adjustments applied and the previous cycles compared with."""
    man = manifest(prep, evaluation, digests)
    man["adjustments"] = [ap.adjustment.id for ap in prep.adjustments]
    if prep.previous:
        man["previous"] = _trends.manifest_entries(prep.previous)
    return man


def run_cycle(path: Path | str, *, progress: Progress | None = None, ruleset: str | None = None,
              render_pdfs: RenderPdfs | None = None, by: str | None = None, record: bool = True,
              backend: str | None = None) -> RunResult:
    """Evaluate the cycle, write out/ atomically and record the run in the workspace's history.

    Call it with the workspace lock held: ``merit run`` comes through
    merit.usecases, which takes it.  The history entry is written, in one
    transaction, only after out/ was swapped in.
    """
    progress = progress or (lambda step: None)
    started = _history.now_utc()
    prep = prepare_cycle(path, ruleset=ruleset, progress=progress, backend=backend)
    prep.previous = _trends.load_previous(prep.ws)  # before the work: a bad path fails fast
    progress("evaluate")
    evaluation = evaluate(prep.plan, prep.tables, prep.ws, progress=progress)
    # Hashed while the steps below (mostly single-threaded Python) run; the manifest waits.
    digests = hash_inputs(prep.tables)
    progress("score")
    scores = score(evaluation)
    long = metrics_long(evaluation)
    attach_trends(prep, evaluation, scores, long)
    progress("write")
    man = cycle_manifest(prep, evaluation, digests)
    files = _cycle_outputs(prep, evaluation, scores, long, man)
    render = None if render_pdfs is None else (lambda stage: render_pdfs(prep, evaluation, scores, stage))
    written = write_outputs(files, prep.ws.out_dir, also=render)
    run_id = None
    if record:
        progress("history")
        run_id = _history.record_run(prep.ws.root, out_dir=prep.ws.out_dir, manifest=man,
                                     ruleset_ref=ruleset or prep.ws.config.ruleset,
                                     by=_history.default_user(by), started_at=started,
                                     adjustments=man["adjustments"], scores=scores)
    return RunResult(prep.ws, evaluation, scores, prep.ws.out_dir, written, run_id)


def _cycle_outputs(prep: CyclePrepared, evaluation: Evaluation, scores: Scores, long: pd.DataFrame, man: dict):
    """The core outputs with the cycle's additions: the change against the previous cycle in
    scores.csv, the adjustments and trends sections in results.json."""
    files = outputs(evaluation, scores, long, man)
    files.scores = _trends.scores_columns(files.scores, prep.trends, scores)
    files.results["adjustments"] = [ap.to_dict() for ap in prep.adjustments]
    if prep.trends is not None:
        files.results["trends"] = prep.trends
    return files
