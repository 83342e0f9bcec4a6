"""The synthetic workspace behind ``merit demo`` and the benchmark's data.

:func:`generate_workspace` writes ``cycle.yaml`` and one file per input table of the contract
(merit.core.contract, docs/contract.md), byte-identical for the same arguments: every value is
drawn from numpy generators seeded by ``seed`` in a fixed order, all per-record work vectorised,
tickets written one chunk of whole days at a time.  What the data looks like: docs/demo.md.
"""

from merit.demo.columns import TABLE_COLUMNS
from merit.demo.generate import generate_workspace
from merit.demo.world import default_ticket_count

__all__ = ["generate_workspace", "TABLE_COLUMNS", "default_ticket_count"]
