"""cycle.yaml's `backend:` and `--backend`: the syntax, and the errors of an engine that cannot be
used (a missing extra, an address nobody answers), each exit 2 naming what to install or which
address failed, before any table is loaded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from merit.core.backends.spec import BackendSpec, backend_from_option, without_password
from tests.conftest import assert_user_error, copy_of, FIXTURES
from tests.merit_cli import run_merit, run_merit_subprocess


def test_absent_backend_is_duckdb():
    assert BackendSpec().kind == "duckdb"
    assert BackendSpec.model_validate("spark").kind == "spark"


@pytest.mark.parametrize("entry, message", [
    ({"kind": "postgres"}, "a postgres backend needs 'url'"),
    ({"kind": "duckdb", "url": "postgresql://h/db"}, "'url' does not apply to backend kind 'duckdb'"),
    ({"kind": "spark", "master": "local[2]", "connect": "sc://h:15002"}, "not both"),
    ({"kind": "spark", "url": "postgresql://h/db"}, "(it takes connect, master)"),
])
def test_entries_that_do_not_fit_their_kind(entry, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        BackendSpec.model_validate(entry)


@pytest.mark.parametrize("option, kind, key, value", [
    ("local[2]", "spark", "master", "local[2]"),
    ("spark://10.0.0.1:7077", "spark", "master", "spark://10.0.0.1:7077"),
    ("sc://host:15002", "spark", "connect", "sc://host:15002"),
    ("postgresql://u@h:5432/db", "postgres", "url", "postgresql://u@h:5432/db"),
    ("duckdb", "duckdb", "url", None),
])
def test_backend_option(option, kind, key, value):
    spec = backend_from_option(option, BackendSpec())
    assert (spec.kind, getattr(spec, key)) == (kind, value)


def test_kind_alone_keeps_the_configured_address():
    configured = BackendSpec(kind="postgres", url="postgresql://u@h/db")
    assert backend_from_option("postgres", configured) is configured
    with pytest.raises(ValueError, match="needs the database's address"):
        backend_from_option("postgres", BackendSpec())


def test_password_never_shown():
    assert without_password("postgresql://merit:s3cret@db.example:5432/hr") == "postgresql://merit:***@db.example:5432/hr"
    assert BackendSpec(kind="postgres", url="postgresql://a:b@h/db").where() == "postgres (postgresql://a:***@h/db)"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workspace(tmp_path: Path, backend) -> Path:
    ws = copy_of(FIXTURES / "service_ws", tmp_path / "ws")
    cycle = ws / "cycle.yaml"
    doc = yaml.safe_load(cycle.read_text(encoding="utf-8"))
    doc["backend"] = backend
    cycle.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return ws


def test_unreachable_postgres_is_named_with_its_address_not_its_password(tmp_path):
    port = _closed_port()
    ws = _workspace(tmp_path, {"kind": "postgres", "url": f"postgresql://hr:s3cret@127.0.0.1:{port}/merit"})
    proc = run_merit("run", ws, "--no-pdf")
    assert_user_error(proc, f"cannot connect to PostgreSQL at postgresql://hr:***@127.0.0.1:{port}/merit",
                      "Connection refused")
    assert "s3cret" not in proc.stderr
    assert not (ws / "out").exists()


def test_unreachable_spark_connect_server_is_said_at_once(tmp_path):
    """(its client would retry for minutes before the first query failed)"""
    port = _closed_port()
    ws = _workspace(tmp_path, {"kind": "spark", "connect": f"sc://127.0.0.1:{port}"})
    start = time.monotonic()
    proc = run_merit("check", ws)
    assert_user_error(proc, f"cannot reach Spark Connect at sc://127.0.0.1:{port}: Connection refused",
                      "sc://host:15002")
    assert time.monotonic() - start < 30


def test_backend_option_overrides_cycle_yaml(tmp_path):
    ws = _workspace(tmp_path, "duckdb")
    port = _closed_port()
    proc = run_merit("check", ws, "--backend", f"postgresql://hr@127.0.0.1:{port}/merit")
    assert_user_error(proc, f"postgresql://hr@127.0.0.1:{port}/merit")


def test_unknown_backend_option(tmp_path):
    proc = run_merit("run", copy_of(FIXTURES / "service_ws", tmp_path / "ws"), "--backend", "oracle", "--no-pdf")
    assert_user_error(proc, "--backend", "unknown backend 'oracle'", "postgresql://")


def test_unknown_kind_in_cycle_yaml(tmp_path):
    proc = run_merit("check", _workspace(tmp_path, {"kind": "oracle"}))
    assert_user_error(proc, "cycle.yaml", "backend")


def test_missing_extra_names_what_to_install(tmp_path):
    """A machine without the spark extra: `import pyspark` fails (a package shadowing it here)."""
    shadow = tmp_path / "shadow" / "pyspark"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named pyspark')\n")
    proc = run_merit_subprocess("check", _workspace(tmp_path, {"kind": "spark", "master": "local[1]"}),
                                env={"PYTHONPATH": str(shadow.parent)})
    assert_user_error(proc, "the Spark backend needs merit's 'spark' extra", "pip install 'merit[spark]'")


def test_spark_without_java_says_so(tmp_path):
    proc = run_merit_subprocess("check", _workspace(tmp_path, {"kind": "spark", "master": "local[1]"}),
                                env={"JAVA_HOME": str(tmp_path / "no-java")})
    assert_user_error(proc, "cannot start or reach Spark at local[1]", "Java 17 or later")


# A Spark session as merit opens one (merit.core.backends.connect), in a process of its own, and one
# query through Ibis; what the process printed on stderr is all Spark's (and the JVM's).
SPARK_PROCESS = """
import ibis
from merit.core.backends.connect import open_backend
from merit.core.backends.spec import BackendSpec
con = open_backend(BackendSpec(kind="spark", master="local[1]"), "UTC")
t = ibis.memtable({"agent": ["a", "a", "b"], "hours": [1.5, 2.5, 4.0]})
print(con.execute(t.group_by("agent").agg(total=t.hours.sum()).order_by("agent")).to_dict("list"))
"""


@pytest.mark.backends
def test_a_spark_driver_merit_starts_keeps_sparks_logging_off_the_terminal(tmp_path):
    """The Spark driver merit starts (local[N]) logs through merit's file: nothing of Spark's own
    logging on the terminal — no log profile notice, no warning about Hadoop's native libraries,
    no progress bars; only the JVM's one line about its vector module."""
    proc = subprocess.run([sys.executable, "-c", SPARK_PROCESS], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={**os.environ, "MERIT_SPARK_DRIVER_MEMORY": "1g"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "{'agent': ['a', 'b'], 'total': [4.0, 4.0]}"
    spark_lines = [line for line in proc.stderr.splitlines()
                   if line.strip() and not line.startswith("WARNING: Using incubator modules")]
    assert spark_lines == [], proc.stderr[-3000:]
