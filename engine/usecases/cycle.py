"""The cycle's writing commands: run, demo, render, restore, publish, adjust, revoke, export, diff.

Each runs the engine inside :func:`merit.usecases._writing.writing` (the lock and
its checks).  The engine modules are imported when a command runs, so that
``merit --help`` and the readers start without loading what they do not use.
"""

from __future__ import annotations

import functools
from pathlib import Path

from merit.core.errors import MeritError
from merit.usecases._writing import OnWait, Progress, workspace_root, writing


def checked_language(language: str | None) -> str | None:
    """*language* as merit spells it (None stays None: the cycle's ``language``); an unknown one
    is refused with the languages merit writes."""
    from merit.i18n import LANGUAGES, UnknownLanguage, check_language

    if language is None:
        return None
    try:
        return check_language(language)
    except UnknownLanguage:
        raise MeritError(f"unknown language '{language}'", expected=", ".join(LANGUAGES)) from None


def _pdf_renderer(pdf: bool, progress: Progress | None, language: str | None = None):
    if not pdf:
        return None
    from merit.render.pdf import render_all

    return functools.partial(render_all, progress=progress, language=language)


def run(workspace: Path | str, *, pdf: bool = True, ruleset: str | None = None, by: str | None = None,
        progress: Progress | None = None, on_wait: OnWait | None = None, language: str | None = None,
        backend: str | None = None):
    """``merit run``: evaluate the cycle, write ``out/`` (and the PDFs, in *language*; None: the
    cycle's), record the run (merit.cycles.run.RunResult)."""
    from merit.cycles.run import run_cycle

    root = workspace_root(workspace)
    render = _pdf_renderer(pdf, progress, checked_language(language))
    with writing(root, writes=[root], replaces=[root / "out"], on_wait=on_wait):
        return run_cycle(root, progress=progress, ruleset=ruleset, render_pdfs=render, by=by, backend=backend)


def demo(directory: Path | str, *, agents: int = 48, tickets: int | None = None, seed: int = 7,
         pdf: bool = True, progress: Progress | None = None, on_wait: OnWait | None = None):
    """``merit demo``: write the synthetic workspace's data, then run its cycle (both under the lock)."""
    from merit.core.lock import require_writable
    from merit.cycles.run import run_cycle
    from merit.demo import generate_workspace

    progress = progress or (lambda step, fraction=None: None)
    root = Path(directory).resolve()
    require_writable(root)
    root.mkdir(parents=True, exist_ok=True)
    render = _pdf_renderer(pdf, progress)
    with writing(root, writes=[root, root / "data"], replaces=[root / "out"], on_wait=on_wait):
        generate_workspace(root, agents=agents, tickets=tickets, seed=seed,
                           progress=lambda step, fraction=None: progress(f"demo data: {step}", fraction))
        return run_cycle(root, progress=progress, render_pdfs=render)


def render(workspace: Path | str, *, agents: list[str] | None = None, teams: list[str] | None = None,
           workers: int | None = None, progress: Progress | None = None,
           on_wait: OnWait | None = None, language: str | None = None, backend: str | None = None) -> list[Path]:
    """``merit render``: the scorecard PDFs again (in *language*; None: the cycle's), replacing
    ``out/pdf`` atomically."""
    from merit.render.pdf import render_workspace

    root = workspace_root(workspace)
    language = checked_language(language)
    with writing(root, replaces=[root / "out"], on_wait=on_wait):
        return render_workspace(root, agents=agents, teams=teams, progress=progress, workers=workers,
                                language=language, backend=backend)


def restore(workspace: Path | str, run_id: int, *, by: str | None = None,
            on_wait: OnWait | None = None) -> tuple[dict, Path]:
    """``merit restore``: a recorded run's outputs back into ``out/``. Returns (run, out folder)."""
    from merit.cycles import history

    root = workspace_root(workspace)
    with writing(root, writes=[root], replaces=[root / "out"], on_wait=on_wait):
        run = history.restore(root, run_id, by=history.default_user(by), out_dir=root / "out")
    return run, root / "out"


