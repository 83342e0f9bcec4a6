"""The input tables: each file of the workspace's data folder read once (CSV, Parquet, xlsx),
typed by the contract (merit.core.contract) into a DuckDB table behind an Ibis view, and
validated, every problem named by file, line and field and raised together.  Modules: the
connection, one reader per format, typing SQL, the typed table and its checks, validation,
the messages; :func:`load_tables` (load.py) runs them."""

from merit.core.contract import Column, contract
from merit.core.tables.connection import connect
from merit.core.tables.load import load_tables
from merit.core.tables.messages import EXPECTED
from merit.core.tables.model import Tables
from merit.core.tables.read_csv import MAX_CSV_RECORD_BYTES
from merit.core.tables.typing_sql import DATE_RE as _DATE_RE
from merit.core.tables.typing_sql import FALSE_WORDS as _FALSE
from merit.core.tables.typing_sql import FLOAT_RE as _FLOAT_RE
from merit.core.tables.typing_sql import INT_RE as _INT_RE
from merit.core.tables.typing_sql import TRUE_WORDS as _TRUE
from merit.core.tables.typing_sql import TS_RE as _TS_RE
from merit.core.tables.typing_sql import LocalTime as _LocalTime
from merit.core.tables.typing_sql import typing_sql as _typing
from merit.core.tables.validate import _hash

# The contract's tables in loading order, and the relations between them (contract.yaml).
SCHEMAS = contract().tables
REQUIRED_TABLES = contract().required_tables
ORDERINGS = contract().orderings

__all__ = [
    "Column", "EXPECTED", "MAX_CSV_RECORD_BYTES", "ORDERINGS", "REQUIRED_TABLES", "SCHEMAS", "Tables",
    "connect", "load_tables",
    # used by merit.cycles.adjustments and tests/test_tables.py
    "_DATE_RE", "_FALSE", "_FLOAT_RE", "_INT_RE", "_LocalTime", "_TRUE", "_TS_RE", "_hash", "_typing",
]
