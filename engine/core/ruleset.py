"""Rulesets: pydantic models, shipped rulesets and ``extends:``.

A ruleset is YAML.  ``extends:`` names a base (a shipped ruleset or a path
relative to the extending file); the child's ``params``, ``tables``,
``metrics``, ``lists``, ``rubric``, ``corrections`` and ``scoring.kpis``
override the base's by id, field by field, and ``null`` removes an id.
Inside an id, a mapping of names (a table's ``dimensions``, ``join`` and
``columns``, a KPI's ``by_level``, a rubric's grades, a correctable table's
``fields``, a parameter table) merges by key in the same way, so adding one
dimension keeps the base's others.  Every field remembers the file and
position it came from, so an error in a merged ruleset still points at the
right line, and an error in a base names the ruleset that extends it.  The
support-domain sections (``panel``, ``corrections``, ``scorecard``) are
modelled and cross-checked in :mod:`merit.core.ruleset_domain`.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from merit.core.contract import contract
from merit.core.errors import Origin, RulesetError, raise_collected
from merit.core.model_fields import unknown_field_message
from merit.core.ruleset_domain import CorrectionTable, PanelScale, Scorecard, cross_problems
from merit.core.ruleset_words import REASON_FILTERS, Words
from merit.core.suggest import did_you_mean
from merit.i18n import LANGUAGES
from merit.core.yamlpos import YamlDoc, load_yaml_text, plain_message, read_settings_file

SCOPES = ("agent", "team", "org")
AGGREGATIONS = ("count", "sum", "mean", "min", "max", "count_distinct", "ratio", "quantile",
                "formula", "standardized")
MAX_EXTENDS_DEPTH = 8


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DerivedColumn(_Model):
    """One column of a derived table: an aggregation over the rows of a group."""

    agg: Literal["count", "sum", "mean", "min", "max", "count_distinct", "median_low", "median_high"]
    value: str | None = None
    where: str | None = None
    order: list[str] | None = None  # for median_low/high of labels: worst first, e.g. [C, B, A, S]

    @model_validator(mode="after")
    def _needs_value(self):
        if self.agg != "count" and self.value is None:
            raise ValueError(f"agg '{self.agg}' needs 'value'")
        if self.order is not None and self.agg not in ("median_low", "median_high", "min", "max"):
            raise ValueError("'order' goes with median_low, median_high, min or max")
        return self


class TableConfig(_Model):
    """How a source table is attributed and put into a cohort, or how a
    derived table is built from another (``from`` + ``group_by`` + ``columns``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    agent: str | None = None  # column holding the agent id (or a list of ids: credit split)
    team: str | None = None  # column holding the team, for tables without agents
    period: str | None = None  # date, timestamp or 'YYYY-MM' column that puts a row in the cycle
    key: str | None = None  # the record id, for `merit explain` and scorecards
    dimensions: dict[str, str] = {}  # breakdown name -> record expression
    roster: list[str] = []  # columns of the agent's roster row to join in (level, team, role, ...)
    join: dict[str, str] = {}  # derived table -> key column shared by both: left-join its columns
    from_: str | None = Field(default=None, alias="from")  # derived table: source table
    group_by: str | None = None  # derived table: one row per value of this column
    columns: dict[str, DerivedColumn] = {}  # derived table: its columns

    @model_validator(mode="after")
    def _derived_complete(self):
        derived = self.from_ is not None or self.group_by is not None or bool(self.columns)
        if derived and (self.from_ is None or self.group_by is None or not self.columns):
            raise ValueError("a derived table needs 'from', 'group_by' and 'columns'")
        return self

    @property
    def derived(self) -> bool:
        return self.from_ is not None


class Metric(_Model):
    label: Words | None = None
    description: Words | None = None
    # Why a filter (where, denominator) leaves records out, in words for the scorecards' "what
    # was excluded" (merit.core.ruleset_words.exclusion_reason).  Not written to results.json:
    # words for people, and that file's definitions hold the filters themselves.
    reasons: dict[str, Words] = Field(default={}, exclude=True)
    unit: Literal["count", "rate", "hours", "minutes", "days", "points", "score", "ratio", "currency",
                  "percent", "number"] = "number"
    table: str | None = None
    where: str | None = None
    agg: Literal[AGGREGATIONS] | None = None  # type: ignore[valid-type]
    value: str | None = None
    q: float | None = Field(default=None, ge=0, le=1)
    numerator: str | None = None
    denominator: str | None = None
    numerator_value: str | None = None
    denominator_value: str | None = None
    formula: str | None = None
    rollup: Literal["formula", "sum"] = "formula"
    n: str | None = None
    metric: str | None = None
    by: str | None = None
    weights: str | dict[str, float] | None = None
    mix: str | None = None
    scopes: list[Literal["agent", "team", "org"]] = list(SCOPES)
    breakdowns: list[str] = []
    interval: Literal["wilson", "none"] | None = None

    @model_validator(mode="after")
    def _complete(self):
        if self.agg is None:
            if self.formula is not None:
                self.agg = "formula"
            else:
                raise ValueError("say how the metric is computed: 'agg' (count, sum, mean, ratio, quantile, ...) "
                                 "or 'formula'")
        agg = self.agg
        needs: dict[str, tuple[str, ...]] = {
            "count": ("table",),
            "sum": ("table", "value"),
            "mean": ("table", "value"),
            "min": ("table", "value"),
            "max": ("table", "value"),
            "count_distinct": ("table", "value"),
            "ratio": ("table",),
            "quantile": ("table", "value", "q"),
            "formula": ("formula",),
            "standardized": ("metric", "by"),
        }
        missing = [name for name in needs[agg] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"agg '{agg}' needs {', '.join(repr(m) for m in missing)}")
        if agg == "ratio" and self.numerator is None and self.numerator_value is None:
            raise ValueError("agg 'ratio' needs 'numerator' (a filter) or 'numerator_value'")
        if agg in ("formula", "standardized") and self.table is not None:
            raise ValueError(f"agg '{agg}' works on other metrics; remove 'table'")
        for name in self.reasons:
            if name not in REASON_FILTERS or getattr(self, name) is None:
                have = [f for f in REASON_FILTERS if getattr(self, f) is not None]
                raise PydanticCustomError(
                    "reason_filter", "the metric has no filter '{name}' that leaves records out{hint}",
                    {"at": ("reasons", name), "name": str(name), "hint": did_you_mean(str(name), have)
                     or f" (its reasons may explain: {', '.join(have) or 'nothing, it has no such filter'})"})
        return self

    @property
    def is_rate(self) -> bool:
        """A ratio of counts: it gets a Wilson interval unless told otherwise."""
        if self.interval is not None:
            return self.interval == "wilson"
        return self.agg == "ratio" and self.numerator_value is None and self.denominator_value is None


class Band(_Model):
    min: float | None = None
    max: float | None = None
    points: float

    @model_validator(mode="after")
    def _one_bound(self):
        if (self.min is None) == (self.max is None):
            raise ValueError("a band has exactly one of 'min' or 'max'")
        return self


class Curve(_Model):
    """Value → points: linear between `points` (clamped at the ends) or `bands`."""

    points: list[tuple[float, float]] | None = None
    bands: list[Band] | None = None
    target: float | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.points is None) == (self.bands is None):
            raise ValueError("a curve has either 'points' ([[value, points], ...]) or 'bands'")
        if self.points is not None:
            if len(self.points) < 2:
                raise ValueError("'points' needs at least two [value, points] pairs")
            xs = [p[0] for p in self.points]
            if any(b <= a for a, b in zip(xs, xs[1:])):
                raise ValueError("'points' must be in strictly increasing order of value")
        if self.bands is not None:
            kinds = {"min" if b.min is not None else "max" for b in self.bands}
            if len(kinds) > 1:
                raise ValueError("all bands of a curve use the same bound ('min' or 'max')")
            if not self.bands:
                raise ValueError("'bands' is empty")
        return self


