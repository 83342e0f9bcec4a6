"""The whole cycle, stage by stage: what ``merit check`` and ``merit run`` do.

load (workspace, ruleset) → validate (tables) → compile → evaluate → score →
write.  Each stage lives in its own module; this one only strings them
together and builds the manifest.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from merit import __version__
from merit.cycles import adjustments as _adjustments
from merit.cycles import history as _history
from merit.cycles import trends as _trends
from merit.core.compile import Plan, compile_ruleset
from merit.core.evaluate import Evaluation, evaluate
from merit.core.outputs import (lists_csv, metrics_csv, metrics_long, results_document, scores_csv, set_manifest,
                      staged_output, write_csv, write_json)
from merit.core.ruleset import LoadedRuleset, load_ruleset
from merit.core.scoring import Scores, score
from merit.core.tables import Tables, connect, load_tables
from merit.core.workspace import Workspace, open_workspace

Progress = Callable[[str], None]


@dataclass
class Prepared:
    ws: Workspace
    loaded: LoadedRuleset
    plan: Plan
    tables: Tables
    # the active adjustments applied to the tables (merit.cycles.adjustments.AppliedAdjustment, in id order)
    adjustments: list = field(default_factory=list)
    # previous cycles (merit.cycles.trends.PreviousCycle, oldest first) and the results.json "trends"
    # section (None without previous cycles); set by run_cycle after scoring
    previous: list = field(default_factory=list)
    trends: dict | None = None
    # input file name -> its SHA-256 (hex), being computed in the background (see hash_inputs)
    digests: dict[str, Future] = field(default_factory=dict)

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


def load_workspace_ruleset(ws: Workspace, override: str | None = None) -> LoadedRuleset:
    return load_ruleset(override or ws.config.ruleset, relative_to=ws.root)


def prepare(path: Path | str, *, ruleset: str | None = None, progress: Progress | None = None,
            adjustments: bool = True) -> Prepared:
    """Open the workspace, load its ruleset and load and validate its tables."""
    progress = progress or (lambda step: None)
    ws = open_workspace(path)
    progress("ruleset")
    loaded = load_workspace_ruleset(ws, ruleset)
    plan = compile_ruleset(loaded)
    con = connect(ws.config.timezone)
    tables = load_tables(ws, con, progress=lambda name: progress(f"load {name}"))
    applied = []
    if adjustments:
        progress("adjustments")
        applied = _adjustments.apply_active(tables, ws)
    return Prepared(ws, loaded, plan, tables, applied)


def hash_inputs(tables: Tables) -> dict[str, Future]:
    """Start hashing the input files for the manifest, in one background thread.

    A gigabyte of tickets takes about a second to hash; hashlib releases the GIL,
    so this overlaps other work instead of adding to it."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="merit-sha256")
    try:
        return {name: pool.submit(file_sha256, src.path) for name, src in sorted(tables.sources.items())}
    finally:
        pool.shutdown(wait=False)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(prep: Prepared, evaluation: Evaluation) -> dict:
    ws = prep.ws
    cfg = ws.config
    inputs = {}
    for name, src in sorted(prep.tables.sources.items()):
        inputs[name] = {
            "file": f"{cfg.data}/{src.path.name}",
            "sha256": prep.digests[name].result() if name in prep.digests else file_sha256(src.path),
            "rows_in_period": evaluation.cohort_sizes.get(name),
        }
    return {
        "cycle": {
            "name": cfg.name,
            "period": {"start": cfg.period.start.isoformat(), "end": cfg.period.end.isoformat()},
            "timezone": cfg.timezone,
        },
        "engine": {"name": "merit", "version": __version__},
        "ruleset": {"ref": cfg.ruleset, "name": prep.loaded.ruleset.name, "files": prep.loaded.files,
                    "sha256": prep.loaded.sha256},
        "inputs": inputs,
        "missing_tables": sorted(prep.tables.missing),
        "adjustments": [ap.adjustment.id for ap in prep.adjustments],
        **({"previous": _trends.manifest_entries(prep.previous)} if prep.previous else {}),
    }


def attach_trends(prep: Prepared, evaluation: Evaluation, scores: Scores, long=None) -> dict | None:
    """Set ``prep.previous`` and ``prep.trends`` (the results.json "trends" section; None
    without previous cycles).  For callers outside run_cycle, e.g. re-rendering PDFs."""
    if not prep.previous:
        prep.previous = _trends.load_previous(prep.ws)
    prep.trends = _trends.compute(prep.ws, metrics_long(evaluation) if long is None else long, scores,
                                  prep.previous)
    return prep.trends


def run_cycle(path: Path | str, *, progress: Progress | None = None, ruleset: str | None = None,
              render_pdfs: Callable | None = None, by: str | None = None, record: bool = True) -> RunResult:
    """Evaluate the cycle, write out/ atomically and record the run in the workspace's history.

    Call it with the workspace lock held: ``merit run`` comes through
    merit.usecases.run, which takes it.  The history entry is written, in one
    transaction, only after out/ was swapped in.
    """
    progress = progress or (lambda step: None)
    started = _history.now_utc()
    prep = prepare(path, ruleset=ruleset, progress=progress)
    root = prep.ws.root
    prep.previous = _trends.load_previous(prep.ws)  # before the work: a bad path fails fast
    progress("evaluate")
    evaluation = evaluate(prep.plan, prep.tables, prep.ws, progress=progress)
    # Hashed while the steps below (mostly single-threaded Python) run; the manifest waits.
    prep.digests = hash_inputs(prep.tables)
    progress("score")
    scores = score(evaluation)
    long = metrics_long(evaluation)
    attach_trends(prep, evaluation, scores, long)
    progress("write")
    files = []
    with staged_output(prep.ws.out_dir) as stage:
        write_csv(metrics_csv(long), stage / "metrics.csv")
        write_csv(_trends.scores_columns(scores_csv(scores), prep.trends, scores), stage / "scores.csv")
        write_csv(lists_csv(evaluation), stage / "lists.csv")
        doc = results_document(evaluation, scores, long, None)
        man = manifest(prep, evaluation)
        set_manifest(doc, man)
        doc["adjustments"] = [ap.to_dict() for ap in prep.adjustments]
        if prep.trends is not None:
            doc["trends"] = prep.trends
        write_json(doc, stage / "results.json")
        if render_pdfs is not None:
            render_pdfs(prep, evaluation, scores, stage)
        files = sorted(p.relative_to(stage) for p in stage.rglob("*") if p.is_file())
    run_id = None
    if record:
        progress("history")
        run_id = _history.record_run(root, out_dir=prep.ws.out_dir, manifest=man,
                                     ruleset_ref=ruleset or prep.ws.config.ruleset,
                                     by=_history.default_user(by), started_at=started,
                                     adjustments=man["adjustments"], scores=scores)
    return RunResult(prep.ws, evaluation, scores, prep.ws.out_dir, [prep.ws.out_dir / f for f in files], run_id)
