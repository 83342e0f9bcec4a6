"""The commands that write, one function each: the only place that takes the workspace lock.

``merit run``, ``render``, ``restore``, ``publish``, ``adjust``, ``revoke``,
``export``, ``diff`` (its CSVs), ``panel assign``, ``panel collect``,
``panel report`` and ``demo`` each call one
function of this module, and nothing else in merit calls
:func:`merit.core.lock.workspace_lock` (tests/test_writers.py checks it).  Each
function, through :func:`_writing`:

1. checks that every folder the command writes is writable (a read-only
   workspace, ``out/`` or ``.merit/`` is a clear error before any work);
2. takes the workspace lock (waiting for another writer, see merit.core.lock);
3. tidies what a killed writer left (staging folders, a half-swapped ``out/``);
4. turns SIGTERM into :class:`Terminated`, so that the clean-ups on the way
   out run (render workers stopped, staging removed, transactions rolled back,
   lock released) before the process ends;

and then calls the engine, which itself never locks.  Readers (``check``,
``history``, ``explain``, ``panel status``) do not come here.
"""

from __future__ import annotations

import datetime as dt
import functools
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable

from merit.core.errors import WorkspaceError
from merit.core.lock import NOT_ALLOWED, recover_outputs, require_writable, state_dir, workspace_lock

Progress = Callable[..., None]
OnWait = Callable[[str], None]


class Terminated(BaseException):
    """The process was sent SIGTERM while writing; raised to unwind the clean-ups.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception``
    stops it.  The CLI ends the process by the signal afterwards."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


@contextmanager
def _sigterm_unwinds():
    """While the body runs, SIGTERM raises Terminated (once; a second one is ignored during clean-up)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _writing(root: Path, *, writes: Iterable[Path] = (), replaces: Iterable[Path] = (),
             on_wait: OnWait | None = None):
    """Check that ``.merit/`` and *writes* (folders written into) and *replaces* (folders replaced as
    a whole, with everything below them) are writable; then hold the lock, recover, unwind on SIGTERM."""
    root = Path(root)
    state = state_dir(root)
    require_writable(state, *(sorted(state.iterdir()) if state.is_dir() else []), *writes)
    require_writable(*replaces, below=True)
    with _sigterm_unwinds(), _permission_errors(), workspace_lock(root, on_wait=on_wait):
        recover_outputs(root)
        if (root / "out").is_dir():
            recover_outputs(root / "out", "pdf")  # what a killed `merit render` left
        yield root


@contextmanager
def _permission_errors():
    """A file merit may not read or write (a permission changed under it since the check, an
    unreadable returned sheet) is the user's error, not a bug: name it, exit 2."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in NOT_ALLOWED or not exc.filename:
            raise
        raise WorkspaceError(f"not allowed: {exc.strerror}", file=str(exc.filename),
                             expected="read and write permission for the user running merit (and a file "
                                      "system not mounted read-only)") from None


def _root(workspace: Path | str) -> Path:
    from merit.core.workspace import open_workspace

    return open_workspace(workspace).root


# ------------------------------------------------------------------ the cycle
def run(workspace: Path | str, *, pdf: bool = True, ruleset: str | None = None, by: str | None = None,
        progress: Progress | None = None, on_wait: OnWait | None = None):
    """``merit run``: evaluate the cycle, write ``out/`` (and the PDFs), record the run."""
    from merit.core.pipeline import run_cycle

    root = _root(workspace)
    render = None
    if pdf:
        from merit.render.pdf import render_all

        render = functools.partial(render_all, progress=progress)
    with _writing(root, writes=[root], replaces=[root / "out"], on_wait=on_wait):
        return run_cycle(root, progress=progress, ruleset=ruleset, render_pdfs=render, by=by)


def demo(directory: Path | str, *, agents: int = 48, tickets: int | None = None, seed: int = 7,
         pdf: bool = True, progress: Progress | None = None, on_wait: OnWait | None = None):
    """``merit demo``: write the synthetic workspace's data, then run its cycle (both under the lock)."""
    from merit.demo import generate_workspace
    from merit.core.pipeline import run_cycle

    progress = progress or (lambda step, fraction=None: None)
    root = Path(directory).resolve()
    require_writable(root)
    root.mkdir(parents=True, exist_ok=True)
    render = None
    if pdf:
        from merit.render.pdf import render_all

        render = functools.partial(render_all, progress=progress)
    with _writing(root, writes=[root, root / "data"], replaces=[root / "out"], on_wait=on_wait):
        generate_workspace(root, agents=agents, tickets=tickets, seed=seed,
                           progress=lambda step, fraction=None: progress(f"demo data: {step}", fraction))
        return run_cycle(root, progress=progress, render_pdfs=render)


def render(workspace: Path | str, *, agents: list[str] | None = None, teams: list[str] | None = None,
           workers: int | None = None, progress: Progress | None = None,
           on_wait: OnWait | None = None) -> list[Path]:
    """``merit render``: the scorecard PDFs again, replacing ``out/pdf`` atomically."""
    from merit.render.pdf import render_workspace

    root = _root(workspace)
    with _writing(root, replaces=[root / "out"], on_wait=on_wait):
        return render_workspace(root, agents=agents, teams=teams, progress=progress, workers=workers)