class Kpi(_Model):
    metric: str | None = None  # defaults to the KPI's id
    label: Words | None = None
    weight: float = Field(gt=0)
    direction: Literal["higher", "lower"] = "higher"
    curve: Curve
    by_level: dict[str, Curve] = {}
    min_n: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _direction_matches(self):
        for name, curve in [("curve", self.curve)] + [(f"by_level.{k}", c) for k, c in self.by_level.items()]:
            if curve.points is not None:
                first, last = curve.points[0][1], curve.points[-1][1]
                if self.direction == "higher" and last < first or self.direction == "lower" and last > first:
                    raise ValueError(f"{name} gives fewer points for better values than direction "
                                     f"'{self.direction}' says")
        return self


class GradeBand(_Model):
    grade: str
    min: float


class Scoring(_Model):
    kpis: dict[str, Kpi] = {}
    grades: list[GradeBand] = []
    forced_distribution: dict[str, float] | None = None  # grade -> share of agents, best first
    # An agent whose KPIs with enough data carry less than this share of the total
    # weight is not rated (no total, grade or rank): no data is not a bad grade.
    min_scored_weight: float = Field(default=0.5, ge=0, le=1)

    @field_validator("grades")
    @classmethod
    def _descending(cls, grades):
        mins = [g.min for g in grades]
        if any(b >= a for a, b in zip(mins, mins[1:])):
            raise ValueError("grades are listed best first with strictly decreasing 'min'")
        return grades

    @field_validator("forced_distribution")
    @classmethod
    def _sums_to_one(cls, dist):
        if dist is not None and abs(sum(dist.values()) - 1) > 1e-9:
            raise ValueError(f"forced_distribution shares must sum to 1 (they sum to {sum(dist.values()):g})")
        return dist


