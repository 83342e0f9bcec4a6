"""The ``merit`` Typer application and what its commands share: the consoles, the progress
display and the one way a user error leaves (its message on stderr, exit code 2).

Only MeritError (a user mistake) and Terminated (SIGTERM while writing) are caught;
anything else is a bug of merit's own and shows its traceback (exit 1).
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from merit import __version__
from merit.core.errors import MeritError
from merit.i18n import LANGUAGES, UnknownLanguage, check_language
from merit.usecases import Terminated

app = typer.Typer(
    name="merit",
    help="Rules-driven performance scoring for after-sales technical support teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_USER_ERROR = 2


def _language(value: str | None) -> str | None:
    """``--language`` as merit spells it (None: the cycle's, from cycle.yaml)."""
    if value is None:
        return None
    try:
        return check_language(value)
    except UnknownLanguage as exc:
        raise typer.BadParameter(str(exc)) from None


def language_option(what: str = "the documents") -> typer.models.OptionInfo:
    """``--language`` of the commands that write for people (run, render, export, panel)."""
    return typer.Option(None, "--language", callback=_language, metavar="|".join(reversed(LANGUAGES)),
                        help=f"The language of {what} ({', '.join(reversed(LANGUAGES))}; "
                             "default: cycle.yaml's language, else en).")


def backend_option() -> typer.models.OptionInfo:
    """``--backend`` of the commands that evaluate a cycle (run, render, check)."""
    return typer.Option(None, "--backend", metavar="ENGINE",
                        help="Evaluate on this engine instead of cycle.yaml's backend: duckdb, spark, local[N], "
                             "spark://host:port, sc://host:port or postgresql://user@host:port/db "
                             "(docs/backends.md).")


def fail(exc: MeritError) -> None:
    sys.stderr.write(f"error: {exc.format()}\n")
    raise typer.Exit(EXIT_USER_ERROR)


@contextmanager
def user_errors():
    try:
        yield
    except MeritError as exc:
        fail(exc)
    except Terminated as exc:
        stopped(exc)


def stopped(exc: Terminated) -> None:
    """SIGTERM reached a writer, which has cleaned up: say so, then end by the signal."""
    sys.stderr.write("merit: stopped by SIGTERM; what it was writing was discarded\n")
    sys.stderr.flush()
    signal.signal(exc.signum, signal.SIG_DFL)
    os.kill(os.getpid(), exc.signum)
    raise typer.Exit(128 + exc.signum)  # only if the signal did not end the process


def waiting(message: str) -> None:
    """Told while a writer waits for the workspace lock."""
    err.print(message)


@contextmanager
def progress_bar(enabled: bool = True):
    """A progress display whose callback takes a step name (and an optional fraction)."""
    if not enabled or not err.is_terminal:
        yield lambda step, fraction=None: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("starting", total=1.0)

        def update(step: str, fraction: float | None = None) -> None:
            if fraction is None:
                progress.update(task, description=step)
            else:
                progress.update(task, description=step, completed=fraction)

        yield update


def _version(value: bool) -> None:
    if value:
        out.print(f"merit {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Show the version and exit.")) -> None:
    """merit evaluates a performance cycle's data into scorecards through a YAML ruleset."""
