"""A ruleset's own words, in the reader's language.

Every text a ruleset shows to people (the label and description of a metric, a KPI, a list or
the ruleset, a rubric text, a scorecard section's title and column headers, the wording of a
correction, the reason a filter leaves records out) is written either as one string or as a
mapping by language::

    label: {en: First-contact resolution (FCR), zh-CN: 一次性解决率}

The models hold such a text as :class:`Words`: a ``str`` whose value is the text in merit's
default language (else in the other), so that code reading ``spec.label`` as a string keeps
working, and which remembers every language it was written in.  :func:`words` gives the text in
a language, falling back to the other; :func:`missing_translations` lists the texts given in one
language only (``merit check`` prints them); :func:`exclusion_reason` says in words why a
metric's filter leaves records out, so that no scorecard has to print an expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from pydantic import BaseModel
from pydantic_core import PydanticCustomError, core_schema

from merit.core.suggest import did_you_mean
from merit.i18n import DEFAULT_LANGUAGE, LANGUAGES, check_language

# The filters of a metric that leave records out, each of which may give its reason in words:
# `where` (the records the metric reads at all) and a ratio's `denominator`.
REASON_FILTERS = ("where", "denominator")

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class Words(str):
    """A text of the ruleset: as a ``str``, the text in the default language (else the first
    language given); :meth:`in_language` gives it in another.  ``written`` is the text as the
    ruleset wrote it: a string, or a mapping language -> text."""

    written: str | dict[str, str]

    def __new__(cls, written: str | Mapping[str, str]):
        if isinstance(written, Mapping):
            written = {str(k): str(v) for k, v in written.items()}
            text = _given(written, DEFAULT_LANGUAGE) or next((t for t in written.values() if t), "")
        else:
            text = str(written)
        obj = super().__new__(cls, text)
        obj.written = written
        return obj

    def __reduce__(self):  # pickling and deepcopy keep every language, not just the str value
        return (Words, (self.written,))

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages the text is given in (a plain string: none said)."""
        if isinstance(self.written, dict):
            return tuple(k for k, v in self.written.items() if v)
        return ()

    def in_language(self, language: str | None) -> str:
        """The text in *language* (None: the default), else in the other language."""
        if not isinstance(self.written, dict):
            return str(self)
        language = check_language(language)
        for key in (language, DEFAULT_LANGUAGE, *LANGUAGES):
            text = _given(self.written, key)
            if text:
                return text
        return str(self)

    # ---------------------------------------------------------------- pydantic
    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        return core_schema.no_info_plain_validator_function(
            cls.validate, serialization=core_schema.plain_serializer_function_ser_schema(str))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema, handler):
        texts = {language: {"type": "string"} for language in LANGUAGES}
        return {"anyOf": [{"type": "string"},
                          {"type": "object", "properties": texts, "additionalProperties": False, "minProperties": 1}],
                "description": "a text, or the text by language: {en: ..., zh-CN: ...}"}

    @classmethod
    def validate(cls, value: Any) -> Words:
        """A string, or a mapping of merit's languages to strings (else a positioned error: an
        unknown language key is reported at the key, with the closest language)."""
        if isinstance(value, Words):
            return value
        if isinstance(value, str):
            return cls(value)
        if not isinstance(value, Mapping):
            raise PydanticCustomError("words_type", "a text, or the text by language such as "
                                                    "{en: First-contact resolution, zh-CN: 一次性解决率}")
        if not value:
            raise PydanticCustomError("words_type", "the text in at least one language, e.g. {en: ..., zh-CN: ...}")
        for key, text in value.items():
            if key not in LANGUAGES:
                raise PydanticCustomError(
                    "language_key", "unknown language '{key}'{hint}; a text is given in {languages}",
                    {"key": str(key), "at": (key,), "hint": did_you_mean(str(key), LANGUAGES),
                     "languages": ", ".join(LANGUAGES)})
            if not isinstance(text, str):
                raise PydanticCustomError("language_text", "the {key} text must be a text (got {got})",
                                          {"key": str(key), "got": type(text).__name__})
        return cls(value)


def _given(texts: Mapping[str, str], language: str) -> str:
    return str(texts.get(language) or "")


def words(value: Any, language: str | None) -> str:
    """*value* (a :class:`Words`, a plain string, a mapping by language or None) in *language*
    (None: the default), falling back to the other language; ``""`` for None."""
    if value is None:
        return ""
    if isinstance(value, Words):
        return value.in_language(language)
    if isinstance(value, Mapping):
        return Words(value).in_language(language)
    return str(value)


def text_in(value: Any, language: str) -> str | None:
    """The text *value* gives in *language* itself, without falling back (None: not given in it;
    a plain string is not said to be in any language)."""
    if isinstance(value, Words) and isinstance(value.written, dict):
        return _given(value.written, language) or None
    if isinstance(value, Mapping):
        return _given(value, language) or None
    return None


def written_texts(value: Any) -> list[str]:
    """Every text *value* is written in (each language's, or the one string)."""
    if value is None:
        return []
    if isinstance(value, Words) and isinstance(value.written, dict):
        return [t for t in value.written.values() if t]
    if isinstance(value, Mapping):
        return [str(t) for t in value.values() if t]
    return [str(value)]


def guessed_language(text: str) -> str:
    """The language a plain string is most probably written in: Chinese if it has Chinese
    characters, else English."""
    return "zh-CN" if _CJK.search(text) else "en"


# ------------------------------------------------------------------ exclusions
def exclusion_reason(metric: Any, language: str | None, filter_name: str = "denominator") -> str:
    """Why *metric* (a compiled metric or its ruleset ``Metric``) leaves records out by its
    filter *filter_name* (``denominator`` or ``where``), in *language*: the filter's ``reasons``
    entry, else the metric's description; ``""`` when the ruleset says neither (never the
    filter's expression)."""
    spec = getattr(metric, "spec", metric)
    reason = (getattr(spec, "reasons", None) or {}).get(filter_name)
    return words(reason, language) if reason else words(getattr(spec, "description", None), language)


# ------------------------------------------------------------------ missing translations
class MissingTranslation(NamedTuple):
    """A text of the ruleset given in one language only (it shows in that language to readers
    of the others)."""

    path: str  # e.g. metrics.fdr.label, scorecard.credits.knowledge.columns[1].header
    present: str  # the language it is given in (a plain string: the one it seems to be in)
    where: str = ""  # file and line, when the loaded ruleset is known


def missing_translations(ruleset: BaseModel, loaded: Any = None) -> list[MissingTranslation]:
    """Every text of *ruleset* not given in all of merit's languages, in the ruleset's order.
    A plain string counts as one language.  With *loaded* (its LoadedRuleset), each says the
    file and line where the text is written."""
    found = []
    for path, value in _texts(ruleset, ()):
        present = value.languages if isinstance(value.written, dict) else (guessed_language(str(value)),)
        if not str(value).strip() or all(language in present for language in LANGUAGES):
            continue
        where = ""
        if loaded is not None:
            origin = loaded.origin(path)
            where = f"{origin.file}, line {origin.line}" if origin.line else (origin.file or "")
        found.append(MissingTranslation(_dotted(path), ", ".join(present), where))
    return found


def _texts(value: Any, path: tuple) -> Iterator[tuple[tuple, Words]]:
    """Every :class:`Words` inside a model, with its path in the ruleset's YAML."""
    if isinstance(value, Words):
        yield path, value
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            yield from _texts(getattr(value, name), path + (info.alias or name,))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(item, path + (key,))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _texts(item, path + (i,))


def _dotted(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
