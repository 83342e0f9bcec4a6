"""Hostile or broken input files: clear errors (file, line, what is wrong, what is expected),
exit code 2, never a traceback, a hang or an exhausted machine.

YAML settings files (cycle.yaml, rulesets, panel.yaml), NUL bytes in data cells,
special files (FIFOs, devices, /proc files, folders) where a file is expected,
a 50 MB CSV line and CSVs mixing CRLF and LF line endings.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from merit.cli.main import app
from merit.core.errors import DataError, MeritError, ProblemList
from merit.core.tables import MAX_CSV_RECORD_BYTES, load_tables
from merit.core.workspace import open_workspace
from merit.core.yamlpos import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_VALUES
from tests.conftest import MERIT, assert_user_error, run_merit

runner = CliRunner()

NUL_EXPECTED = ("text without NUL characters (a NUL usually means a damaged or binary file: "
                "export the table again)")

# The classic "billion laughs": nine levels of nine aliases, 9**9 (about 4 * 10**8) strings
# once expanded, plus the lists holding them, from a few hundred bytes.
BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


def small_bomb(levels: int = 6, width: int = 6) -> str:
    """An alias bomb of width**levels strings: 6**6 = 46,656 (and the lists holding them), beyond
    MAX_YAML_VALUES, and small enough that the code before the fix expanded it instead of refusing it."""
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    for k in range(1, levels):
        lines.append(f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def cli(*args) -> tuple[int, str]:
    """merit in-process: exit code and everything it wrote (a traceback would be an exception)."""
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the test fails showing it
    return result.exit_code, result.output


def assert_refused(code: int, output: str, *needles: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output, output
    for needle in needles:
        assert needle in output, (needle, output)


def append_to_cycle(ws: Path, text: str) -> None:
    with open(ws / "cycle.yaml", "a", encoding="utf-8", newline="") as fh:
        fh.write(text)


def cycle_lines(ws: Path) -> int:
    return (ws / "cycle.yaml").read_text(encoding="utf-8").count("\n")


def set_ruleset(ws: Path, value: str) -> None:
    path = ws / "cycle.yaml"
    text, n = re.subn(r"^ruleset: .*$", f"ruleset: {value}", path.read_text(encoding="utf-8"), flags=re.M)
    assert n == 1
    path.write_text(text, encoding="utf-8")


def run_merit_bounded(*args, memory_gb: float = 1.5, timeout: int = 120) -> subprocess.CompletedProcess:
    """The real `merit`, with its address space capped: a regression that expands an alias bomb
    fails this test with a MemoryError (or the timeout) instead of exhausting the machine."""
    limit = int(memory_gb * 1024 ** 3)

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([str(MERIT), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=cap)


# --------------------------------------------------------------------------- YAML


def test_billion_laughs_cycle_yaml_is_refused_in_seconds(service_ws):
    assert len(BILLION_LAUGHS.encode()) < 400
    first = cycle_lines(service_ws) + 1
    append_to_cycle(service_ws, BILLION_LAUGHS)
    started = time.monotonic()
    proc = run_merit_bounded("check", service_ws)
    assert time.monotonic() - started < 60
    # Values once expanded (each list counts too): a holds 10, b 1 + 9 * 10 = 91, c 820, d 7,381,
    # e 66,430: the first above the bound of 50,000, on the fifth line.
    assert MAX_YAML_VALUES == 50_000
    assert_user_error(proc, "cycle.yaml", f"line {first + 4}", f"{MAX_YAML_VALUES:,} values", "alias")


def test_alias_bombs_in_ruleset_and_panel_yaml_are_refused(service_ws):
    (service_ws / "bomb.yaml").write_text(small_bomb(), encoding="utf-8")
    set_ruleset(service_ws, "bomb.yaml")
    code, output = cli("check", service_ws)
    # Values once expanded (each list counts too): l0 holds 7, l(k) 1 + 6 * l(k-1): l4 9,331 and
    # l5 55,987, the first above the bound of 50,000, on line 6.
    assert_refused(code, output, "bomb.yaml", "line 6", f"{MAX_YAML_VALUES:,} values")
    set_ruleset(service_ws, "default")
    (service_ws / "panel.yaml").write_text("panelists: []\n" + small_bomb(), encoding="utf-8")
    code, output = cli("panel", "assign", service_ws)
    assert_refused(code, output, "panel.yaml", "line 7", f"{MAX_YAML_VALUES:,} values")


def test_small_aliases_are_still_read(service_ws):
    # An anchor reused is ordinary YAML: the cycle is named after its start through an alias.
    text = (service_ws / "cycle.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^name: .*\n", "", text, flags=re.M)
    text = re.sub(r"^period: .*$", "period: {start: &start 2026-07-01, end: 2026-08-31}", text, flags=re.M)
    text += "name: *start\n"
    (service_ws / "cycle.yaml").write_text(text, encoding="utf-8")
    code, output = cli("check", service_ws)
    assert code == 0, output
    assert open_workspace(service_ws).config.name == "2026-07-01"


def test_alias_to_its_own_container_is_refused(service_ws):
    append_to_cycle(service_ws, "loop: &loop [1, *loop]\n")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "cycle.yaml", f"line {cycle_lines(service_ws)}", "contains it")


def test_nul_and_control_characters_in_yaml_are_refused_with_line_and_column(service_ws):
    line = cycle_lines(service_ws) + 1
    append_to_cycle(service_ws, "name2: ab\x00c\x00\n")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "cycle.yaml", f"line {line}", "column 10", "the first of 2",
                   "U+0000")
    (service_ws / "r.yaml").write_text("name: r\nextends: default\n\nparams: {x: \"\x07\"}\n", encoding="utf-8")
    cycle = service_ws / "cycle.yaml"
    cycle.write_text(cycle.read_text(encoding="utf-8").replace("name2: ab\x00c\x00\n", ""), encoding="utf-8")
    set_ruleset(service_ws, "r.yaml")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "r.yaml", "line 4", "column 14", "U+0007")


def test_tabs_crlf_and_a_bom_in_yaml_are_fine(service_ws):
    text = (service_ws / "cycle.yaml").read_text(encoding="utf-8")
    text = "\ufeff" + text.replace("\n", "\r\n").replace("# Hand-made", "#\tHand-made")
    text = text.replace("name: 2026-JulAug-service-fixture", 'name: "2026\tJulAug"')
    (service_ws / "cycle.yaml").write_text(text, encoding="utf-8", newline="")
    code, output = cli("check", service_ws)
    assert code == 0, output
    assert open_workspace(service_ws).config.name == "2026\tJulAug"


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}")])
def test_absurd_nesting_is_refused(service_ws, opening, closing):
    line = cycle_lines(service_ws) + 1
    append_to_cycle(service_ws, "deep: " + opening * 5000 + closing * 5000 + "\n")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "cycle.yaml", f"line {line}", f"deeper than {MAX_YAML_DEPTH} levels")


def test_block_nesting_at_the_bound_is_read_beyond_it_refused(tmp_path):
    from merit.core.yamlpos import load_yaml

    def nested(levels: int) -> str:  # a mapping in a mapping ..., *levels* deep with its value
        return "".join("  " * k + f"k{k}:\n" for k in range(levels - 1)) + "  " * (levels - 1) + "k: 1\n"

    path = tmp_path / "n.yaml"
    path.write_text(nested(MAX_YAML_DEPTH - 1), encoding="utf-8")  # (the value 1 is one level more)
    assert load_yaml(path).data["k0"]["k1"]["k2"] is not None
    path.write_text(nested(MAX_YAML_DEPTH), encoding="utf-8")
    with pytest.raises(MeritError) as info:
        load_yaml(path)
    assert f"deeper than {MAX_YAML_DEPTH} levels" in info.value.message
    assert info.value.line == MAX_YAML_DEPTH


def test_oversized_yaml_is_refused_before_parsing(service_ws):
    append_to_cycle(service_ws, ("# padding" + " " * 90 + "\n") * (MAX_YAML_BYTES // 100 + 1))
    code, output = cli("check", service_ws)
    assert_refused(code, output, "cycle.yaml", f"larger than {MAX_YAML_BYTES:,} bytes")


# ------------------------------------------------------------ special files as inputs


def test_proc_self_environ_as_ruleset_is_refused_without_leaking_it(service_ws):
    set_ruleset(service_ws, "/proc/self/environ")
    proc = subprocess.run([str(MERIT), "check", str(service_ws)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MERIT_TEST_SECRET": "s3cr3t-value"})
    assert_user_error(proc, "/proc/self/environ", "not a regular file")
    assert "s3cr3t-value" not in proc.stderr + proc.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_as_cycle_ruleset_or_data_file_is_refused_not_waited_on(service_ws):
    fifo = service_ws / "pipe.yaml"
    os.mkfifo(fifo)
    set_ruleset(service_ws, "pipe.yaml")
    proc = run_merit("check", service_ws, timeout=120)  # (before the fix: waits for a writer forever)
    assert_user_error(proc, "pipe.yaml", "not a regular file (a named pipe)")

    set_ruleset(service_ws, "default")
    (service_ws / "data" / "surveys.csv").unlink()
    os.mkfifo(service_ws / "data" / "surveys.csv")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "surveys.csv", "not a regular file (a named pipe)")

    (service_ws / "data" / "surveys.csv").unlink()
    (service_ws / "cycle.yaml").rename(service_ws / "cycle.txt")
    os.mkfifo(service_ws / "cycle.yaml")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "cycle.yaml", "not a regular file (a named pipe)")


def test_data_file_that_is_a_link_to_a_folder_or_a_device_is_refused(service_ws, tmp_path):
    data = service_ws / "data"
    (data / "surveys.csv").unlink()
    (tmp_path / "folder").mkdir()
    (data / "surveys.csv").symlink_to(tmp_path / "folder")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "surveys.csv", "not a regular file (a folder)")
    (data / "surveys.csv").unlink()
    (data / "surveys.csv").symlink_to("/dev/zero")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "surveys.csv", "not a regular file (a device)")


def test_proc_file_as_data_is_refused(service_ws):
    data = service_ws / "data"
    (data / "surveys.csv").unlink()
    (data / "surveys.csv").symlink_to("/proc/self/status")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "surveys.csv", "not a regular file")


# ------------------------------------------------------------------ CSV line endings and sizes


def test_fifty_megabyte_csv_line_names_the_line_in_seconds(service_ws):
    path = service_ws / "data" / "tickets.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = lines[1].split(",")
    fields[1] = "C" * (50 * 1024 * 1024)
    lines[1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.monotonic()
    proc = run_merit("check", service_ws, timeout=120)
    assert time.monotonic() - started < 60
    assert_user_error(proc, "tickets.csv, line 2", "longer than the maximum",
                      f"at most {MAX_CSV_RECORD_BYTES:,} bytes")
    assert len(proc.stderr) < 2000  # the line itself is not quoted


def test_three_megabyte_csv_record_names_its_line(service_ws):
    path = service_ws / "data" / "tickets.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = lines[4].split(",")
    fields[1] = '"' + "C\n" * (1_500_001) + '"'  # one record over 1.5 million lines, 3 MB
    lines[4] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "tickets.csv, line 5", "longer than the maximum")
    assert len(output) < 2000


def mix_line_endings(path: Path) -> None:
    """Rewrite *path* so that every other line ends in CRLF (an Excel file with appended lines)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("".join(line + ("\r\n" if i % 2 == 0 else "\n") for i, line in enumerate(lines)),
                    encoding="utf-8", newline="")


