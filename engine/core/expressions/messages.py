"""Wording shared by the language's error messages: what a valid expression looks like,
"did you mean" suggestions and lists of the names that are known."""

from __future__ import annotations

from merit.core.suggest import closest


EXPECTED_SYNTAX = "an expression such as: rating == 'bad' and bad_review_cause != 'product'"


def did_you_mean(name: str, options: list[str]) -> str:
    """"; did you mean 'x'?" for the closest of *options* (merit.core.suggest), or "" when none is close."""
    close = closest(name, options)
    return f"; did you mean '{close}'?" if close is not None else ""


def one_of(options: list[str], limit: int = 40) -> str:
    """"one of: a, b, c" (sorted, at most *limit* shown)."""
    opts = sorted(options)
    if not opts:
        return "(none are defined)"
    shown = ", ".join(opts[:limit])
    if len(opts) > limit:
        shown += f", … ({len(opts) - limit} more)"
    return f"one of: {shown}"


def literal_hint(name: str) -> str:
    """" (write True)" for a name that is another language's spelling of a literal."""
    hints = {"true": "True", "false": "False", "null": "None", "none": "None", "nil": "None"}
    if name.lower() in hints:
        return f" (write {hints[name.lower()]})"
    return ""
