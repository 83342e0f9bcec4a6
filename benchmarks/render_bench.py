#!/usr/bin/env python
"""Scorecard PDF rendering speed: scorecards per second, serial and parallel.

    python benchmarks/render_bench.py [--agents 1000] [--tickets N] [--seed 7] [--workers N] [--keep DIR]

1. Generates a demo workspace (``merit.demo.generate_workspace``) with
   ``--agents`` agents (reused from ``--keep DIR`` when it is there).
2. Evaluates and scores it once (untimed here; see docs/performance.md for that).
3. Times, each from scratch (no previous PDFs): the agent scorecards rendered
   serially in this process (``workers=1``), then in one worker process per
   core; then a third run against the parallel run's output, where nothing
   changed (skip-unchanged: every PDF copied, none rendered).
4. Prints scorecards per second for each, and the context-building time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, default=None, help="workspace folder to create or reuse")
    parser.add_argument("--skip-serial", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import weasyprint

    from merit.demo import generate_workspace
    from merit.core.evaluate import evaluate
    from merit.cycles.run import prepare_cycle as prepare
    from merit.render.pdf import render_into
    from merit.render.context import ContextBuilder
    from merit.core.scoring import score

    tmp = Path(tempfile.mkdtemp(prefix="merit-render-bench-"))
    ws = args.keep or tmp / "ws"
    if not (ws / "cycle.yaml").is_file():
        t = time.perf_counter()
        generate_workspace(ws, agents=args.agents, tickets=args.tickets, seed=args.seed)
        print(f"generated {args.agents} agents in {time.perf_counter() - t:.1f} s: {ws}", flush=True)
    prep = prepare(ws)
    evaluation = evaluate(prep.plan, prep.tables, prep.ws)
    scores = score(evaluation)
    agents = [str(a) for a in scores.table["agent_id"]]
    n = len(agents)
    t = time.perf_counter()
    builder = ContextBuilder(prep, evaluation, scores)
    builder.agent_contexts(agents)
    ctx_s = time.perf_counter() - t
    print(f"{n} agents; contexts built in {ctx_s:.2f} s ({n / ctx_s:.0f}/s)", flush=True)

    rows = []

    def timed(label, workers, out, previous=None):
        t = time.perf_counter()
        render_into(prep, evaluation, scores, out, agents=agents, teams=[], workers=workers, previous=previous)
        sec = time.perf_counter() - t
        rows.append((label, workers, sec, n / sec))
        print(f"{label:<28} workers={workers:<3} {sec:8.1f} s {n / sec:8.2f} scorecards/s", flush=True)

    if not args.skip_serial:
        timed("serial", 1, tmp / "serial")
    timed("parallel", args.workers, tmp / "parallel")
    timed("unchanged (skip)", args.workers, tmp / "again", previous=tmp / "parallel")
    sizes = [p.stat().st_size for p in (tmp / "parallel" / "agents").glob("*.pdf")]
    print()
    print(f"weasyprint {weasyprint.__version__}, {os.cpu_count()} cores, "
          f"mean PDF {sum(sizes) / len(sizes) / 1024:.0f} KiB")
    print("| run | workers | seconds | scorecards/s |")
    print("|---|---:|---:|---:|")
    for label, workers, sec, rate in rows:
        print(f"| {label} | {workers} | {sec:.1f} | {rate:.2f} |")
    shutil.rmtree(tmp / "serial", ignore_errors=True)
    shutil.rmtree(tmp / "again", ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