def test_csv_mixing_crlf_and_lf_reads_like_the_original(service_ws, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(service_ws, plain)
    for name in ("tickets.csv", "agents.csv", "surveys.csv"):
        mix_line_endings(service_ws / "data" / name)
    assert b"\r\n" in (service_ws / "data" / "tickets.csv").read_bytes()
    copies = set(Path(tempfile.gettempdir()).glob("merit-*.csv"))
    code, output = cli("check", service_ws)
    assert code == 0, output
    mixed, original = load_tables(open_workspace(service_ws)), load_tables(open_workspace(plain))
    for name in ("tickets", "agents", "surveys"):
        assert mixed.tables[name].to_pyarrow().equals(original.tables[name].to_pyarrow()), name
    assert mixed.counts["tickets"] == 22 and mixed.counts["agents"] == 6  # (the fixture's records)
    assert set(Path(tempfile.gettempdir()).glob("merit-*.csv")) <= copies  # the LF copies are gone


def test_mixed_line_endings_keep_line_numbers_and_quoted_values(service_ws):
    path = service_ws / "data" / "tickets.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    bad = lines[5].split(",")
    bad[12] = "7"  # csat out of 1..5, on line 6
    lines[5] = ",".join(bad)
    quoted = lines[3].split(",")
    quoted[1] = '"multi\r\nline"'  # a customer_id over two lines: line 6 moves to line 7
    lines[3] = ",".join(quoted)
    path.write_text("".join(line + ("\r\n" if i % 3 else "\n") for i, line in enumerate(lines)),
                    encoding="utf-8", newline="")
    code, output = cli("check", service_ws)
    # Line 4 spans two lines, so the csat on the record of the original line 6 is on line 7.
    assert_refused(code, output, "tickets.csv, line 7, field 'csat'", "csat 7 is out of range")


# --------------------------------------------------------------------------- NUL in data cells


def make_ws(tmp_path, files: dict) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(Path(__file__).parent / "fixtures" / "service_ws", root)
    for name, content in files.items():
        path = root / "data" / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8", newline="")
        else:
            content(path)
    return root


def problems(root: Path) -> tuple[list[MeritError], int]:
    with pytest.raises(MeritError) as info:
        load_tables(open_workspace(root))
    err = info.value
    if isinstance(err, ProblemList):
        return err.problems, err.total
    return [err], err.count


def nul_agents(path: Path) -> None:
    """agents.csv with NUL bytes: names on lines 2 and 4, the team of line 3, a level on line 4."""
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in lines]
    rows[1][1] = "张\x00伟"
    rows[3][1] = "\x00"
    rows[2][2] = "al\x00pha"
    rows[3][7] = "21000\x00"  # cost_per_month: a number with a NUL is a NUL problem, not a parse error
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8", newline="")


