"""A file's header against the contract: which contract column is at which position."""

from __future__ import annotations

from merit.core.contract import TableSchema
from merit.core.errors import DataError, Problems
from merit.core.tables.model import SourceFile


def header_problems(src: SourceFile, schema: TableSchema, header: list[str], problems: Problems,
                    t_order: int) -> dict[str, int]:
    """Map contract columns to header positions; report missing and repeated ones."""
    positions: dict[str, int] = {}
    names = [h.strip().lower() for h in header]
    for i, h in enumerate(names):
        if h in positions and h in schema.names:
            problems.add(DataError(f"column '{h}' appears twice in the header", file=src.display, line=1,
                                   field=h, expected="each column once"), (t_order, 1, schema.names.index(h)))
            continue
        positions.setdefault(h, i)
    shown = ", ".join(h.strip() for h in header if h.strip()) or "(none)"
    for j, col in enumerate(schema.columns):
        if col.required and col.name not in positions:
            problems.add(DataError(
                f"missing column '{col.name}' (the header has: {shown})",
                file=src.display, line=1, field=col.name,
                expected=f"a column named '{col.name}'; {schema.name} needs: {', '.join(schema.names)}",
            ), (t_order, 1, j))
    return {c.name: positions[c.name] for c in schema.columns if c.name in positions}
