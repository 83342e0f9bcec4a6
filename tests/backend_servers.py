"""Real engines for the backend tests: one local Spark session and one PostgreSQL server per test
process, started on first use and stopped at exit, and the session-scoped fixtures over them
(``spark_session``, ``postgres_url``, registered in tests/conftest.py).

CI must run these tests, so a missing Java, PostgreSQL or extra FAILS the fixture with what to
install (``./dev.sh setup`` installs all of it), never skips it."""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from glob import glob
from pathlib import Path

import pytest

SETUP_HINT = "./dev.sh setup installs it (README, Quick start)"
PG_OS_USER = "merit-pg"   # PostgreSQL refuses to run as root: tests run as root start it as this user
PG_ROLE = PG_DATABASE = "merit"

_spark = None
_postgres_url: str | None = None


class BackendUnavailable(RuntimeError):
    """An engine the backend tests need is not installed or did not start."""


# --- Spark -------------------------------------------------------------------------------------

def spark_session():
    """This process's one local SparkSession (local[2], ANSI mode on, session time zone UTC),
    started on first call (~10 s) and stopped at exit.  merit's own ``open_backend`` calls
    ``getOrCreate()``, so it reuses this session instead of starting another JVM."""
    global _spark
    if _spark is None:
        _spark = _start_spark()
    return _spark


def _start_spark():
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise BackendUnavailable(f"pyspark is not installed ({exc}): pip install -e '.[spark]'; {SETUP_HINT}") from exc
    _check_java()
    # spark-warehouse/, metastore_db/ and Spark's scratch files otherwise land in the working folder
    tmp = Path(tempfile.mkdtemp(prefix="merit-spark-"))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no look-up of the host name, no public address
    java_opts = f"-Djava.io.tmpdir={tmp} -Dderby.system.home={tmp / 'derby'}"
    # The JIT's first tier only: the tests' JVM lives two minutes on small tables, where the
    # optimising compiler costs more than it saves (Spark's tests: 188 -> 156 CPU s, same wall;
    # the CPU given back goes to the other xdist worker). Results do not depend on it.
    java_opts += " -XX:TieredStopAtLevel=1"
    java_opts += " " + os.environ.get("MERIT_TEST_JAVA_OPTS", "")
    builder = (SparkSession.builder.master("local[2]").appName("merit-tests")
               .config("spark.sql.ansi.enabled", "true")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.log.level", "ERROR")
               # as merit's own session does (portability.prepare_session): pandas <-> Spark by Arrow
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               # the tests' tables are small: 200 shuffle partitions would be 200 tiny tasks a query
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.driver.memory", "1g")
               .config("spark.sql.warehouse.dir", str(tmp / "warehouse"))
               .config("spark.local.dir", str(tmp / "local"))
               .config("spark.driver.extraJavaOptions", java_opts))
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # pyspark reports a JVM that did not start with several error types
        shutil.rmtree(tmp, ignore_errors=True)
        raise BackendUnavailable(f"Spark did not start: {exc}") from exc
    session.sparkContext.setLogLevel("ERROR")
    atexit.register(_stop_spark, session, tmp)
    return session


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home, "bin", "java")) if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise BackendUnavailable(f"Spark needs a Java 17 runtime and none was found (no `java` on PATH, "
                                 f"JAVA_HOME unset): apt-get install openjdk-17-jre-headless; {SETUP_HINT}")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    found = re.search(r'version "(\d+)', out)
    if not found or int(found.group(1)) < 17:
        raise BackendUnavailable(f"Spark 4.0 needs Java 17 or later; {java} is {out.splitlines()[:1]}: "
                                 f"apt-get install openjdk-17-jre-headless; {SETUP_HINT}")


def _stop_spark(session, tmp: Path) -> None:
    session.stop()
    shutil.rmtree(tmp, ignore_errors=True)


# --- PostgreSQL --------------------------------------------------------------------------------

def postgres_server() -> str:
    """The URL (``postgresql://merit@127.0.0.1:PORT/merit``) of this process's one PostgreSQL
    server: a fresh cluster in a temporary folder, on a free port of 127.0.0.1, durability off
    (fsync), started on first call (~2 s) and stopped and removed at exit.  The role ``merit``
    owns the database ``merit`` and is no superuser, like a user's own account."""
    global _postgres_url
    if _postgres_url is None:
        _postgres_url = _start_postgres()
    return _postgres_url


