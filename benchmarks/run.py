#!/usr/bin/env python
"""Benchmark harness: merit against hand-written DuckDB, pandas and Spark baselines.

    python benchmarks/run.py --tickets 1000000 --agents 5000 [--format parquet] [--repeat 3]

1. Generates a synthetic workspace with ``merit.demo.generate_workspace``
   (in a child process) and caches it under a folder keyed by the arguments
   and the generator's source hash, so repeated runs reuse it (``--keep DIR``
   puts/reuses the workspace in DIR instead).
2. Reads the data files once (untimed) so that every tool starts with a warm
   page cache.
3. Runs, each in a fresh child process and ``--repeat`` times:
   ``merit run WS --no-pdf``, ``baseline_duckdb.py``, ``baseline_pandas.py``, and on request
   (``--tools``) ``baseline_spark.py`` and ``merit run WS --no-pdf --backend local[2]``
   (``merit-spark``), the Spark ones with Spark's event log kept and summarised.
   Wall time is measured around the child; peak RSS is the child's
   ``ru_maxrss`` from ``os.wait4`` (the rusage of exactly that child and the
   descendants it waited for).
4. Prints a table (tool, best seconds, median, ratio to the DuckDB baseline,
   peak MB), spot-checks merit's org-level tickets, fdr, bad_rate_service and
   dts_p80_hours against the DuckDB baseline (1e-9) and cross-checks the other
   baselines with it on every row.  Results also go to RESULTS_DIR/results.json.

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
TOOLS = ["merit", "duckdb", "pandas", "spark", "merit-spark"]
MERITS = ["merit", "merit-spark"]              # merit run, on DuckDB and on Spark
SPARK_MASTER = "local[2]"


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

def merit_command(ws: Path, backend: str | None = None) -> list[str] | None:
    extra = ["--backend", backend] if backend else []
    script = Path(sys.executable).parent / "merit"
    if script.exists():
        return [str(script), "run", str(ws), "--no-pdf", *extra]
    if (REPO / "cli" / "main.py").exists():          # not installed as a script: the typer app directly
        return [sys.executable, "-c", "import sys; sys.argv[0] = 'merit'; from merit.cli.main import app; app()",
                "run", str(ws), "--no-pdf", *extra]
    return None


def spark_env(env: dict, events: Path, driver_memory: str | None) -> dict:
    """The environment of a Spark child: its event log kept in EVENTS (one plain JSON file a run),
    no console progress bars in the log, and the driver's memory when given (Spark's default: 1g;
    with local[N] the executors live in the driver's JVM)."""
    events.mkdir(parents=True, exist_ok=True)
    conf = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": str(events),
            "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false",
            "spark.ui.showConsoleProgress": "false"}
    args = [f"--conf {k}={v}" for k, v in conf.items()]
    if driver_memory:
        args.append(f"--driver-memory {driver_memory}")
    return dict(env, PYSPARK_SUBMIT_ARGS=" ".join(args) + " pyspark-shell")


def measure(cmd: list[str], log: Path, env: dict | None = None, jvm: bool = False) -> dict:
    """Run CMD as a child; wall seconds and the child's peak RSS (MB).  With JVM (the Spark tools),
    the Java processes the child starts are sampled too (JvmSampler): their CPU seconds are added
    to the child's, and the peak is that of the child and its JVM together."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env,
                             start_new_session=jvm)
        sampler = JvmSampler(p.pid) if jvm else None
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except KeyboardInterrupt:
            os.killpg(p.pid, 9) if jvm else p.kill()
            raise
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)   # reaped by wait4: tell Popen
    scale = 1 if sys.platform == "darwin" else 1024        # ru_maxrss: bytes on macOS, KiB on Linux
    r = {"seconds": wall, "peak_mb": ru.ru_maxrss * scale / 2**20, "exit": p.returncode,
         "user_s": ru.ru_utime, "sys_s": ru.ru_stime}
    if sampler:
        j = sampler.finish()
        r.update(jvm_user_s=j["user_s"], jvm_sys_s=j["sys_s"], jvm_peak_mb=j["jvm_peak_mb"],
                 user_s=r["user_s"] + j["user_s"], sys_s=r["sys_s"] + j["sys_s"],
                 peak_mb=max(r["peak_mb"], j["tree_peak_mb"]))
    return r


class JvmSampler:
    """Samples /proc every 0.2 s for the processes of the child's session (Linux): PySpark's JVM is
    not waited for by the Python child (it exits after it), so neither os.wait4's CPU seconds nor
    its ru_maxrss include it.  CPU of the Java processes: utime + stime (+ the children they
    waited for) at their last sample; peak: the largest sum of the session's resident sets."""

    def __init__(self, sid: int, every: float = 0.2):
        import threading
        self.sid, self.every, self.cpu, self.tree_peak, self.jvm_peak = sid, every, {}, 0, 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _sample(self) -> int:
        page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
        total = jvm = alive = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    data = fh.read()
            except OSError:
                continue
            f = data[data.rindex(")") + 2:].split()          # fields 3.. of proc(5)
            if int(f[3]) != self.sid or f[0] == "Z":
                continue
            alive += 1
            rss = int(f[21]) * page
            total += rss
            if data[data.index("(") + 1:data.rindex(")")] == "java":
                jvm += rss
                self.cpu[pid] = (sum(map(int, (f[11], f[13]))) / tick, sum(map(int, (f[12], f[14]))) / tick)
        self.tree_peak, self.jvm_peak = max(self.tree_peak, total), max(self.jvm_peak, jvm)
        return alive

    def _loop(self) -> None:
        while True:
            alive = self._sample()
            if self.stopping.is_set() and not alive:
                return
            time.sleep(self.every)

    def finish(self, timeout: float = 60.0) -> dict:
        """After the child exited: wait until its JVM has gone too (its last CPU seconds count)."""
        self.stopping.set()
        self.thread.join(timeout)
        return {"user_s": sum(u for u, _ in self.cpu.values()), "sys_s": sum(s for _, s in self.cpu.values()),
                "tree_peak_mb": self.tree_peak / 2**20, "jvm_peak_mb": self.jvm_peak / 2**20}


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- checks

