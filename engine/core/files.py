"""Writing a file so that readers see the old one or the new one, never half of either.

The one atomic writer of merit: every output file that is replaced in place
goes through :func:`write_atomic`, every folder that is replaced as a whole
(``out/``, ``out/pdf``, the panel's sheets) through :func:`staged_folder`.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path


def write_atomic(path: Path | str, data: bytes | str, *, encoding: str = "utf-8", newline: str = "\n") -> Path:
    """Write *data* to *path* through a hidden temporary file in the same folder and a rename.

    Text is encoded with *encoding* (``utf-8-sig`` writes a BOM) after its
    ``\\n`` line ends are turned into *newline*.  The temporary file is removed
    when writing fails, so a failed write leaves the previous file as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = (data.replace("\n", newline) if newline != "\n" else data).encode(encoding)
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@contextmanager
def staged_folder(out_dir: Path):
    """Yield a staging folder; on success it atomically becomes ``out_dir``.

    On any failure, the swap's included (a folder that cannot be renamed), the
    staging folder is removed and ``out_dir`` is as it was.  The writers check
    beforehand that ``out_dir`` and everything below it can be replaced
    (merit.usecases), so the old outputs can be deleted after the swap."""
    out_dir = Path(out_dir)
    parent = out_dir.parent
    staging = parent / f".{out_dir.name}.staging-{os.getpid()}"
    old = parent / f".{out_dir.name}.old-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        yield staging
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(staging, out_dir)
    except BaseException:
        if old.exists() and not out_dir.exists():
            os.replace(old, out_dir)  # the second rename failed: the previous outputs go back
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
