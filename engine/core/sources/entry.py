"""A `sources:` entry resolved against its workspace: the file it names (under the workspace, or
a Parquet location only the Spark cluster reads), the preset merged in, every key checked against
the contract, each problem at its line of cycle.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from merit.core.contract import contract
from merit.core.errors import MeritError, Origin, WorkspaceError
from merit.core.expressions import parse
from merit.core.sources.preset import load_preset, merged, preset_names
from merit.core.sources.spec import ColumnMap, SourceSpec
from merit.core.suggest import did_you_mean
from merit.core.yamlpos import YamlDoc

TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")
AGENT_IDS = "agents.agent_id"
# `file: s3a://lake/tickets/*.parquet`: an address with a scheme names a location the cluster reads
_LOCATION = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


@dataclass(frozen=True)
class SourceEntry:
    """One table's source: its merged spec, its file and where cycle.yaml says each thing."""

    table: str
    spec: SourceSpec
    path: Path | None  # None: a table of the backend (spec.table), or a location the cluster reads
    doc: YamlDoc
    preset_columns: frozenset[str] = frozenset()  # contract columns mapped by the preset alone
    location: str | None = None  # Parquet files only the Spark cluster reads (s3a://…/*.parquet)

    def key(self, *keys) -> str:
        return ".".join(("sources", self.table) + tuple(str(k) for k in keys))

    def line(self, *keys) -> int | None:
        """cycle.yaml's line of ``sources.TABLE.KEYS`` (of the preset key for a preset's column)."""
        if keys[:1] == ("columns",) and len(keys) > 1 and keys[1] in self.preset_columns:
            keys = ("preset",)
        pos = self.doc.pos(("sources", self.table) + tuple(keys))
        return pos.line if pos else None

    def error(self, message: str, *keys, expected: str | None = None, cls=WorkspaceError) -> MeritError:
        return cls(message, file=self.doc.file, line=self.line(*keys), field=self.key(*keys), expected=expected)

    def column_map(self, name: str) -> ColumnMap | None:
        return self.spec.column_map(name)


def resolve_sources(root: Path, specs: dict[str, SourceSpec], doc: YamlDoc) -> tuple[dict[str, SourceEntry],
                                                                                     list[MeritError]]:
    """Every entry of `sources:` resolved, and the problems found (all of them)."""
    entries: dict[str, SourceEntry] = {}
    problems: list[MeritError] = []
    tables = contract().tables
    for table, spec in specs.items():
        if table not in tables:
            pos = doc.key_pos(("sources", table))
            problems.append(WorkspaceError(
                f"'{table}' is not a table merit reads{did_you_mean(table, tables)}", file=doc.file,
                line=pos.line if pos else None, field=f"sources.{table}", expected=f"one of: {', '.join(tables)}"))
            continue
        location = spec.file.strip() if spec.file is not None and _LOCATION.fullmatch(spec.file.strip()) else None
        entry = SourceEntry(table, spec, root / spec.file if spec.file is not None and not location else None, doc)
        try:
            entry = _with_preset(entry)
            path = _source_path(root, entry) if spec.file is not None and not location else None
            entry = SourceEntry(table, entry.spec, path, doc, entry.preset_columns,
                                _cluster_location(entry, location) if location else None)
        except MeritError as err:
            problems.append(err)
            continue
        problems += _column_problems(entry)
        entries[table] = entry
    return entries, problems


def _with_preset(entry: SourceEntry) -> SourceEntry:
    name = entry.spec.preset
    if name is None:
        return entry
    try:
        preset = load_preset(name)
    except KeyError:
        raise entry.error(f"unknown preset '{name}'{did_you_mean(name, preset_names())}", "preset",
                          expected=f"one of: {', '.join(preset_names())}") from None
    if entry.table not in preset.tables:
        raise entry.error(f"the preset '{name}' has nothing for the table {entry.table}", "preset",
                          expected=f"a preset for: {', '.join(preset.tables)}")
    table = preset.tables[entry.table]
    own = set(entry.spec.columns)
    return SourceEntry(entry.table, merged(entry.spec, table), entry.path, entry.doc,
                       frozenset(c for c in table.columns if c not in own))


def _source_path(root: Path, entry: SourceEntry) -> Path:
    """The file *entry* names, which must be a table file inside the workspace."""
    given = entry.spec.file
    path = (root / given).resolve()
    if path != root and root not in path.parents:
        raise entry.error(f"the file '{given}' is outside the workspace", "file",
                          expected="a path inside the workspace folder, such as exports/tickets.csv")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise entry.error(f"the file '{given}' is not a .csv, .xlsx or .parquet file", "file",
                          expected="a CSV, Excel (.xlsx) or Parquet file")
    if not path.exists():
        raise entry.error(f"the file '{given}' is not found in the workspace", "file",
                          expected="the path of the export, relative to the workspace folder")
    if entry.spec.sheet is not None and path.suffix.lower() != ".xlsx":
        raise entry.error("'sheet' is for Excel workbooks (.xlsx) only", "sheet")
    if entry.spec.delimiter != "," and path.suffix.lower() != ".csv":
        raise entry.error("'delimiter' is for CSV files only", "delimiter")
    return path


def _cluster_location(entry: SourceEntry, given: str) -> str:
    """*given* (an address with a scheme), which must name Parquet: a file, a glob or a folder of
    Parquet files that the Spark cluster reads itself (merit.core.backend_tables)."""
    if not (given.lower().endswith(".parquet") or given.endswith("/")):
        raise entry.error(f"'{given}' is read by the Spark cluster, which reads Parquet there", "file",
                          expected="a Parquet file, glob or folder, such as s3a://lake/tickets/*.parquet or "
                                   "hdfs://namenode/support/tickets/ (or a file under the workspace)")
    if entry.spec.sheet is not None:
        raise entry.error("'sheet' is for Excel workbooks (.xlsx) only", "sheet")
    if entry.spec.encoding != "auto":
        raise entry.error("'encoding' is for CSV files: Parquet says its own", "encoding")
    if entry.spec.delimiter != ",":
        raise entry.error("'delimiter' is for CSV files only", "delimiter")
    return given


def _column_problems(entry: SourceEntry) -> list[MeritError]:
    """Contract columns that do not exist, matches on columns that are not agent ids, and
    expressions that do not parse."""
    schema = contract().tables[entry.table]
    problems: list[MeritError] = []
    for name in entry.spec.columns:
        if name not in schema.names:
            problems.append(entry.error(f"'{name}' is not a column of {entry.table}"
                                        f"{did_you_mean(name, schema.names)}", "columns", name,
                                        expected=f"one of: {', '.join(schema.names)}"))
            continue
        cmap = entry.column_map(name)
        col = schema.column(name)
        if cmap.match and col.references != AGENT_IDS:
            problems.append(entry.error(f"'match' resolves agent names to agent ids, but {entry.table}.{name} "
                                        f"is not an agent id", "columns", name, "match"))
        if cmap.expr is not None:
            line = entry.line("columns", name, "expr")
            origin = Origin(file=entry.doc.file, line=line, field=entry.key("columns", name, "expr"))
            try:
                parse(cmap.expr, origin)
            except MeritError as err:
                problems.append(err)
    return problems
