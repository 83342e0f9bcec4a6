"""Shared helpers: the `merit` command (in-process, or as a real process), copies of fixture
workspaces, and workspaces built once per test run and shared by every xdist worker."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from tests.merit_cli import MERIT, MeritResult, run_merit, run_merit_subprocess  # noqa: F401 (tests import them)
# the real Spark session and PostgreSQL server of the backend tests, as fixtures `spark_session`, `postgres_url`
from tests.backend_servers import postgres_url_fixture, spark_session_fixture  # noqa: F401 (fixtures)

FIXTURES = Path(__file__).parent / "fixtures"

# Two xdist workers share the two cores: one DuckDB thread per merit run wastes less on the
# tests' small tables (an environment variable, so merit processes started by tests get it too).
os.environ.setdefault("MERIT_THREADS", "1")
# and PDFs rendered in the run's own process: starting render processes (a fresh Python that
# imports WeasyPrint and reads the fonts) costs more than a test's few PDFs take to render.
# tests/test_writers.py starts render processes on purpose.
os.environ.setdefault("MERIT_RENDER_WORKERS", "1")

# The test files that take longest, longest first.  xdist (``--dist loadfile``, see pyproject.toml)
# hands each worker whole files in collection order: starting with the longest, the workers end
# together.  A file not listed runs after these, in its usual order.  Re-rank with --durations.
LONGEST_FIRST = ["test_backend_conformance.py", "test_outputs_pinned.py", "test_render.py", "test_cycles.py",
                 "test_privacy.py", "test_writers.py", "test_full_metrics.py", "test_panel.py", "test_fairness.py",
                 "test_packaging.py", "test_check_catches.py", "test_safety_sheets.py", "test_cli.py"]


def pytest_collection_modifyitems(items):
    """Longest files first (LONGEST_FIRST); inside a file, the tests that read the shared demo
    workspace last, so that another worker has built it by then."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def order(pair):
        index, item = pair
        waits = "demo_ws" in getattr(item, "fixturenames", ()) and item.path.name != LONGEST_FIRST[0]
        return rank.get(item.path.name, len(rank)), waits, index

    items[:] = [item for _, item in sorted(enumerate(items), key=order)]


@pytest.fixture
def service_ws(tmp_path) -> Path:
    """A fresh copy of the hand-made service fixture workspace."""
    dest = tmp_path / "ws"
    shutil.copytree(FIXTURES / "service_ws", dest)
    return dest


def assert_user_error(proc, *needles: str) -> None:
    """Exit code 2, a message naming what is wrong, and no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


def shared_dir(tmp_path_factory, name: str) -> tuple[Path, Path]:
    """A folder shared by every xdist worker of this test run, and the lock that guards its creation."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above the per-worker ones
    return base / name, base / f"{name}.lock"


def build_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder *name*, made by ``build(folder)`` once per test run whichever worker asks first;
    the others wait for it.  Read it, never change it: copy it (``copy_of``) to change it."""
    from filelock import FileLock

    dest, lock = shared_dir(tmp_path_factory, name)
    done = dest.with_name(f"{name}.complete")
    with FileLock(str(lock)):
        if not done.exists():
            shutil.rmtree(dest, ignore_errors=True)
            build(dest)
            done.write_text("")
    return dest


def copy_of(src: Path, dest: Path) -> Path:
    """A private copy of a shared workspace, to change."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory) -> Path:
    """``merit demo`` written once per test run and shared by all workers: read it, never change it.

    Its PDFs are those of every fourth agent (in scores.csv's order: a dozen, from every team) and of
    every team, rendered in this process by the run itself: a PDF's bytes do not depend on which
    others are rendered with it, and rendering all 50 would cost a minute of the suite's two."""
    from merit.cycles.run import run_cycle
    from merit.demo import generate_workspace
    from merit.render.pdf import render_all

    def some_pdfs(prep, evaluation, scores, stage):
        table = scores.table
        return render_all(prep, evaluation, scores, stage, agents=table["agent_id"].tolist()[::4],
                          teams=sorted(set(table["team"])), workers=1)

    def build(dest: Path) -> None:
        generate_workspace(dest)
        run_cycle(dest, render_pdfs=some_pdfs)

    return build_once(tmp_path_factory, "demo", build)


@pytest.fixture(scope="session")
def service_rendered(tmp_path_factory) -> Path:
    """The hand-made service fixture after ``merit run`` (PDFs included), once per test run for all
    workers: read it, never change it (``copy_of`` it to change it)."""
    def build(dest: Path) -> None:
        shutil.copytree(FIXTURES / "service_ws", dest, ignore=shutil.ignore_patterns("out", ".out*"))
        proc = run_merit("run", dest)
        assert proc.returncode == 0, proc.stderr

    return build_once(tmp_path_factory, "service-rendered", build)


def pdf_text(path: Path, mode: str = "-layout") -> str:
    """The text of the PDF at *path* as pdftotext gives it (``-layout``, or ``-raw``: in the order it
    was written), read once per process for each version of the file (0.2 s a scorecard)."""
    stat = Path(path).stat()
    return _pdftotext(str(path), mode, (stat.st_ino, stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=256)
def _pdftotext(path: str, mode: str, _version: tuple) -> str:
    return subprocess.run(["pdftotext", mode, path, "-"], check=True, capture_output=True, text=True).stdout

