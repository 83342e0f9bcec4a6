#!/usr/bin/env python
"""Benchmark harness: merit against hand-written DuckDB and pandas baselines.

    python benchmarks/run.py --tickets 1000000 --agents 5000 [--format parquet] [--repeat 3]

1. Generates a synthetic workspace with ``merit.demo.generate_workspace``
   (in a child process) and caches it under a folder keyed by the arguments
   and the generator's source hash, so repeated runs reuse it (``--keep DIR``
   puts/reuses the workspace in DIR instead).
2. Reads the data files once (untimed) so that every tool starts with a warm
   page cache.
3. Runs, each in a fresh child process and ``--repeat`` times:
   ``merit run WS --no-pdf``, ``baseline_duckdb.py``, ``baseline_pandas.py``.
   Wall time is measured around the child; peak RSS is the child's
   ``ru_maxrss`` from ``os.wait4`` (the rusage of exactly that child and the
   descendants it waited for).
4. Prints a table (tool, best seconds, median, ratio to the DuckDB baseline,
   peak MB), spot-checks merit's org-level tickets, fdr, bad_rate_service and
   dts_p80_hours against the DuckDB baseline (1e-9) and cross-checks the two
   baselines on every row.  Results also go to RESULTS_DIR/results.json.

merit is skipped with a message when its command is not available yet.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import pandas as pd  # noqa: E402
from compare import compare, load  # noqa: E402

SPOT_METRICS = ["tickets", "fdr", "bad_rate_service", "dts_p80_hours"]
MAX_TICKETS = 10_000_000


# --------------------------------------------------------------------------- workspace

def demo_sources() -> list[Path]:
    """The demo generator's code and the contract it reads: a change to either makes new data."""
    return sorted((REPO / "engine" / "demo").glob("*.py")) + [REPO / "engine" / "core" / "contract.yaml"]


def cache_key(args) -> str:
    digest = hashlib.sha256()
    for src in demo_sources():
        digest.update(src.read_bytes() if src.exists() else b"none")
    if args.format == "zendesk":
        digest.update((HERE / "mapped.py").read_bytes())
    h = digest.hexdigest()[:10]
    return f"t{args.tickets}-a{args.agents}-s{args.seed}-{args.format}-demo{h}"


