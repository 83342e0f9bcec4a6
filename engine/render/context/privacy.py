"""What an agent's scorecard may say about colleagues.

An agent's context carries that agent's own records and numbers and anonymous
aggregates only; never another agent's name, id or numbers.  A peer statistic
is shown only for a group of at least ``privacy.min_group_size`` agents who are
part of it (in a team of two the median and one's own value give the
colleague's; in a team of three the median *is* a colleague's value).  Free
text from the data passes through :class:`ColleagueMask`, which replaces every
other agent's name or id with ``[colleague]``.
"""

from __future__ import annotations

import re

import pandas as pd

from merit.i18n import DEFAULT_LANGUAGE, gettext_for

COLLEAGUE = "[colleague]"  # what an English scorecard prints for another agent's name or id (the catalogue's else)

_WORD = "0-9A-Za-z_"  # a name or id that starts (ends) with one of these must not be inside a longer word
_TRIE_MAX = 64  # longer names go into a plain alternation (keeps the trie's nesting shallow)


def _is_word(ch: str) -> bool:
    return bool(ch) and ch.isascii() and (ch.isalnum() or ch == "_")


def _trie_pattern(words: list[str]) -> str:
    """One regex for many words, as a trie: the search costs the text's length, not the
    number of words, and the longest word wins ("A10" over "A1", "陆晶晶" over "陆晶").
    A word ending in an ASCII letter or digit must end at a word boundary ("A1" not in "A10")."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def walk(node: dict, last: str) -> str:
        alts = [re.escape(ch) + walk(child, ch) for ch, child in sorted(node.items()) if ch]
        if "" in node:  # a word ends here: tried after every longer continuation
            alts.append(f"(?![{_WORD}])" if _is_word(last) else "")
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return walk(trie, "")


class ColleagueMask:
    """Masks other agents' names and ids in free text on one agent's scorecard.

    Every agent of the agents table (employed in the cycle or not) is a
    colleague of every other; the reader's own name and id stay.  Matching
    ignores case; an id or name that begins or ends with an ASCII letter or
    digit matches only as a whole word ("A1" is not masked inside "A10"),
    names in other scripts match anywhere (Chinese has no spaces).  A word
    shared by the reader and a colleague (two agents called 王芳) is the
    reader's.  Masking too much is the safe side: a reason that uses a word
    which is also an agent's name loses that word."""

    def __init__(self, agents: pd.DataFrame, colleague: str = COLLEAGUE):
        self.colleague = colleague  # the word for another agent in the reader's language
        owners: dict[str, set[str]] = {}
        for aid, name in zip(agents["agent_id"].astype(str), agents["name"].fillna("").astype(str)):  # per agent
            for token in (aid.strip(), name.strip()):
                if token:
                    owners.setdefault(token.lower(), set()).add(aid)
        self.owners = owners
        self._pattern: re.Pattern | None = None

    @property
    def pattern(self) -> re.Pattern:
        if self._pattern is None:  # built on first use: most scorecards have no free text
            words = sorted(self.owners)
            short = [w for w in words if len(w) <= _TRIE_MAX]
            long = sorted((w for w in words if len(w) > _TRIE_MAX), key=lambda w: (-len(w), w))
            parts = [(f"(?<![{_WORD}])" if _is_word(w[0]) else "") + re.escape(w)
                     + (f"(?![{_WORD}])" if _is_word(w[-1]) else "") for w in long]
            starts_word = [w for w in short if _is_word(w[0])]
            other = [w for w in short if not _is_word(w[0])]
            if starts_word:
                parts.append(f"(?<![{_WORD}])" + _trie_pattern(starts_word))
            if other:
                parts.append(_trie_pattern(other))
            # Long names first (a long name is never a prefix of a short one), then the tries.
            self._pattern = re.compile("|".join(f"(?:{p})" for p in parts) or "(?!)", re.IGNORECASE)
        return self._pattern

    def __call__(self, text, reader: str):
        """*text* with every agent's name or id but the *reader*'s replaced by [colleague]."""
        if not isinstance(text, str) or not text or not self.owners:
            return text

        def replace(m: re.Match) -> str:
            owners = self.owners.get(m.group(0).lower())
            return m.group(0) if owners and reader in owners else self.colleague

        return self.pattern.sub(replace, text)


def mask_strings(value, mask):
    """*value* (strings in lists and dicts) with *mask* applied to every string."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [mask_strings(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: mask_strings(v, mask) for k, v in value.items()}
    return value


def peer_note(scopes: list[str | None], counted: list[int], min_group: int,
              language: str | None = DEFAULT_LANGUAGE) -> str:
    """A sentence under a table whose medians are not all the team's ("" when they are)."""
    _ = gettext_for(language)
    shown = {s for s in scopes if s}
    too_small = any(s is None and c > 0 for s, c in zip(scopes, counted))
    if shown <= {"team"} and not too_small:
        return ""
    rule = _("Medians are shown only for groups of at least %(n)s agents with a value, so that no "
             "colleague's own figure can be read from them.") % {"n": min_group}
    if "org" in shown and too_small:
        rest = _("Where your team is too small to compare, the organisation's median is shown, and none "
                 "where the organisation is too small as well.")
    elif "org" in shown:
        rest = _("Where your team is too small to compare, the organisation's median is shown.")
    else:
        rest = _("Where your team and the organisation are too small to compare, none is shown.")
    return f"{rule} {rest}"


def label_scopes(rows: list[dict], scopes: list[str | None], counted: list[int],
                 language: str | None = DEFAULT_LANGUAGE) -> None:
    """Under each median, where it comes from when the table mixes team and organisation
    medians, and "too few to compare" where agents have a value but too few of them."""
    _ = gettext_for(language)
    mixed = len({s for s in scopes if s}) > 1
    where = {"team": _("team"), "org": _("organisation")}
    for row, scope, in_org in zip(rows, scopes, counted):
        if scope is None:
            row["median_where"] = _("too few to compare") if in_org else ""
        else:
            row["median_where"] = where[scope] if mixed else ""


def _median_scope(scopes: list[str | None]) -> str:
    """Whose medians a table shows: "org", "team" (or none at all) or "mixed"."""
    shown = {s for s in scopes if s}
    if shown == {"org"}:
        return "org"
    return "team" if shown <= {"team"} else "mixed"


def legend(scopes: list[str | None], language: str | None = DEFAULT_LANGUAGE) -> str | None:
    """The KPI chart's name for its median marks (None: no mark at all)."""
    if not any(scopes):
        return None
    _ = gettext_for(language)
    return {"team": _("team median"), "org": _("organisation median")}.get(
        _median_scope(scopes), _("median (team or organisation)"))


def median_heading(scopes: list[str | None], language: str | None = DEFAULT_LANGUAGE) -> str:
    _ = gettext_for(language)
    return {"org": _("Organisation median"), "team": _("Team median")}.get(_median_scope(scopes), _("Median"))
