"""Opening the engine a cycle is evaluated on (cycle.yaml's ``backend:``), as an Ibis connection,
with its session set the way merit's queries rely on.  A missing extra or an engine that cannot
be reached is the user's to fix: a :class:`BackendError` naming what to install or which address
failed (exit 2)."""

from __future__ import annotations

import os
import socket
import tempfile
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from merit.core.backends import portability
from merit.core.backends.compiled import cache_compiled_sql
from merit.core.backends.spec import BackendSpec, without_password
from merit.core.errors import MeritError

# Spark: ANSI mode (an overflow or a bad cast is an error, as on DuckDB and PostgreSQL, not a
# silent NULL) and timestamps read and written as UTC instants, as merit stores them.
SPARK_SESSION = {"spark.sql.ansi.enabled": "true", "spark.sql.session.timeZone": "UTC"}
# Spark's logging, for a driver merit starts (a file of this package)
SPARK_LOG4J = "spark-log4j2.properties"


class BackendError(MeritError):
    """The backend cannot be used: its extra is not installed, or its engine cannot be reached."""


def open_backend(spec: BackendSpec, timezone: str):
    """The Ibis connection of *spec*'s engine (DuckDB: a new in-memory one in *timezone*)."""
    if spec.kind == "duckdb":
        from merit.core.tables.connection import connect

        return connect(timezone)
    con = _spark(spec) if spec.kind == "spark" else _postgres(spec)
    portability.prepare_session(con)
    cache_compiled_sql(con)
    return con


def _missing_extra(extra: str, what: str) -> BackendError:
    return BackendError(f"the {what} backend needs merit's '{extra}' extra, which is not installed",
                        expected=f"pip install 'merit[{extra}]'")


def _spark(spec: BackendSpec):
    try:
        import ibis
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException
        from pyspark.sql import SparkSession
    except ImportError:
        raise _missing_extra("spark", "Spark") from None
    builder = SparkSession.builder.appName("merit")
    if spec.connect:  # (the server's log level is the server's: a client may not set it)
        _answers(spec.connect)
        builder = builder.remote(spec.connect)
        # Ibis hands its small in-memory tables over with verifySchema=False, which a Connect
        # client ignores with a warning that says nothing to merit's user
        warnings.filterwarnings("ignore", message="'verifySchema' is ignored", category=UserWarning)
    else:
        # (no stage progress bars on the terminal: merit reports its own progress)
        builder = builder.master(spec.spark_master).config("spark.ui.showConsoleProgress", "false")
        if not spec.spark_master.startswith("local"):  # (a local driver logs through merit's file, below)
            builder = builder.config("spark.log.level", "ERROR")
    for key, value in SPARK_SESSION.items():
        builder = builder.config(key, value)
    if not spec.connect and spec.spark_master.startswith("local"):
        # merit keeps nothing in Spark's catalogue: without this, a local session makes
        # spark-warehouse/ (and Derby's files) in whatever folder merit was started from
        scratch = Path(tempfile.gettempdir()) / "merit-spark"
        # and Spark's logging is merit's file's: errors only
        log4j = Path(__file__).with_name(SPARK_LOG4J).as_uri()
        builder = builder.config("spark.sql.warehouse.dir", str(scratch / "warehouse")).config(
            "spark.driver.extraJavaOptions",
            f"-Dderby.system.home={scratch / 'derby'} -Dlog4j2.configurationFile={log4j}")
        # in local mode the driver does all the work: Spark's 1g runs out of memory at 10 million
        # tickets (docs/performance.md); 4g suffices there
        builder = builder.config("spark.driver.memory", os.environ.get("MERIT_SPARK_DRIVER_MEMORY", "4g"))
    try:
        session = builder.getOrCreate()
    except ImportError as exc:  # (Spark Connect's client needs grpc: installed without the spark extra?)
        raise BackendError(f"Spark Connect needs packages that are not installed: {_first_line(exc)}",
                           expected="pip install 'merit[spark]' (it brings pyspark[connect])") from None
    except (PySparkException, Py4JError, OSError) as exc:  # (Java missing, master or server not answering)
        raise BackendError(f"cannot start or reach Spark at {spec.connect or spec.spark_master}: "
                           f"{_first_line(exc)}",
                           expected="a reachable Spark master or Spark Connect server, and Java 17 or later "
                                    "on this machine (java -version)") from None
    for key, value in SPARK_SESSION.items():  # (a session that already existed keeps its own settings)
        session.conf.set(key, value)
    return ibis.pyspark.connect(session)


def _answers(address: str, seconds: float = 10) -> None:
    """A Spark Connect server that does not answer is said at once: its client would retry
    for minutes before its first query fails."""
    parts = urlsplit(address.split(";", 1)[0])
    try:
        port = parts.port or 15002
        socket.create_connection((parts.hostname or "localhost", port), timeout=seconds).close()
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot reach Spark Connect at {address}: {exc.strerror or exc}",
                           expected="a Spark Connect server answering at that host and port "
                                    "(sc://host:15002)") from None


def _postgres(spec: BackendSpec):
    try:
        import ibis
        import psycopg
    except ImportError:
        raise _missing_extra("postgres", "PostgreSQL") from None
    try:
        con = ibis.connect(spec.url)
    except ImportError:
        raise _missing_extra("postgres", "PostgreSQL") from None
    except psycopg.Error as exc:
        raise BackendError(f"cannot connect to PostgreSQL at {without_password(spec.url)}: {_first_line(exc)}",
                           expected="a reachable PostgreSQL server and a user that may log in") from None
    con.raw_sql("SET TIME ZONE 'UTC'")
    return con


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