def generate(ws: Path, args) -> float:
    """Generate the workspace into a temporary sibling, then rename it into place."""
    if not (REPO / "engine" / "demo").is_dir():
        sys.exit("engine/demo/ not found: cannot generate the workspace (try benchmarks/synth.py and --keep)")
    tmp = ws.with_name(ws.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys, datetime as dt\n"
        "from merit.demo import generate_workspace\n"
        f"p = generate_workspace({str(tmp)!r}, agents={args.agents}, tickets={args.tickets}, seed={args.seed}, "
        f"fmt={args.format!r})\n"
        "print(p)\n"
    )
    print(f"generating {args.tickets:,} tickets / {args.agents:,} agents ({args.format}) into {ws} ...",
          flush=True)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit(f"workspace generation failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    made = Path(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else tmp
    if not (made / "cycle.yaml").exists():
        sys.exit(f"merit.demo returned {made}, which has no cycle.yaml")
    if made.resolve() != tmp.resolve():           # generator chose a folder inside root
        made.rename(ws)
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(ws)
    print(f"  generated in {took:.1f} s", flush=True)
    return took


def generate_mapped(ws: Path, args) -> float:
    """The csv workspace of the same arguments (generated or reused), its tickets written as a
    Zendesk export into *ws* (benchmarks/mapped.py)."""
    from mapped import make_mapped_workspace
    csv_args = argparse.Namespace(**{**vars(args), "format": "csv"})
    base = ws.with_name(ws.name + "-source") if args.keep else args.cache / cache_key(csv_args)
    took = 0.0 if (base / "cycle.yaml").exists() else generate(base, csv_args)
    print(f"writing the tickets of {base} as a Zendesk export into {ws} ...", flush=True)
    t0 = time.perf_counter()
    make_mapped_workspace(base, ws)
    print(f"  written in {time.perf_counter() - t0:.1f} s", flush=True)
    return took + time.perf_counter() - t0


def data_files(ws: Path) -> list[Path]:
    files = [p for p in (ws / "data").iterdir() if p.is_file()]
    files += [p for p in (ws / "exports").glob("*") if p.is_file()] if (ws / "exports").is_dir() else []
    return sorted(files)


def warm(ws: Path) -> None:
    for p in data_files(ws):
        with open(p, "rb") as fh:
            while fh.read(1 << 24):
                pass


# --------------------------------------------------------------------------- running

def merit_command(ws: Path) -> list[str] | None:
    script = Path(sys.executable).parent / "merit"
    if script.exists():
        return [str(script), "run", str(ws), "--no-pdf"]
    if (REPO / "cli" / "main.py").exists():          # not installed as a script: the typer app directly
        return [sys.executable, "-c", "import sys; sys.argv[0] = 'merit'; from merit.cli.main import app; app()",
                "run", str(ws), "--no-pdf"]
    return None


def measure(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run CMD as a child; wall seconds and the child's peak RSS (MB)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except KeyboardInterrupt:
            p.kill()
            raise
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)   # reaped by wait4: tell Popen
    scale = 1 if sys.platform == "darwin" else 1024        # ru_maxrss: bytes on macOS, KiB on Linux
    return {"seconds": wall, "peak_mb": ru.ru_maxrss * scale / 2**20, "exit": p.returncode,
            "user_s": ru.ru_utime, "sys_s": ru.ru_stime}


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=1_000_000, help="tickets to generate (up to 10,000,000)")
    ap.add_argument("--agents", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--format", choices=["csv", "parquet", "zendesk"], default="csv",
                    help="zendesk: the csv workspace's tickets as a Zendesk export read through `sources:`")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool (best and median reported)")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="use DIR as the workspace: generated there when it has no cycle.yaml, reused otherwise")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("MERIT_BENCH_CACHE", HERE / ".cache")),
                    help="where generated workspaces are cached (default benchmarks/.cache or $MERIT_BENCH_CACHE)")
    ap.add_argument("--tools", default="merit,duckdb,pandas", help="comma-separated subset of merit,duckdb,pandas")
    ap.add_argument("--no-warm", action="store_true", help="do not pre-read the data files")
    args = ap.parse_args(argv)
    if not 1 <= args.tickets <= MAX_TICKETS:
        ap.error(f"--tickets must be between 1 and {MAX_TICKETS:,}")
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if args.format == "zendesk" and "pandas" in tools:  # (it reads data/tickets only)
        tools.remove("pandas")

    ws = (args.keep or args.cache / cache_key(args)).resolve()
    results_dir = ws.parent / (ws.name + ".results")
    made_by = results_dir / "workspace.json"          # the arguments the workspace was generated with
    gen_seconds = None
    if (ws / "cycle.yaml").exists():
        print(f"workspace: {ws} (reused)")
        try:
            shape = json.loads(made_by.read_text())
        except (OSError, ValueError):
            shape = {"tickets": None, "agents": None, "seed": None, "format": None}
            print("  (not generated by this harness: --tickets/--agents/--seed/--format do not describe it)")
    else:
        if ws.is_dir() and not any(ws.iterdir()):
            ws.rmdir()
        elif ws.exists():
            sys.exit(f"{ws} exists but has no cycle.yaml: not overwriting it")
        gen_seconds = generate_mapped(ws, args) if args.format == "zendesk" else generate(ws, args)
        shape = {"tickets": args.tickets, "agents": args.agents, "seed": args.seed, "format": args.format,
                 "generate_seconds": gen_seconds}
        results_dir.mkdir(parents=True, exist_ok=True)
        made_by.write_text(json.dumps(shape))
    results_dir.mkdir(parents=True, exist_ok=True)
    sizes = {p.name: p.stat().st_size for p in data_files(ws)}
    print("data: " + ", ".join(f"{k} {v / 2**20:.1f} MB" for k, v in sizes.items()))
    if not args.no_warm:
        warm(ws)

    outputs = {"duckdb": results_dir / "baseline_duckdb.csv", "pandas": results_dir / "baseline_pandas.csv",
               "merit": ws / "out" / "metrics.csv"}
    commands = {
        "duckdb": [sys.executable, str(HERE / "baseline_duckdb.py"), str(ws), "--out", str(outputs["duckdb"])],
        "pandas": [sys.executable, str(HERE / "baseline_pandas.py"), str(ws), "--out", str(outputs["pandas"])],
    }
    notes: dict[str, str] = {}
    if "merit" in tools:
        cmd = merit_command(ws)
        if cmd is None:
            notes["merit"] = "skipped: no `merit` script next to the interpreter and no cli/main.py yet"
        else:
            commands["merit"] = cmd
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    runs: dict[str, list[dict]] = {t: [] for t in tools if t in commands}
    for i in range(args.repeat):
        for tool in runs:
            if tool in notes:                 # failed on an earlier repeat
                continue
            r = measure(commands[tool], results_dir / f"{tool}.log", env)
            runs[tool].append(r)
            status = "ok" if r["exit"] == 0 else f"exit {r['exit']}"
            print(f"  run {i + 1}/{args.repeat} {tool:7s} {r['seconds']:8.2f} s  {r['peak_mb']:8.0f} MB  {status}",
                  flush=True)
            if r["exit"] != 0:
                notes[tool] = f"failed (exit {r['exit']}), see {results_dir / (tool + '.log')}:\n" + \
                    tail(results_dir / f"{tool}.log")

    # ---- table
    def ok_runs(tool):
        return [r for r in runs.get(tool, []) if r["exit"] == 0]

    best = {t: min(r["seconds"] for r in ok_runs(t)) for t in runs if ok_runs(t)}
    ref = best.get("duckdb")
    # CPU seconds (user + system) of the child: less sensitive than wall time to other work on
    # the machine (on a busy 2-core machine, wall times stretch by the share the others take).
    cpu_ref = min((r["user_s"] + r["sys_s"] for r in ok_runs("duckdb")), default=None)
    print()
    def fmt(v):
        return f"{v:,}" if isinstance(v, int) else str(v if v is not None else "?")
    print(f"tickets={fmt(shape['tickets'])} agents={fmt(shape['agents'])} format={fmt(shape['format'])} "
          f"repeat={args.repeat} cores={os.cpu_count()} python={platform.python_version()}")
    print(f"{'tool':18s} {'seconds':>9s} {'median':>9s} {'x duckdb':>9s} {'peak MB':>9s} {'CPU s':>9s} {'x duckdb':>9s}")
    names = {"merit": "merit run", "duckdb": "DuckDB baseline", "pandas": "pandas baseline"}
    table = []
    for tool in tools:
        rs = ok_runs(tool)
        if not rs:
            print(f"{names.get(tool, tool):18s} {'-':>9s} {'-':>9s} {'-':>9s} {'-':>9s} {'-':>9s} {'-':>9s}   "
                  f"{notes.get(tool, 'not run').splitlines()[0]}")
            continue
        b, med = best[tool], statistics.median(r["seconds"] for r in rs)
        peak = max(r["peak_mb"] for r in rs)
        ratio = f"{b / ref:.2f}" if ref else "-"
        cpu = min(r["user_s"] + r["sys_s"] for r in rs)
        cpu_ratio = f"{cpu / cpu_ref:.2f}" if cpu_ref else "-"
        print(f"{names.get(tool, tool):18s} {b:9.2f} {med:9.2f} {ratio:>9s} {peak:9.0f} {cpu:9.2f} {cpu_ratio:>9s}")
        table.append({"tool": tool, "best_s": b, "median_s": med, "ratio_to_duckdb": b / ref if ref else None,
                      "peak_mb": peak, "best_cpu_s": cpu, "cpu_ratio_to_duckdb": cpu / cpu_ref if cpu_ref else None,
                      "runs": rs})
    for tool, note in notes.items():
        if "\n" in note:
            print(f"\n{tool}: {note}")

    # ---- correctness checks
    checks = {}
    print()
    if ok_runs("duckdb") and ok_runs("pandas"):
        r = compare(load(outputs["duckdb"], None, None), load(outputs["pandas"], None, None), 1e-9)
        agree = r["value_mismatch"] == 0 and r["n_mismatch"] == 0 and r["only_a"].empty and r["only_b"].empty
        checks["baselines_agree"] = agree
        print(f"DuckDB vs pandas baseline, all {r['compared']} rows: "
              f"{'AGREE' if agree else 'DIFFER'} ({r['value_mismatch']} value, {r['n_mismatch']} n mismatches, "
              f"{len(r['only_a'])}/{len(r['only_b'])} unmatched rows)")
    if ok_runs("merit") and ok_runs("duckdb"):
        if not outputs["merit"].exists():
            print(f"merit spot check: {outputs['merit']} not found")
            checks["merit_agrees"] = False
        else:
            a = load(outputs["merit"], ["org"], SPOT_METRICS, breakdowns=False)
            b = load(outputs["duckdb"], ["org"], SPOT_METRICS, breakdowns=False)
            m = a.merge(b, on=["scope", "id", "breakdown", "metric"], how="right", suffixes=("_merit", "_duckdb"))
            all_ok = True
            print("merit vs DuckDB baseline, org level:")
            for _, row in m.iterrows():
                vm, vd = row.get("value_merit"), row["value_duckdb"]
                same = (vm == vm and abs(vm - vd) <= 1e-9 * max(1.0, abs(vd))) or (vm != vm and vd != vd)
                all_ok &= bool(same)
                print(f"  {row['metric']:18s} merit={vm!r:24} duckdb={vd!r:24} {'ok' if same else 'DIFFER'}")
            checks["merit_agrees"] = all_ok
            print("merit spot check: " + ("AGREE" if all_ok else "DIFFER"))
            # every row the baseline has (all scopes, breakdowns and metrics it computes)
            b = load(outputs["duckdb"], None, None)
            a = load(outputs["merit"], None, sorted(b["metric"].unique()))
            a = a[a["breakdown"].isin(set(b["breakdown"]))]
            r = compare(a, b, 1e-9)
            full = r["value_mismatch"] == 0 and r["n_mismatch"] == 0 and r["only_b"].empty
            checks["merit_agrees_all_rows"] = full
            print(f"merit vs DuckDB baseline, all {len(b)} baseline rows: {'AGREE' if full else 'DIFFER'} "
                  f"({r['value_mismatch']} value, {r['n_mismatch']} n mismatches, {len(r['only_b'])} rows "
                  f"missing from merit; merit has {len(r['only_a'])} more rows of these metrics)")
            if not full:
                with pd.option_context("display.width", 200, "display.max_columns", 20):
                    bad = pd.concat([r["mismatches"], r["only_b"]]).drop(columns="_merge")
                    print(bad[["scope", "id", "breakdown", "metric", "value_a", "n_a", "value_b", "n_b"]]
                          .head(15).to_string(index=False))
    elif "merit" in tools:
        print("merit spot check: skipped (merit did not run)")

    (results_dir / "results.json").write_text(json.dumps({
        **shape, "repeat": args.repeat, "workspace": str(ws), "data_bytes": sizes,
        "cores": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
        "table": table, "notes": notes, "checks": checks,
    }, indent=2, default=str))
    print(f"\nresults: {results_dir / 'results.json'}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
