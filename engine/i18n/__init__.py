"""The reader's language: gettext catalogues (``locale/<locale>/LC_MESSAGES/merit.po``, read with
Babel at load time) for every text merit writes for people, and Babel's number, percentage and
date formats per locale (:mod:`merit.i18n.formats`).  Machine-readable outputs keep their English
ids and never pass here.  It imports nothing else of merit: every layer may use it.

English is the source language (the msgids); a language without a catalogue entry for a text
shows the English.  See docs/i18n.md for the extract → update → translate workflow.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

LANGUAGES = ("en", "zh-CN")  # the languages merit ships catalogues for; the first is the default
DEFAULT_LANGUAGE = LANGUAGES[0]
DOMAIN = "merit"


class UnknownLanguage(ValueError):
    """A language merit has no catalogue for."""


def check_language(language: str | None) -> str:
    """*language* as merit spells it ('zh-CN', 'en'; None: the default); any other raises
    :class:`UnknownLanguage` listing the languages merit writes.  Case and '_' are forgiven
    ('zh_cn' is 'zh-CN')."""
    if language is None:
        return DEFAULT_LANGUAGE
    wanted = str(language).strip().replace("_", "-").lower()
    for known in LANGUAGES:
        if known.lower() == wanted:
            return known
    raise UnknownLanguage(f"unknown language '{language}' (merit writes {', '.join(LANGUAGES)})")


def locale_name(language: str | None) -> str:
    """The Babel/gettext locale of a language: 'zh-CN' -> 'zh_CN'."""
    return check_language(language).replace("-", "_")


def catalogue_path(language: str):
    """The .po file of *language* inside the installed package (a Traversable)."""
    return resources.files(__name__) / "locale" / locale_name(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def translator(language: str | None = None) -> gettext.NullTranslations:
    """The translations of *language* (None: the default): the .po catalogue read with Babel and
    compiled in memory, once per process.  English, the source language, needs none."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    language = check_language(language)
    path = catalogue_path(language)
    if language == DEFAULT_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as fh:
        catalogue = read_po(fh, locale=locale_name(language), domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)  # a fuzzy entry is a guess: English is shown instead
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext_for(language: str | None):
    """``_`` for *language*: ``_("Total score")``."""
    return translator(language).gettext


def pick(value, language: str | None) -> str:
    """A text that may be given in several languages (``{en: ..., zh-CN: ...}``) in *language*,
    else in the default language, else the first one given; a plain string as it is."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        language = check_language(language)
        for key in (language, DEFAULT_LANGUAGE, *LANGUAGES):
            if value.get(key):
                return str(value[key])
        return next((str(v) for v in value.values() if v), "")
    return str(value)


__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "UnknownLanguage", "check_language", "gettext_for", "locale_name",
           "pick", "translator"]
