"""The expert panel's commands: assign, collect and report write (under the lock); status reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from merit.usecases._writing import OnWait, Progress, workspace_root, writing
from merit.usecases.cycle import checked_language


def _panel(root: Path):
    from merit.core.workspace import open_workspace
    from merit.panel.assignment import load_panel

    return load_panel(open_workspace(root))


def panel_assign(workspace: Path | str, *, progress: Progress | None = None, on_wait: OnWait | None = None,
                 language: str | None = None):
    """``merit panel assign``: new assignments and every assigned panelist's sheets, in *language*
    (None: the cycle's) (merit.panel.assignment.AssignResult)."""
    from merit.panel.assignment import assign

    root = workspace_root(workspace)
    language = checked_language(language)
    panel = _panel(root)
    with writing(root, writes=[panel.folder], replaces=[panel.sheets_dir], on_wait=on_wait):
        return assign(root, progress=progress, language=language)


def panel_collect(workspace: Path | str, sheets: list[Path] | None = None, *, at: dt.datetime | None = None,
                  progress: Progress | None = None, on_wait: OnWait | None = None, language: str | None = None):
    """``merit panel collect``: merge returned sheets into grades.csv and the audit trail, all or nothing
    (merit.panel.collect.CollectResult).  Under the lock, so concurrent collects keep every grade.
    A sheet is read in whatever language it was issued; *language* (for the CLI's one option on
    every panel command) changes nothing here."""
    checked_language(language)
    from merit.core.workspace import open_workspace
    from merit.panel.collect import collect

    ws = open_workspace(workspace)
    with writing(ws.root, writes=[_panel(ws.root).folder, ws.data_dir], on_wait=on_wait):
        return collect(ws.root, sheets, at=at, progress=progress)


def panel_report(workspace: Path | str, *, pdf: bool = True, progress: Progress | None = None,
                 on_wait: OnWait | None = None, language: str | None = None):
    """``merit panel report``: report.csv, panelists.csv, agreement.csv (and report.pdf, in *language*;
    None: the cycle's) in the panel folder (merit.panel.report.Report)."""
    from merit.render.panel_report import report

    root = workspace_root(workspace)
    language = checked_language(language)
    with writing(root, writes=[_panel(root).folder], on_wait=on_wait):
        return report(root, pdf=pdf, progress=progress, language=language)


def panel_status(workspace: Path | str, *, progress: Progress | None = None, language: str | None = None):
    """``merit panel status`` (reads only): progress per panelist and item (merit.panel.report.Status).
    *language* is checked only: the status is data (ids, counts) the CLI shows."""
    checked_language(language)
    from merit.panel.report import status

    return status(workspace, progress=progress)
