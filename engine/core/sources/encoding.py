"""Text encodings of CSV sources: which one a file is in (`encoding: auto`), and a private UTF-8
copy of a file in another one (transcoded in chunks, line endings made LF: every line keeps its
number, so messages about the copy hold for the file)."""

from __future__ import annotations

import codecs
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from merit.core.errors import DataError

CHUNK_BYTES = 1 << 24
PROBE_BYTES = 1 << 21  # what `auto` looks at first: 2 MiB
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# (windows-1252: what Excel's "CSV (Comma delimited)" writes on an English or Western European
# Windows; never guessed by `auto`, whose GB18030 would read its accented letters as other text)
CODECS = {"gb18030": "gb18030", "utf-16": "utf-16", "windows-1252": "cp1252"}
OTHER_ENCODINGS = "auto, utf-8, gb18030, utf-16 or windows-1252"


def detect_encoding(path: Path, declared: str) -> str:
    """The encoding to read *path* in: *declared*, or for ``auto`` UTF-16 when the file starts
    with its byte-order mark, UTF-8 when its first 2 MiB are UTF-8 (with or without a byte-order
    mark), else GB18030.  (A UTF-8 start with other bytes later is found by the reader: the
    loader then reads the file as GB18030, merit.core.tables.load.)"""
    if declared != "auto":
        return declared
    with open(path, "rb") as fh:
        head = fh.read(PROBE_BYTES)
    if head.startswith(UTF8_BOM):
        return "utf-8"
    if head.startswith(UTF16_BOMS):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def transcoded(path: Path, encoding: str, display: str) -> Path:
    """A private temporary UTF-8 copy of *path* (in *encoding*) with LF line endings; a byte
    that is not of that encoding is a :class:`DataError` at its line."""
    if encoding == "utf-16" and not _starts_with(path, UTF16_BOMS):
        raise DataError("the file does not start with a UTF-16 byte-order mark", file=display, line=1,
                        expected="a UTF-16 file as Excel's 'Unicode Text' writes it (with its byte-order mark), "
                                 f"or another encoding: {OTHER_ENCODINGS}")
    fd, name = tempfile.mkstemp(prefix="merit-", suffix=".csv")
    out_path = Path(name)
    try:
        with open(path, "rb") as fh, os.fdopen(fd, "wb") as out:
            _copy(fh, out, encoding, display)
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    return out_path


def _copy(fh, out, encoding: str, display: str) -> None:
    decoder = codecs.getincrementaldecoder(CODECS[encoding])()
    lines = 1  # the line the next decoded text starts on
    carry = ""  # a CR at the end of a chunk, whose LF may start the next one
    while True:
        chunk = fh.read(CHUNK_BYTES)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            good = exc.object[:exc.start].decode(CODECS[encoding], errors="replace")
            raise DataError(f"the file is not {encoding.upper()} text (byte {exc.object[exc.start]:#04x} "
                            f"cannot be read)", file=display, line=lines + (carry + good).count("\n"),
                            expected=f"a text file in {encoding.upper()}, or another encoding: "
                                     f"{OTHER_ENCODINGS}") from None
        text = carry + text
        carry = "\r" if text.endswith("\r") and chunk else ""
        text = text[:len(text) - len(carry)].replace("\r\n", "\n")
        lines += text.count("\n")
        out.write(text.encode("utf-8"))
        if not chunk:
            break


def _starts_with(path: Path, marks: tuple[bytes, ...]) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4).startswith(marks)


@contextmanager
def utf8_text(src) -> Iterator[Path]:
    """The UTF-8 text of the CSV source file *src* (merit.core.tables.model.SourceFile): the file
    itself, its copy while loading, or a fresh copy deleted afterwards (error path, explain)."""
    if src.encoding == "utf-8":
        yield src.path
        return
    if src.text_path is not None and src.text_path.exists():
        yield src.text_path
        return
    copy = transcoded(src.path, src.encoding, src.display)
    try:
        yield copy
    finally:
        copy.unlink(missing_ok=True)
