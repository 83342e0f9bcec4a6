"""The `merit` command (entry point ``merit.cli.main:app``): a thin shell over merit.usecases.

The application and what its commands share live in merit.cli.app; the commands,
by subject, in run (evaluating a cycle), rulesets, panel and cycle (the lifecycle).
Importing them registers them on the application, in the order ``merit --help``
lists them.  Every user mistake arrives as a MeritError and leaves as a message on
stderr with exit code 2; nothing else is caught, so a real bug shows its traceback.
"""

from __future__ import annotations

from merit.cli.app import app
# In the order of `merit --help` (the panel's group comes after the commands).
from merit.cli import run  # noqa: F401, I001  (demo, run, render, check, explain)
from merit.cli import rulesets  # noqa: F401  (schema, catalog)
from merit.cli import cycle  # noqa: F401  (history, restore, publish, adjust, adjustments, revoke, diff, export)
from merit.cli.panel import panel_app

app.add_typer(panel_app, name="panel")

__all__ = ["app"]

if __name__ == "__main__":  # pragma: no cover
    app()
