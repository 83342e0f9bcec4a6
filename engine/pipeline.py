"""The whole cycle, stage by stage: what ``merit check`` and ``merit run`` do.

load (workspace, ruleset) → validate (tables) → compile → evaluate → score →
write.  Each stage lives in its own module; this one only strings them
together and builds the manifest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import __version__
from .compile import Plan, compile_ruleset
from .evaluate import Evaluation, evaluate
from .outputs import lists_csv, metrics_csv, metrics_long, results_document, scores_csv, staged_output, write_csv, write_json
from .ruleset import LoadedRuleset, load_ruleset
from .scoring import Scores, score
from .tables import Tables, connect, load_tables
from .workspace import Workspace, open_workspace

Progress = Callable[[str], None]


@dataclass
class Prepared:
    ws: Workspace
    loaded: LoadedRuleset
    plan: Plan
    tables: Tables


@dataclass
class RunResult:
    ws: Workspace
    evaluation: Evaluation
    scores: Scores
    out_dir: Path
    files: list[Path] = field(default_factory=list)


def load_workspace_ruleset(ws: Workspace, override: str | None = None) -> LoadedRuleset:
    return load_ruleset(override or ws.config.ruleset, relative_to=ws.root)


def prepare(path: Path | str, *, ruleset: str | None = None, progress: Progress | None = None) -> Prepared:
    progress = progress or (lambda step: None)
    ws = open_workspace(path)
    progress("ruleset")
    loaded = load_workspace_ruleset(ws, ruleset)
    plan = compile_ruleset(loaded)
    con = connect(ws.config.timezone)
    tables = load_tables(ws, con, progress=lambda name: progress(f"load {name}"))
    return Prepared(ws, loaded, plan, tables)


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
            "sha256": file_sha256(src.path),
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
    }


def run_cycle(path: Path | str, *, progress: Progress | None = None, ruleset: str | None = None,
              render_pdfs: Callable | None = None) -> RunResult:
    progress = progress or (lambda step: None)
    prep = prepare(path, ruleset=ruleset, progress=progress)
    progress("evaluate")
    evaluation = evaluate(prep.plan, prep.tables, prep.ws, progress=progress)
    progress("score")
    scores = score(evaluation)
    long = metrics_long(evaluation)
    man = manifest(prep, evaluation)
    progress("write")
    files = []
    with staged_output(prep.ws.out_dir) as stage:
        write_csv(metrics_csv(long), stage / "metrics.csv")
        write_csv(scores_csv(scores), stage / "scores.csv")
        write_csv(lists_csv(evaluation), stage / "lists.csv")
        write_json(results_document(evaluation, scores, long, man), stage / "results.json")
        if render_pdfs is not None:
            render_pdfs(prep, evaluation, scores, stage)
        files = sorted(p.relative_to(stage) for p in stage.rglob("*") if p.is_file())
    return RunResult(prep.ws, evaluation, scores, prep.ws.out_dir, [prep.ws.out_dir / f for f in files])
