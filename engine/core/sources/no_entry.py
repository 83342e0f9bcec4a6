"""The values of mapped columns that have no entry (a value map without default) or no single
agent (a match by name or email): found on the error path, with one grouped query per column,
each reported once with its count and first line."""

from __future__ import annotations

import difflib

from merit.core.errors import DataError, Problems
from merit.core.sources.mapping import Checked
from merit.core.tables.sql import sql_str

SHOWN = 5  # values named per column


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _missing(con, relation: str, check: Checked) -> list[tuple[str, int, int, int]]:
    """(value, records, first record, values in all) of the column's values with no entry."""
    value = "lower(v)" if check.match else "v"
    cond = f"{value} NOT IN ({', '.join(sql_str(k) for k in check.keys)})" if check.keys else "true"
    return con.raw_sql(
        f"SELECT v, n, first, count(*) OVER () FROM (SELECT v, count(*) AS n, min(_row) AS first FROM ("
        f"SELECT row_number() OVER () - 1 AS _row, {check.text} AS v FROM {relation}) "
        f"WHERE v IS NOT NULL AND {cond} GROUP BY v) ORDER BY first LIMIT {SHOWN}").fetchall()


def no_entry_problems(con, src, relation: str, checked: list[Checked], tables, schema, problems: Problems,
                      t_order: int) -> int:
    """Add the problems of every checked column of the source *src*; the number added."""
    added = 0
    for check in checked:
        rows = _missing(con, relation, check)
        if not rows:
            continue
        lines = tables.line_of(schema.name, [r[2] for r in rows])
        j = schema.names.index(check.name)
        if check.match:
            for (v, n, _, _), line in zip(rows, lines):
                problems.add(_match_problem(src, check, v, n, line), (t_order, line, j))
            problems.total += rows[0][3] - len(rows)
        else:
            problems.add(_map_problem(src, check, rows, lines[0]), (t_order, lines[0], j))
        added += len(rows)
    return added


def _map_problem(src, check: Checked, rows, line: int) -> DataError:
    total = rows[0][3]
    shown = ", ".join(f"'{v}' ({_plural(n, 'record')})" for v, n, _, _ in rows)
    more = f" and {total - len(rows)} more" if total > len(rows) else ""
    entry = src.entry
    return DataError(
        f"{_plural(total, 'value')} of column '{check.header}' {'has' if total == 1 else 'have'} no entry in the "
        f"value map of {check.name}: {shown}{more}", file=src.display, line=line, field=check.name,
        expected=f"a value the map has ({', '.join(check.keys)}): add {'it' if total == 1 else 'them'} to "
                 f"{entry.key('columns', check.name, 'values')}, or give a 'default:' for the others "
                 f"(cycle.yaml line {entry.line('columns', check.name)})")


def _match_problem(src, check: Checked, value: str, n: int, line: int) -> DataError:
    key = check.match
    agents = check.agents.get(value.lower())
    count = _plural(n, "record")
    if agents:  # several agents have it
        listed = ", ".join(f"{agent_id} ({shown})" for agent_id, shown in agents)
        return DataError(f"'{value}' in column '{check.header}' ({count}) is the {key} of {len(agents)} agents: "
                         f"{listed}", file=src.display, line=line, field=check.name,
                         expected=f"a {key} only one agent has: make the agents' {key}s unique, or export "
                                  f"agent ids")
    written = {k: shown for k, found in check.agents.items() for _, shown in found[:1]}
    close = difflib.get_close_matches(value.lower(), list(written), n=3, cutoff=0.6)
    candidates = ", ".join(f"'{written[k]}'" for k in close)
    return DataError(f"'{value}' in column '{check.header}' ({count}) is not the {key} of any agent"
                     f"{f' (the closest: {candidates})' if candidates else ''}", file=src.display, line=line,
                     field=check.name,
                     expected=f"the {key} of an agent in the agents table ({_plural(len(written), key)} known); "
                              f"an empty cell is an unassigned ticket")


def attach_checks(con, src, source, checked: list[Checked], tables, schema, problems: Problems,
                  t_order: int) -> None:
    """Let *source* (merit.core.tables.model.Source) report the values with no entry when typing
    stops at one (merit.core.tables.load)."""
    if not checked:
        return

    def report() -> int:
        return no_entry_problems(con, src, source.relation, checked, tables, schema, problems, t_order)

    source.no_entry_problems = report