def test_nul_bytes_in_csv_cells_are_one_problem_per_column(tmp_path):
    found, total = problems(make_ws(tmp_path, {"agents.csv": nul_agents}))
    assert total == 4  # the values holding a NUL: 2 names, 1 team, 1 cost_per_month; listed as 3 problems
    assert len(found) == 3
    assert all(isinstance(p, DataError) for p in found)
    by_field = {p.field: p for p in found}
    assert set(by_field) == {"name", "team", "cost_per_month"}
    name = by_field["name"]
    assert (name.file, name.line) == ("ws/data/agents.csv", 2)
    assert name.message == "2 values contain a NUL character (a zero byte), on lines 2 and 4"
    assert name.expected == NUL_EXPECTED
    assert by_field["team"].line == 3 and by_field["team"].message.startswith("1 value contains a NUL")
    assert by_field["cost_per_month"].line == 4


def test_nul_in_csv_via_the_cli(service_ws):
    nul_agents(service_ws / "data" / "agents.csv")
    code, output = cli("check", service_ws)
    assert_refused(code, output, "agents.csv, line 2, field 'name'",
                   "4 problems found, listed as 3 groups (one per column and kind)")
    assert "\x00" not in output


def test_nul_in_a_csv_header_is_line_1(tmp_path):
    def header_nul(path):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("team", "te\x00am", 1), encoding="utf-8")

    found, total = problems(make_ws(tmp_path, {"agents.csv": header_nul}))
    assert total == 1
    assert (found[0].file, found[0].line) == ("ws/data/agents.csv", 1)
    assert "NUL" in found[0].message


