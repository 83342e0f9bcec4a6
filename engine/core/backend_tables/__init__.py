"""The input tables that live on the backend: a `sources:` entry naming a table or view
(``table: support.tickets``) instead of a file, and on Spark the files Spark reads itself.  The
same column and value mapping, typing and checks as the file loader's (merit.core.tables), as
Ibis expressions the backend runs: relation.py (the source's columns), typing.py (to the
contract's types), validate.py (the checks as grouped queries), messages.py (problems named by
table, key and column); :func:`load_backend_tables` (load.py) runs them."""

from merit.core.backend_tables.load import load_backend_tables
from merit.core.backend_tables.relation import BackendSource

__all__ = ["BackendSource", "load_backend_tables"]
