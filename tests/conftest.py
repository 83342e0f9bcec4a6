"""Shared helpers: the real `merit` command and copies of fixture workspaces."""

from __future__ import annotations

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
