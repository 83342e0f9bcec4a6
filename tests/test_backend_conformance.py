"""The same numbers on every engine (issue 14): a workspace loaded by the file loader, copied to
Spark (local[2]) or PostgreSQL and evaluated there, writes metrics.csv, scores.csv and lists.csv
byte for byte as the evaluation on DuckDB does.

The workspaces: the hand-computed fixtures (tests/fixtures/full_ws, service_ws) and a generated
one of 300,000 tickets in a zone with daylight saving, over a period that crosses its change
(Europe/Berlin, 2026-09-01 … 2026-11-30).  Each is loaded once and evaluated once on DuckDB (the
reference); each engine evaluation is one test, so ``--durations`` shows what each costs.  One
Spark session and one PostgreSQL server serve every test (tests/backend_servers.py); the engine
tests are marked ``backends`` (deselect them with ``-m "not backends"``).
"""

from __future__ import annotations

import contextlib
import datetime as d
import difflib
import re
import shutil
import tempfile
import threading
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from merit.core.backends import BackendSpec, open_backend
from merit.core.backends.staging import stage
from merit.core.errors import DataError, MeritError
from merit.core.evaluate import evaluate
from merit.core.expressions import ColumnContext, parse
from merit.core.outputs import lists_csv, metrics_csv, metrics_long, scores_csv, write_csv
from merit.core.pipeline import Prepared, prepare
from merit.core.scoring import score
from merit.core.backend_tables import load_backend_tables
from merit.core.tables import Tables, load_tables
from merit.core.workspace import open_workspace
from merit.demo import generate_workspace
from tests import backend_servers
from tests.test_check_catches import set_levels
from tests.test_backend_tables import FIXTURE, SERVICE, _check_bad, _same_as_file_loader, _workspace
from tests.test_exact_sums import _set_handle_minutes

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
WORKSPACES = ("full_ws", "service_ws", "generated_300k")  # (the small ones first: they warm Spark up)
backends = pytest.mark.backends
# PySpark 4.0's conversion to pandas passes pandas 3 a keyword it deprecates, and warns of a query
# that failed (the overflow test's, which expects it) before raising its error: not ours to fix.
pytestmark = [pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
              pytest.mark.filterwarnings("ignore:toPandas attempted Arrow optimization")]


@pytest.fixture(scope="module")
def spark_starting():
    """Spark's JVM started in the background while the workspaces are made and loaded."""
    def start():
        with contextlib.suppress(backend_servers.BackendUnavailable):  # (the spark_session fixture says why)
            backend_servers.spark_session()

    thread = threading.Thread(target=start, name="start-spark", daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, spark_starting) -> dict[str, Prepared]:
    """Every workspace loaded and validated once, by the file loader (DuckDB)."""
    root = tmp_path_factory.mktemp("conformance")
    paths = {name: shutil.copytree(FIXTURES / name, root / name) for name in ("full_ws", "service_ws")}
    paths["generated_300k"] = generate_workspace(root / "generated", agents=200, tickets=300_000, seed=11,
                                                 timezone="Europe/Berlin", start=d.date(2026, 9, 1),
                                                 end=d.date(2026, 11, 30))
    return {name: prepare(path) for name, path in paths.items()}


@pytest.fixture(scope="module")
def reference(prepared, tmp_path_factory) -> dict[str, dict[str, str]]:
    """What the DuckDB evaluation of each workspace writes."""
    out = tmp_path_factory.mktemp("duckdb")
    return {name: written(prep, out / name) for name, prep in prepared.items()}


@pytest.fixture(scope="module")
def spark(spark_starting, request):
    spark_starting.join()
    request.getfixturevalue("spark_session")
    return open_backend(BackendSpec(kind="spark", master="local[2]"), "UTC")


@pytest.fixture(scope="module")
def postgres(postgres_url):
    return open_backend(BackendSpec(kind="postgres", url=postgres_url), "UTC")


def written(prep: Prepared, folder: Path) -> dict[str, str]:
    """metrics.csv, scores.csv and lists.csv of *prep*'s evaluation, as written."""
    evaluation = evaluate(prep.plan, prep.tables, prep.ws)
    scores = score(evaluation)
    folder.mkdir(parents=True)
    texts = {}
    for name, frame in (("metrics.csv", metrics_csv(metrics_long(evaluation))), ("scores.csv", scores_csv(scores)),
                        ("lists.csv", lists_csv(evaluation))):
        write_csv(frame, folder / name)
        texts[name] = (folder / name).read_text(encoding="utf-8")
    return texts