def keep_output(src: Path, dst: Path) -> int:
    """Copy a merit run's metrics.csv out of the workspace (the next merit run overwrites it); 1 when absent."""
    if not src.exists():
        return 1
    shutil.copyfile(src, dst)
    return 0


def check_baseline(name: str, duckdb_csv: Path, other_csv: Path) -> bool:
    r = compare(load(duckdb_csv, None, None), load(other_csv, None, None), 1e-9)
    agree = r["value_mismatch"] == 0 and r["n_mismatch"] == 0 and r["only_a"].empty and r["only_b"].empty
    print(f"DuckDB vs {name} baseline, all {r['compared']} rows: "
          f"{'AGREE' if agree else 'DIFFER'} ({r['value_mismatch']} value, {r['n_mismatch']} n mismatches, "
          f"{len(r['only_a'])}/{len(r['only_b'])} unmatched rows)")
    return agree


def check_merit(tool: str, merit_csv: Path, duckdb_csv: Path) -> dict[str, bool]:
    """merit's org-level spot metrics, then every row the DuckDB baseline has, against the baseline."""
    a = load(merit_csv, ["org"], SPOT_METRICS, breakdowns=False)
    b = load(duckdb_csv, ["org"], SPOT_METRICS, breakdowns=False)
    m = a.merge(b, on=["scope", "id", "breakdown", "metric"], how="right", suffixes=("_merit", "_duckdb"))
    all_ok = True
    print(f"{tool} vs DuckDB baseline, org level:")
    for _, row in m.iterrows():
        vm, vd = row.get("value_merit"), row["value_duckdb"]
        same = (vm == vm and abs(vm - vd) <= 1e-9 * max(1.0, abs(vd))) or (vm != vm and vd != vd)
        all_ok &= bool(same)
        print(f"  {row['metric']:18s} merit={vm!r:24} duckdb={vd!r:24} {'ok' if same else 'DIFFER'}")
    print(f"{tool} spot check: " + ("AGREE" if all_ok else "DIFFER"))
    # every row the baseline has (all scopes, breakdowns and metrics it computes)
    b = load(duckdb_csv, None, None)
    a = load(merit_csv, None, sorted(b["metric"].unique()))
    a = a[a["breakdown"].isin(set(b["breakdown"]))]
    r = compare(a, b, 1e-9)
    full = r["value_mismatch"] == 0 and r["n_mismatch"] == 0 and r["only_b"].empty
    print(f"{tool} vs DuckDB baseline, all {len(b)} baseline rows: {'AGREE' if full else 'DIFFER'} "
          f"({r['value_mismatch']} value, {r['n_mismatch']} n mismatches, {len(r['only_b'])} rows "
          f"missing from merit; merit has {len(r['only_a'])} more rows of these metrics)")
    if not full:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            bad = pd.concat([r["mismatches"], r["only_b"]]).drop(columns="_merge")
            print(bad[["scope", "id", "breakdown", "metric", "value_a", "n_a", "value_b", "n_b"]]
                  .head(15).to_string(index=False))
    prefix = "merit" if tool == "merit" else tool
    return {f"{prefix}_agrees": all_ok, f"{prefix}_agrees_all_rows": full}


# --------------------------------------------------------------------------- Spark's event log

def stage_totals(events: Path) -> dict:
    """Where a Spark run's time went, from its event log (the newest in EVENTS): totals over its
    stages, and per phase (the baseline names its jobs; merit's are one phase, '')."""
    from baseline_spark import stage_summary
    stages = stage_summary(events) if events.is_dir() else []
    phases = {}
    for name in dict.fromkeys(s["phase"] for s in stages):
        ss = [s for s in stages if s["phase"] == name]
        phases[name] = {"stages": len(ss), "tasks": sum(s["tasks"] for s in ss),
                        "span_s": max(s["end"] for s in ss) - min(s["start"] for s in ss),
                        **{k: sum(s[k] for s in ss) for k in ("task_s", "gc_s", "input_mb", "shuffle_mb",
                                                                "spill_mb")}}
    return phases


