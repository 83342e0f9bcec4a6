"""A file's header against the contract: which contract column is at which position."""

from __future__ import annotations

from collections.abc import Iterable

from merit.core.contract import TableSchema
from merit.core.errors import DataError, Problems
from merit.core.suggest import did_you_mean
from merit.core.tables.model import SourceFile


def header_problems(src: SourceFile, schema: TableSchema, header: list[str], problems: Problems,
                    t_order: int, mapped: Iterable[str] = ()) -> dict[str, int]:
    """Map contract columns to header positions by name; report missing and repeated ones.
    *mapped*: contract columns a `sources:` entry maps (merit.core.sources.mapping), not
    looked for by name."""
    mapped = set(mapped)
    wanted = [name for name in schema.names if name not in mapped]
    positions: dict[str, int] = {}
    names = [h.strip().lower() for h in header]
    for i, h in enumerate(names):
        if h in positions and h in wanted:
            problems.add(DataError(f"column '{h}' appears twice in the header", file=src.display, line=1,
                                   field=h, expected="each column once"), (t_order, 1, schema.names.index(h)))
            continue
        positions.setdefault(h, i)
    shown = ", ".join(h.strip() for h in header if h.strip()) or "(none)"
    unused = [h.strip() for h in header if h.strip() and h.strip().lower() not in schema.names]
    for j, col in enumerate(schema.columns):
        if col.required and col.name in wanted and col.name not in positions:
            problems.add(DataError(
                f"missing column '{col.name}'{did_you_mean(col.name, unused)} (the header has: {shown})",
                file=src.display, line=1, field=col.name,
                expected=f"a column named '{col.name}'; {schema.name} needs: {', '.join(schema.required_columns)}",
            ), (t_order, 1, j))
    return {name: positions[name] for name in wanted if name in positions}