def on_engine(prep: Prepared, con) -> Prepared:
    """*prep* with its tables copied to *con*'s engine (the DuckDB tables stay as they are)."""
    return Prepared(prep.ws, prep.loaded, prep.plan, stage(prep.tables, con))


def assert_same(actual: dict[str, str], expected: dict[str, str], engine: str) -> None:
    for name, text in expected.items():
        if actual[name] != text:
            diff = difflib.unified_diff(text.splitlines(), actual[name].splitlines(), "duckdb", engine,
                                        lineterm="", n=0)
            pytest.fail(f"{name} on {engine} differs from DuckDB's:\n" + "\n".join(list(diff)[:30]), pytrace=False)
        assert text.count("\n") > 1  # (not two empty files alike)


@backends
@pytest.mark.parametrize("name", WORKSPACES)
def test_spark_writes_what_duckdb_writes(name, prepared, reference, spark, tmp_path):
    assert_same(written(on_engine(prepared[name], spark), tmp_path / "out"), reference[name], "spark")


@backends
@pytest.mark.parametrize("name", WORKSPACES)
def test_postgres_writes_what_duckdb_writes(name, prepared, reference, postgres, tmp_path):
    assert_same(written(on_engine(prepared[name], postgres), tmp_path / "out"), reference[name], "postgres")


@backends
def test_the_generated_case_is_large_and_crosses_a_daylight_saving_change(prepared, reference):
    """What the conformance of the generated workspace is worth: 300,000 tickets, a zone whose
    offset changes inside the period (the wall-clock conversion is the engine's), lists."""
    prep = prepared["generated_300k"]
    assert prep.tables.counts["tickets"] == 300_000
    assert prep.ws.config.timezone == "Europe/Berlin"
    assert reference["generated_300k"]["lists.csv"].count("\n") > 100


@backends
@pytest.mark.parametrize("engine", ["spark", "postgres"])
def test_a_value_too_large_for_an_exact_sum_is_a_data_error_on_every_engine(engine, service_ws, request):
    _set_handle_minutes(service_ws, "T05", "1e30")
    prep = on_engine(prepare(service_ws), request.getfixturevalue(engine))
    with pytest.raises(DataError, match=r"handle_minutes is 1e\+30 for a record of table tickets: too large to add "
                                        r"up exactly") as raised:
        evaluate(prep.plan, prep.tables, prep.ws)
    assert raised.value.file.endswith("data/tickets.csv")


@backends
@pytest.mark.parametrize("engine", ["spark", "postgres"])
def test_unknown_lookup_keys_are_the_same_data_errors_on_every_engine(engine, service_ws, request):
    """The first lines of each bad value are picked on the engine (DuckDB: ``min(line, 3)``)."""
    extra = [f"G{i:03d},Agent {i},gamma,P9,web,2025-01-01,,20000" for i in range(5)]
    set_levels(service_ws, {"A1": "p3", "A2": "P5", "B2": "P5"}, extra)
    prep = prepare(service_ws)
    found = {}
    for name, tables in (("duckdb", prep.tables), (engine, stage(prep.tables, request.getfixturevalue(engine)))):
        with pytest.raises(MeritError) as raised:
            evaluate(prep.plan, tables, prep.ws)
        found[name] = str(raised.value)
    assert "lines 8, 9, 10 and more" in found["duckdb"]
    assert found[engine] == found["duckdb"]


# --- expressions whose SQL differs from engine to engine ------------------------------------------

ROWS = pa.table({
    "_row": pa.array([0, 1, 2, 3, 4], pa.int64()),
    # around Europe/Berlin's change of 2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET)
    "at": pa.array([d.datetime(2026, 10, 24, 23, 30), d.datetime(2026, 10, 25, 0, 59, 59), None,
                    d.datetime(2026, 10, 25, 1, 0), d.datetime(2026, 3, 29, 1, 0)], pa.timestamp("us")),
    "x": pa.array([2.675, -2.5, None, 12345.45, 0.125], pa.float64()),
    "n": pa.array([7, -7, None, 0, 3], pa.int64()),
    "tags": pa.array(["vip; billing", "billing-x", None, "a.b,vip", ""], pa.string()),
    "agents": pa.array([["a1", "a2"], [], None, ['a"3'], ["a\\4"]], pa.list_(pa.string())),
    "flag": pa.array([True, False, None, True, False], pa.bool_()),
})
EXPRESSIONS = [
    "hour(at)", "month(at)", "date(at)", "weekday(at)", "hours_between(at, period_end())",
    "round(x, 2)", "round(x)", "round(n, -1)", "round(x * 3, 1)", "x // 0.5", "n % 3", "n // 2", "x ** 0.5", "n ** -1", "n ** 2", "2 ** n",
    "n / 0", "abs(n)", "has_tag(tags, 'vip')", "has_tag(tags, 'billing')", "split_part(tags, ';', 1)",
    "contains(tags, 'b')", "length(agents)", "'a1' in agents", "coalesce(x, n, 0)", "least(x, n)",
    "flag and n > 0", "n if flag else None", "lower(tags) == 'a.b,vip'",
]


