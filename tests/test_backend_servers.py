"""The engines of the backend tests (tests/backend_servers.py) start, answer a query through Ibis
as merit will use them, and leave nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.backend_servers import BackendUnavailable, _check_java

pytestmark = pytest.mark.backends
ROOT = Path(__file__).resolve().parents[1]


def test_postgres_server_is_local_and_answers_through_ibis_as_an_ordinary_role(postgres_url):
    import ibis

    assert postgres_url.startswith("postgresql://merit@127.0.0.1:") and postgres_url.endswith("/merit")
    con = ibis.connect(postgres_url)  # ibis.postgres.connect takes host=..., not a URL
    try:
        who = con.sql("SELECT current_user AS u, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su,"
                      " current_setting('TimeZone') AS tz, current_setting('fsync') AS fsync").execute()
        assert who.to_dict("records") == [{"u": "merit", "su": False, "tz": "UTC", "fsync": "off"}]
        con.create_table("smoke", ibis.memtable({"agent": ["a", "a", "b"], "hours": [1.5, 2.5, 4.0]}), overwrite=True)
        t = con.table("smoke")
        got = con.execute(t.group_by("agent").agg(total=t.hours.sum(), n=t.count()).order_by("agent"))
        assert got.to_dict("list") == {"agent": ["a", "b"], "total": [4.0, 4.0], "n": [2, 1]}
    finally:
        con.drop_table("smoke", force=True)
        con.disconnect()


_START_AND_EXIT = """
import os, signal, sys
import psycopg
from tests.backend_servers import postgres_server
url = postgres_server()
# the cluster's folder, as its superuser sees it (the tests' role may not read the setting)
with psycopg.connect(url.replace("merit@", "postgres@")) as con:
    data = con.execute("SHOW data_directory").fetchone()[0]
print(url, data, flush=True)
if sys.argv[1] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_postgres_server_is_stopped_and_removed_when_its_process_ends_or_is_killed():
    procs = {how: subprocess.Popen([sys.executable, "-c", _START_AND_EXIT, how], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for how in ("exits", "killed")}
    servers = {}
    for how, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == (0 if how == "exits" else -9), err
        url, data = out.split()
        servers[how] = int(url.rsplit(":", 1)[1].split("/")[0]), Path(data).parent

    def left():
        return {how: port for how, (port, folder) in servers.items() if _listening(port) or folder.exists()}

    deadline = time.monotonic() + 30  # the killed one's watcher looks every 2 s
    while left() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left() == {}


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_missing_java_is_a_failure_naming_the_package(monkeypatch):
    monkeypatch.setenv("JAVA_HOME", os.fspath(Path(tempfile.gettempdir()) / "no-such-jdk"))
    with pytest.raises(BackendUnavailable, match="openjdk-17-jre-headless"):
        _check_java()
