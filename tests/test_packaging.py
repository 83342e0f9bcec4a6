"""A non-editable install finds the shipped rulesets and templates."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_non_editable_install_runs_from_anywhere(tmp_path):
    target = tmp_path / "site"
    src = tmp_path / "src"
    # build from a copy, so nothing of the checkout (or its build/ folder) leaks in
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "merit-demo",
                                                           ".cache", "__pycache__", "tests"))
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (target / "rulesets" / "default.yaml").is_file()
    assert (target / "rulesets" / "small_team.yaml").is_file()
    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "tests" / "fixtures" / "service_ws", ws)
    runner = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import engine; "
              "assert engine.__file__.startswith(sys.argv[1]), engine.__file__; sys.argv.pop(1); "
              "from cli.main import app; sys.argv[0] = 'merit'; app()")
    run = subprocess.run([sys.executable, "-c", runner, str(target), str(target), "run", str(ws), "--no-pdf"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (ws / "out" / "metrics.csv").is_file()
