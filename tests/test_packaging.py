"""A non-editable install adds one package, ``merit``, with everything the repository holds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# repository folder -> where it lands inside the installed ``merit`` package
INSTALLED_AS = {"engine": "", "cli": "cli", "rulesets": "rulesets", "templates": "templates"}


def _shipped_files() -> set[str]:
    """What the repository's package folders hold, as paths inside the installed package."""
    wanted = set()
    for folder, inside in INSTALLED_AS.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                wanted.add(str(Path(inside, path.relative_to(ROOT / folder))))
    return wanted


def test_non_editable_install_is_one_package_and_runs_from_anywhere(tmp_path):
    target = tmp_path / "site"
    src = tmp_path / "src"
    # build from a copy, so nothing of the checkout (or its build/ folder) leaks in
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "merit-demo",
                                                           ".cache", "__pycache__", "tests"))
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-v", "--no-deps",
                           "--target", str(target), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    # setuptools' warnings (an undeclared package, a deprecated setting); pip's notes about this
    # machine's package index locations, and byte-compiling switched off (PYTHONDONTWRITEBYTECODE),
    # are not about merit
    benign = ("is ignored: it is neither a file nor a directory", "byte-compiling is disabled")
    warnings = [line for line in (proc.stdout + proc.stderr).splitlines()
                if "warn" in line.lower() and not any(b in line for b in benign)]
    assert warnings == [], "\n".join(warnings)
    top_level = {p.name for p in target.iterdir()}
    assert top_level == {"merit", "merit-0.1.0.dist-info", "bin"}, top_level
    installed = {str(p.relative_to(target / "merit")) for p in (target / "merit").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    assert installed == _shipped_files(), (installed ^ _shipped_files())
    assert "merit.cli.main:app" in (target / "merit-0.1.0.dist-info" / "entry_points.txt").read_text()

    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "tests" / "fixtures" / "service_ws", ws)
    runner = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import merit; "
              "assert merit.__file__.startswith(sys.argv[1]), merit.__file__; sys.argv.pop(1); "
              "from merit.cli.main import app; sys.argv[0] = 'merit'; app()")
    run = subprocess.run([sys.executable, "-I", "-c", runner, str(target), str(target), "run", str(ws), "--no-pdf"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (ws / "out" / "metrics.csv").is_file()
