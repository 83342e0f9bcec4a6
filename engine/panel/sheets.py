"""Grading sheets: writing them (XLSX and a CSV twin) and reading returned ones.

One sheet per panelist, ``<panel folder>/sheets/<panelist>.xlsx`` and
``.csv``, with the columns of :data:`COLUMNS` (``authors`` left out when the
panel grades blind).  In the XLSX the grade cells accept only S, A, B or C
(a data-validation list), only the grade and comment cells are editable (the
sheet is protected without a password, against accidents), the ``check``
column is hidden, and a second sheet "Rubric" says what each grade means for
each kind of item.

``check`` is a hash of the cycle, the panelist, the item id, its kind and its
title: a returned row whose check does not match was edited (or copied from
another sheet) and is refused.  It detects mistakes and casual edits, not a
determined forger; the assignment record (assignments.csv) is checked too.

Text stays text: titles (written by agents) and comments are text cells in the
XLSX and neutralised with a leading ' in the CSV twin when they begin with =, +,
-, @, tab or CR (merit.core.xlsx); reading a returned sheet removes that ' again.  A
returned workbook is checked against :func:`sheet_bounds` before openpyxl loads
it, and is read with its formulas as formulas (a formula in a grade cell is
refused by collect, never taken for the value it last computed).

Language: a sheet is written in the panelist's language (the cycle's ``language``, or the
``language`` asked for): sheet names, instructions, rubric headings and the column titles shown to
the panelist come from merit's catalogue (merit.i18n); the rubric texts are the ruleset's own
words in that language.  English sheets keep the machine ids (``item_id``, ``grade``) as column
titles, as every English sheet ever issued has; a sheet in another language shows translated
titles (条目编号, 评级 …).  A returned sheet is read by its titles in any language merit ships, or
by the ids (:func:`column_ids`), so that a sheet issued in Chinese is collected like an English
one, whatever the language of the cycle when it comes back.

Determinism: the workbook's creation and modification dates are the cycle's
last day, and so are the dates of the entries of the XLSX (zip) file, so the
same inputs give byte-identical sheets.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd

from merit.core.errors import DataError, MeritError
from merit.core.files import staged_folder
from merit.core.ruleset_words import words
from merit.core.xlsx import XlsxBounds, check_xlsx_bounds, csv_safe, deterministic_xlsx, restore_text, xlsx_row
from merit.i18n import DEFAULT_LANGUAGE, LANGUAGES, check_language, gettext_for

COLUMNS = ["panelist", "item_id", "kind", "title", "authors", "published_on", "grade", "comment", "check"]
REQUIRED = ["panelist", "item_id", "kind", "title", "grade", "check"]


def N_(text: str) -> str:  # noqa: N802 (gettext's name): marks a text for the catalogue, translated later
    return text


GRADING_SHEET = N_("Grading")  # the sheets' English names; sheet_titles gives them in a language
RUBRIC_SHEET = N_("Rubric")


# The column titles a panelist reads; a returned sheet's columns are found by these titles in any
# language merit ships, or by the ids themselves (column_ids).
COLUMN_TITLES = {"panelist": N_("Panelist"), "item_id": N_("Item id"), "kind": N_("Kind"), "title": N_("Title"),
                 "authors": N_("Authors"), "published_on": N_("Published on"), "grade": N_("Grade"),
                 "comment": N_("Comment"), "check": N_("Check (do not change)")}


def column_title(column: str, language: str | None) -> str:
    """The title of a sheet's column in *language* (the catalogue's; English: its own words)."""
    return gettext_for(check_language(language))(COLUMN_TITLES[column])


def sheet_titles(language: str | None) -> tuple[str, str]:
    """The names of the grading and the rubric sheet in *language*."""
    _ = gettext_for(language)
    return _(GRADING_SHEET), _(RUBRIC_SHEET)


def column_ids() -> dict[str, str]:
    """Every title a returned sheet's column may have (lower case, any language merit ships, or
    the id itself) -> its id."""
    known = {c: c for c in COLUMNS}
    for language in LANGUAGES:
        known.update({column_title(c, language).strip().lower(): c for c in COLUMNS})
    return known

_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def sheet_name(panelist: str) -> str:
    """The file stem of a panelist's sheet: no separators, no leading dot."""
    return (_UNSAFE.sub("_", str(panelist)).strip("._") or "_")[:120]


