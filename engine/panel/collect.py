"""``merit panel collect``: merge returned grading sheets into the workspace's grades.

Every row of every returned sheet is checked first; a row with a grade is
refused, with its file, line and reason, when

* its panelist is not declared in panel.yaml, or its item is not in knowledge;
* its grade is not one of S, A, B, C, or its grade cell holds a formula (a
  grade is typed, never computed: the formula is refused, not evaluated);
* it was edited (its ``check`` does not match the panelist, item, kind and
  title it was issued with, or it was added by hand);
* its panelist wrote the item (or, with ``exclude_same_team``, shares a team
  with an author);
* the item was not assigned to that panelist (``assignments.csv``);
* the same panelist gives the same item two different grades in this run.

When anything is refused, nothing is written.  Otherwise ``data/grades.csv``
gets the new grades appended; a regrade (same item and panelist, another
grade) replaces the grade in place and the audit trail ``audit.csv`` in the
panel folder keeps who, when, the grade before and after and the source
file and line of every change; the same grade again changes nothing.  Both
files are written through a temporary file and a rename, the audit first.
Rows whose grade is empty are skipped (not graded yet); emptying a grade does
not withdraw it.

A returned file larger than the largest sheet issued in the cycle (rows,
columns, unpacked size, with a margin: :func:`merit.panel.sheets.sheet_bounds`)
is refused before it is loaded.  Text read back loses the leading ``'`` that
merit's CSV files put before =, +, -, @, tab and CR (merit.core.xlsx), and gets it
again in grades.csv and audit.csv: a comment keeps its exact text and never
becomes a live formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from merit.core.errors import DataError, MeritError, Problems, WorkspaceError
from merit.panel.assignment import csv_text, conflict_reason, load_panel_data
from merit.core.files import write_atomic
from merit.panel.sheets import COLUMNS, read_sheet, row_check, sheet_bounds, sheet_files
from merit.core.xlsx import restore_text

GRADE_COLUMNS = ["item_id", "panelist", "grade", "graded_at", "comment"]
AUDIT_COLUMNS = ["at", "panelist", "item_id", "before", "after", "comment", "source", "line"]


@dataclass
class CollectResult:
    files: list[Path]
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    empty: int = 0  # rows without a grade (not graded yet)
    changes: list[dict] = field(default_factory=list)  # the audit rows of this run
    grades_file: Path | None = None
    audit_file: Path | None = None


def _display(ws, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ws.root))
    except ValueError:
        return str(path)


def _read_grades_text(path: Path) -> tuple[list[str], list[list[str]], bool, str]:
    """header, records, had a BOM, newline of the existing grades.csv (kept as written)."""
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in text else "\n"
    # (merit wrote it: a leading ' before =, +, -, @ ... is csv_text's, removed here and added back on writing)
    rows = [[restore_text(c) for c in r] for r in csv.reader(io.StringIO(text, newline=""))
            if any(c.strip() for c in r)]
    if not rows:
        return list(GRADE_COLUMNS), [], bom, newline
    return rows[0], rows[1:], bom, newline


def _returned_bounds(data):
    """The most a returned sheet may hold: a margin over the largest sheet issued in the cycle
    (the header and one row per assignment of its panelist; the Rubric sheet's columns)."""
    a = data.assignments
    issued_rows = 1 + (int(a.groupby("panelist").size().max()) if len(a) else 0)
    return sheet_bounds(issued_rows, max(len(COLUMNS), 1 + len(data.order)))


def collect(workspace, paths: list[Path] | None = None, *, at: dt.datetime | None = None,
            progress=None) -> CollectResult:
    """Check every row of the returned sheets, then merge the grades into grades.csv (all or nothing)."""
    data = load_panel_data(workspace, progress=progress)
    ws = data.ws
    if data.grades_file is not None and data.grades_file.suffix.lower() != ".csv":
        raise WorkspaceError(f"the grades are in {data.grades_file.name}; merit panel collect keeps them in "
                             "grades.csv: save them as CSV (and remove the other file) first",
                             file=ws.display(data.grades_file))
    files = _returned_files(data, paths)
    if at is None:
        at = dt.datetime.now(ws.zone).replace(tzinfo=None, microsecond=0)
    result = CollectResult(files=files)
    checker = _ReturnedRows(data, result)
    for path in files:
        if progress:
            progress(f"reading {path.name}")
        checker.read(path)
    checker.problems.raise_if_any()
    return _merge(data, checker.taken, result, at.strftime("%Y-%m-%d %H:%M:%S"))


def _returned_files(data, paths: list[Path] | None) -> list[Path]:
    ws, panel = data.ws, data.panel
    if paths:
        files = sheet_files([Path(p) for p in paths])
    else:
        files = sheet_files([panel.returned_dir]) if panel.returned_dir.is_dir() else []
    if not files:
        where = ", ".join(str(p) for p in paths) if paths else ws.display(panel.returned_dir)
        raise MeritError(f"no returned sheets (.xlsx or .csv) found in {where}",
                         expected="the sheets panelists returned, as files or a folder")
    return files


class _ReturnedRows:
    """The rows of the returned sheets, checked one by one: the grades to take, and the problems."""

    def __init__(self, data, result: CollectResult):
        self.data, self.result = data, result
        self.known_items = data.all_items.set_index("item_id")
        self.panelists = set(data.panel.ids)
        self.assigned = set(zip(data.assignments["item_id"], data.assignments["panelist"]))
        self.bounds = _returned_bounds(data)
        self.problems = Problems(limit=200)
        # (item, panelist) -> grade, comment, file, line, source
        self.taken: dict[tuple[str, str], tuple[str, str, str, int, str]] = {}

    def refuse(self, row, field_name, message, expected=None):
        self.problems.add(DataError(message, file=row.file, line=row.line, field=field_name, expected=expected),
                          (row.file, row.line))

    def read(self, path: Path) -> None:
        display = _display(self.data.ws, path)
        try:
            rows = read_sheet(path, display, bounds=self.bounds)
        except MeritError as exc:
            self.problems.add(exc, (display, exc.line or 0))
            return
        for row in rows:  # returned sheets: a few dozen rows each
            self.take(row, display)

    def take(self, row, display: str) -> None:
        v, scale = row.values, self.data.scale
        if "grade" in row.formulas:  # whatever it computes, it is not a grade the panelist gave
            self.refuse(row, "grade", f"the grade cell holds a formula ({v.get('grade', '')}): a grade is typed "
                        "in the cell, never computed", f"one of {', '.join(scale)} typed as text")
            return
        grade = v.get("grade", "").strip().upper()
        if not grade:
            self.result.empty += 1
            return
        item, pid = v.get("item_id", ""), v.get("panelist", "")
        if not self.known(row, item, pid, grade) or not self.as_issued(row, item, pid) \
                or not self.allowed(row, item, pid):
            return
        comment = v.get("comment", "")
        prev = self.taken.get((item, pid))
        if prev is not None:
            if prev[0] != grade:
                self.refuse(row, "grade", f"panelist '{pid}' grades item '{item}' {grade} here but {prev[0]} in "
                            f"{prev[2]}, line {prev[3]}", "one grade per item in one collect")
            return
        self.taken[(item, pid)] = (grade, comment, display, row.line, display)

    def known(self, row, item: str, pid: str, grade: str) -> bool:
        """The row names a declared panelist, an item of knowledge and a grade of the scale."""
        ok = True
        if not pid:
            self.refuse(row, "panelist", "panelist is empty", "the panelist id the sheet was issued with")
            ok = False
        elif pid not in self.panelists:
            self.refuse(row, "panelist", f"unknown panelist '{pid}': not declared in {self.data.panel.file}",
                        "a panelist id of panel.yaml")
            ok = False
        if not item:
            self.refuse(row, "item_id", "item_id is empty", "the item id the sheet was issued with")
            ok = False
        elif item not in self.known_items.index:
            self.refuse(row, "item_id", f"unknown item '{item}': not an item_id in knowledge", "an item of knowledge")
            ok = False
        if grade not in self.data.scale:
            self.refuse(row, "grade", f"grade '{row.values.get('grade')}' is not one of {', '.join(self.data.scale)}",
                        f"one of {', '.join(self.data.scale)}")
            ok = False
        return ok

    def as_issued(self, row, item: str, pid: str) -> bool:
        """The row's check value still matches its item, kind, title and panelist."""
        v, cycle = row.values, self.data.ws.config.name
        kind, title = self.known_items.at[item, "kind"], self.known_items.at[item, "title"]
        expect = row_check(cycle, pid, item, "" if kind is None else str(kind), "" if title is None else str(title))
        sheet_check = row_check(cycle, pid, item, v.get("kind", ""), v.get("title", ""))
        if v.get("check", "") == sheet_check != expect:
            self.refuse(row, "check", f"item '{item}' has changed in knowledge since the sheet was issued (kind or "
                        "title): issue the sheets again with merit panel assign", "a sheet issued for the current items")
            return False
        if v.get("check", "") != expect or sheet_check != expect:
            self.refuse(row, "check", "this row was changed after the sheet was issued (its item, kind, title or "
                        "panelist no longer match its check value, or the row was added or copied from another "
                        "sheet)", "rows as issued by merit panel assign; only grade and comment may change")
            return False
        return True

    def allowed(self, row, item: str, pid: str) -> bool:
        """The panelist may grade the item: no conflict of interest, and it is assigned to them."""
        reason = conflict_reason(self.data, item, pid)
        if reason:
            self.refuse(row, "panelist", f"conflict of interest: {reason}", "a panelist who is not an author")
            return False
        if (item, pid) not in self.assigned:
            self.refuse(row, "item_id", f"item '{item}' is not assigned to panelist '{pid}' "
                        f"(see {_display(self.data.ws, self.data.panel.assignments_file)})",
                        "only the items assigned to the panelist")
            return False
        return True


def _merge(data, taken: dict, result: CollectResult, stamp: str) -> CollectResult:
    """The taken grades into grades.csv (its own header, BOM and line ends kept), audit trail first."""
    ws, panel = data.ws, data.panel
    target = data.grades_file or (ws.data_dir / "grades.csv")
    if data.grades_file is not None:
        header, records, bom, newline = _read_grades_text(target)
    else:
        header, records, bom, newline = list(GRADE_COLUMNS), [], False, "\n"
    names = [h.strip().lower() for h in header]
    for c in GRADE_COLUMNS:  # load_tables checked them; a header without 'comment' is impossible too
        if c not in names:
            header.append(c)
            names.append(c)
    col = {c: names.index(c) for c in GRADE_COLUMNS}
    records = [r + [""] * (len(header) - len(r)) for r in records]
    audit_rows = _apply_grades(taken, records, col, len(header), result, stamp)
    result.changes = audit_rows
    result.grades_file = target
    result.audit_file = panel.audit_file
    if not audit_rows:
        return result
    # audit first: a change is never made without its record
    old = panel.audit_file.read_text(encoding="utf-8") if panel.audit_file.is_file() else ""
    if not old.strip():
        old = csv_text(AUDIT_COLUMNS, [])
    elif not old.endswith("\n"):
        old += "\n"
    new = csv_text(AUDIT_COLUMNS, [[r[c] for c in AUDIT_COLUMNS] for r in audit_rows]).split("\n", 1)[1]
    write_atomic(panel.audit_file, old + new)
    write_atomic(target, csv_text(header, records), encoding="utf-8-sig" if bom else "utf-8", newline=newline)
    return result


def _apply_grades(taken: dict, records: list[list[str]], col: dict, width: int, result: CollectResult,
                  stamp: str) -> list[dict]:
    """Set each taken grade in *records* (in file and line order); the audit rows of what changed."""
    index = {(r[col["item_id"]].strip(), r[col["panelist"]].strip()): i for i, r in enumerate(records)}
    audit_rows = []
    for (item, pid), (grade, comment, display, line, _) in sorted(taken.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        i = index.get((item, pid))
        before = records[i][col["grade"]].strip().upper() if i is not None else ""
        if before == grade:
            result.unchanged += 1
            continue
        if i is None:
            rec = [""] * width
            rec[col["item_id"]], rec[col["panelist"]] = item, pid
            records.append(rec)
            index[(item, pid)] = i = len(records) - 1
            result.added += 1
        else:
            result.changed += 1
        records[i][col["grade"]] = grade
        records[i][col["graded_at"]] = stamp
        records[i][col["comment"]] = comment
        audit_rows.append({"at": stamp, "panelist": pid, "item_id": item, "before": before, "after": grade,
                           "comment": comment, "source": display, "line": line})
    return audit_rows
