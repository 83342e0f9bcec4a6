"""``merit catalog``: the metric catalogue (docs/metrics.md) written from the shipped rulesets, or checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from merit.core.errors import MeritError


@dataclass
class CatalogResult:
    path: Path
    metrics: int  # metrics catalogued
    changed: bool  # the file was written with a new text (False: it was current)


def catalog(*, out: Path | str | None = None, check: bool = False) -> CatalogResult:
    """Write the catalogue to *out* (default docs/metrics.md, relative to the current folder) when
    its text changed; with *check*, write nothing and raise a user error when the file is not current."""
    from merit.catalog import DOC_PATH, metrics_markdown, shipped
    from merit.core.files import write_atomic

    path = Path(out) if out is not None else DOC_PATH
    rulesets = shipped()
    text = metrics_markdown(rulesets)
    count = len({mid for r in rulesets for mid in r.plan.metrics})
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if check:
        if current != text:
            raise MeritError("the metric catalogue is not current: it differs from what the shipped rulesets "
                             "give" if current is not None else "the metric catalogue does not exist",
                             file=str(path), expected="run `merit catalog` and commit the file it writes")
        return CatalogResult(path, count, changed=False)
    if current != text:
        write_atomic(path, text)
    return CatalogResult(path, count, changed=current != text)
