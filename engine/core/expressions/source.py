"""An expression's text with its origin in the ruleset, and the errors that point into it:
a node of the syntax tree becomes an ExpressionError with the ruleset's file, line and
column and the offending part underlined."""

from __future__ import annotations

import ast

from merit.core.errors import ExpressionError, Origin


class SourceText:
    """The text of an expression and where it came from.

    The text is parsed inside added parentheses (so that it may span lines); positions of
    that parsed source are mapped back to the text as written.
    """

    def __init__(self, text: str, origin: Origin | None = None):
        if not isinstance(text, str):
            text = str(text)
        self.text = text
        self.origin = origin
        self._lines = text.split("\n") or [""]
        self._src_lines = [("(" + self._lines[0])] + self._lines[1:]

    def parenthesised(self) -> str:
        """The source that is parsed: the text inside parentheses, so it may span lines."""
        return "(" + self.text + "\n)"

    def source_of(self, node: ast.AST) -> str:
        """The text of a node of the parsed tree."""
        return (ast.get_source_segment(self.parenthesised(), node) or "").strip()

    def _char_col(self, src_line: str, byte_offset: int) -> int:
        return len(src_line.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))

    def _error(self, node: ast.AST, message: str, expected: str | None = None) -> ExpressionError:
        """Error at *node* of the parsed (parenthesised) source."""
        lineno = getattr(node, "lineno", 1)
        end_lineno = getattr(node, "end_lineno", lineno) or lineno
        src_line = self._src_lines[min(lineno, len(self._src_lines)) - 1]
        start = self._char_col(src_line, getattr(node, "col_offset", 0))
        if end_lineno == lineno:
            end = self._char_col(src_line, getattr(node, "end_col_offset", 0) or 0)
        else:
            end = len(src_line)
        if lineno == 1:
            start, end = start - 1, end - 1
        return self._error_at(lineno, max(0, start), max(0, end), message, expected)

    def _error_rel(self, node: ast.AST, message: str, expected: str | None = None) -> ExpressionError:
        """Error at *node* of the text parsed as is (no added parenthesis)."""
        lineno = node.lineno
        line = self._lines[lineno - 1]
        start = self._char_col(line, node.col_offset)
        end = self._char_col(line, node.end_col_offset) if node.end_lineno == lineno else len(line)
        return self._error_at(lineno, start, end, message, expected)

    def _error_at(self, lineno: int, start: int, end: int, message: str, expected: str | None) -> ExpressionError:
        """Error at characters [start, end) of line *lineno* (1-based) of the text."""
        origin = self.origin or Origin()
        lineno = max(1, min(lineno, len(self._lines)))
        line_text = self._lines[lineno - 1]
        if end <= start:
            end = start + 1
        if origin.line is not None:
            line: int | None = origin.line + lineno - 1
        else:
            line = lineno if len(self._lines) > 1 else None
        column = (origin.column if origin.column is not None else 1) + start
        return ExpressionError(
            message,
            file=origin.file,
            line=line,
            column=column,
            field=origin.field,
            resource=origin.resource,
            text=line_text,
            span=(start, end),
            expected=expected,
        )