def row_check(cycle: str, panelist: str, item_id: str, kind: str, title: str) -> str:
    text = "\x1f".join(["merit-panel-v1", cycle, panelist, item_id, kind or "", title or ""])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def sheet_rows(data, assignments: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per panelist with assignments: the rows of their sheet (in item_id order), with their
    current grade and comment filled in when they have graded the item already."""
    cols = [c for c in COLUMNS if c != "authors" or not data.panel.config.blind]
    items = data.all_items.set_index("item_id")
    cycle = data.ws.config.name
    mine = data.grades[["item_id", "panelist", "grade", "comment"]].dropna(subset=["panelist"])
    out: dict[str, pd.DataFrame] = {}
    for pid in data.panel.ids:  # panelists: tens
        a = assignments[assignments["panelist"] == pid]
        a = a[a["item_id"].isin(items.index)].drop_duplicates("item_id").sort_values("item_id")
        if a.empty:
            continue
        it = items.loc[a["item_id"].to_numpy()]
        df = pd.DataFrame({
            "panelist": pid,
            "item_id": a["item_id"].to_numpy(),
            "kind": it["kind"].fillna("").to_numpy(),
            "title": it["title"].fillna("").to_numpy(),
            "authors": ["; ".join(x) for x in it["authors"]],
            "published_on": [str(d) if d is not None and not pd.isna(d) else "" for d in it["published_on"]],
        })
        g = mine[mine["panelist"] == pid].set_index("item_id")
        df["grade"] = df["item_id"].map(g["grade"]).astype(object).fillna("")
        df["comment"] = df["item_id"].map(g["comment"]).astype(object).fillna("")
        df["check"] = [row_check(cycle, pid, i, k, t) for i, k, t in zip(df["item_id"], df["kind"], df["title"])]
        out[pid] = df[cols].reset_index(drop=True)
    return out


# ------------------------------------------------------------------ writing


def xlsx_bytes(rows: pd.DataFrame, *, panelist_name: str, cycle: str, rubric: dict[str, dict[str, str]],
               order_best_first: list[str], when: dt.datetime, language: str | None = DEFAULT_LANGUAGE) -> bytes:
    from openpyxl import Workbook

    _ = gettext_for(language)
    wb = Workbook()
    _grading_sheet(wb.active, rows, order_best_first, language)
    _rubric_sheet(wb.create_sheet(sheet_titles(language)[1]), panelist_name, cycle, rubric, order_best_first,
                  language)
    props = wb.properties
    props.creator = "merit"
    props.lastModifiedBy = "merit"
    props.title = _("Grading sheet %(cycle)s") % {"cycle": cycle}
    props.created = when
    props.modified = when
    buf = io.BytesIO()
    wb.save(buf)
    return deterministic_xlsx(buf.getvalue(), when)


_HEADER_FONT_COLOUR, _HEADER_FILL, _EDITABLE_FILL = "FFFFFF", "0F766E", "FFF7E0"
_WIDTHS = {"panelist": 12, "item_id": 12, "kind": 14, "title": 48, "authors": 20, "published_on": 13,
           "grade": 8, "comment": 40, "check": 18}


def _grading_sheet(sh, rows: pd.DataFrame, order_best_first: list[str], language: str | None) -> None:
    """One row per assigned item; only grade and comment are editable, the grade from a list."""
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.utils import get_column_letter

    sh.title = sheet_titles(language)[0]
    cols = list(rows.columns)
    sh.append(xlsx_row(sh, [column_title(c, language) for c in cols]))
    for rec in rows.itertuples(index=False):  # the panelist's items: a few dozen
        sh.append(xlsx_row(sh, [str(v) for v in rec]))  # titles and comments stay text, never formulas
    n = len(rows)
    bold, fill = Font(bold=True, color=_HEADER_FONT_COLOUR), PatternFill("solid", fgColor=_HEADER_FILL)
    editable_fill = PatternFill("solid", fgColor=_EDITABLE_FILL)
    for j, name in enumerate(cols, start=1):
        head = sh.cell(row=1, column=j)
        head.font, head.fill = bold, fill
        sh.column_dimensions[get_column_letter(j)].width = _WIDTHS.get(name, 14)
        for r in range(2, n + 2):
            cell = sh.cell(row=r, column=j)
            cell.number_format = "@"
            if name in ("grade", "comment"):
                cell.protection = Protection(locked=False)
                cell.fill = editable_fill
            if name in ("title", "comment"):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    _grade_choices(sh, get_column_letter(cols.index("grade") + 1), n, order_best_first, language)
    sh.column_dimensions[get_column_letter(cols.index("check") + 1)].hidden = True
    sh.freeze_panes = "A2"
    sh.protection.sheet = True
    sh.protection.formatColumns = False  # may widen columns
    sh.protection.formatRows = False


def _grade_choices(sh, column: str, n: int, order_best_first: list[str], language: str | None) -> None:
    from openpyxl.worksheet.datavalidation import DataValidation

    _ = gettext_for(language)
    grades = ",".join(order_best_first)
    choices = ", ".join(order_best_first)
    dv = DataValidation(type="list", formula1=f'"{grades}"', allow_blank=True, showErrorMessage=True,
                        errorTitle=_("Grade"), error=_("Choose one of %(grades)s.") % {"grades": choices},
                        showInputMessage=True, promptTitle=_("Grade"),
                        prompt=_("%(grades)s: see the %(sheet)s sheet") % {"grades": choices,
                                                                          "sheet": sheet_titles(language)[1]})
    sh.add_data_validation(dv)
    if n:
        dv.add(f"{column}2:{column}{n + 1}")


def _rubric_sheet(rb, panelist_name: str, cycle: str, rubric: dict[str, dict[str, str]],
                  order_best_first: list[str], language: str | None) -> None:
    """The instructions and, per kind of item, what each grade means (the ruleset's words)."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    _ = gettext_for(language)
    rb.append(xlsx_row(rb, [_("Grading sheet of %(name)s, cycle %(cycle)s") % {"name": panelist_name,
                                                                                "cycle": cycle}]))
    rb.append(xlsx_row(rb, [
        _("Give each item on the %(sheet)s sheet one grade (%(grades)s) and, if you like, a comment. Leave "
          "the grade empty for items you have not graded yet. Do not change the other cells; return the file "
          "as it is (XLSX or CSV).") % {"sheet": sheet_titles(language)[0], "grades": ", ".join(order_best_first)}]))
    rb.append([])
    rb.append(xlsx_row(rb, [column_title("kind", language)] + order_best_first))
    bold, fill = Font(bold=True, color=_HEADER_FONT_COLOUR), PatternFill("solid", fgColor=_HEADER_FILL)
    for c in rb[4]:
        c.font, c.fill = bold, fill
    for kind in rubric:  # (in the ruleset's order: it says which kinds come first)
        rb.append(xlsx_row(rb, [kind] + [words(rubric[kind].get(gr), language) for gr in order_best_first]))
    rb["A1"].font = Font(bold=True, size=13)
    rb.column_dimensions["A"].width = 15
    for j in range(2, len(order_best_first) + 2):
        rb.column_dimensions[get_column_letter(j)].width = 42
    for row in rb.iter_rows(min_row=5):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    rb.protection.sheet = True


def csv_bytes(rows: pd.DataFrame, language: str | None = DEFAULT_LANGUAGE) -> bytes:
    """The CSV twin of a sheet; a text beginning with =, +, -, @, tab or CR gets a leading '
    (merit.core.xlsx.csv_safe) so that a spreadsheet shows it as text, and collect removes it."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # what Excel writes and expects
    w.writerow(csv_safe([column_title(str(c), language) for c in rows.columns]).to_pylist())
    columns = [csv_safe(rows[c].astype(str).to_numpy(dtype=object)).to_pylist() for c in rows.columns]
    w.writerows(zip(*columns))
    return buf.getvalue().encode("utf-8-sig")  # the BOM lets Excel read Chinese text as UTF-8


def cycle_timestamp(ws) -> dt.datetime:
    """The fixed date written into generated files' metadata: the cycle's last day, 00:00 (naive)."""
    return dt.datetime.combine(ws.config.period.end, dt.time(0, 0))


def write_sheets(data, assignments: pd.DataFrame, language: str | None = None) -> list[Path]:
    """Write every assigned panelist's sheet into the panel's ``sheets/`` folder, replaced as a
    whole (staged beside it, then renamed), in *language* (None: the cycle's)."""
    language = check_language(language or data.ws.config.language)
    panel = data.panel
    when = cycle_timestamp(data.ws)
    best_first = list(reversed(data.order))
    target = panel.sheets_dir
    names = data.panelist_name()
    files, used = [], set()
    with staged_folder(target) as stage:
        for pid, rows in sheet_rows(data, assignments).items():
            stem = sheet_name(pid)
            if stem.lower() in used:
                stem = f"{stem}-{hashlib.sha256(pid.encode()).hexdigest()[:8]}"
            used.add(stem.lower())
            x = stage / f"{stem}.xlsx"
            x.write_bytes(xlsx_bytes(rows, panelist_name=names[pid], cycle=data.ws.config.name, rubric=data.rubric,
                                     order_best_first=best_first, when=when, language=language))
            c = stage / f"{stem}.csv"
            c.write_bytes(csv_bytes(rows, language))
            files += [target / x.name, target / c.name]
    return files


# ------------------------------------------------------------------ reading
@dataclass
class SheetRow:
    file: str  # as shown to the user
    line: int  # CSV line / sheet row (header = 1)
    values: dict[str, str]  # column -> trimmed text ('' when empty)
    formulas: frozenset[str] = frozenset()  # columns whose cell holds a formula (XLSX only)


def sheet_bounds(issued_rows: int, issued_columns: int) -> XlsxBounds:
    """The most a returned sheet may hold, given the largest sheet issued in the cycle
    (*issued_rows* rows with its header, *issued_columns* columns): twice its rows plus 50
    (blank lines, notes under the table), 16 more columns, and 64 KiB per accepted row plus
    4 MiB for the parts every workbook has (styles, theme, what Excel adds on saving); a
    comment may be long (Excel allows 32,767 characters in a cell)."""
    rows = 2 * max(1, issued_rows) + 50
    return XlsxBounds(rows=rows, columns=max(1, issued_columns) + 16, bytes=(4 << 20) + rows * (64 << 10))


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).upper()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if not isinstance(v, str) and v.__class__.__name__ in ("ArrayFormula", "DataTableFormula"):
        v = getattr(v, "text", None) or "="  # a formula all the same (its cell's data_type is 'f')
    return str(v).strip()


def _header(cells: list[str], display: str) -> dict[str, int]:
    """Column id -> its position, from a returned sheet's titles (any language, or the ids)."""
    known = column_ids()
    names = [known.get(c.strip().lower(), c.strip().lower()) for c in cells]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise DataError(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
                        "this is not a grading sheet as issued by merit panel assign", file=display, line=1,
                        expected="the columns " + ", ".join(c for c in COLUMNS))
    return {n: names.index(n) for n in COLUMNS if n in names}


def read_sheet(path: Path, display: str, *, bounds: XlsxBounds) -> list[SheetRow]:
    """The rows of a returned sheet (.xlsx or .csv); empty rows are skipped.  A file larger
    than *bounds* (see :func:`sheet_bounds`) is refused before it is loaded."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _read_xlsx(path, display, bounds)
    if suffix == ".csv":
        return _read_csv(path, display, bounds)
    raise DataError("a returned sheet is an .xlsx or a .csv file", file=display)


# What openpyxl raises for a damaged or foreign file: a bad zip, missing or malformed parts,
# values of the wrong type in its XML.  Only openpyxl's own code runs inside that ``try``.
DAMAGED_WORKBOOK = (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, TypeError, IndexError,
                    AttributeError, OSError, EOFError, ElementTree.ParseError)


def _read_xlsx(path: Path, display: str, bounds: XlsxBounds) -> list[SheetRow]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    check_xlsx_bounds(path, display, bounds)  # before openpyxl inflates anything
    try:
        # Formulas as formulas, not their cached results: a formula is seen (and refused as a
        # grade), never taken for what it last computed.
        wb = load_workbook(path, data_only=False)
    except (InvalidFileException, *DAMAGED_WORKBOOK) as exc:
        raise DataError(f"the file cannot be read as an Excel workbook ({type(exc).__name__})", file=display) from None
    grading = [name for name in wb.sheetnames if name in {sheet_titles(lang)[0] for lang in LANGUAGES}]
    sh = wb[grading[0]] if grading else wb.worksheets[0]
    rows = list(sh.iter_rows())  # bounded by check_xlsx_bounds
    if not rows:
        raise DataError("the sheet is empty", file=display, line=1)
    cols = _header([_text(c.value) for c in rows[0]], display)
    out = []
    for line, row in enumerate(rows[1:], start=2):
        cells = [_text(c.value) for c in row]
        if not any(cells):
            continue
        formulas = frozenset(n for n, i in cols.items() if i < len(row) and row[i].data_type == "f")
        out.append(SheetRow(display, line, {n: restore_text(cells[i]) if i < len(cells) else ""
                                            for n, i in cols.items()}, formulas))
    return out


def _read_csv(path: Path, display: str, bounds: XlsxBounds) -> list[SheetRow]:
    size = path.stat().st_size
    if size > bounds.bytes:
        raise DataError(f"refused unread: the file has {size:,} bytes (at most {bounds.bytes:,} are accepted); "
                        "a grading sheet issued by merit panel assign is far smaller", file=display,
                        expected="the sheet as issued, with grades and comments filled in")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:  # Excel on a Chinese Windows saves "CSV" as GB18030/GBK
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise DataError("the file is neither UTF-8 nor GB18030 text", file=display) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    out, cols, last = [], None, 0
    try:
        for rec in reader:
            start, last = last + 1, reader.line_num
            if last > bounds.rows:
                raise DataError(f"refused: the file has more than {bounds.rows} lines, more than the sheet that "
                                "was issued", file=display, line=last,
                                expected="the sheet as issued, with grades and comments filled in")
            if cols is None:
                cols = _header([restore_text(c) for c in rec], display)
                continue
            cells = [restore_text(c.strip()) for c in rec]  # undo csv_bytes' leading ' (=, +, -, @ ...)
            if not any(cells):
                continue
            out.append(SheetRow(display, start, {n: cells[i] if i < len(cells) else "" for n, i in cols.items()}))
    except csv.Error as exc:
        raise DataError(f"the file cannot be read as CSV: {exc}", file=display, line=last + 1) from None
    if cols is None:
        raise DataError("the sheet is empty", file=display, line=1)
    return out


def sheet_files(paths: list[Path]) -> list[Path]:
    """The .xlsx and .csv files of *paths* (files, or folders read non-recursively), sorted."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in (".xlsx", ".csv")
                          and not f.name.startswith((".", "~$")))
        elif p.is_file():
            out.append(p)
        else:
            raise MeritError("returned sheet not found", file=str(p))
    seen, unique = set(), []
    for f in out:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique
