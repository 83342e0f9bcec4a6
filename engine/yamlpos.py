"""YAML loading that remembers where every value came from.

PyYAML's composer keeps a mark (line, column) on every node; we build plain
Python values and, beside them, a map from the value's path (a tuple of keys
and indexes) to its position.  Pydantic's error ``loc`` is such a path, so a
validation error can be pointed at the exact line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import MeritError

Path_ = tuple


@dataclass(frozen=True)
class Pos:
    line: int  # 1-based
    column: int  # 1-based
    style: str | None = None  # quote style of a scalar: None (plain), "'", '"', "|", ">"


class YamlDoc:
    """A parsed YAML document: its data, its file and every value's position."""

    def __init__(self, data: Any, positions: dict[Path_, Pos], file: str, lines: list[str]):
        self.data = data
        self.positions = positions
        self.file = file
        self.lines = lines

    def pos(self, path: Path_) -> Pos | None:
        """Position of the value at *path*, or of its nearest ancestor."""
        path = tuple(path)
        while True:
            if path in self.positions:
                return self.positions[path]
            if not path:
                return None
            path = path[:-1]

    def key_pos(self, path: Path_) -> Pos | None:
        return self.positions.get(("__key__",) + tuple(path))

    def line_text(self, line: int) -> str | None:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1].rstrip("\n")
        return None


class _NoDatesLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as strings: pydantic parses them, and
    '2026-07-01' keeps its text for messages."""


# Drop the timestamp resolver so dates stay strings.
_NoDatesLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _build(node: yaml.Node, path: Path_, positions: dict, loader: yaml.SafeLoader) -> Any:
    mark = node.start_mark
    style = getattr(node, "style", None)
    positions[path] = Pos(mark.line + 1, mark.column + 1, style)
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                raise MeritError("a mapping key must be a plain value", line=key_node.start_mark.line + 1)
            if key == "<<":
                raise MeritError("YAML merge keys ('<<') are not supported; use 'extends'",
                                 line=key_node.start_mark.line + 1, column=key_node.start_mark.column + 1)
            if key in out:
                raise MeritError(f"duplicate key '{key}'", line=key_node.start_mark.line + 1,
                                 column=key_node.start_mark.column + 1)
            positions[("__key__",) + path + (key,)] = Pos(key_node.start_mark.line + 1,
                                                          key_node.start_mark.column + 1)
            out[key] = _build(value_node, path + (key,), positions, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), positions, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml_text(text: str, file: str) -> YamlDoc:
    loader = _NoDatesLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise MeritError(
                f"not valid YAML: {exc.problem or exc.context}",
                file=file,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
            ) from None
        except yaml.YAMLError as exc:
            raise MeritError(f"not valid YAML: {exc}", file=file) from None
        positions: dict[Path_, Pos] = {}
        if node is None:
            data: Any = {}
        else:
            try:
                data = _build(node, (), positions, loader)
            except MeritError as exc:
                exc.file = file
                raise
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark
                raise MeritError(f"not valid YAML: {exc.problem}", file=file,
                                 line=mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
    return YamlDoc(data, positions, file, text.splitlines())


def load_yaml(path: Path, display: str | None = None) -> YamlDoc:
    display = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MeritError("file not found", file=display) from None
    except UnicodeDecodeError as exc:
        raise MeritError(f"not UTF-8 text (byte {exc.start})", file=display) from None
    except OSError as exc:
        raise MeritError(f"cannot read: {exc.strerror}", file=display) from None
    return load_yaml_text(text, display)


def load_model(path: Path, display: str, model, error_cls, *, missing: str, expected: str | None = None,
               mapping: str) -> tuple[Any, YamlDoc]:
    """A YAML settings file (cycle.yaml, panel.yaml) validated into *model*: its errors are
    *error_cls* with file, line and column; *missing* and *mapping* say what the file is for."""
    from pydantic import ValidationError

    from .errors import ProblemList

    if not Path(path).is_file():
        raise error_cls(missing, file=display, expected=expected)
    doc = load_yaml(path, display)
    if not isinstance(doc.data, dict):
        raise error_cls(mapping, file=display, line=1)
    try:
        return model.model_validate(doc.data), doc
    except ValidationError as exc:
        problems = pydantic_errors(exc, doc, error_cls)
        raise problems[0] if len(problems) == 1 else ProblemList(problems) from None


def pydantic_errors(exc, doc: YamlDoc, error_cls=MeritError, prefix: Path_ = ()) -> list[MeritError]:
    """Turn a pydantic ValidationError into positioned errors."""
    out = []
    for err in exc.errors():
        loc = tuple(part for part in err["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        # pydantic adds the tag of a tagged union / the class name into loc; drop non-path parts
        path = prefix + loc
        real = []
        node = doc.data
        for part in path:
            if isinstance(node, dict) and part in node:
                real.append(part)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                real.append(part)
                node = node[part]
            # else: a pydantic-internal step (union member name) or a missing key
        pos = doc.pos(tuple(real))
        if err["type"] == "extra_forbidden":
            kpos = doc.key_pos(tuple(real))
            pos = kpos or pos
        field = ".".join(str(p) for p in path) or None
        msg = err["msg"]
        if err["type"] == "missing":
            msg = f"required field '{path[-1]}' is missing"
        elif err["type"] == "extra_forbidden":
            msg = f"unknown field '{path[-1]}'"
        out.append(
            error_cls(
                msg,
                file=doc.file,
                line=pos.line if pos else None,
                column=pos.column if pos else None,
                field=field,
                text=doc.line_text(pos.line) if pos else None,
                span=(pos.column - 1, len(doc.line_text(pos.line) or "")) if pos else None,
            )
        )
    return out
