"""Writers are robust against each other, against being killed and against read-only folders.

* every writer command takes the workspace lock in one place (engine/usecases/_writing.py), so five
  concurrent `merit panel collect` keep every grade;
* killing `merit run` (SIGTERM, or SIGKILL of the parent) ends its render workers;
* a read-only workspace, out/ or .merit/ is a clear error (exit 2) that leaves nothing behind.

Concurrency, killing and permissions are about processes: those commands run as real `merit`
processes; preparing a workspace (a first run, the sheets) runs in-process.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, MERIT, assert_user_error, run_merit
from tests.merit_cli import MeritProcess
from tests.panelist import fill_csv, fill_xlsx, read_csv
from tests.test_panel import PANEL, make_ws

REPO = Path(__file__).resolve().parent.parent


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc


def digest(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ 1. one place takes the lock
def test_concurrent_panel_collects_keep_every_grade(tmp_path):
    """Five panelists' sheets collected by five merit processes at once: all 24 grades are kept
    (8 items of the cycle × per_item 3), and grades.csv and audit.csv say the same."""
    ws = make_ws(tmp_path, PANEL, grades=False)
    ok(run_merit("panel", "assign", ws))
    assigned: dict[str, list[str]] = {}
    for r in read_csv(ws / "panel" / "assignments.csv"):
        assigned.setdefault(r["panelist"], []).append(r["item_id"])
    assert sorted(assigned) == ["A1", "B2", "E1", "E2", "E3"]
    sheets = ws / "panel" / "sheets"
    plan = {"E1": "S", "E2": "C", "E3": "B", "A1": "A", "B2": "B"}
    expected = set()
    returned = []
    for i, (pid, grade) in enumerate(plan.items()):
        grades = {item: grade for item in assigned[pid]}
        expected |= {(item, pid, grade) for item in assigned[pid]}
        dest = tmp_path / "returned" / (f"{pid}.csv" if i % 2 else f"{pid}.xlsx")
        (fill_csv if i % 2 else fill_xlsx)(sheets / dest.name, dest, grades)
        returned.append(dest)
    assert len(expected) == 24

    procs = [subprocess.Popen([str(MERIT), "panel", "collect", str(ws), str(path), "--at", "2026-10-05 10:00"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for path in returned]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err

    grades = {(g["item_id"], g["panelist"], g["grade"]) for g in read_csv(ws / "data" / "grades.csv")}
    audit = read_csv(ws / "panel" / "audit.csv")
    assert len(read_csv(ws / "data" / "grades.csv")) == 24
    assert grades == expected
    assert len(audit) == 24
    assert {(a["item_id"], a["panelist"], a["after"]) for a in audit} == expected
    assert all(a["before"] == "" for a in audit)


def _lock_users() -> list[str]:
    """Every module of merit (outside tests and engine/core/lock.py) that uses workspace_lock."""
    found = []
    for path in sorted(REPO.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith((".venv/", "tests/", "build/")) or "/site-packages/" in rel or rel == "engine/core/lock.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Name):
                names = [node.id]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, ast.ImportFrom):
                names = [a.name for a in node.names]
            if "workspace_lock" in names:
                found.append(rel)
                break
    return found


def test_only_the_use_case_layer_takes_the_workspace_lock():
    assert (REPO / "engine" / "usecases" / "_writing.py").is_file()
    assert _lock_users() == ["engine/usecases/_writing.py"]


# ------------------------------------------------------------------ 2. a killed run ends its workers
def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by its new parent, counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _tagged(tag: str) -> list[int]:
    """The running processes whose environment holds MERIT_TEST_RUN=*tag*."""
    wanted = f"MERIT_TEST_RUN={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "environ").read_bytes().split(b"\0") and _alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


@pytest.fixture(scope="module")
def demo12(tmp_path_factory) -> Path:
    from merit.demo import generate_workspace

    return generate_workspace(tmp_path_factory.mktemp("demo") / "ws", agents=12)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the worker processes")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_run_ends_its_render_workers(demo12, tmp_path, sig):
    ws = tmp_path / "ws"
    shutil.copytree(demo12, ws)
    tag = f"killed-{uuid.uuid4().hex}"  # in the environment of the run and of every process it starts
    proc = subprocess.Popen([str(MERIT), "run", str(ws)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "MERIT_LOCK_TIMEOUT": "5", "MERIT_RENDER_WORKERS": "2",
                                 "MERIT_TEST_RUN": tag})
    staging = ws / f".out.staging-{proc.pid}"
    workers: list[int] = []
    deadline = time.monotonic() + 600
    # killed once its render workers exist and the first scorecard has landed in staging
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [k for k in _children(proc.pid) if "spawn_main" in _cmdline(k)]
        if workers and any(f.endswith(".pdf") for f in _files(staging)):
            break
        time.sleep(0.05)
    try:
        assert proc.poll() is None, "the run finished before it could be killed"
        assert workers  # one per core, up to one per PDF
        proc.send_signal(sig)
        proc.wait(timeout=60)
        assert proc.returncode == -sig, proc.stderr.read()
        landed = _files(staging)

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _tagged(tag):
            time.sleep(0.05)
        assert not [w for w in workers if _alive(w)], "render workers survived their run"
        # no process of the run is left, whatever its parent now (one started after `workers` was
        # read too), and none landed a PDF after the run had died
        assert _tagged(tag) == []
        assert _files(staging) == landed, "PDFs landed in the dead run's staging folder"
    finally:  # a failing test leaves no process behind
        for w in workers:
            if _alive(w) and "spawn_main" in _cmdline(w):
                os.kill(w, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGTERM:
        assert not staging.exists()  # the run cleaned up after itself
    assert not (ws / "out").exists()  # never swapped in
    # the next writer tidies whatever is left and runs normally
    ok(run_merit("run", ws, "--no-pdf"))
    assert not [p.name for p in ws.iterdir() if p.name.startswith(".out.")]


# ------------------------------------------------------------------ 3. read-only folders
NOBODY = 65534


def _unprivileged() -> list[str] | None:
    """A command prefix that runs merit as a user whom file permissions stop (root ignores them)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv"):
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return None


