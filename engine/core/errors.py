"""Errors a user can cause, each pointing at the place that caused it.

Every error the CLI shows derives from :class:`MeritError`: it carries the
file, line, column (or field) and, where the source text is known, the
offending line with the bad part underlined, in the way sqlglot does.  The
CLI turns any of them into a message and exit code 2; anything else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


class MeritError(Exception):
    """A problem with the user's input (ruleset, workspace or data)."""

    label = "error"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        resource: str | None = None,
        text: str | None = None,
        span: tuple[int, int] | None = None,
        expected: str | None = None,
        count: int = 1,
    ) -> None:
        super().__init__(message)
        self.count = count  # the occurrences this one problem stands for (the same problem in many rows)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.resource = resource
        self.text = text
        self.span = span
        self.expected = expected

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def format(self) -> str:
        where = self.where()
        head = f"{where}: " if where else ""
        if self.resource:
            head += f"{self.resource}: "
        lines = [f"{head}{self.message}"]
        if self.text is not None:
            lines.append(f"    {self.text}")
            if self.span is not None:
                start, end = self.span
                width = max(1, end - start)
                lines.append("    " + " " * start + "^" * width)
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "resource": self.resource,
            "expected": self.expected,
            "count": self.count,
        }

    def __str__(self) -> str:  # pragma: no cover - exercised through format()
        return self.format()


class WorkspaceError(MeritError):
    """cycle.yaml or the workspace layout is wrong."""


class RulesetError(MeritError):
    """A ruleset does not parse or does not validate."""


class ExpressionError(RulesetError):
    """An expression inside a ruleset is not valid or not allowed."""


class DataError(MeritError):
    """One bad value or row in an input table."""


class ProblemList(MeritError):
    """Several problems found in one pass, reported together.

    Each problem may stand for several occurrences (its ``count``: the same problem in many
    rows of one column); *total* counts occurrences, and when it exceeds what the problems
    listed count, the rest are said to exist (examples of many, e.g. distinct bad values).
    """

    def __init__(self, problems: list[MeritError], *, limit: int = 50, total: int | None = None):
        self.groups = len(problems)
        self.problems = list(problems)[:limit]
        self.total = total if total is not None else sum(p.count for p in problems)
        noun = "problem" if self.total == 1 else "problems"
        super().__init__(f"{self.total:,} {noun} found")

    def format(self) -> str:
        lines = [p.format() for p in self.problems]
        shown = len(self.problems)
        hidden = self.total - sum(p.count for p in self.problems)
        grouped = any(p.count > 1 for p in self.problems)
        if hidden > 0 and grouped:
            more = self.groups - shown
            lines.append(f"... and {more} more kind{'s' if more > 1 else ''} of problem ({hidden:,} in all) "
                         f"not shown (showing the first {shown})")
        elif hidden > 0:
            lines.append(f"... and {hidden:,} more (showing the first {shown})")
        found = f"{self.total:,} {'problem' if self.total == 1 else 'problems'} found"
        if grouped:
            found += f", listed as {self.groups} group{'s' if self.groups > 1 else ''} (one per column and kind)"
        lines.append(f"{found}; nothing was written")
        return "\n".join(lines)


def raise_collected(problems: list[MeritError], *, limit: int = 50, total: int | None = None) -> None:
    """Raise what one pass collected: nothing, the one problem as it is (however many rows it
    stands for), or several as a ProblemList."""
    total = max(total if total is not None else 0, sum(p.count for p in problems))
    if not problems and not total:
        return
    if len(problems) == 1 and total == problems[0].count:
        raise problems[0]
    raise ProblemList(problems, limit=limit, total=total)


class Problems:
    """Problems collected across one pass, reported in (file, line, column) order at the end.

    ``add(err, order)`` counts the problem as ``err.count`` occurrences (one problem may stand
    for the same problem in many rows); ``count=False`` keeps it without counting it (its
    finder counted it).
    """

    def __init__(self, limit: int = 50):
        self.limit = max(1, limit)
        self.items: list[tuple[tuple, MeritError]] = []
        self.total = 0

    def add(self, err: MeritError, order: tuple = (), count: bool = True) -> None:
        self.items.append((order, err))
        if count:
            self.total += err.count

    def __bool__(self) -> bool:
        return bool(self.items or self.total)

    def raise_if_any(self) -> None:
        ordered = [err for _, err in sorted(self.items, key=lambda item: item[0])]
        raise_collected(ordered, limit=self.limit, total=self.total)


@dataclass(frozen=True)
class Origin:
    """Where a piece of ruleset text came from, so errors can point at it."""

    file: str | None = None
    line: int | None = None  # 1-based line of the first character
    column: int | None = None  # 1-based column of the first character
    resource: str | None = None  # e.g. "metric 'fdr'"
    field: str | None = None  # e.g. "where"