class Privacy(_Model):
    """What an agent's own scorecard may say about colleagues."""

    # Peer statistics (median, percentile band, "of N agents", distribution
    # position) are shown only for groups of at least this many agents: in
    # smaller groups they reveal a colleague's exact numbers.
    min_group_size: int = Field(default=5, ge=2)


class ListSpec(_Model):
    """A top-N list of a metric broken down by a dimension (e.g. customers with most tickets)."""

    label: Words | None = None
    description: Words | None = None
    metric: str
    by: str  # a dimension of the metric's table
    order: Literal["desc", "asc"] = "desc"
    top: int = Field(default=10, ge=1, le=1000)
    min_n: int = Field(default=1, ge=0)
    scopes: list[Literal["agent", "team", "org"]] = ["team", "org"]


class Ruleset(_Model):
    name: str
    label: Words | None = None
    description: Words | None = None
    extends: str | None = None
    params: dict[str, Any] = {}
    tables: dict[str, TableConfig] = {}
    metrics: dict[str, Metric] = {}
    lists: dict[str, ListSpec] = {}
    # What each grade means for each kind of knowledge item, for the expert panel:
    # kind (faq, sop, case, best_practice) -> grade (S, A, B, C) -> description (by language).
    rubric: dict[str, dict[str, Words]] = {}
    scoring: Scoring = Scoring()
    privacy: Privacy = Privacy()
    # The support domain the engine must not know itself (merit.core.ruleset_domain):
    # the expert panel's scale, what an appeal may correct, the scorecard's sections.
    panel: PanelScale | None = None
    corrections: dict[str, CorrectionTable] = {}
    scorecard: Scorecard = Scorecard()
    # The currency of money metrics (unit: currency), an ISO 4217 code: how documents print them.
    currency: str | None = None
    # How documents name the breakdowns (the tables' dimensions): dimension name -> label.
    breakdowns: dict[str, Words] = {}

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        from merit.i18n.formats import is_currency

        if value is not None and not is_currency(value):
            raise ValueError(f"unknown currency '{value}' (expected an ISO 4217 code such as CNY, USD or EUR)")
        return value