def publish(workspace: Path | str, *, by: str | None = None, run_id: int | None = None,
            on_wait: OnWait | None = None) -> tuple[dict, bool]:
    """``merit publish``: freeze a run. Returns (run, newly published)."""
    from merit.cycles import history

    root = workspace_root(workspace)
    with writing(root, on_wait=on_wait):
        return history.publish(root, by=history.default_user(by), run_id=run_id)


def adjust(workspace: Path | str, *, ticket: str | None = None, grade: str | None = None,
           panelist: str | None = None, sets: list[str], reason: str, by: str | None = None,
           on_wait: OnWait | None = None) -> list:
    """``merit adjust``: record adjustments of one record, a ticket or a panelist's grade of a
    knowledge item (``grade`` as ITEM_ID:PANELIST, or ITEM_ID with ``panelist``); *sets*:
    FIELD=VALUE texts.  Returns merit.cycles.adjustments.Adjustment each."""
    from merit.cycles import adjustments, history

    table, keys = _adjusted_record(ticket, grade, panelist)
    changes = [adjustments.parse_set(s) for s in sets]
    root = workspace_root(workspace)
    with writing(root, on_wait=on_wait):
        return adjustments.record(root, table=table, keys=keys, changes=changes, reason=reason,
                                  by=history.default_user(by))


def _adjusted_record(ticket: str | None, grade: str | None, panelist: str | None) -> tuple[str, tuple[str, ...]]:
    """The table and key of the record ``merit adjust`` names."""
    from merit.cycles.adjustments import AdjustmentError

    if (ticket is None) == (grade is None):
        raise AdjustmentError("say what to adjust: --ticket ID or --grade ITEM_ID:PANELIST (one of them)")
    if ticket is not None:
        return "tickets", (ticket.strip(),)
    if panelist is None:
        if ":" not in grade:
            raise AdjustmentError(f"--grade '{grade}' does not name the panelist",
                                  expected="--grade ITEM_ID:PANELIST, or --grade ITEM_ID --panelist PANELIST")
        grade, _, panelist = grade.rpartition(":")
    return "grades", (grade.strip(), panelist.strip())


def revoke(workspace: Path | str, adj_id: int, *, reason: str, by: str | None = None,
           on_wait: OnWait | None = None):
    """``merit revoke``: revoke an active adjustment (merit.cycles.adjustments.Adjustment)."""
    from merit.cycles import adjustments, history

    root = workspace_root(workspace)
    with writing(root, on_wait=on_wait):
        return adjustments.revoke(root, adj_id, reason=reason, by=history.default_user(by))


EXPORT_FORMATS = ("xlsx",)


def export(workspace: Path | str, *, fmt: str = "xlsx", out: Path | None = None, run_id: int | None = None,
           on_wait: OnWait | None = None, language: str | None = None) -> Path:
    """``merit export``: the HR workbook in *language* (None: the cycle's), read under the lock, so
    never from a half-swapped ``out/``."""
    if fmt.lower() not in EXPORT_FORMATS:
        raise MeritError(f"unknown export format '{fmt}'", expected=", ".join(EXPORT_FORMATS))
    from merit.cycles.export import export_xlsx

    root = workspace_root(workspace)
    language = checked_language(language)
    target = Path(out).resolve().parent if out is not None else root / "exports"
    with writing(root, writes=[target], on_wait=on_wait):
        return export_xlsx(root, out=out, run_id=run_id, language=language)


def diff(workspace: Path | str, ruleset: str, *, csv_out: Path | None = None,
         progress: Progress | None = None, on_wait: OnWait | None = None):
    """``merit diff``: the cycle under another ruleset; writes the changed agents and the distribution
    as CSV. Returns (merit.cycles.whatif.WhatIf, written paths)."""
    from merit.cycles.whatif import what_if, write_csvs

    root = workspace_root(workspace)
    target = Path(csv_out).resolve().parent if csv_out is not None else root / "whatif"
    with writing(root, writes=[target], on_wait=on_wait):
        result = what_if(root, ruleset, progress=progress)
        return result, write_csvs(result, csv_out)
