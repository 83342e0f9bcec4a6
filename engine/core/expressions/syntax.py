"""Reading an expression's text into a Python syntax tree, and, when it does not read,
saying why in the user's terms: an unmatched bracket, a statement where an expression
belongs ('=' for '=='), an incomplete expression, with its position."""

from __future__ import annotations

import ast
import io
import tokenize

from merit.core.errors import ExpressionError
from merit.core.expressions.catalogue import MAX_DEPTH
from merit.core.expressions.messages import EXPECTED_SYNTAX
from merit.core.expressions.source import SourceText


def parse_tree(source: SourceText) -> ast.Expression:
    """The syntax tree of *source*'s text; an ExpressionError if it is not an expression."""
    try:
        return ast.parse(source.parenthesised(), mode="eval")
    except SyntaxError as exc:
        syntax_error = exc
    except (RecursionError, MemoryError):
        raise source._error_at(1, 0, len(source._lines[0]), "the expression is nested too deeply",
                               f"at most {MAX_DEPTH} levels") from None
    except ValueError as exc:  # e.g. NUL bytes
        raise source._error_at(1, 0, len(source._lines[0]), f"invalid expression: {exc}",
                               EXPECTED_SYNTAX) from None
    _explain_statement(source)
    raise _explain_syntax_error(source, syntax_error)


def _explain_syntax_error(source: SourceText, exc: SyntaxError) -> ExpressionError:
    """The ExpressionError for Python's *exc*, at the text's own line and column."""
    lines = source._lines
    lineno = exc.lineno or 1
    offset = (exc.offset or 1) - 1
    end = (exc.end_offset or 0) - 1
    if exc.end_lineno not in (None, lineno):
        end = offset + 1
    if lineno == 1:  # the added '(' shifts the first line by one
        offset -= 1
        end -= 1
    msg = exc.msg
    if lineno > len(lines):  # at the closing parenthesis we added
        lineno = len(lines)
        offset = len(lines[-1])
        end = offset + 1
        msg = "the expression is incomplete"
    problem = _bracket_problem(source.text) if ("unmatched" in msg or "never closed" in msg
                                                or msg == "the expression is incomplete") else None
    if problem is not None:
        what, lineno, offset = problem
        end = offset + 1
        char = lines[lineno - 1][offset]
        msg = f"unmatched '{char}'" if what == "unmatched" else f"'{char}' is never closed"
    if msg == "invalid syntax":
        msg = "this is not a valid expression here"
    hint = ""
    if "&&" in source.text or "||" in source.text:
        hint = " (use 'and' / 'or')"
    offset = max(0, offset)
    end = max(offset + 1, end)
    return source._error_at(lineno, offset, end, f"invalid syntax: {msg}{hint}", EXPECTED_SYNTAX)


def _bracket_problem(text: str) -> tuple[str, int, int] | None:
    """('unmatched' | 'unclosed', line, column) of the first bad bracket, if any."""
    stack: list[tuple[int, int]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP and tok.string in ("(", "[", "{"):
                stack.append(tok.start)
            elif tok.type == tokenize.OP and tok.string in (")", "]", "}"):
                if not stack:
                    return ("unmatched", tok.start[0], tok.start[1])
                stack.pop()
    except (tokenize.TokenError, SyntaxError):
        pass
    if stack:
        return ("unclosed", stack[0][0], stack[0][1])
    return None


def _explain_statement(source: SourceText) -> None:
    """The text is not an expression; if it is a statement, say which."""
    if source.text[:1].isspace():
        return
    try:
        module = ast.parse(source.text, mode="exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return
    if len(module.body) > 1:
        second = module.body[1]
        raise source._error_rel(second, "only one expression is allowed (found several, separated by ';' or lines)",
                                EXPECTED_SYNTAX)
    if not module.body:
        return
    stmt = module.body[0]
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        hint = " (use '==' to compare)" if isinstance(stmt, ast.Assign) else ""
        raise source._error_rel(stmt, f"assignment is not allowed{hint}", EXPECTED_SYNTAX)
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        raise source._error_rel(stmt, "import is not allowed", EXPECTED_SYNTAX)
    if not isinstance(stmt, ast.Expr):
        raise source._error_rel(stmt, f"a '{type(stmt).__name__.lower()}' statement is not allowed; "
                                "only an expression", EXPECTED_SYNTAX)