def _start_postgres() -> str:
    bindir = _pg_bindir()
    user = _pg_os_user()
    tmp = Path(tempfile.mkdtemp(prefix="merit-pg-", dir=_base_dir_for(user)))
    try:
        if user is not None:
            shutil.chown(tmp, user)
        port = _free_port()
        _as(user, [f"{bindir}/initdb", "-D", f"{tmp}/data", "-U", "postgres", "-A", "trust",
                   "-E", "UTF8", "--no-locale", "--no-sync"], tmp)
        with open(tmp / "data" / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(_server_settings(port, tmp))
        _as(user, [f"{bindir}/pg_ctl", "-D", f"{tmp}/data", "-l", f"{tmp}/server.log", "-w", "-t", "60", "start"], tmp)
        _watch_for_a_killed_parent(bindir, user, tmp)
        atexit.register(_stop_postgres, bindir, user, tmp)
        client = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
        _as(None, [f"{bindir}/createuser", *client, PG_ROLE], tmp)
        _as(None, [f"{bindir}/createdb", *client, "-O", PG_ROLE, PG_DATABASE], tmp)
    except BaseException:
        _stop_postgres(bindir, user, tmp)
        raise
    return f"postgresql://{PG_ROLE}@127.0.0.1:{port}/{PG_DATABASE}"


def _server_settings(port: int, tmp: Path) -> str:
    # a throw-away cluster: no durability, little memory, UTC, nothing but the loopback address
    return (f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{tmp}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "shared_buffers = 64MB\nwork_mem = 16MB\nmax_connections = 20\ntimezone = 'UTC'\n")


def _pg_bindir() -> str:
    """Where initdb and pg_ctl are: MERIT_PG_BINDIR, else ``pg_config --bindir``, else the newest
    /usr/lib/postgresql/*/bin (Debian keeps the server's programs off PATH)."""
    candidates = [os.environ.get("MERIT_PG_BINDIR", "")]
    if shutil.which("pg_config"):
        proc = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(proc.stdout.strip())
    versions = sorted(glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(n) for n in re.findall(r"\d+", p)])
    candidates += reversed(versions)
    for bindir in candidates:
        if bindir and all(Path(bindir, tool).exists() for tool in ("initdb", "pg_ctl", "createdb")):
            return bindir
    raise BackendUnavailable(f"no PostgreSQL server programs (initdb, pg_ctl) found in MERIT_PG_BINDIR, "
                             f"`pg_config --bindir` or /usr/lib/postgresql/*/bin: apt-get install postgresql; {SETUP_HINT}")


def _pg_os_user() -> str | None:
    """The user the server runs as: ``merit-pg`` (created when missing) for root, else the current
    user (None: no switching)."""
    if os.geteuid() != 0:
        return None
    for _ in range(5):  # two test workers may both find the user missing; the loser's useradd fails
        try:
            pwd.getpwnam(PG_OS_USER)
            return PG_OS_USER
        except KeyError:
            try:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                                PG_OS_USER], capture_output=True)
            except OSError:  # no useradd on this system: said below
                break
            time.sleep(0.2)
    raise BackendUnavailable(f"PostgreSQL refuses to run as root, and `useradd {PG_OS_USER}` failed: "
                             f"create an unprivileged user {PG_OS_USER!r}")


def _base_dir_for(user: str | None) -> str:
    """A temporary folder the server's user can reach (TMPDIR may be under root's home)."""
    base = tempfile.gettempdir()
    if user is None:
        return base
    reachable = all(os.stat(p).st_mode & 0o001 for p in [base, *map(str, Path(base).parents)])
    return base if reachable else "/tmp"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as(user: str | None, argv: list[str], cwd: Path) -> None:
    """Run a PostgreSQL program (as *user*, when given); a failure says what it printed."""
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=120)
    if proc.returncode != 0:
        log = cwd / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise BackendUnavailable(f"PostgreSQL: `{' '.join(argv)}` failed ({proc.returncode}):\n"
                                 f"{proc.stdout}{proc.stderr}{tail}")


def _stop_postgres(bindir: str, user: str | None, tmp: Path) -> None:
    if (tmp / "data" / "postmaster.pid").exists():
        # immediate: the cluster is thrown away, nothing to flush
        argv = [f"{bindir}/pg_ctl", "-D", f"{tmp}/data", "-m", "immediate", "-w", "stop"]
        subprocess.run(["runuser", "-u", user, "--", *argv] if user else argv, capture_output=True, cwd=tmp)
    shutil.rmtree(tmp, ignore_errors=True)


def _watch_for_a_killed_parent(bindir: str, user: str | None, tmp: Path) -> None:
    """A process killed outright runs no atexit: a detached watcher stops and removes the server
    when this process is gone (and ends on its own once the folder is removed at exit)."""
    stop = " ".join([*(["runuser", "-u", user, "--"] if user else []), f"{bindir}/pg_ctl",
                     "-D", f"'{tmp}/data'", "-m", "immediate", "stop"])
    script = (f"while kill -0 {os.getpid()} 2>/dev/null && [ -d '{tmp}' ]; do sleep 2; done; "
              f"[ -d '{tmp}' ] && {{ {stop}; rm -rf '{tmp}'; }}; exit 0")
    subprocess.Popen(["sh", "-c", script], start_new_session=True, cwd="/",
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- fixtures (registered in tests/conftest.py) --------------------------------------------------

@pytest.fixture(scope="session", name="spark_session")
def spark_session_fixture():
    """The process's SparkSession (see ``spark_session``); fails when Spark cannot start."""
    try:
        return spark_session()
    except BackendUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session", name="postgres_url")
def postgres_url_fixture() -> str:
    """The URL of the process's PostgreSQL server (see ``postgres_server``); fails when it cannot start."""
    try:
        import psycopg  # noqa: F401 (ibis's postgres backend needs it)
    except ImportError as exc:
        pytest.fail(f"psycopg is not installed ({exc}): pip install -e '.[postgres]'; {SETUP_HINT}", pytrace=False)
    try:
        return postgres_server()
    except BackendUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