@dataclass
class LoadedRuleset:
    """A validated ruleset plus where each of its parts was written."""

    ruleset: Ruleset
    files: list[str]  # the chain, base first
    sha256: str  # over the chain's file contents
    origins: dict[tuple, tuple[YamlDoc, tuple]] = field(default_factory=dict)
    docs: list[YamlDoc] = field(default_factory=list)

    def origin(self, path: tuple, resource: str | None = None, field_name: str | None = None) -> Origin:
        """Origin (file, line, column of the text's first character) of a merged value."""
        doc, doc_path = self._locate(path)
        if doc is None:
            return Origin(resource=resource, field=field_name)
        note = self._base_note(doc)
        if note:
            resource = f"{resource} {note}" if resource else note
        pos = doc.pos(doc_path)
        if pos is None:
            return Origin(file=doc.file, resource=resource, field=field_name)
        line, column = pos.line, pos.column
        if pos.style in ("'", '"'):
            column += 1
        elif pos.style in ("|", ">"):
            line += 1
            text = doc.line_text(line) or ""
            column = len(text) - len(text.lstrip()) + 1
        return Origin(file=doc.file, line=line, column=column, resource=resource, field=field_name)

    def _locate(self, path: tuple):
        path = tuple(path)
        for cut in range(len(path), -1, -1):
            hit = self.origins.get(path[:cut])
            if hit is not None:
                doc, doc_path = hit
                return doc, doc_path + path[cut:]
        return (self.docs[-1], path) if self.docs else (None, path)

    def _base_note(self, doc: YamlDoc) -> str:
        """For a place in a base ruleset: which rulesets extend it.  What goes wrong there
        is usually caused by what they override or remove (a dimension, a parameter)."""
        files = [d.file for d in self.docs]
        if doc.file not in files or doc.file == files[-1]:
            return ""
        later = files[files.index(doc.file) + 1:]
        verbs = "overrides or removes" if len(later) == 1 else "override or remove"
        return f"(a base ruleset, extended by {' and '.join(later)}: check what that {verbs})"

    def error(self, message: str, path: tuple, **kw) -> RulesetError:
        doc, doc_path = self._locate(path)
        pos = doc.pos(doc_path) if doc else None
        note = self._base_note(doc) if doc else ""
        if note:
            message = f"{message} {note}"
        return RulesetError(
            message,
            file=doc.file if doc else None,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
            field=".".join(str(p) for p in path),
            text=doc.line_text(pos.line) if (doc and pos) else None,
            span=(pos.column - 1, len(doc.line_text(pos.line) or "")) if (doc and pos) else None,
            **kw,
        )


