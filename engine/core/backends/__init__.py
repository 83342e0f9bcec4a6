"""The engines a cycle is evaluated on: DuckDB (embedded, the default), Apache Spark and
PostgreSQL.  Every difference between them lives in this package and nowhere else: the
syntax of ``backend:`` (spec), opening a session (connect), the query differences
(portability), copying tables the file loader read onto another engine (staging); and, for
every engine, SQL compiled once per process for each query's structure (compiled)."""

from merit.core.backends.connect import BackendError, open_backend
from merit.core.backends.spec import BackendSpec, backend_from_option

__all__ = ["BackendError", "BackendSpec", "backend_from_option", "open_backend"]
