"""One merit process at a time per workspace: an exclusive lock on ``WORKSPACE/.merit/lock``.

Every command that writes (``run``, ``render``, ``restore``, ``publish``,
``adjust``, ``revoke``, ``export``, ``panel assign``, ``panel collect``, and
``demo``) holds an exclusive ``fcntl.flock`` on the lock file for its whole
duration.  The lock is taken in one place only, :mod:`merit.usecases`.  A second process waits for it up to a timeout (``MERIT_LOCK_TIMEOUT``
seconds, default 120) and then fails with a clear :class:`LockError` naming the
pid that holds it.  The kernel releases a ``flock`` when its process dies, so a
killed run never leaves a stale lock behind; the pid written into the file is
only information for the message.

While the lock is held, :func:`recover_outputs` tidies what a killed run may
have left beside ``out/``: staging folders (``.out.staging-<pid>``) are removed,
and if a run died between its two renames (``out`` → ``.out.old-<pid>``,
staging → ``out``) the previous outputs are put back.

:func:`require_writable` checks, before a writer starts, that the folders it
will write can be written, so that a read-only workspace, ``out/`` or
``.merit/`` is a clear error instead of a traceback halfway through.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from merit.core.errors import MeritError, WorkspaceError

STATE_DIR = ".merit"
LOCK_FILE = "lock"
DEFAULT_TIMEOUT = 120.0
POLL_SECONDS = 0.1


class LockError(MeritError):
    """Another merit process is working on the workspace."""


def state_dir(root: Path) -> Path:
    return Path(root) / STATE_DIR


def lock_timeout(value: float | None = None) -> float:
    """The wait: *value* if given, else ``$MERIT_LOCK_TIMEOUT``, else DEFAULT_TIMEOUT seconds."""
    if value is not None:
        return max(0.0, float(value))
    env = os.environ.get("MERIT_LOCK_TIMEOUT", "").strip()
    if env:
        try:
            return max(0.0, float(env))
        except ValueError:
            raise MeritError(f"MERIT_LOCK_TIMEOUT is '{env}', not a number of seconds",
                             expected="a number of seconds, e.g. 30") from None
    return DEFAULT_TIMEOUT


NOT_ALLOWED = (errno.EACCES, errno.EPERM, errno.EROFS)  # permission denied, read-only file system
NOT_WRITABLE = ("write permission for the user running merit (and a file system not mounted "
                "read-only); merit writes only when it can write everything it needs")


def require_writable(*paths: Path, below: bool = False) -> None:
    """Raise a WorkspaceError naming the first of *paths* that merit could not write.

    A path that does not exist yet needs its nearest existing parent to be
    writable.  With *below*, every folder under an existing folder must be
    writable too (replacing ``out/`` deletes its old contents folder by
    folder)."""
    for path in paths:
        path = Path(path)
        target = path
        while not target.exists() and target != target.parent:
            target = target.parent
        checked = [target]
        if below and target == path and path.is_dir():
            checked += [Path(d) / name for d, names, _ in os.walk(path) for name in sorted(names)]
        for one in checked:
            if not os.access(one, os.W_OK):
                raise WorkspaceError("not writable", file=str(one), expected=NOT_WRITABLE)


def _open_lock_file(path: Path) -> int:
    try:
        path.parent.mkdir(exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno not in NOT_ALLOWED:
            raise
        # checked beforehand by require_writable; this is a race with a chmod
        raise WorkspaceError("not writable: the workspace lock cannot be taken", file=str(path),
                             expected=NOT_WRITABLE) from None


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode("utf-8", errors="replace").strip()
    except OSError:
        return "unknown"
    return text.split()[0] if text else "unknown"


@contextmanager
def workspace_lock(root: Path | str, *, timeout: float | None = None,
                   on_wait: Callable[[str], None] | None = None):
    """Hold the workspace's exclusive lock for the body of the ``with``.

    Only :mod:`merit.usecases` calls this (a test checks it)."""
    path = state_dir(Path(root)) / LOCK_FILE
    wait = lock_timeout(timeout)
    fd = _open_lock_file(path)
    try:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            holder = _holder(fd)
            if time.monotonic() >= deadline:
                raise LockError(
                    f"another merit process is working on this workspace (pid {holder}); "
                    f"waited {wait:g} s",
                    file=str(path),
                    expected="wait for it to finish and try again, or set MERIT_LOCK_TIMEOUT "
                             "to wait longer")
            if on_wait is not None and not told:
                on_wait(f"waiting for the workspace lock (held by pid {holder})")
                told = True
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        try:
            yield path
        finally:
            try:
                os.ftruncate(fd, 0)
            except OSError:  # pragma: no cover
                pass
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def recover_outputs(root: Path | str, out_name: str = "out") -> list[str]:
    """Clean up after a killed writer (call with the lock held). Returns what was done."""
    root = Path(root)
    out_dir = root / out_name
    done: list[str] = []
    olds = sorted(root.glob(f".{out_name}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not out_dir.exists() and olds:
        # killed between "out -> .out.old" and "staging -> out": the old outputs are the good ones
        os.replace(olds[0], out_dir)
        done.append(f"restored {out_name}/ from {olds[0].name}")
        olds = olds[1:]
    for stale in olds + sorted(root.glob(f".{out_name}.staging-*")):
        shutil.rmtree(stale, ignore_errors=True)
        done.append(f"removed {stale.name}")
    return done
