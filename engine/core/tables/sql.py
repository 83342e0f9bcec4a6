"""SQL text shared by the loader's steps: quoting, cleaning a cell, scratch tables."""

from __future__ import annotations

from typing import Any


def sql_str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def clean(sql: str) -> str:
    """SQL: the value trimmed of spaces, NULL when nothing is left.

    (Only spaces: trimming a set of characters costs twice as much on big files;
    and TRIM copies every value, so it runs only on values that start or end
    with a space.)"""
    return f"CASE WHEN prefix({sql}, ' ') OR suffix({sql}, ' ') THEN NULLIF(TRIM({sql}), '') ELSE NULLIF({sql}, '') END"


def typed_name(name: str) -> str:
    """The typed table behind the view *name* (see merit.core.tables.load)."""
    return f"_typed_{name}"


def drop(con, name: str) -> None:
    """Drop the table or view *name* if there is one."""
    kinds = con.raw_sql(
        f"SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = {sql_str(name)} "
        f"AND schema_name = current_schema() UNION ALL SELECT 'VIEW' FROM duckdb_views() "
        f"WHERE view_name = {sql_str(name)} AND schema_name = current_schema()").fetchall()
    for (kind,) in kinds:
        con.raw_sql(f"DROP {kind} IF EXISTS {ident(name)}")


def fetch_raw(con, sql: str, rows: list[int]) -> dict[int, dict[str, Any]]:
    """The records *rows* of *sql* (which numbers them as ``_row``); the scan stops at the last one."""
    wanted = sorted(set(int(r) for r in rows))
    if not wanted:
        return {}
    got = con.raw_sql(f"SELECT * FROM ({sql}) WHERE _row IN ({', '.join(map(str, wanted))}) "
                      f"LIMIT {len(wanted)}").fetch_arrow_table().to_pylist()
    return {r["_row"]: r for r in got}
