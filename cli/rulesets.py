"""The rulesets themselves: ``schema`` (their JSON Schema) and ``catalog`` (docs/metrics.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from merit import usecases
from merit.cli.app import app, out, user_errors


@app.command()
def schema() -> None:
    """Print the JSON Schema of rulesets (for editors that validate YAML)."""
    sys.stdout.write(json.dumps(usecases.ruleset_json_schema(), indent=2) + "\n")


@app.command()
def catalog(
    out_file: Optional[Path] = typer.Option(None, "--out", help="Where to write it (default: docs/metrics.md)."),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 2 when the file is not current."),
) -> None:
    """Generate the metric catalogue (docs/metrics.md) from the shipped rulesets."""
    with user_errors():
        result = usecases.catalog(out=out_file, check=check)
    if check:
        out.print(f"{result.path} is current ({result.metrics} metrics).")
    elif result.changed:
        out.print(f"{result.path} written ({result.metrics} metrics).")
    else:
        out.print(f"{result.path} was already current ({result.metrics} metrics); nothing written.")
