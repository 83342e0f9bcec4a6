"""Sums of floating values are exact DECIMAL(38, 15) sums (order-independent, so the
same inputs give the same bytes); a value too big for that is a clear data error."""

from __future__ import annotations

from tests.conftest import assert_user_error, run_merit


def _set_handle_minutes(ws, ticket: str, value: str) -> None:
    path = ws / "data" / "tickets.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    col = header.index("handle_minutes")
    for i, line in enumerate(lines):
        cells = line.split(",")
        if cells[0] == ticket:
            cells[col] = value
            lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_value_too_big_to_sum_exactly_is_a_data_error(service_ws):
    _set_handle_minutes(service_ws, "T05", "1e30")
    proc = run_merit("run", str(service_ws), "--no-pdf")
    assert_user_error(proc, "tickets.csv", "handle_minutes", "too large to add up exactly", "10^23")
    assert not (service_ws / "out").exists()


def test_small_values_survive_an_exact_sum(service_ws):
    # A1's resolved tickets are T01, T02, T04 and T05 (T03 is unresolved); each gets 4e-13 handle
    # minutes, so A1's aht_minutes = 4 * 4e-13 / 4 = 4e-13.  (Twelve decimals, as before, would
    # have rounded every value to 0.)
    for ticket in ("T01", "T02", "T04", "T05"):
        _set_handle_minutes(service_ws, ticket, "4e-13")
    proc = run_merit("run", str(service_ws), "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split(",") for line in (service_ws / "out" / "metrics.csv").read_text().splitlines()]
    value, n = next(r[4:6] for r in rows if r[:4] == ["agent", "A1", "", "aht_minutes"])
    assert (float(value), n) == (4e-13, "4")
