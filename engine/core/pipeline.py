"""The core pipeline, stage by stage: load → validate → compile → evaluate → score → write.

Each stage lives in its own module; this one strings them together for the
callers (the cycle lifecycle in merit.cycles.run, the use cases): it prepares
a workspace (its ruleset compiled, its tables loaded and validated, then
handed to the caller's table transforms), builds the manifest and the output
files, and writes them to ``out/`` atomically.  It knows nothing of the
history, adjustments or trends: those are the cycle lifecycle's.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from merit import __version__
from merit.core.backends import BackendSpec, backend_from_option, open_backend, portability
from merit.core.compile import Plan, compile_ruleset
from merit.core.errors import WorkspaceError
from merit.core.evaluate import Evaluation
from merit.core.files import staged_folder
from merit.core.outputs import lists_csv, metrics_csv, results_document, scores_csv, write_csv, write_json
from merit.core.ruleset import LoadedRuleset, load_ruleset
from merit.core.scoring import Scores
from merit.core.tables import Tables, connect, load_tables
from merit.core.workspace import Workspace, open_workspace

Progress = Callable[..., None]
# Changes the loaded tables in place before anything reads them (e.g. the cycle's adjustments).
TableTransform = Callable[[Tables, Workspace], None]


@dataclass
class Prepared:
    """A workspace ready to evaluate: its ruleset compiled, its tables loaded and validated."""

    ws: Workspace
    loaded: LoadedRuleset
    plan: Plan
    tables: Tables
    backend: BackendSpec = field(default_factory=BackendSpec)  # the engine the tables are on


def load_workspace_ruleset(ws: Workspace, override: str | None = None) -> LoadedRuleset:
    return load_ruleset(override or ws.config.ruleset, relative_to=ws.root)


def prepare(path: Path | str, *, ruleset: str | None = None, progress: Progress | None = None,
            transforms: Sequence[TableTransform] = (), backend: str | None = None) -> Prepared:
    """Open the workspace, load and compile its ruleset (or *ruleset*), load and validate its
    tables, apply *transforms* to them in order, then put them on the cycle's backend (or the
    one *backend* names, ``--backend``)."""
    progress = progress or (lambda step: None)
    ws = open_workspace(path)
    spec = chosen_backend(ws, backend)
    # (opened first: an engine that cannot be reached is said before minutes of loading)
    engine = None if spec.kind == "duckdb" else open_backend(spec, ws.config.timezone)
    progress("ruleset")
    loaded = load_workspace_ruleset(ws, ruleset)
    plan = compile_ruleset(loaded)
    tables = load_on(ws, spec, engine, progress)
    for transform in transforms:
        transform(tables, ws)
    return Prepared(ws, loaded, plan, tables, spec)


def load_on(ws: Workspace, spec: BackendSpec, engine, progress: Progress) -> Tables:
    """The workspace's tables, loaded and validated, on *engine* (None: the embedded DuckDB).

    Files are read by the file loader (DuckDB) and their typed tables copied to the engine, but
    on Spark, which reads CSV and Parquet files itself; tables of the engine (`sources:` entries
    with `table:`) are typed and validated there (merit.core.backend_tables)."""
    on_engine = frozenset(ws.table_sources) | frozenset(ws.cluster_files) | (frozenset(
        name for name, path in ws.tables.items() if path.suffix.lower() in (".csv", ".parquet"))
        if spec.kind == "spark" else frozenset())
    _check_engine_reads(ws, spec, engine)
    tables = load_tables(ws, connect(ws.config.timezone), progress=lambda name: progress(f"load {name}"),
                         elsewhere=on_engine)
    if engine is None:
        return tables
    from merit.core.backend_tables import load_backend_tables
    from merit.core.backends.staging import stage

    progress(f"copy to {spec.kind}")
    tables = stage(tables, engine)
    if on_engine:
        progress(f"load on {spec.kind}")
        load_backend_tables(ws, engine, tables, on_engine)
    return tables


def _check_engine_reads(ws: Workspace, spec: BackendSpec, engine) -> None:
    """Tables of an engine need that engine; locations only a cluster reads need Spark."""
    if engine is None and ws.table_sources:
        name, table = next(iter(sorted(ws.table_sources.items())))
        raise WorkspaceError(f"'{name}' is read from the table {table}, but the cycle runs on the embedded "
                             f"DuckDB, which holds no tables", file=ws.display(ws.cycle_file),
                             field=f"sources.{name}.table",
                             expected="backend: {kind: spark, ...} or {kind: postgres, url: ...} in cycle.yaml "
                                      "(or --backend), or a file: entry")
    if spec.kind != "spark" and ws.cluster_files:
        name, location = next(iter(sorted(ws.cluster_files.items())))
        engine_name = "the embedded DuckDB" if engine is None else spec.kind
        raise WorkspaceError(f"'{name}' is read from {location}, which only a Spark cluster reads, but the "
                             f"cycle runs on {engine_name}", file=ws.display(ws.cycle_file),
                             field=f"sources.{name}.file",
                             expected="backend: {kind: spark, ...} in cycle.yaml (or --backend spark), or a file "
                                      "under the workspace")


def chosen_backend(ws: Workspace, option: str | None) -> BackendSpec:
    """cycle.yaml's ``backend:``, or the one ``--backend`` *option* names."""
    if option is None:
        return ws.config.backend
    try:
        return backend_from_option(option, ws.config.backend)
    except ValueError as exc:
        raise WorkspaceError(str(exc), field="--backend") from None


