"""Shared helpers: the real `merit` command and copies of fixture workspaces."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
MERIT = Path(sys.executable).parent / "merit"


def run_merit(*args, timeout: int = 600, cwd=None) -> subprocess.CompletedProcess:
    """Run the installed `merit` console script, as a user would."""
    assert MERIT.exists(), f"merit executable not found next to the interpreter: {MERIT}"
    return subprocess.run([str(MERIT), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


@pytest.fixture
def service_ws(tmp_path) -> Path:
    """A fresh copy of the hand-made service fixture workspace."""
    dest = tmp_path / "ws"
    shutil.copytree(FIXTURES / "service_ws", dest)
    return dest


def assert_user_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
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


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory) -> Path:
    """``merit demo`` with PDFs, written once per test run and shared by all workers: read it, never change it."""
    from filelock import FileLock

    from merit import usecases

    dest, lock = shared_dir(tmp_path_factory, "demo")
    done = dest / ".complete"
    with FileLock(str(lock)):
        if not done.exists():
            shutil.rmtree(dest, ignore_errors=True)
            usecases.demo(dest, pdf=True)
            done.write_text("")
    return dest
