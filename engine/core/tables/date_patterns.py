"""Recognising how dates and times that are not ISO 8601 are written (Excel's ``2026/8/20 20:00``,
``08/20/2026 8:00 PM``, ``20.08.2026``, ``2026年8月20日 20时05分``), so that a problem can say
which ``timestamp_format:`` to add to the table's ``sources:`` entry.  Tried on a few example
values only, through DuckDB's own ``strptime`` (what typing then uses), so a format suggested is
one that reads them."""

from __future__ import annotations

from itertools import product

from merit.core.tables.sql import sql_str

# The ways of writing the date, the time of day and the offset that are tried, most usual first
# (a day-first and a month-first reading of the same values are both said: only the data's
# owner knows which it is).
DATE_PARTS = ("%Y/%m/%d", "%Y.%m.%d", "%Y-%m-%d", "%Y%m%d", "%Y年%m月%d日",
              "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%m/%d/%y", "%d/%m/%y", "%d.%m.%y",
              "%d %b %Y", "%d-%b-%Y", "%b %d, %Y", "%b %d %Y")
TIME_PARTS = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", "T%H:%M", "T%H:%M:%S", "T%H:%M:%S.%f",
              " %I:%M %p", " %I:%M:%S %p", " %I:%M%p", " %I:%M:%S%p", " %H时%M分", " %H时%M分%S秒")
ZONE_PARTS = ("", " %z", "%z")

CANDIDATES = tuple(d + t + z for d, t, z in product(DATE_PARTS, TIME_PARTS, ZONE_PARTS) if t or not z)
EXAMPLES_TRIED = 5  # values looked at; more would not change the answer, only its cost


def recognised_formats(con, values: list[str]) -> list[str]:
    """The candidate formats (at most two, most usual first) that read every one of *values*
    (the first few non-empty ones); [] when none does."""
    tried = [v for v in dict.fromkeys(values) if v][:EXAMPLES_TRIED]
    if not tried:
        return []
    rows = ", ".join(f"({sql_str(v)})" for v in tried)
    counts = ", ".join(f"count(try_strptime(v, {sql_str(f)}))" for f in CANDIDATES)
    got = con.raw_sql(f"SELECT {counts} FROM (VALUES {rows}) t(v)").fetchone()
    return [f for f, n in zip(CANDIDATES, got) if n == len(tried)][:2]


def format_hint(table: str, found: list[str], file: str | None, given: tuple[str, ...] = ()) -> str:
    """What to add to the expectation: the table's own patterns (*given*), and what to add to
    cycle.yaml for those *found* (by :func:`recognised_formats`): a key of the table's
    `sources:` entry, a pattern to its list, or (*file*: the table has no entry yet, and is read
    from *file*) the entry."""
    text = ", or as its timestamp_format says (" + ", ".join(f'"{f}"' for f in given) + ")" if given else ""
    if not found:
        return text
    pattern = f'"{found[0]}"'
    other = f' (or "{found[1]}": both read these values)' if len(found) > 1 else ""
    head = "; or, to read them as they are, add"
    if file is not None:
        return f"{text}{head} to cycle.yaml: sources: {{{table}: {{file: {file}, timestamp_format: {pattern}}}}}{other}"
    if given:
        return f"{text}{head} {pattern}{other} to the timestamp_format list of the {table} entry of sources: in cycle.yaml"
    return f"{text}{head} timestamp_format: {pattern}{other} to the {table} entry of sources: in cycle.yaml"