@pytest.fixture(scope="module")
def expressions_on_duckdb():
    duck = ibis.duckdb.connect()
    table = duck.create_table("t", ROWS)
    return Tables(con=duck, tables={"t": table}), _values(table, duck)


def _values(table: ibis.Table, con) -> pd.DataFrame:
    ctx = ColumnContext(params={}, timezone="Europe/Berlin", engine=con.name,
                        period=(d.datetime(2026, 9, 1), d.datetime(2026, 11, 30, 23)))
    columns = {f"e{i}": parse(text).to_column(table, ctx) for i, text in enumerate(EXPRESSIONS)}
    return con.execute(table.select("_row", **columns).order_by("_row"))


@backends
@pytest.mark.parametrize("engine", ["spark", "postgres"])
def test_expressions_give_the_same_values_on_every_engine(engine, expressions_on_duckdb, request):
    tables, expected = expressions_on_duckdb
    con = request.getfixturevalue(engine)
    staged = stage(tables, con)
    actual = _values(staged.tables["t"], con)
    for i, text in enumerate(EXPRESSIONS):
        want, got = [_plain(v) for v in expected[f"e{i}"]], [_plain(v) for v in actual[f"e{i}"]]
        assert got == want, f"{text} on {engine}: {got} (DuckDB: {want})"


@backends
@pytest.mark.parametrize("engine", ["spark", "postgres"])
def test_timestamp_formats_read_the_same_on_every_engine(engine, request):
    """Every text of tests/test_backend_tables.py's STRPTIME_CASES gives, on the engine, the time
    DuckDB's try_strptime gives (the file loader's), through the portability layer."""
    from merit.core.backends import portability
    from tests.test_backend_tables import duckdb_strptime_values, strptime_values

    con = request.getfixturevalue(engine)
    got = strptime_values(con, lambda s, fmt: portability.strptime_utc(s, (fmt,), "UTC"))
    want = duckdb_strptime_values()
    assert {k: (want[k], got[k]) for k in want if want[k] != got[k]} == {}