def shipped_rulesets() -> list[str]:
    folder = resources.files("merit.rulesets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read(ref: str, relative_to: Path | None) -> tuple[YamlDoc, Path | None]:
    """Read a ruleset by shipped name or by path."""
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref
    if not looks_like_path:
        res = resources.files("merit.rulesets") / f"{ref}.yaml"
        if not res.is_file():
            raise RulesetError(f"no shipped ruleset named '{ref}'",
                               expected=f"one of {', '.join(shipped_rulesets())}, or a path to a .yaml file")
        return _parsed_copy(res.read_text(encoding="utf-8"), f"rulesets/{ref}.yaml"), None
    path = Path(ref)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    if not path.exists():  # (a folder, pipe or device by that name is refused by load_yaml)
        raise RulesetError("ruleset file not found", file=str(path))
    return _parsed_copy(read_settings_file(path, str(path)), str(path)), path.parent


@functools.lru_cache(maxsize=32)
def _parsed(text: str, file: str) -> YamlDoc:
    return load_yaml_text(text, file)


def _parsed_copy(text: str, file: str) -> YamlDoc:
    """*text* parsed, once per process for the same text (parsing with positions is the slow part
    of loading a ruleset, and a run reads its ruleset more than once).  Merging along ``extends``
    changes a document's data, so each caller gets its own copy of it."""
    doc = _parsed(text, file)
    return YamlDoc(copy.deepcopy(doc.data), doc.positions, doc.file, doc.lines)


MERGED_BY_ID = ("params", "tables", "metrics", "lists", "rubric", "corrections", "breakdowns")


def load_ruleset(ref: str, relative_to: Path | None = None) -> LoadedRuleset:
    """Load, merge along ``extends`` and validate a ruleset."""
    chain: list[YamlDoc] = []
    folder = relative_to
    seen: set[str] = set()
    current: str | None = ref
    while current is not None:
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise RulesetError(f"'extends' goes deeper than {MAX_EXTENDS_DEPTH} levels", file=chain[-1].file)
        doc, next_folder = _read(current, folder)
        if doc.file in seen:
            raise RulesetError(f"'extends' loops back to {doc.file}", file=chain[-1].file if chain else None)
        seen.add(doc.file)
        if not isinstance(doc.data, dict):
            raise RulesetError("a ruleset is a mapping (name, params, metrics, scoring, ...)", file=doc.file, line=1)
        chain.append(doc)
        current = doc.data.get("extends")
        if current is not None and not isinstance(current, str):
            pos = doc.pos(("extends",))
            raise RulesetError("'extends' names a ruleset (a shipped name or a path)", file=doc.file,
                               line=pos.line if pos else None, field="extends")
        folder = next_folder if next_folder is not None else folder
    chain.reverse()  # base first

    merged: dict[str, Any] = {}
    origins: dict[tuple, tuple[YamlDoc, tuple]] = {}
    for doc in chain:
        _merge_into(merged, origins, doc)

    try:
        ruleset = Ruleset.model_validate(merged)
    except ValidationError as exc:
        loaded = LoadedRuleset(None, [d.file for d in chain], "", origins, chain)  # type: ignore[arg-type]
        problems = [_positioned(loaded, err) for err in exc.errors()]
        raise_collected(problems)

    digest = hashlib.sha256()
    for doc in chain:
        digest.update(doc.file.encode())
        digest.update("\n".join(doc.lines).encode())
    loaded = LoadedRuleset(ruleset, [d.file for d in chain], digest.hexdigest(), origins, chain)
    problems = cross_problems(loaded, _contract_columns())
    raise_collected(problems)
    return loaded


def _contract_columns() -> dict[str, list[str]]:
    """Input table name -> its column names, from the input-table contract."""
    return {name: schema.names for name, schema in contract().tables.items()}


# What one id of each merged section is: a model (its fields override one by one, its
# mappings of names merge by key), a mapping of names ("keys", one level) or any YAML value
# ("tree": mappings merge by key at every depth; parameters).
_ENTRIES: dict[tuple, Any] = {
    ("params",): "tree",
    ("tables",): TableConfig,
    ("metrics",): Metric,
    ("lists",): ListSpec,
    ("rubric",): "keys",
    ("breakdowns",): "keys",
    ("corrections",): CorrectionTable,
    ("scoring", "kpis"): Kpi,
}


def _keyed_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of *model* that are mappings of names (dict[str, ...]): they merge by key.
    A field that may also be something else (a metric's weights: a mapping or a parameter
    name) is one value and is replaced."""
    names = []
    for fname, info in model.model_fields.items():
        if typing.get_origin(info.annotation) is dict:
            names.append(info.alias or fname)
    return frozenset(names)


def _merge_into(merged: dict, origins: dict, doc: YamlDoc) -> None:
    for key, value in doc.data.items():
        if key in MERGED_BY_ID and isinstance(value, dict) and isinstance(merged.get(key), dict):
            _merge_by_id(merged[key], origins, doc, (key,), value, _ENTRIES[(key,)])
        elif key == "scoring" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            base = merged[key]
            for skey, svalue in value.items():
                if skey == "kpis" and isinstance(svalue, dict) and isinstance(base.get("kpis"), dict):
                    _merge_by_id(base["kpis"], origins, doc, ("scoring", "kpis"), svalue, _ENTRIES[("scoring", "kpis")])
                else:
                    _replace(base, origins, doc, ("scoring",), skey, svalue)
        else:
            _replace(merged, origins, doc, (), key, value)
    if "extends" in merged:
        merged["extends"] = doc.data.get("extends")


_MAPPINGS = ("tree", "keys")


def _merge_by_id(base: dict, origins: dict, doc: YamlDoc, prefix: tuple, child: dict, entry) -> None:
    """Merge the child's ids into the base's: null removes an id, a new id is added, an id
    both have is merged as *entry* says.  An empty mapping of names ({}) replaces the
    base's: it says "none" (merging nothing would be a no-op nobody writes)."""
    for ident, value in child.items():
        path = prefix + (ident,)
        if value is None:
            base.pop(ident, None)
            _forget(origins, path, itself=True)
        elif isinstance(value, dict) and isinstance(base.get(ident), dict) and (value or entry not in _MAPPINGS):
            origins[path] = (doc, path)  # errors about the id as a whole point at the last override
            if entry == "tree":
                _merge_keys(base[ident], origins, doc, path, value, deep=True)
            elif entry == "keys":
                _merge_keys(base[ident], origins, doc, path, value, deep=False)
            else:
                _merge_fields(base[ident], origins, doc, path, value, _keyed_fields(entry))
        else:
            _replace(base, origins, doc, prefix, ident, value)


def _merge_fields(base: dict, origins: dict, doc: YamlDoc, path: tuple, child: dict, keyed: frozenset) -> None:
    """One id's fields: each replaces the base's, except mappings of names, merged by key
    ({} clears such a mapping; null removes it: back to the default, none)."""
    for fname, fvalue in child.items():
        if fname in keyed and isinstance(fvalue, dict) and fvalue and isinstance(base.get(fname), dict):
            origins[path + (fname,)] = (doc, path + (fname,))
            _merge_keys(base[fname], origins, doc, path + (fname,), fvalue, deep=False)
        elif fname in keyed and fvalue is None:
            base.pop(fname, None)
            _forget(origins, path + (fname,), itself=True)
        else:
            _replace(base, origins, doc, path, fname, fvalue)


def _merge_keys(base: dict, origins: dict, doc: YamlDoc, path: tuple, child: dict, deep: bool) -> None:
    """A mapping of names: the child's keys replace the base's, null removes a key, the
    base's other keys stay.  *deep*: non-empty mappings inside merge the same way ({}
    replaces)."""
    for key, value in child.items():
        kpath = path + (key,)
        if value is None:
            base.pop(key, None)
            _forget(origins, kpath, itself=True)
        elif deep and isinstance(value, dict) and value and isinstance(base.get(key), dict):
            origins[kpath] = (doc, kpath)
            _merge_keys(base[key], origins, doc, kpath, value, deep=True)
        else:
            _replace(base, origins, doc, path, key, value)


def _replace(base: dict, origins: dict, doc: YamlDoc, path: tuple, key, value) -> None:
    """base[key] = value, and errors inside it point at *doc*.  (A copy: later rulesets
    merge into it, and must not change the YAML documents the positions come from.)"""
    base[key] = copy.deepcopy(value)
    _forget(origins, path + (key,), itself=False)
    origins[path + (key,)] = (doc, path + (key,))


def _forget(origins: dict, path: tuple, itself: bool) -> None:
    """Drop the recorded origins below *path* (and of *path* itself): the base's text there
    no longer describes the merged value."""
    for stale in [k for k in origins if k[: len(path)] == path and (itself or len(k) > len(path))]:
        del origins[stale]


# Errors about a key rather than a value (their context's "at": the key's path below the error's
# place), with what the key may be.
AT_KEY = {"language_key": "a language: " + ", ".join(LANGUAGES),
          "reason_filter": "a filter of the metric that leaves records out: " + ", ".join(REASON_FILTERS)}


def _positioned(loaded: LoadedRuleset, err: dict) -> RulesetError:
    loc = tuple(err["loc"])
    # Keep only the steps that exist in the merged data (pydantic adds union/type names).
    msg = plain_message(err)
    if err["type"] == "missing":
        msg = f"required field '{loc[-1]}' is missing"
    elif err["type"] == "extra_forbidden":
        msg = unknown_field_message(Ruleset, loc)
    elif err["type"] == "literal_error":
        msg = f"{msg} (got {err.get('input')!r})"
    path = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("tuple", "list", "str", "dict", "float"))))
    at_key = err["type"] in AT_KEY
    if at_key:  # (an unknown language of a text, a reason for a filter the metric lacks: point at that key)
        path += tuple(err["ctx"]["at"])
    if err["type"] == "extra_forbidden" or at_key:
        doc, doc_path = loaded._locate(path)
        kpos = doc.key_pos(doc_path) if doc else None
        if kpos is not None:
            text = doc.line_text(kpos.line)
            return RulesetError(msg, file=doc.file, line=kpos.line, column=kpos.column,
                                field=".".join(str(p) for p in path), text=text,
                                span=(kpos.column - 1, kpos.column - 1 + len(str(path[-1]))),
                                expected=AT_KEY.get(err["type"], "a field of the model (see `merit schema`)"))
    return loaded.error(msg, path)
