"""Writing: Arrow record batches of one table appended to data/NAME.{csv,parquet}."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from merit.demo.columns import arrow_schema

CHUNK_ROWS = 1_000_000


class Sink:
    """Appends Arrow record batches of one table to data/NAME.{csv,parquet}."""

    def __init__(self, path: Path, table: str, fmt: str):
        self.fmt = fmt
        self.schema = arrow_schema(table, fmt)
        self.rows = 0
        if fmt == "csv":
            self._file = pa.OSFile(str(path), "wb")
            self._file.write((",".join(self.schema.names) + "\n").encode("utf-8"))
            self._options = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=65536)
        else:
            self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def write(self, columns: dict[str, object]) -> None:
        arrays = []
        for field in self.schema:
            value = columns[field.name]
            arr = value if isinstance(value, (pa.Array, pa.ChunkedArray)) else pa.array(value)
            arrays.append(arr.cast(field.type) if arr.type != field.type else arr)
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        self.rows += table.num_rows
        if table.num_rows == 0:
            return
        if self.fmt == "csv":
            pacsv.write_csv(table, self._file, self._options)
        else:
            self._writer.write_table(table, row_group_size=CHUNK_ROWS)

    def close(self) -> None:
        if self.fmt == "csv":
            self._file.close()
        else:
            self._writer.close()


def write_table(data: Path, table: str, fmt: str, columns: dict) -> None:
    """Write one whole table."""
    sink = Sink(data / f"{table}.{fmt}", table, fmt)
    sink.write(columns)
    sink.close()