def test_nul_bytes_in_parquet_strings(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def write(path):
        path.unlink()
        pq.write_table(pa.table({
            "response_id": ["S01", "S02", "S\x0003"],
            "customer_id": ["C1", "C\x002", "C3"],
            "answered_on": ["2026-07-03", "2026-07-04", "2026-07-05"],
            "score": [10, 9, 8],
            "agent_id": ["A1", "A1", "A2"],
        }), path.with_suffix(".parquet"))

    found, total = problems(make_ws(tmp_path, {"surveys.csv": write}))
    assert total == 2
    assert [(p.file, p.line, p.field) for p in found] == [
        ("ws/data/surveys.parquet", 2, "customer_id"), ("ws/data/surveys.parquet", 3, "response_id")]
    assert found[1].message == "1 value contains a NUL character (a zero byte), on line 3"


def test_xlsx_cell_holding_a_nul_names_row_and_column(tmp_path):
    import openpyxl

    def write(path):
        lines = path.read_text(encoding="utf-8").splitlines()
        path.unlink()
        wb = openpyxl.Workbook()
        sheet = wb.active
        for line in lines:
            sheet.append(line.split(","))
        sheet["B3"] = "MARKER"
        xlsx = path.with_suffix(".xlsx")
        wb.save(xlsx)
        # A cell cannot hold a NUL in a well-formed workbook: a hostile one writes it anyway.
        with zipfile.ZipFile(xlsx) as z:
            parts = {n: z.read(n) for n in z.namelist()}
        sheet_xml = "xl/worksheets/sheet1.xml"
        assert b"MARKER" in parts[sheet_xml]
        parts[sheet_xml] = parts[sheet_xml].replace(b"MARKER", b"C&#0;104")
        with zipfile.ZipFile(xlsx, "w") as z:
            for n, data in parts.items():
                z.writestr(n, data)

    root = make_ws(tmp_path, {"surveys.csv": write})
    found, total = problems(root)
    assert total == 1
    assert (found[0].file, found[0].line, found[0].field) == ("ws/data/surveys.xlsx", 3, "customer_id")
    assert "NUL" in found[0].message
    code, output = cli("check", root)
    assert_refused(code, output, "surveys.xlsx, line 3, field 'customer_id'")


def test_nul_in_the_widest_table_uses_its_highest_check_bits(tmp_path):
    # tickets has 16 columns and 21 other record checks: NUL checks take bits 21 to 36 of _bad.
    def nul_tickets(path):
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = [line.split(",") for line in lines]
        rows[3][15] = "6\x000"  # wait_seconds, the last column, line 4
        rows[5][0] = rows[5][0] + "\x00"  # ticket_id, line 6
        path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8", newline="")

    found, total = problems(make_ws(tmp_path, {"tickets.csv": nul_tickets}))
    assert total == 2
    assert [(p.line, p.field, p.message) for p in found] == [
        (4, "wait_seconds", "1 value contains a NUL character (a zero byte), on line 4"),
        (6, "ticket_id", "1 value contains a NUL character (a zero byte), on line 6")]
