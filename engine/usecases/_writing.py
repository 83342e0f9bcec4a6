"""How every command that writes runs: the only place in merit that takes the workspace lock.

:func:`writing`, around the engine call of each writing use case:

1. checks that every folder the command writes is writable (a read-only
   workspace, ``out/`` or ``.merit/`` is a clear error before any work);
2. takes the workspace lock (waiting for another writer, see merit.core.lock);
3. tidies what a killed writer left (staging folders, a half-swapped ``out/``);
4. turns SIGTERM into :class:`Terminated`, so that the clean-ups on the way
   out run (render workers stopped, staging removed, transactions rolled back,
   lock released) before the process ends.

The engine itself never locks.
"""

from __future__ import annotations

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
def writing(root: Path, *, writes: Iterable[Path] = (), replaces: Iterable[Path] = (),
            on_wait: OnWait | None = None):
    """Check that ``.merit/`` and *writes* (folders written into) and *replaces* (folders replaced as
    a whole, with everything below them) are writable; then hold the lock, recover, unwind on SIGTERM."""
    root, replaces = Path(root), list(replaces)
    state = state_dir(root)
    require_writable(state, *(sorted(state.iterdir()) if state.is_dir() else []), *writes)
    require_writable(*replaces, below=True)
    with _sigterm_unwinds(), _permission_errors(), workspace_lock(root, on_wait=on_wait):
        recover_outputs(root)
        if (root / "out").is_dir():
            recover_outputs(root / "out", "pdf")  # what a killed `merit render` left
        for folder in replaces:  # e.g. the panel's sheets/, replaced as a whole by `panel assign`
            if Path(folder).parent.is_dir():
                recover_outputs(Path(folder).parent, Path(folder).name)
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


def workspace_root(workspace: Path | str) -> Path:
    """The root folder of the workspace at *workspace* (a user error if it is none)."""
    from merit.core.workspace import open_workspace

    return open_workspace(workspace).root
