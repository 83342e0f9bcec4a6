"""YAML loading that remembers where every value came from.

PyYAML's composer keeps a mark (line, column) on every node; we build plain
Python values and, beside them, a map from the value's path (a tuple of keys
and indexes) to its position.  Pydantic's error ``loc`` is such a path, so a
validation error can be pointed at the exact line and column.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from merit.core.errors import MeritError, raise_collected

Path_ = tuple

# Bounds on a YAML settings file (cycle.yaml, a ruleset, panel.yaml), so that a hostile or broken
# file is refused in a moment instead of exhausting memory or the stack (docs/data.md, "Settings
# files").  The shipped default ruleset is 26 KB, 1,665 values, 9 levels deep; PyYAML reads about
# 10,000 values a second.
MAX_YAML_BYTES = 1 << 20  # 1 MiB
MAX_YAML_DEPTH = 50  # a value inside N collections is at level N + 1
MAX_YAML_VALUES = 50_000  # scalars and collections, each use of an alias (*name) counting in full


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
    '2026-07-01' keeps its text for messages.

    Composing also enforces :data:`MAX_YAML_DEPTH` (PyYAML's composer recurses
    once per level, so absurd nesting would end in a RecursionError) and
    :data:`MAX_YAML_VALUES`: every node's size once its aliases are expanded
    is computed as it is composed, from the sizes of its children, so an alias
    bomb is refused at the first value that grows too large, before anything
    is expanded.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> values once expanded (nodes live as long as the loader)

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:  # the alias is inside the value it names
                raise MeritError("an alias (*name) is used inside the value it names, which then contains "
                                 "itself", line=mark.line + 1, column=mark.column + 1,
                                 expected="an alias after the end of its anchored value")
            return node
        mark = self.peek_event().start_mark
        if self._depth >= MAX_YAML_DEPTH:
            raise MeritError(f"values are nested deeper than {MAX_YAML_DEPTH} levels",
                             line=mark.line + 1, column=mark.column + 1,
                             expected=f"at most {MAX_YAML_DEPTH} levels of nested lists and mappings")
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        size = 1 + sum(self._sizes[id(child)] for child in children)
        if size > MAX_YAML_VALUES:
            raise MeritError(f"this value holds more than {MAX_YAML_VALUES:,} values once its aliases (*name) "
                             f"are expanded", line=mark.line + 1, column=mark.column + 1,
                             expected=f"at most {MAX_YAML_VALUES:,} values in a file, each use of an alias "
                                      f"counting as a copy")
        self._sizes[id(node)] = size
        return node


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


def _control_characters(text: str, file: str) -> None:
    """Refuse control characters (NUL, ...), which YAML does not allow, before parsing: where
    they are and how many, never the text around them (the file may be a secret)."""
    found = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if found is None:
        return
    at = found.start()
    count = len(yaml.reader.Reader.NON_PRINTABLE.findall(text))
    code = ord(found.group())
    name = {0: " (NUL)", 0x1B: " (ESC)", 0x7F: " (DEL)"}.get(code, "")
    first = f", the first of {count} in the file" if count > 1 else ""
    raise MeritError(f"control character U+{code:04X}{name}{first}: YAML does not allow control characters",
                     file=file, line=text.count("\n", 0, at) + 1, column=at - text.rfind("\n", 0, at),
                     expected="a YAML text file (tabs and line breaks are fine); is this the right file?")


def load_yaml_text(text: str, file: str) -> YamlDoc:
    _control_characters(text, file)
    loader = _NoDatesLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except MeritError as exc:  # (bounds checked while composing)
            exc.file = file
            raise
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


def special_file_kind(mode: int) -> str | None:
    """What a file of stat mode *mode* is when it is not a regular file (None when it is)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


# /proc and /sys files are 'regular' with size 0, yet have content made up as they are read.
PSEUDO_FILE = "not a regular file (its size is 0 but it has content: a /proc or /sys file?)"


def regular_file_problem(path: Path) -> str | None:
    """Why *path* (links followed) is not a regular file merit may read, or None.  A named
    pipe or a device would block or never end; a folder cannot be read."""
    st = os.stat(path)
    kind = special_file_kind(st.st_mode)
    if kind is not None:
        return f"not a regular file ({kind})"
    if st.st_size == 0:
        with open(path, "rb") as fh:
            if fh.read(1):
                return PSEUDO_FILE
    return None


def read_settings_file(path: Path, display: str) -> str:
    """The text of a YAML settings file: a regular file of at most :data:`MAX_YAML_BYTES`,
    UTF-8.  Opened without blocking (a named pipe is refused, not waited on) and checked
    on the open file, so the file checked is the file read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise MeritError("file not found", file=display) from None
    except OSError as exc:
        raise MeritError(f"cannot read: {exc.strerror}", file=display) from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        kind = special_file_kind(st.st_mode)
        if kind is not None:
            raise MeritError(f"not a regular file ({kind})", file=display, expected="a YAML text file")
        try:
            data = fh.read(MAX_YAML_BYTES + 1)
        except OSError as exc:
            raise MeritError(f"cannot read: {exc.strerror}", file=display) from None
    if len(data) > MAX_YAML_BYTES:
        raise MeritError(f"the file is larger than {MAX_YAML_BYTES:,} bytes", file=display,
                         expected=f"a YAML settings file of at most {MAX_YAML_BYTES:,} bytes (1 MiB)")
    if st.st_size == 0 and data:
        raise MeritError(PSEUDO_FILE, file=display, expected="a YAML text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MeritError(f"not UTF-8 text (byte {exc.start})", file=display) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # (universal newlines, as text mode reads)


def load_yaml(path: Path, display: str | None = None) -> YamlDoc:
    display = display or str(path)
    return load_yaml_text(read_settings_file(path, display), display)


def load_model(path: Path, display: str, model, error_cls, *, missing: str, expected: str | None = None,
               mapping: str) -> tuple[Any, YamlDoc]:
    """A YAML settings file (cycle.yaml, panel.yaml) validated into *model*: its errors are
    *error_cls* with file, line and column; *missing* and *mapping* say what the file is for."""
    from pydantic import ValidationError

    if not Path(path).exists():  # (a folder or a pipe by that name is refused by load_yaml)
        raise error_cls(missing, file=display, expected=expected)
    doc = load_yaml(path, display)
    if not isinstance(doc.data, dict):
        raise error_cls(mapping, file=display, line=1)
    try:
        return model.model_validate(doc.data), doc
    except ValidationError as exc:
        problems = pydantic_errors(exc, doc, error_cls, model=model)
    raise_collected(problems)  # (outside the handler: the user sees the problems, not pydantic's chain)
    raise AssertionError("a ValidationError without problems")  # pragma: no cover


def plain_message(err: dict) -> str:
    """A pydantic error's message without pydantic's own prefix ("Value error, ...": the
    validator's words are the message)."""
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def pydantic_errors(exc, doc: YamlDoc, error_cls=MeritError, prefix: Path_ = (), model=None) -> list[MeritError]:
    """Turn a pydantic ValidationError into positioned errors (an unknown key of *model*
    with the closest known one)."""
    from merit.core.model_fields import unknown_field_message

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
        msg = plain_message(err)
        if err["type"] == "missing":
            msg = f"required field '{path[-1]}' is missing"
        elif err["type"] == "extra_forbidden":
            msg = unknown_field_message(model, loc) if model is not None else f"unknown field '{path[-1]}'"
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
