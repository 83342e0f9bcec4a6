"""Presets (merit/core/sources/presets/NAME.yaml): a helpdesk export's columns, value maps and
timestamp formats per contract table, merged under a source entry (the user's keys win)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from merit.core.errors import MeritError, raise_collected
from merit.core.sources.spec import ColumnMap, SourceSpec, bare_headers
from merit.core.yamlpos import load_yaml_text, pydantic_errors

PRESET_PACKAGE = "merit.core.sources.presets"


class PresetTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timestamp_format: str | list[str] | None = None
    columns: dict[str, ColumnMap] = {}

    _headers = field_validator("columns", mode="before")(lambda cls, v: bare_headers(v))


class Preset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    tables: dict[str, PresetTable]


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(PRESET_PACKAGE).iterdir() if p.name.endswith(".yaml"))


@cache
def load_preset(name: str) -> Preset:
    """The shipped preset *name* (a KeyError when there is none)."""
    if name not in preset_names():
        raise KeyError(name)
    display = f"merit/core/sources/presets/{name}.yaml"
    doc = load_yaml_text((resources.files(PRESET_PACKAGE) / f"{name}.yaml").read_text(encoding="utf-8"), display)
    try:
        return Preset.model_validate(doc.data)
    except ValidationError as exc:
        problems = pydantic_errors(exc, doc, MeritError)
    raise_collected(problems)
    raise AssertionError("a ValidationError without problems")  # pragma: no cover


def merged(spec: SourceSpec, table: PresetTable) -> SourceSpec:
    """*spec* with the preset's columns and timestamp formats under its own."""
    fmt = spec.timestamp_format if spec.timestamp_format is not None else table.timestamp_format
    return spec.model_copy(update={"columns": {**table.columns, **spec.columns}, "timestamp_format": fmt})
