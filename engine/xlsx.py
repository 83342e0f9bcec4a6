"""Byte-identical XLSX files: openpyxl and zipfile stamp the clock; put fixed dates back."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile


def deterministic_xlsx(payload: bytes, when: dt.datetime) -> bytes:
    """The XLSX *payload* with every zip entry dated *when* and docProps/core.xml's
    created/modified set to *when*, so the same workbook gives the same bytes."""
    core_date = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    stamp = (max(when.year, 1980),) + when.timetuple()[1:6]
    src = zipfile.ZipFile(io.BytesIO(payload))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                              lambda m: f"{m.group(1)}{core_date}{m.group(3)}", text)
                data = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, data)
    return buf.getvalue()
