"""The performance-cycle workspace: cycle.yaml, data/ and out/.

A workspace is a folder; ``cycle.yaml`` names the cycle, its period (inclusive
local dates), the time zone that naive timestamps are local to, the ruleset
and the data folder.  This module only locates things; reading the tables is
``tables``'s job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from merit.core.errors import WorkspaceError, raise_collected
from merit.core.yamlpos import YamlDoc, load_model, regular_file_problem

TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self):
        if self.end < self.start:
            raise ValueError(f"period end {self.end} is before its start {self.start}")
        return self


class CycleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    period: Period
    timezone: str = "UTC"
    ruleset: str = "default"
    data: str = "data"
    previous: list[str] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (expected an IANA name such as Asia/Shanghai or UTC)")
        return value


@dataclass
class Workspace:
    root: Path
    config: CycleConfig
    doc: YamlDoc
    tables: dict[str, Path] = field(default_factory=dict)

    @property
    def cycle_file(self) -> Path:
        return self.root / "cycle.yaml"

    @property
    def data_dir(self) -> Path:
        return self.root / self.config.data

    @property
    def out_dir(self) -> Path:
        return self.root / "out"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.timezone)

    def display(self, path: Path) -> str:
        """A path as the user should see it: relative to the workspace's parent."""
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)


def open_workspace(root: Path | str) -> Workspace:
    root = Path(root).resolve()
    if not root.is_dir():
        raise WorkspaceError("workspace folder not found", file=str(root))
    cycle = root / "cycle.yaml"
    display = f"{root.name}/cycle.yaml"
    config, doc = load_model(cycle, display, CycleConfig, WorkspaceError,
                             missing="cycle.yaml not found: a workspace needs one (see README, 'The workspace')",
                             mapping="cycle.yaml must be a mapping of settings")
    ws = Workspace(root=root, config=config, doc=doc)
    ws.tables = find_tables(ws)
    return ws


def find_tables(ws: Workspace) -> dict[str, Path]:
    data_dir = ws.data_dir
    if not data_dir.is_dir():
        pos = ws.doc.pos(("data",))
        raise WorkspaceError(f"data folder '{ws.config.data}' not found", file=ws.display(ws.cycle_file),
                             line=pos.line if pos else None, field="data")
    found: dict[str, Path] = {}
    unreadable: list[WorkspaceError] = []
    for path in sorted(data_dir.iterdir()):
        if path.suffix.lower() not in TABLE_SUFFIXES or path.name.startswith((".", "~$")):
            continue
        name = path.stem
        if name in found:
            raise WorkspaceError(
                f"table '{name}' is given twice ({found[name].name} and {path.name}); keep one",
                file=ws.display(path),
            )
        found[name] = path
        problem = _unreadable(path)
        if problem:
            unreadable.append(WorkspaceError(problem, file=ws.display(path),
                                             expected="a CSV, Parquet or Excel file (a link to one is fine)"))
    raise_collected(unreadable)
    return found


def _unreadable(path: Path) -> str | None:
    """Why the data file *path* cannot be read as a table (a folder, a pipe, a device, a /proc
    file, a broken link), or None: reading a pipe or a device would block or never end."""
    try:
        return regular_file_problem(path)
    except FileNotFoundError:
        return "file not found (a link to a file that does not exist?)"
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