def hash_inputs(tables: Tables) -> dict[str, Future]:
    """Start hashing the input files for the manifest, in one background thread.

    A gigabyte of tickets takes about a second to hash; hashlib releases the GIL,
    so this overlaps other work instead of adding to it."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="merit-sha256")
    try:
        return {name: pool.submit(file_sha256, src.path) for name, src in sorted(tables.sources.items())
                if src.path is not None}
    finally:
        pool.shutdown(wait=False)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(prep: Prepared, evaluation: Evaluation, digests: dict[str, Future] | None = None) -> dict:
    """What produced the outputs: the cycle, the engine, the ruleset and the input files
    (*digests*: the hashes started by hash_inputs; a file not among them is hashed now)."""
    cfg = prep.ws.config
    digests = digests or {}
    inputs = {}
    for name, src in sorted(prep.tables.sources.items()):
        if src.path is None:  # a table of the engine, or files the cluster reads: counted and summed there
            place = {"location": src.location} if src.location is not None else {"table": src.name}
            inputs[name] = {**place, **portability.table_identity(prep.tables.con, src.name),
                            "rows_in_period": evaluation.cohort_sizes.get(name)}
            continue
        inputs[name] = {
            "file": _in_workspace(prep.ws.root, src.path),
            "sha256": digests[name].result() if name in digests else file_sha256(src.path),
            "rows_in_period": evaluation.cohort_sizes.get(name),
        }
    return {
        "cycle": {
            "name": cfg.name,
            "period": {"start": cfg.period.start.isoformat(), "end": cfg.period.end.isoformat()},
            "timezone": cfg.timezone,
        },
        "engine": {"name": "merit", "version": __version__,
                   # (DuckDB, the default, unnamed: a manifest the same as before backends existed)
                   **({"backend": prep.backend.where()} if prep.backend.kind != "duckdb" else {})},
        "ruleset": {"ref": cfg.ruleset, "name": prep.loaded.ruleset.name, "files": prep.loaded.files,
                    "sha256": prep.loaded.sha256},
        "inputs": inputs,
        "missing_tables": sorted(prep.tables.missing),
    }


@dataclass
class Outputs:
    """The files of ``out/`` before they are written."""

    metrics: pd.DataFrame  # metrics.csv
    scores: pd.DataFrame  # scores.csv
    lists: pd.DataFrame  # lists.csv
    results: dict  # results.json


def outputs(evaluation: Evaluation, scores: Scores, long: pd.DataFrame, manifest: dict) -> Outputs:
    """*long*: merit.core.outputs.metrics_long(evaluation), computed once by the caller."""
    return Outputs(metrics_csv(long), scores_csv(scores), lists_csv(evaluation),
                   results_document(evaluation, scores, long, manifest))


def write_outputs(files: Outputs, out_dir: Path, *,
                  also: Callable[[Path], None] | None = None) -> list[Path]:
    """Write *files* into a staging folder, call *also* (e.g. render the PDFs) on it, then swap
    it in for *out_dir* at once.  Returns the paths of every file written, sorted."""
    with staged_folder(out_dir) as stage:
        write_csv(files.metrics, stage / "metrics.csv")
        write_csv(files.scores, stage / "scores.csv")
        write_csv(files.lists, stage / "lists.csv")
        write_json(files.results, stage / "results.json")
        if also is not None:
            also(stage)
        written = sorted(p.relative_to(stage) for p in stage.rglob("*") if p.is_file())
    return [out_dir / f for f in written]


def _in_workspace(root: Path, path: Path) -> str:
    """*path* as the manifest names it: relative to the workspace (a source may be anywhere in it)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # (not under the workspace's resolved path: only its name is stable)
        return path.name