def print_stage_totals(tool: str, run: int, phases: dict) -> None:
    if not phases:
        print(f"{tool} run {run}: no Spark event log found")
        return
    print(f"{tool} run {run}, Spark stages by phase (span: first stage submitted to last completed; "
          f"task s: executor run time summed over tasks):")
    print(f"  {'phase':12s} {'stages':>6s} {'tasks':>6s} {'span s':>8s} {'task s':>8s} {'GC s':>6s} "
          f"{'input MB':>9s} {'shuffle MB':>10s} {'spill MB':>9s}")
    for name, p in phases.items():
        print(f"  {name or '(all)':12s} {p['stages']:6d} {p['tasks']:6d} {p['span_s']:8.2f} {p['task_s']:8.2f} "
              f"{p['gc_s']:6.2f} {p['input_mb']:9.1f} {p['shuffle_mb']:10.1f} {p['spill_mb']:9.1f}")


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
    ap.add_argument("--tools", default="merit,duckdb,pandas",
                    help="comma-separated subset of " + ",".join(TOOLS) + " (spark: baseline_spark.py; "
                         f"merit-spark: merit run --backend {SPARK_MASTER})")
    ap.add_argument("--spark-driver-memory", metavar="SIZE",
                    help="driver memory of the Spark tools, e.g. 4g (default: Spark's, 1g)")
    ap.add_argument("--no-warm", action="store_true", help="do not pre-read the data files")
    args = ap.parse_args(argv)
    if not 1 <= args.tickets <= MAX_TICKETS:
        ap.error(f"--tickets must be between 1 and {MAX_TICKETS:,}")
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if set(tools) - set(TOOLS):
        ap.error(f"--tools: unknown {', '.join(sorted(set(tools) - set(TOOLS)))} (known: {', '.join(TOOLS)})")
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

    # merit writes WS/out/metrics.csv: each merit run's copy is kept as RESULTS_DIR/<tool>_metrics.csv
    outputs = {"duckdb": results_dir / "baseline_duckdb.csv", "pandas": results_dir / "baseline_pandas.csv",
               "spark": results_dir / "baseline_spark.csv",
               **{t: results_dir / f"{t}_metrics.csv" for t in MERITS}}
    events = {t: results_dir / "spark-events" / t for t in ("spark", "merit-spark")}
    commands = {
        "duckdb": [sys.executable, str(HERE / "baseline_duckdb.py"), str(ws), "--out", str(outputs["duckdb"])],
        "pandas": [sys.executable, str(HERE / "baseline_pandas.py"), str(ws), "--out", str(outputs["pandas"])],
        "spark": [sys.executable, str(HERE / "baseline_spark.py"), str(ws), "--out", str(outputs["spark"]),
                  "--master", SPARK_MASTER, "--event-log", str(events["spark"])],
    }
    notes: dict[str, str] = {}
    for tool in MERITS:
        if tool in tools:
            cmd = merit_command(ws, SPARK_MASTER if tool == "merit-spark" else None)
            if cmd is None:
                notes[tool] = "skipped: no `merit` script next to the interpreter and no cli/main.py yet"
            else:
                commands[tool] = cmd
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    envs = {t: spark_env(env, events[t], args.spark_driver_memory) for t in events}

    runs: dict[str, list[dict]] = {t: [] for t in tools if t in commands}
    for i in range(args.repeat):
        for tool in runs:
            if tool in notes:                 # failed on an earlier repeat
                continue
            r = measure(commands[tool], results_dir / f"{tool}.log", envs.get(tool, env), jvm=tool in events)
            if tool in MERITS:
                r["exit"] = r["exit"] or keep_output(ws / "out" / "metrics.csv", outputs[tool])
            if tool in events:
                r["stages"] = stage_totals(events[tool])
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
    names = {"merit": "merit run", "duckdb": "DuckDB baseline", "pandas": "pandas baseline",
             "spark": "Spark baseline", "merit-spark": "merit run (Spark)"}
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
    if ok_runs("duckdb"):
        for tool, name in (("pandas", "pandas"), ("spark", "Spark")):
            if ok_runs(tool):
                checks[{"pandas": "baselines_agree"}.get(tool, f"{tool}_baseline_agrees")] = \
                    check_baseline(name, outputs["duckdb"], outputs[tool])
    for tool in MERITS:
        if ok_runs(tool) and ok_runs("duckdb"):
            checks.update(check_merit(tool, outputs[tool], outputs["duckdb"]))
        elif tool in tools:
            print(f"{tool} spot check: skipped ({tool} did not run, or the DuckDB baseline did not)")
    for tool in events:
        for i, r in enumerate(ok_runs(tool)):
            print_stage_totals(tool, i + 1, r.get("stages") or {})

    (results_dir / "results.json").write_text(json.dumps({
        **shape, "repeat": args.repeat, "workspace": str(ws), "data_bytes": sizes,
        "cores": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
        "table": table, "notes": notes, "checks": checks,
    }, indent=2, default=str))
    print(f"\nresults: {results_dir / 'results.json'}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
