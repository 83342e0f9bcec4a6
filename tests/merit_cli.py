"""Running the `merit` command from tests: in-process by default, as a real process where that matters.

Starting `merit` as a process costs 1.5-3 s of imports, so most tests run the command in this
process (:func:`run_merit`): same arguments, same exit codes, stdout and stderr apart, and a bug's
traceback on stderr with exit code 1, as the real process would give.  A few end-to-end tests
(signals, killed runs, the lock between processes, the installed script) need a real process:
:func:`run_merit_subprocess`.

In-process runs share the test process, so each run puts back what a command may change: the
working folder, environment variables, signal handlers and the rich consoles (made afresh for each
run, so that colours and widths are those of a captured stream, never of the test's terminal).
They render PDFs in this process (``MERIT_RENDER_WORKERS=1``, set by tests/conftest.py for the
whole suite): a pool of render processes would start Python and merit again for every run.  The
pool itself is tested by the killed runs of tests/test_writers.py.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

MERIT = Path(sys.executable).parent / "merit"
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class MeritResult:
    """What a finished `merit` left: like subprocess.CompletedProcess."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_merit_subprocess(*args, timeout: int = 600, cwd=None, env: Mapping[str, str] | None = None,
                         **popen) -> subprocess.CompletedProcess:
    """Run the installed `merit` console script in its own process, as a user would."""
    assert MERIT.exists(), f"merit executable not found next to the interpreter: {MERIT}"
    return subprocess.run([str(MERIT), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=None if env is None else {**os.environ, **env}, **popen)


def run_merit(*args, timeout: int = 600, cwd=None, env: Mapping[str, str] | None = None) -> MeritResult:
    """Run `merit ARGS` in this process (``timeout`` is accepted for the subprocess's signature only)."""
    from typer.testing import CliRunner

    argv = [str(a) for a in args]
    command = _command()
    with _restored_process_state(cwd), CliRunner().isolation(env=dict(env or {})) as (out, err, _):
        with _fresh_consoles():
            try:
                command.main(args=argv, prog_name="merit")
                code = 0
            except SystemExit as exc:  # how click ends every command, with its exit code
                code = _exit_code(exc)
            except Exception:  # a bug of merit's: what Python prints for an uncaught exception
                sys.stderr.write(traceback.format_exc())
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
        stdout, stderr = (stream.getvalue().decode("utf-8", "replace") for stream in (out, err))
    return MeritResult(["merit", *argv], code, stdout, stderr)


@functools.cache
def _command():
    """The click command of merit's application, made once per process (Typer builds it afresh on
    every call, about 10 ms; it holds no state of a run)."""
    from typer.main import get_command

    from merit.cli.main import app

    return get_command(app)


class MeritProcess:
    """One real process, started once (as *prefix* says, e.g. as another user), that runs `merit`
    commands in-process on request: the OS sees that process and its user, while each command
    costs what it does, not the start of Python and merit's imports."""

    SERVE = (
        "import json, os, sys\n"
        "replies = os.fdopen(os.dup(1), 'w', encoding='utf-8')\n"
        "os.dup2(2, 1)  # anything else written to stdout goes to stderr, not into the replies\n"
        "from tests.merit_cli import run_merit\n"
        "for line in sys.stdin:\n"
        "    ask = json.loads(line)\n"
        "    done = run_merit(*ask['args'], cwd=ask['cwd'], env=ask['env'])\n"
        "    replies.write(json.dumps(vars(done)) + '\\n')\n"
        "    replies.flush()\n"
    )

    def __init__(self, prefix: list[str] = (), *, log: Path):
        self.log = Path(log)
        with open(self.log, "wb") as err:
            self._proc = subprocess.Popen([*prefix, sys.executable, "-c", self.SERVE], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=err, text=True, encoding="utf-8",
                                          cwd=Path(__file__).resolve().parent.parent)

    def __call__(self, *args, cwd=None, env: Mapping[str, str] | None = None) -> MeritResult:
        import json

        ask = {"args": [str(a) for a in args], "cwd": None if cwd is None else str(cwd), "env": dict(env or {})}
        self._proc.stdin.write(json.dumps(ask) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the merit process ended: {self.log.read_text(errors='replace')[-2000:]}")
        return MeritResult(**json.loads(line))

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait(timeout=60)


def _exit_code(exc: SystemExit) -> int:
    """The process's exit code for ``sys.exit(exc.code)``; a message is printed to stderr, as Python does."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    sys.stderr.write(f"{exc.code}\n")
    return 1


@contextmanager
def _restored_process_state(cwd) -> Iterator[None]:
    """Run the body in *cwd* (if given); afterwards the folder and signal handlers are as before."""
    before = os.getcwd()
    handlers = {sig: signal.getsignal(sig) for sig in HANDLED_SIGNALS}
    try:
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(before)
        for sig, handler in handlers.items():
            if signal.getsignal(sig) is not handler and handler is not None:
                signal.signal(sig, handler)


@contextmanager
def _fresh_consoles() -> Iterator[None]:
    """Replace every rich Console held by a module of merit.cli with a new one of the same settings,
    made now, while the captured streams are current (a console decides on colours when it is made)."""
    from rich.console import Console

    saved = [(module, attr, value) for name, module in list(sys.modules.items())
             if name.startswith("merit.cli") and module is not None
             for attr, value in list(vars(module).items()) if isinstance(value, Console)]
    try:
        for module, attr, old in saved:
            setattr(module, attr, Console(stderr=old.stderr, highlight=old._highlight, soft_wrap=old.soft_wrap,
                                          markup=old._markup, emoji=old._emoji, tab_size=old.tab_size))
        yield
    finally:
        for module, attr, old in saved:
            setattr(module, attr, old)