def _plain(value):
    """A value as the outputs see it: numbers as floats, dates and times as text."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if hasattr(value, "isoformat"):
        return pd.Timestamp(value).isoformat()
    return str(value)


# --- no evaluation module names an engine ------------------------------------------------------------

# Besides merit.core.backends: the loaders (files: tables/, sources/, xlsx.py; tables of an engine:
# backend_tables/), and the pipeline, which picks the engine the cycle names.
_MAY_NAME_ENGINES = ("backends/", "tables/", "backend_tables/", "sources/", "xlsx.py", "pipeline.py")


def test_no_evaluation_module_names_an_engine():
    core = ROOT / "engine" / "core"
    found = []
    for path in sorted(core.rglob("*.py")):
        relative = path.relative_to(core).as_posix()
        if relative.startswith(_MAY_NAME_ENGINES):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"duckdb|spark|postgres", line, re.I):
                found.append(f"engine/core/{relative}:{number}: {line.strip()}")
    assert found == [], "\n".join(found)


# ------------------------------------------------------------------ Spark's own tests
# Kept in this file so that one Spark session (one JVM, tests/backend_servers.py) serves every
# Spark test: pytest-xdist gives each file to one worker process.
@backends
def test_spark_session_is_local_ansi_utc_and_answers_through_ibis(spark_session):
    import ibis

    conf = spark_session.conf
    assert (conf.get("spark.sql.ansi.enabled"), conf.get("spark.sql.session.timeZone")) == ("true", "UTC")
    assert spark_session.sparkContext.master == "local[2]"
    # managed tables go to a temporary folder, never into the checkout (a second run would fail)
    assert conf.get("spark.sql.warehouse.dir").removeprefix("file:").startswith(tempfile.gettempdir())
    con = ibis.pyspark.connect(spark_session)
    t = ibis.memtable({"agent": ["a", "a", "b"], "hours": [1.5, 2.5, 4.0]})
    got = con.execute(t.group_by("agent").agg(total=t.hours.sum(), n=t.count()).order_by("agent"))
    assert got.to_dict("list") == {"agent": ["a", "b"], "total": [4.0, 4.0], "n": [2, 1]}


@pytest.mark.backends
def test_spark_reads_files_and_tables_itself(tmp_path, spark_session):
    import ibis

    con = ibis.pyspark.connect(spark_session)
    # the surveys from Parquet files outside the workspace, as s3a:// or hdfs:// would be (a glob)
    location = _parquet_parts(tmp_path / "lake" / "surveys", FIXTURE / "data" / "surveys.csv")
    # and the handoffs as a semicolon-separated CSV, which Spark's reader reads with the entry's delimiter
    ws = _workspace(tmp_path / "files", f"  surveys: {{file: '{location}'}}\n"
                    "  handoffs: {file: data/handoffs.csv, delimiter: ';'}\n", copy_data=True)
    _semicolon_separated(ws.root / "data" / "handoffs.csv")
    assert ws.cluster_files == {"surveys": location}
    tables = Tables(con=con)
    load_backend_tables(ws, con, tables, set(SERVICE))
    _same_as_file_loader(tables, load_tables(open_workspace(FIXTURE)), SERVICE)
    _location_identity(con, tables.sources["surveys"], location)
    # keyed tables' rows get Spark's row ids (no window over the whole table: one partition, one
    # task), unique, named by their key; a table without a key keeps its rows numbered in order
    # (the surveys, from two Parquet files, are read as two partitions: the second's ids start at 2**33)
    surveys = tables.tables["surveys"].select("_row").execute()["_row"]
    assert surveys.is_unique and surveys.max() >= 2 ** 33 and not tables.sources["surveys"].numbered
    assert not tables.sources["tickets"].numbered
    assert tables.line_of("surveys", surveys.tolist()[:2]) == [None, None]
    handoffs = tables.tables["handoffs"].order_by("_row").select("_row").execute()
    assert tables.sources["handoffs"].numbered and handoffs["_row"].tolist() == list(range(len(handoffs)))
    assert tables.line_of("handoffs", [0, 2]) == [1, 3]

    def create(c, name, table):
        rows = table.to_pylist()
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(f, StringType()) for f in table.column_names])
        spark_session.createDataFrame(rows, schema).createOrReplaceTempView(f"bt_{name}")

    _check_bad(tmp_path / "bad", con, create, lambda n: f"bt_{n}")



def _semicolon_separated(path: Path) -> None:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows(rows)
    assert ";" in out.getvalue() and "," not in out.getvalue().splitlines()[0]
    path.write_text(out.getvalue(), encoding="utf-8")


def _parquet_parts(folder: Path, csv_file: Path) -> str:
    """The rows of *csv_file* (as text) in two Parquet files in *folder*: their glob, as a URI."""
    import pyarrow.parquet as pq

    from tests.test_backend_tables import _csv_as_text

    folder.mkdir(parents=True)
    rows = _csv_as_text(csv_file)
    pq.write_table(rows.slice(0, rows.num_rows // 2), folder / "part-0.parquet")
    pq.write_table(rows.slice(rows.num_rows // 2), folder / "part-1.parquet")
    return f"{folder.as_uri()}/*.parquet"


def _location_identity(con, src, location: str) -> None:
    """A source the cluster read is named by its location; the manifest's identity of it is the
    location, its row count and checksum; a location the cluster cannot read is a data error."""
    from merit.core.backend_tables.relation import open_relation
    from merit.core.backends import portability
    from merit.cycles.history import _input_identity

    assert (src.display, src.location, src.path) == (location, location, None)
    identity = portability.table_identity(con, src.name)
    assert identity["rows"] == 12  # tests/fixtures/service_ws/data/surveys.csv
    assert _input_identity({"location": location, **identity}) == (
        location, f"rows:12;{identity['checksum']}")
    nowhere = location.replace("/surveys/", "/nowhere/")
    with pytest.raises(DataError) as info:
        open_relation(con, type(src)("surveys", nowhere, "_merit_file_nowhere", location=nowhere))
    assert info.value.message.startswith(f"{nowhere} cannot be read: ")