def restore(workspace: Path | str, run_id: int, *, by: str | None = None,
            on_wait: OnWait | None = None) -> tuple[dict, Path]:
    """``merit restore``: a recorded run's outputs back into ``out/``. Returns (run, out folder)."""
    from merit.cycles import history

    root = _root(workspace)
    with _writing(root, writes=[root], replaces=[root / "out"], on_wait=on_wait):
        run = history.restore(root, run_id, by=history.default_user(by), out_dir=root / "out")
    return run, root / "out"


def publish(workspace: Path | str, *, by: str | None = None, run_id: int | None = None,
            on_wait: OnWait | None = None) -> tuple[dict, bool]:
    """``merit publish``: freeze a run. Returns (run, newly published)."""
    from merit.cycles import history

    root = _root(workspace)
    with _writing(root, on_wait=on_wait):
        return history.publish(root, by=history.default_user(by), run_id=run_id)


def adjust(workspace: Path | str, *, table: str, keys: tuple[str, ...], changes: list[tuple[str, str]],
           reason: str, by: str | None = None, on_wait: OnWait | None = None) -> list:
    """``merit adjust``: record adjustments of one record (merit.cycles.adjustments.Adjustment each)."""
    from merit.cycles import adjustments
    from merit.cycles import history

    root = _root(workspace)
    with _writing(root, on_wait=on_wait):
        return adjustments.record(root, table=table, keys=keys, changes=changes, reason=reason,
                                  by=history.default_user(by))


def revoke(workspace: Path | str, adj_id: int, *, reason: str, by: str | None = None,
           on_wait: OnWait | None = None):
    """``merit revoke``: revoke an active adjustment (merit.cycles.adjustments.Adjustment)."""
    from merit.cycles import adjustments
    from merit.cycles import history

    root = _root(workspace)
    with _writing(root, on_wait=on_wait):
        return adjustments.revoke(root, adj_id, reason=reason, by=history.default_user(by))


def export(workspace: Path | str, *, out: Path | None = None, run_id: int | None = None,
           on_wait: OnWait | None = None) -> Path:
    """``merit export``: the HR workbook (read under the lock, so never from a half-swapped ``out/``)."""
    from merit.cycles.export import export_xlsx

    root = _root(workspace)
    target = Path(out).resolve().parent if out is not None else root / "exports"
    with _writing(root, writes=[target], on_wait=on_wait):
        return export_xlsx(root, out=out, run_id=run_id)


def diff(workspace: Path | str, ruleset: str, *, csv_out: Path | None = None,
         progress: Progress | None = None, on_wait: OnWait | None = None):
    """``merit diff``: the cycle under another ruleset; writes the changed agents and the distribution
    as CSV. Returns (merit.cycles.whatif.WhatIf, written paths)."""
    from merit.cycles.whatif import what_if, write_csvs

    root = _root(workspace)
    target = Path(csv_out).resolve().parent if csv_out is not None else root / "whatif"
    with _writing(root, writes=[target], on_wait=on_wait):
        result = what_if(root, ruleset, progress=progress)
        return result, write_csvs(result, csv_out)


# ------------------------------------------------------------------ the expert panel
def _panel(root: Path):
    from merit.panel.assignment import load_panel
    from merit.core.workspace import open_workspace

    return load_panel(open_workspace(root))


def panel_assign(workspace: Path | str, *, progress: Progress | None = None, on_wait: OnWait | None = None):
    """``merit panel assign``: new assignments and every assigned panelist's sheets (merit.panel.assignment.AssignResult)."""
    from merit.panel.assignment import assign

    root = _root(workspace)
    panel = _panel(root)
    with _writing(root, writes=[panel.folder], replaces=[panel.sheets_dir], on_wait=on_wait):
        return assign(root, progress=progress)


def panel_collect(workspace: Path | str, sheets: list[Path] | None = None, *, at: dt.datetime | None = None,
                  progress: Progress | None = None, on_wait: OnWait | None = None):
    """``merit panel collect``: merge returned sheets into grades.csv and the audit trail, all or nothing
    (merit.panel.collect.CollectResult).  Under the lock, so concurrent collects keep every grade."""
    from merit.panel.collect import collect
    from merit.core.workspace import open_workspace

    ws = open_workspace(workspace)
    with _writing(ws.root, writes=[_panel(ws.root).folder, ws.data_dir], on_wait=on_wait):
        return collect(ws.root, sheets, at=at, progress=progress)


def panel_report(workspace: Path | str, *, pdf: bool = True, progress: Progress | None = None,
                 on_wait: OnWait | None = None):
    """``merit panel report``: report.csv, panelists.csv, agreement.csv (and report.pdf) in the panel
    folder (merit.panel.report.Report)."""
    from merit.panel.report import report

    root = _root(workspace)
    with _writing(root, writes=[_panel(root).folder], on_wait=on_wait):
        return report(root, pdf=pdf, progress=progress)
