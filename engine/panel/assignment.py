"""The expert panel: its declaration (``panel.yaml``), the workspace data it
works on, and the assignment of items to panelists.

``WORKSPACE/panel.yaml`` declares the panelists (id, name, team) and the
options of the grading workflow; see docs/panel.md.  The grading sheets are
written by :mod:`merit.panel.sheets`, returned sheets merged by
:mod:`merit.panel.collect`, and progress and statistics reported by
:mod:`merit.panel.report`.

Assignment gives each item of the cycle that has fewer than ``per_item``
panelists (graded or assigned) the missing ones: never one of its authors,
and with ``exclude_same_team`` never a panelist of an author's team.  Items
with the fewest eligible panelists go first; each takes the least-loaded
eligible panelists (ties: the order of panel.yaml); a repair pass then moves
new assignments from the most to the least loaded panelist while the loads
differ by two or more.  The same inputs always give the same assignment.
Assignments are never taken back: a later ``assign`` only adds what is
missing (items published since, panelists added).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from merit.panel.agreement import DEFAULT_FLAG_SPREAD
from merit.core.errors import DataError, MeritError, RulesetError, WorkspaceError, raise_collected
from merit.core.files import write_atomic
from merit.core.workspace import Workspace, open_workspace
from merit.core.xlsx import csv_safe, restore_text
from merit.core.yamlpos import YamlDoc, load_model

PANEL_FILE = "panel.yaml"
ASSIGNMENTS = "assignments.csv"
AUDIT = "audit.csv"
ASSIGNMENT_COLUMNS = ["item_id", "panelist", "round"]




# ------------------------------------------------------------------ panel.yaml
class Panelist(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name: str | None = None
    team: str | None = None  # default: the agent's team when the id is an agent_id

    @field_validator("id", "name", "team", mode="before")
    @classmethod
    def _text(cls, v):
        if v is None:
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        if isinstance(v, str):
            v = v.strip()
            if not v:
                raise ValueError("must not be empty")
        return v


class PanelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    panelists: list[Panelist] = Field(min_length=1)
    per_item: int = Field(default=3, ge=1, le=50)
    blind: bool = False
    exclude_same_team: bool = False
    sheets: str = "panel"


@dataclass
class Panel:
    config: PanelConfig
    doc: YamlDoc
    file: str  # as shown to the user
    folder: Path  # the panel's folder (config.sheets, relative to the workspace)

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.config.panelists]

    def by_id(self) -> dict[str, Panelist]:
        return {p.id: p for p in self.config.panelists}

    @property
    def assignments_file(self) -> Path:
        return self.folder / ASSIGNMENTS

    @property
    def audit_file(self) -> Path:
        return self.folder / AUDIT

    @property
    def sheets_dir(self) -> Path:
        return self.folder / "sheets"

    @property
    def returned_dir(self) -> Path:
        return self.folder / "returned"


def load_panel(ws: Workspace) -> Panel:
    path = ws.root / PANEL_FILE
    display = ws.display(path)
    config, doc = load_model(path, display, PanelConfig, WorkspaceError,
                             missing="panel.yaml not found: declare the expert panel there (see docs/panel.md)",
                             expected="panelists: [{id: E1, name: ..., team: ...}, ...]",
                             mapping="panel.yaml must be a mapping (panelists, per_item, blind, ...)")
    problems: list[MeritError] = []
    seen: dict[str, int] = {}
    for i, p in enumerate(config.panelists):
        if p.id in seen:
            pos = doc.pos(("panelists", i, "id"))
            first = doc.pos(("panelists", seen[p.id], "id"))
            problems.append(WorkspaceError(
                f"panelist id '{p.id}' is declared twice (first on line {first.line if first else '?'})",
                file=display, line=pos.line if pos else None, column=pos.column if pos else None,
                field=f"panelists.{i}.id", expected="each panelist once"))
        seen.setdefault(p.id, i)
    if config.per_item > len(config.panelists):
        pos = doc.pos(("per_item",))
        problems.append(WorkspaceError(
            f"per_item is {config.per_item} but only {len(config.panelists)} panelists are declared",
            file=display, line=pos.line if pos else None, column=pos.column if pos else None, field="per_item",
            expected=f"at most {len(config.panelists)} grades per item, or more panelists"))
    folder = Path(config.sheets)
    why = _panel_folder_problem(ws, folder)
    if why:
        pos = doc.pos(("sheets",))
        problems.append(WorkspaceError(f"sheets: '{config.sheets}' {why}", file=display,
                                       line=pos.line if pos else None, column=pos.column if pos else None,
                                       field="sheets",
                                       expected="a folder inside the workspace, outside out/, .merit/ and the "
                                                "data folder, such as panel"))
    raise_collected(problems)
    return Panel(config=config, doc=doc, file=display, folder=ws.root / folder)


def _panel_folder_problem(ws: Workspace, folder: Path) -> str | None:
    """Why *folder* (panel.yaml's ``sheets``) may not hold the panel's files, or None.

    It must stay inside the workspace (no absolute path elsewhere, no '..', no symbolic
    link leading out), and out of the folders merit replaces or reads as a whole: ``out/``
    (and its staging folders), ``.merit/`` (the history) and the data folder (whose CSV
    files are tables)."""
    root = ws.root.resolve()
    if ".." in folder.parts:
        return "goes up with '..': the panel's files must stay inside the workspace"
    target = (root / folder).resolve()  # follows symbolic links, and an absolute path replaces root
    try:
        rel = target.relative_to(root)
    except ValueError:
        return f"resolves to {target}, outside the workspace {root}"
    first = rel.parts[0].casefold() if rel.parts else ""
    if first == "out" or first.startswith(".out."):
        return "is inside out/, which every merit run replaces as a whole"
    if first == ".merit":
        return "is inside .merit/, merit's history"
    if target == ws.data_dir.resolve():
        return "is the data folder, where every CSV file is read as a table"
    return None


# ------------------------------------------------------------------ workspace data
PANEL_TABLES = ("agents", "tickets", "knowledge", "grades")


@dataclass
class PanelData:
    """What the panel works on: the cycle's items, the agents' teams, the grades so far
    and the assignments made so far (all small pandas frames)."""

    ws: Workspace
    panel: Panel
    items: pd.DataFrame  # item_id, kind, title, authors (list), published_on: the cycle's items
    all_items: pd.DataFrame  # the same for every item of knowledge (any date)
    agents: pd.DataFrame  # agent_id, name, team
    grades: pd.DataFrame  # item_id, panelist, grade, graded_at, comment, line
    assignments: pd.DataFrame  # item_id, panelist, round
    grades_file: Path | None  # data/grades.csv (None: no grades yet)
    order: tuple[str, ...]  # the ruleset's panel grades, worst first
    flag_spread: int = DEFAULT_FLAG_SPREAD
    rubric: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def scale(self) -> tuple[str, ...]:
        """The ruleset's panel grades, best first (the grades a sheet may hold)."""
        return tuple(reversed(self.order))

    def panelist_team(self) -> dict[str, str | None]:
        """Each panelist's team: panel.yaml's, else the agent's team when the id is an agent_id."""
        agent_team = dict(zip(self.agents["agent_id"], self.agents["team"]))
        return {p.id: p.team if p.team is not None else agent_team.get(p.id) for p in self.panel.config.panelists}

    def panelist_name(self) -> dict[str, str]:
        """Each panelist's name: panel.yaml's, else the agent's name, else the id."""
        agent_name = dict(zip(self.agents["agent_id"], self.agents["name"]))
        return {p.id: p.name or agent_name.get(p.id) or p.id for p in self.panel.config.panelists}

    def agent_team(self) -> dict[str, str | None]:
        return dict(zip(self.agents["agent_id"], self.agents["team"]))


def _ruleset_settings(ws: Workspace) -> tuple[tuple[str, ...], int, dict]:
    """Grade order (worst first), flag spread and rubric from the cycle's ruleset."""
    from merit.core.ruleset import load_ruleset

    return ruleset_grade_settings(load_ruleset(ws.config.ruleset, relative_to=ws.root).ruleset)


def ruleset_grade_settings(rs) -> tuple[tuple[str, ...], int, dict]:
    """Grade order (worst first), flag spread and rubric of a loaded ruleset (its ``panel:``)."""
    scale = rs.panel
    if scale is None:
        raise RulesetError("the ruleset declares no panel scale, so the expert panel cannot grade with it",
                           field="panel", expected="panel: {grades: [S, A, B, C]} (best first; see docs/panel.md), "
                                                   "or extends: default")
    spread = rs.params.get(scale.flag_spread, DEFAULT_FLAG_SPREAD) if scale.flag_spread else DEFAULT_FLAG_SPREAD
    return scale.worst_first, int(spread), dict(rs.rubric or {})


def load_panel_data(workspace: Path | str | Workspace, progress=None) -> PanelData:
    """Open the workspace and the panel, load and validate agents, tickets, knowledge
    and grades (merit.core.tables), and read the assignments so far."""
    from merit.core.tables import load_tables

    ws = workspace if isinstance(workspace, Workspace) else open_workspace(workspace)
    panel = load_panel(ws)
    order, spread, rubric = _ruleset_settings(ws)
    # Only the tables the panel needs (the required ones and knowledge, grades).
    trimmed = dataclasses.replace(ws, tables={k: v for k, v in ws.tables.items() if k in PANEL_TABLES})
    tables = load_tables(trimmed, progress=progress)
    if not tables.has("knowledge"):
        raise DataError("the panel grades knowledge items, but the workspace has no knowledge table",
                        file=ws.display(ws.data_dir), expected="knowledge.csv, knowledge.parquet or knowledge.xlsx")
    k = tables.tables["knowledge"]
    all_items = k.select("item_id", "kind", "title", "authors", "published_on").order_by("item_id").to_pandas()
    all_items["authors"] = all_items["authors"].map(lambda a: [] if a is None else [str(x) for x in a])
    start, end = ws.config.period.start, ws.config.period.end
    pub = pd.to_datetime(all_items["published_on"]).dt.date
    all_items["published_on"] = pub
    in_period = pub.notna() & (pub >= start) & (pub <= end)
    items = all_items[in_period.to_numpy()].reset_index(drop=True)
    agents = tables.tables["agents"].select("agent_id", "name", "team").to_pandas()
    grades_file = None
    if tables.has("grades"):
        src = tables.sources["grades"]
        grades_file = src.path
        g = tables.tables["grades"]
        grades = g.select("_row", "item_id", "panelist", "grade", "graded_at", "comment").order_by("_row").to_pandas()
        grades["line"] = tables.line_of("grades", grades["_row"].tolist()) if len(grades) else []
        grades = grades.drop(columns="_row")
        _check_duplicate_grades(grades, src.display)
    else:
        grades = pd.DataFrame({c: pd.Series(dtype="object") for c in
                               ["item_id", "panelist", "grade", "graded_at", "comment", "line"]})
    assignments = read_assignments(panel, ws)
    return PanelData(ws=ws, panel=panel, items=items, all_items=all_items, agents=agents, grades=grades,
                     assignments=assignments, grades_file=grades_file, order=order, flag_spread=spread,
                     rubric=rubric)


def _check_duplicate_grades(grades: pd.DataFrame, display: str) -> None:
    """A panelist grades an item once: two rows of grades for one (item, panelist) are refused."""
    g = grades[grades["panelist"].notna()]
    dup = g[g.duplicated(["item_id", "panelist"], keep=False)]
    if dup.empty:
        return
    first = dup.groupby(["item_id", "panelist"])["line"].transform("min")
    later = dup[dup["line"] != first]
    problems = [DataError(f"panelist '{r.panelist}' grades item '{r.item_id}' a second time "
                          f"(first on line {f})", file=display, line=int(r.line), field="panelist",
                          expected="one grade per item and panelist (a regrade replaces the earlier one)")
                for r, f in zip(later.itertuples(), first[later.index])]
    raise_collected(problems)


def read_assignments(panel: Panel, ws: Workspace) -> pd.DataFrame:
    path = panel.assignments_file
    empty = pd.DataFrame({"item_id": pd.Series(dtype="object"), "panelist": pd.Series(dtype="object"),
                          "round": pd.Series(dtype="int64")})
    if not path.is_file():
        return empty
    display = ws.display(path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or [h.strip() for h in rows[0]] != ASSIGNMENT_COLUMNS:
        raise DataError("not an assignments file written by merit panel assign", file=display, line=1,
                        expected=",".join(ASSIGNMENT_COLUMNS))
    out = []
    for i, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != 3 or not row[2].strip().isdigit():
            raise DataError("malformed assignment row", file=display, line=i, expected="item_id,panelist,round")
        out.append((restore_text(row[0].strip()), restore_text(row[1].strip()), int(row[2])))
    if not out:
        return empty
    return pd.DataFrame(out, columns=ASSIGNMENT_COLUMNS)


# ------------------------------------------------------------------ assignment
@dataclass
class Assignment:
    new: pd.DataFrame  # item_id, panelist, round: made now
    all: pd.DataFrame  # every assignment of the cycle (earlier rounds first)
    needing: list[str]  # items that needed more panelists
    shortfalls: list[tuple[str, int, int]]  # (item_id, panelists wanted, panelists found)
    loads: dict[str, int]  # panelist -> assignments in the cycle


def conflicts(data: PanelData) -> pd.DataFrame:
    """Items × panelists: True where the panelist may not grade the item (an author, or
    with exclude_same_team a panelist of an author's team)."""
    items = data.items
    ids = data.panel.ids
    ptam = data.panelist_team()
    ateam = data.agent_team()
    out = np.zeros((len(items), len(ids)), dtype=bool)
    same_team = data.panel.config.exclude_same_team
    for i, authors in enumerate(items["authors"]):  # per item (hundreds), not per record of a growing table
        author_set = set(authors)
        teams = {ateam.get(a) for a in authors} - {None}
        for j, pid in enumerate(ids):
            out[i, j] = pid in author_set or (same_team and ptam[pid] is not None and ptam[pid] in teams)
    return pd.DataFrame(out, index=list(items["item_id"]), columns=ids)


def conflict_reason(data: PanelData, item_id: str, panelist: str) -> str | None:
    """Why *panelist* may not grade *item_id* (None: no conflict)."""
    row = data.all_items[data.all_items["item_id"] == item_id]
    if row.empty:
        return None
    authors = list(row["authors"].iloc[0])
    if panelist in authors:
        return f"panelist '{panelist}' is an author of item '{item_id}': nobody grades their own work"
    if data.panel.config.exclude_same_team:
        team = data.panelist_team().get(panelist)
        ateam = data.agent_team()
        if team is not None and team in {ateam.get(a) for a in authors}:
            return (f"panelist '{panelist}' is in team '{team}' like an author of item '{item_id}' "
                    f"(exclude_same_team is set)")
    return None


def plan_assignment(data: PanelData) -> Assignment:
    """The assignments to add so that every item of the cycle has per_item panelists."""
    k = data.panel.config.per_item
    ids = data.panel.ids
    pos = {p: i for i, p in enumerate(ids)}
    items = list(data.items["item_id"])
    blocked = conflicts(data).to_numpy()
    covered = np.zeros((len(items), len(ids)), dtype=bool)
    row_of = {it: i for i, it in enumerate(items)}
    for frame in (data.grades[["item_id", "panelist"]], data.assignments[["item_id", "panelist"]]):
        f = frame[frame["item_id"].isin(row_of) & frame["panelist"].isin(pos)]
        covered[f["item_id"].map(row_of).to_numpy(int), f["panelist"].map(pos).to_numpy(int)] = True
    # Panelists who graded an item outside panel.yaml still count towards its k grades.
    extra = data.grades[data.grades["item_id"].isin(row_of) & data.grades["panelist"].notna()
                        & ~data.grades["panelist"].isin(pos)].groupby("item_id")["panelist"].nunique()
    have = covered.sum(axis=1) + np.array([int(extra.get(it, 0)) for it in items], dtype=int)
    need = np.maximum(k - have, 0)
    load = np.zeros(len(ids), dtype=int)
    if len(data.assignments):
        counts = data.assignments["panelist"].value_counts()
        load = np.array([int(counts.get(p, 0)) for p in ids], dtype=int)
    eligible = ~blocked & ~covered
    new = np.zeros_like(covered)
    todo = [i for i in range(len(items)) if need[i] > 0]
    # the most constrained items first (fewest eligible panelists beyond their need), then by id
    todo.sort(key=lambda i: (int(eligible[i].sum()) - int(need[i]), items[i]))
    shortfalls = []
    for i in todo:
        cands = np.flatnonzero(eligible[i])
        cands = cands[np.lexsort((cands, load[cands]))]  # least loaded, then panel.yaml order
        pick = cands[: need[i]]
        new[i, pick] = True
        load[pick] += 1
        if len(pick) < need[i]:
            shortfalls.append((items[i], k, int(have[i] + len(pick))))
    _rebalance(new, eligible, load)
    rnd = int(data.assignments["round"].max()) + 1 if len(data.assignments) else 1
    r_idx, p_idx = np.nonzero(new)
    fresh = pd.DataFrame({"item_id": [items[r] for r in r_idx], "panelist": [ids[p] for p in p_idx],
                          "round": rnd})
    fresh = fresh.sort_values(["item_id", "panelist"], key=lambda s: s.map(pos) if s.name == "panelist" else s,
                              kind="stable").reset_index(drop=True)
    everything = pd.concat([data.assignments, fresh], ignore_index=True) if len(data.assignments) else fresh
    loads = everything["panelist"].value_counts().to_dict()
    return Assignment(new=fresh, all=everything.reset_index(drop=True),
                      needing=[items[i] for i in sorted(todo, key=lambda i: items[i])],
                      shortfalls=sorted(shortfalls), loads={p: int(loads.get(p, 0)) for p in ids})


def _rebalance(new: np.ndarray, eligible: np.ndarray, load: np.ndarray) -> None:
    """Repair, in place: move a new assignment from a most-loaded to a least-loaded eligible
    panelist while loads differ by 2 or more (each move lowers Σ load², so this ends)."""
    while _move_one(new, eligible, load):
        pass


def _move_one(new: np.ndarray, eligible: np.ndarray, load: np.ndarray) -> bool:
    for hi in np.argsort(-load, kind="stable"):
        for lo in np.argsort(load, kind="stable"):
            if load[hi] - load[lo] < 2:
                break
            rows = np.flatnonzero(new[:, hi] & eligible[:, lo] & ~new[:, lo])
            if rows.size:
                r = rows[0]
                new[r, hi], new[r, lo] = False, True
                load[hi] -= 1
                load[lo] += 1
                return True
    return False




def csv_text(header: list[str], rows) -> str:
    """CSV text ('\\n' line ends) of *header* and *rows*, every field as text with no live
    formula: one beginning with =, +, -, @, tab or CR gets a leading ' (merit.core.xlsx.csv_safe,
    undone by restore_text when merit reads the file back)."""
    cells = [["" if v is None else str(v) for v in row] for row in rows]  # (as csv.writer writes them)
    columns = [csv_safe(list(col)).to_pylist() for col in zip(*cells)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(csv_safe([str(h) for h in header]).to_pylist())
    w.writerows(zip(*columns))
    return buf.getvalue()




@dataclass
class AssignResult:
    assignment: Assignment
    sheets: list[Path]
    folder: Path


def assign(workspace: Path | str, progress=None, language: str | None = None) -> AssignResult:
    """``merit panel assign``: add the missing assignments, record them in assignments.csv
    and write every assigned panelist's grading sheet (XLSX and CSV) in *language* (None: the
    cycle's)."""
    from merit.panel.sheets import write_sheets

    data = load_panel_data(workspace, progress=progress)
    plan = plan_assignment(data)
    if progress:
        progress("writing grading sheets")
    sheets = write_sheets(data, plan.all, language)  # staged and swapped in atomically
    text = csv_text(ASSIGNMENT_COLUMNS, plan.all[ASSIGNMENT_COLUMNS].itertuples(index=False))
    write_atomic(data.panel.assignments_file, text)
    return AssignResult(assignment=plan, sheets=sheets, folder=data.panel.folder)