@pytest.fixture(scope="module")
def unprivileged_merit(tmp_path_factory):
    """A real process running as a user whom file permissions stop, that runs merit commands;
    skips if there is no such user here."""
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: no way to run merit as a user that permissions stop")
    merit = MeritProcess(prefix, log=tmp_path_factory.mktemp("unprivileged") / "stderr.txt")
    try:
        probe = merit("--version", cwd="/")
        if probe.returncode != 0:
            pytest.skip(f"cannot run merit as an unprivileged user here: {probe.stderr.strip()[:200]}")
        yield merit
    except RuntimeError as exc:  # the process could not start as that user
        pytest.skip(f"cannot run merit as an unprivileged user here: {str(exc)[:300]}")
    finally:
        merit.close()


@pytest.fixture(scope="module")
def recorded_service_ws(tmp_path_factory) -> Path:
    """The service fixture with one recorded run (by "first"), made once for the module."""
    ws = tmp_path_factory.mktemp("recorded") / "ws"
    shutil.copytree(FIXTURES / "service_ws", ws)
    ok(run_merit("run", ws, "--no-pdf", "--by", "first"))
    return ws


@pytest.fixture
def ro_ws(unprivileged_merit, recorded_service_ws):
    """A recorded run of the service fixture, owned by the unprivileged user who runs merit here
    (outside pytest's private tmp folder, which that user cannot enter)."""
    base = Path(tempfile.mkdtemp(prefix="merit-ro-"))
    base.chmod(0o755)
    ws = base / "ws"
    shutil.copytree(recorded_service_ws, ws, symlinks=True)
    env = {"HOME": str(base), "MERIT_LOCK_TIMEOUT": "5"}
    if os.geteuid() == 0:
        for p in [base, *base.rglob("*")]:
            os.chown(p, NOBODY, NOBODY, follow_symlinks=False)

    def merit(*args):
        return unprivileged_merit(*args, cwd=base, env=env)
    try:
        yield ws, merit
    finally:
        for p in [base, *base.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


COMMANDS = {
    "run": ["run", "{ws}", "--no-pdf"],
    "render": ["render", "{ws}", "--agent", "A1"],
    "restore": ["restore", "{ws}", "1"],
    "publish": ["publish", "{ws}"],
    "adjust": ["adjust", "{ws}", "--ticket", "T02", "--set", "rating=good", "--reason", "r"],
    "export": ["export", "{ws}"],
}


@pytest.mark.parametrize("target, command", [
    ("workspace", "run"), ("workspace", "restore"), ("workspace", "export"),
    ("out", "run"), ("out", "render"), ("out", "restore"),
    (".merit", "run"), (".merit", "publish"), (".merit", "adjust"), (".merit", "render"),
])
def test_read_only_folder_is_a_clear_error_that_leaves_nothing(ro_ws, target, command):
    ws, merit = ro_ws
    folder = ws if target == "workspace" else ws / target
    before_out = digest(ws / "out")
    before_state = digest(ws / ".merit")
    folder.chmod(0o555)
    try:
        proc = merit(*[a.format(ws=ws) for a in COMMANDS[command]])
    finally:
        folder.chmod(0o755)
    assert_user_error(proc, f"{folder}: ", "not writable")
    assert not [p.name for p in ws.iterdir() if p.name.startswith(".out.")]  # no staging, no .out.old-*
    assert not [p.name for p in (ws / "out").iterdir() if p.name.startswith(".pdf.")]
    assert digest(ws / "out") == before_out
    assert digest(ws / ".merit") == before_state
    assert not (ws / "exports").exists()
    ok(merit("run", ws, "--no-pdf"))  # writable again: works
