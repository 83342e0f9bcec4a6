"""The performance-cycle workspace: cycle.yaml, data/ and out/.

A workspace is a folder; ``cycle.yaml`` names the cycle, its period (inclusive
local dates), the time zone that naive timestamps are local to, the ruleset,
the data folder and the sources (tables read from an organisation's own
exports, merit.core.sources).  This module only locates things; reading the
tables is ``tables``'s job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from merit.core.backends.spec import BackendSpec
from merit.core.errors import MeritError, WorkspaceError, raise_collected
from merit.core.sources.entry import TABLE_SUFFIXES, SourceEntry, resolve_sources
from merit.core.sources.spec import SourceSpec
from merit.core.yamlpos import YamlDoc, load_model, regular_file_problem
from merit.i18n import DEFAULT_LANGUAGE, UnknownLanguage, check_language



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
    sources: dict[str, SourceSpec] = {}  # contract table -> its export (merit.core.sources)
    language: str = DEFAULT_LANGUAGE  # the readers' language of every document for people (merit.i18n)
    backend: BackendSpec = BackendSpec()  # the engine the cycle is evaluated on (merit.core.backends)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (expected an IANA name such as Asia/Shanghai or UTC)")
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        try:
            return check_language(value)
        except UnknownLanguage as exc:
            raise ValueError(str(exc)) from None


@dataclass
class Workspace:
    root: Path
    config: CycleConfig
    doc: YamlDoc
    tables: dict[str, Path] = field(default_factory=dict)
    sources: dict[str, SourceEntry] = field(default_factory=dict)  # the tables read from a `sources:` entry

    @property
    def table_sources(self) -> dict[str, str]:
        """The contract tables read from a table or view of the backend (`sources: {NAME: {table:
        ...}}`), and that table's name; they have no file (not in :attr:`tables`)."""
        return {name: entry.spec.table for name, entry in self.sources.items() if entry.spec.table is not None}

    @property
    def cluster_files(self) -> dict[str, str]:
        """The contract tables read from Parquet files that only the backend's cluster reads
        (`sources: {NAME: {file: s3a://.../*.parquet}}`), and that location; no file here either."""
        return {name: entry.location for name, entry in self.sources.items() if entry.location is not None}

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
    ws.sources, problems = resolve_sources(root, config.sources, doc)
    try:
        ws.tables = find_tables(ws)
    except MeritError as err:
        problems.append(err)
    raise_collected(problems)
    return ws


def find_tables(ws: Workspace) -> dict[str, Path]:
    """The file of each table: its `sources:` entry's, else data/NAME.csv, .parquet or .xlsx."""
    sourced = {name: entry.path for name, entry in ws.sources.items() if entry.path is not None}
    if not ws.data_dir.is_dir() and ws.config.sources and "data" not in ws.doc.data:
        return sourced  # (every table comes from an export: no data folder needed)
    found = _data_files(ws)
    unreadable = [WorkspaceError(problem, file=ws.display(path), expected="a CSV, Parquet or Excel file")
                  for path in sourced.values() if (problem := _unreadable(path))]
    raise_collected(unreadable)
    return {**found, **sourced}


def _data_files(ws: Workspace) -> dict[str, Path]:
    """The tables in the data folder, by file name."""
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
