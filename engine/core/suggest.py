""""Did you mean": the known name closest to a mistyped one, as text to append to a message.

A name that differs only in case is the answer whatever the others; otherwise difflib's
closest match above a similarity cut-off, or nothing (a wild guess misleads more than it helps).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6  # difflib's ratio: 'csat_avg' for 'csat_agv' passes, 'fdr' for 'aht' does not


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate *word* most probably meant, or None.  (Itself is never suggested.)"""
    names = [str(c) for c in candidates if str(c) != word]
    if not names:
        return None
    folded = word.casefold()
    same_case = [n for n in names if n.casefold() == folded]
    if same_case:
        return same_case[0]
    by_folded: dict[str, str] = {}
    for n in names:
        by_folded.setdefault(n.casefold(), n)
    match = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=CUTOFF)
    return by_folded[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the candidate closest to *word*, or ``""``."""
    found = closest(word, candidates)
    return f" (did you mean '{found}'?)" if found is not None else ""
