"""Make the sample pages shown in README: page 1 of each document merit writes for people, in
each language, as PNG files in this folder (agent-en.png, agent-zh-CN.png, team-…, panel-report-…).

Run it from the repository after a change to the templates, the stylesheet or the catalogues:

    .venv/bin/python docs/samples/make_samples.py            # all documents, every language
    .venv/bin/python docs/samples/make_samples.py --dpi 60   # smaller files

It writes a demo workspace (12 agents, seed 7) in a temporary folder, declares its graders as the
expert panel, renders one agent's and one team's scorecard and the panel report per language
(``language=`` of the use cases, as ``--language`` does) and turns each first page into a PNG
with pdftoppm (poppler-utils).  The same inputs give the same pages.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import tempfile
from pathlib import Path

from merit import usecases
from merit.i18n import LANGUAGES

HERE = Path(__file__).resolve().parent


def demo_workspace(folder: Path) -> Path:
    """The demo workspace, with its graders declared as the panel (the demo declares none)."""
    ws = folder / "demo"
    usecases.demo(ws, agents=12, seed=7, pdf=False)
    with open(ws / "data" / "grades.csv", newline="", encoding="utf-8") as fh:
        graders = sorted({row["panelist"] for row in csv.DictReader(fh)})
    lines = ["panelists:"] + [f"  - {{id: {g}}}" for g in graders] + ["per_item: 3"]
    (ws / "panel.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ws


def first_ids(ws: Path) -> tuple[str, str]:
    """The first agent with a grade and that agent's team (a full, typical page)."""
    with open(ws / "out" / "scores.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["grade"]:
                return row["agent_id"], row["team"]
    raise SystemExit("the demo scored no agent")


def page_one(pdf: Path, png: Path, dpi: int) -> None:
    """Page 1 of *pdf* as *png*."""
    stem = png.with_suffix("")
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
                   check=True)
    root = HERE.parent.parent
    print(f"wrote {png.relative_to(root) if png.is_relative_to(root) else png}")


def samples(out: Path, dpi: int) -> None:
    with tempfile.TemporaryDirectory(prefix="merit-samples-") as tmp:
        ws = demo_workspace(Path(tmp))
        agent, team = first_ids(ws)
        for language in LANGUAGES:
            files = usecases.render(ws, agents=[agent], teams=[team], workers=1, language=language)
            by_name = {Path(f).stem: Path(f) for f in files}
            page_one(by_name[agent], out / f"agent-{language}.png", dpi)
            page_one(by_name[team], out / f"team-{language}.png", dpi)
            report = usecases.panel_report(ws, pdf=True, language=language)
            pdf = next(Path(f) for f in report.files if str(f).endswith(".pdf"))
            page_one(pdf, out / f"panel-report-{language}.png", dpi)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dpi", type=int, default=70, help="resolution of the PNG files (default 70)")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write them (default: docs/samples)")
    args = parser.parse_args()
    if shutil.which("pdftoppm") is None:
        raise SystemExit("pdftoppm not found: install poppler-utils")
    args.out.mkdir(parents=True, exist_ok=True)
    samples(args.out, args.dpi)


if __name__ == "__main__":
    main()
