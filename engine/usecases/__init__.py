"""The use cases: one function per ``merit`` command, and the only thing the CLI calls.

The commands that write (cycle, panel) run the engine under the workspace lock
(_writing: the only place in merit that takes it); the readers (readers,
catalog) take no lock.  Each function returns what the command shows; the CLI
only formats it.
"""

from merit.core.xlsx import csv_safe  # the CLI's CSV output neutralises formula-like text as merit's files do
from merit.usecases._writing import Terminated
from merit.usecases.catalog import CatalogResult, catalog
from merit.usecases.cycle import adjust, demo, diff, export, publish, render, restore, revoke, run
from merit.usecases.panel import panel_assign, panel_collect, panel_report, panel_status
from merit.usecases.readers import (CheckReport, History, TableRows, check, explain, history, history_run,
                                    list_adjustments, ruleset_json_schema)

__all__ = [
    "CatalogResult", "CheckReport", "History", "TableRows", "Terminated", "adjust", "catalog", "check", "csv_safe",
    "demo", "diff",
    "explain", "export", "history", "history_run", "list_adjustments", "panel_assign", "panel_collect",
    "panel_report", "panel_status", "publish", "render", "restore", "revoke", "ruleset_json_schema", "run",
]
