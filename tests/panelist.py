"""A panelist's work on the grading sheets merit issues: grades (and comments) typed into a copy."""

from __future__ import annotations

import csv
from pathlib import Path


def fill_xlsx(src: Path, dest: Path, grades: dict[str, str], comments: dict[str, str] | None = None,
              *, comment_as_formula: bool = False) -> None:
    """Open the issued XLSX, type grades and comments (by item_id), save a copy as *dest*.

    The comment cells are text-formatted (@) in the issued sheet, so Excel keeps a typed '=...' as
    text: that is a text cell here (data type 's') unless *comment_as_formula*."""
    from openpyxl import load_workbook

    wb = load_workbook(src)
    sh = wb.worksheets[0]  # (the grading sheet, whatever its language calls it)
    head = column_ids_of([c.value for c in sh[1]])
    gi, ii, ci = head.index("grade") + 1, head.index("item_id") + 1, head.index("comment") + 1
    for r in range(2, sh.max_row + 1):
        item = sh.cell(row=r, column=ii).value
        if item in grades:
            sh.cell(row=r, column=gi).value = grades[item]
        if comments and item in comments:
            cell = sh.cell(row=r, column=ci)
            cell.value = comments[item]
            if not comment_as_formula:
                cell.data_type = "s"
    dest.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dest)


def column_ids_of(titles: list) -> list:
    """A sheet's column titles (in whichever language it was issued) as merit's column ids."""
    from merit.panel.sheets import column_ids

    known = column_ids()
    return [known.get(str(t).strip().lower(), t) if t is not None else t for t in titles]


def read_sheet_csv(path: Path) -> list[dict]:
    """A CSV grading sheet's rows, keyed by column id."""
    return [dict(zip(column_ids_of(list(r)), r.values())) for r in read_csv(path)]


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, rows: list[dict], header: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


def fill_csv(src: Path, dest: Path, grades: dict[str, str]) -> None:
    """The CSV sheet: grades typed in (by item_id), saved as *dest*."""
    rows = read_csv(src)
    header = list(rows[0].keys())
    ids = dict(zip(column_ids_of(header), header))
    for r in rows:
        if r[ids["item_id"]] in grades:
            r[ids["grade"]] = grades[r[ids["item_id"]]]
    write_csv(dest, rows, header)
