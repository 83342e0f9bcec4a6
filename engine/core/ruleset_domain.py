"""The ruleset's support-domain declarations besides metrics and scoring.

``panel:`` (the expert panel's grading scale and where its numbers live),
``corrections:`` (what an appeal may correct and how each change is worded)
and ``scorecard:`` (the credit sections of an agent's scorecard and the metric
groups of a team's).  The engine reads these instead of knowing table names,
grades or wording itself; docs/rulesets.md describes each field.  The models
check what one section can check alone; :func:`cross_problems` checks what
needs the rest of the ruleset (parameters, tables, the input-table contract)
and points at the offending key.
"""

from __future__ import annotations

import string

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from merit.core.errors import RulesetError
from merit.core.ruleset_words import Words, words, written_texts
from merit.i18n import translator

# The functions below take merit.core.ruleset's LoadedRuleset and Ruleset (not imported here:
# that module imports this one).


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def template_names(text: str) -> list[str]:
    """The ``{name}`` placeholders of a wording template (ValueError on a malformed one)."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"'{{{name}}}' in {text!r} is not a plain placeholder such as {{name}}")
        names.append(name)
    return names


def _check_template(template: str | None, allowed: list[str] | tuple[str, ...], what: str) -> None:
    for text in written_texts(template):  # (each language's text)
        unknown = [n for n in template_names(text) if n not in allowed]
        if unknown:
            raise ValueError(f"{what} {text!r} uses {{{unknown[0]}}}; it may use "
                             + (", ".join(f"{{{n}}}" for n in allowed) or "no placeholder"))


# ------------------------------------------------------------------ panel
class PanelScale(_Model):
    """The expert panel's grading scale, best first, and the parameters that go with it.

    ``points``, ``ranks`` and ``flag_spread`` name entries of ``params`` (metrics read them
    there too): the points of each final grade, each grade's step on the scale (worst = 1)
    and the spread in steps that sends an item to a calibration discussion.
    ``final_grade`` names the derived column (``TABLE.COLUMN``) that computes an item's
    final grade for the metrics: it must be the same rule merit.panel applies."""

    grades: list[str] = Field(min_length=2)
    points: str | None = None
    ranks: str | None = None
    flag_spread: str | None = None
    final_grade: str | None = None

    @field_validator("grades")
    @classmethod
    def _distinct(cls, grades: list[str]) -> list[str]:
        if any(not g.strip() for g in grades):
            raise ValueError("a grade is a non-empty label such as S")
        repeated = sorted({g for g in grades if grades.count(g) > 1})
        if repeated:
            raise ValueError(f"grade '{repeated[0]}' is listed twice")
        return grades

    @field_validator("final_grade")
    @classmethod
    def _dotted(cls, value: str | None) -> str | None:
        if value is not None and value.count(".") != 1:
            raise ValueError("'final_grade' names a derived column as TABLE.COLUMN, e.g. item_grades.final_grade")
        return value

    @property
    def best_first(self) -> tuple[str, ...]:
        return tuple(self.grades)

    @property
    def worst_first(self) -> tuple[str, ...]:
        return tuple(reversed(self.grades))


# ------------------------------------------------------------------ corrections
CHANGE_FIELDS = ("field", "before", "after")
DEFAULT_CHANGE = "{field} changed from {before} to {after}"


class CorrectableField(_Model):
    """One field an appeal may correct, and how a change of it is worded."""

    changed: Words | None = None  # wording of any change (default: "{field} changed from {before} to {after}")
    to: dict[str, Words] = {}  # wording of a change to one value (in its stored form: true, product, ...)

    @model_validator(mode="after")
    def _templates(self):
        _check_template(self.changed, CHANGE_FIELDS, "'changed'")
        for value, text in self.to.items():
            _check_template(text, CHANGE_FIELDS, f"'to.{value}'")
        return self

    def change_text(self, name: str, before: str | None, after: str | None, language: str | None = None) -> str:
        """The change in words, in *language* (None: the default); an empty value is "empty"."""
        _ = translator(language).gettext
        if after is not None and after in self.to:
            template = words(self.to[after], language)
        else:
            template = words(self.changed, language) or _("{field} changed from {before} to {after}")  # DEFAULT_CHANGE
        return template.format(field=name, before=_("empty") if before is None else before,
                               after=_("empty") if after is None else after)


class CorrectionThrough(_Model):
    """The table a corrected record counts through (a grade counts for the knowledge item it grades)."""

    table: str
    column: str  # the column both tables share


class CorrectionTable(_Model):
    """The correctable fields of one input table and how its records are named."""

    keys: list[str] = Field(min_length=1)  # the columns that identify one record
    noun: Words = Words("record")  # what one record is called in messages ("the ticket's created_at")
    record: Words  # the record in an adjustment's wording, e.g. "ticket {ticket_id}"
    missing: Words  # the error when no record has the keys, e.g. "no ticket '{ticket_id}'"
    on_scorecard: Words | None = None  # the record on an agent's scorecard when `record` names someone else
    through: CorrectionThrough | None = None
    fields: dict[str, CorrectableField] = Field(min_length=1)

    @model_validator(mode="after")
    def _templates(self):
        for name in ("record", "missing", "on_scorecard"):
            _check_template(getattr(self, name), self.keys, f"'{name}'")
        if self.through is not None and self.through.column not in self.keys:
            raise ValueError(f"'through.column' ({self.through.column}) must be one of the keys: "
                             f"{', '.join(self.keys)}")
        return self

    def key_values(self, keys: tuple) -> dict[str, str]:
        return {k: str(v) for k, v in zip(self.keys, keys)}

    def record_text(self, keys: tuple, language: str | None = None) -> str:
        return words(self.record, language).format(**self.key_values(keys))

    def missing_text(self, keys: tuple, language: str | None = None) -> str:
        return words(self.missing, language).format(**self.key_values(keys))

    def scorecard_text(self, keys: tuple, language: str | None = None) -> str:
        return words(self.on_scorecard or self.record, language).format(**self.key_values(keys))


# ------------------------------------------------------------------ scorecard
class ScorecardColumn(_Model):
    """A column of a credit section: a column of the table's records (with its joins)."""

    column: str
    header: Words
    empty: Words = Words("")  # shown where the record has no value
    calibration: bool = False  # the panel's final grade: an item under calibration is marked †


class CreditSection(_Model):
    """The records of one table credited to the agent (the table needs an ``agent`` attribution)."""

    title: Words
    columns: list[ScorecardColumn] = []

    @field_validator("columns")
    @classmethod
    def _one_calibration(cls, columns: list[ScorecardColumn]) -> list[ScorecardColumn]:
        if sum(c.calibration for c in columns) > 1:
            raise ValueError("at most one column holds the panel's final grade ('calibration: true')")
        return columns


class MetricGroup(_Model):
    """A section of a team's scorecard: the metrics that read one of ``tables``."""

    title: Words
    tables: list[str] = []
    others: bool = False  # also every metric that no group's tables take


class Scorecard(_Model):
    credits: dict[str, CreditSection] = {}  # table -> its section, in the order shown
    groups: dict[str, MetricGroup] = {}  # a metric goes to the first group that lists one of its tables

    @model_validator(mode="after")
    def _one_catch_all(self):
        catch_all = [gid for gid, g in self.groups.items() if g.others]
        if self.groups and len(catch_all) != 1:
            raise ValueError("exactly one of scorecard.groups takes the other metrics ('others: true'); "
                             f"{'none does' if not catch_all else 'several do: ' + ', '.join(catch_all)}")
        return self


# ------------------------------------------------------------------ checks across sections
def cross_problems(loaded, contract: dict) -> list[RulesetError]:
    """What the domain sections get wrong about the rest of the ruleset and the contract
    (*contract*: input table name -> its column names)."""
    rs = loaded.ruleset
    problems: list[RulesetError] = []
    if rs.panel is not None:
        problems += _panel_problems(loaded, rs)
    problems += _correction_problems(loaded, rs, contract)
    for tname in rs.scorecard.credits:
        cfg = rs.tables.get(tname)
        if cfg is None or cfg.agent is None:
            problems.append(loaded.error(
                f"scorecard credit table '{tname}' is not credited to agents: give it an 'agent' column "
                f"in tables.{tname}", ("scorecard", "credits", tname)))
    return problems


def _panel_problems(loaded, rs) -> list[RulesetError]:
    scale = rs.panel
    listed = ", ".join(scale.grades)
    problems = []
    for field in ("points", "ranks", "flag_spread"):
        name = getattr(scale, field)
        if name is not None and name not in rs.params:
            problems.append(loaded.error(f"panel.{field} names params.{name}, which the ruleset does not define",
                                         ("panel", field)))
    if scale.points in rs.params:
        problems += _keyed_by_grade(loaded, scale.points, rs.params[scale.points], scale.grades, numeric=False)
    if scale.ranks in rs.params:
        problems += _keyed_by_grade(loaded, scale.ranks, rs.params[scale.ranks], scale.grades, numeric=True)
    if scale.flag_spread in rs.params:
        spread = rs.params[scale.flag_spread]
        if isinstance(spread, bool) or not isinstance(spread, int) or spread < 1:
            problems.append(loaded.error(f"params.{scale.flag_spread} (panel.flag_spread) must be a whole "
                                         f"number of steps, at least 1", ("params", scale.flag_spread)))
    for kind, texts in rs.rubric.items():
        for grade in texts:
            if grade not in scale.grades:
                problems.append(loaded.error(f"rubric grade '{grade}' is not on the panel's scale "
                                             f"(panel.grades: {listed})", ("rubric", kind, grade)))
    problems += _derived_order_problems(loaded, rs)
    return problems


def _keyed_by_grade(loaded, name: str, table, grades: list[str], numeric: bool) -> list:
    """params.NAME has one entry per grade (and for ranks: steps that grow from worst to best)."""
    path = ("params", name)
    if not isinstance(table, dict) or set(map(str, table)) != set(grades):
        return [loaded.error(f"params.{name} must have one entry per grade of panel.grades "
                             f"({', '.join(grades)})", path)]
    if not numeric:
        return []
    steps = [table[g] for g in reversed(grades)]
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in steps) \
            or any(b <= a for a, b in zip(steps, steps[1:])):
        return [loaded.error(f"params.{name} must rank the grades worst = lowest, rising to the best "
                             f"(panel.grades is best first: {', '.join(grades)})", path)]
    return []


def _derived_order_problems(loaded, rs) -> list[RulesetError]:
    """Every derived column ordered on the panel's grades orders them worst first, and the
    final grade column applies the panel's rule (median_low)."""
    scale = rs.panel
    worst_first = list(scale.worst_first)
    problems = []
    for tname, cfg in rs.tables.items():
        for cname, col in cfg.columns.items():
            if col.order is not None and set(col.order) == set(worst_first) and col.order != worst_first:
                problems.append(loaded.error(
                    f"derived column {tname}.{cname} orders the panel's grades differently from panel.grades: "
                    f"write order: [{', '.join(worst_first)}] (worst first)", ("tables", tname, "columns", cname, "order")))
    if scale.final_grade is not None:
        tname, _, cname = scale.final_grade.partition(".")
        cfg = rs.tables.get(tname)
        col = cfg.columns.get(cname) if cfg is not None else None
        if col is None:
            problems.append(loaded.error(f"panel.final_grade names {scale.final_grade}, which is not a derived "
                                         f"column of the ruleset's tables", ("panel", "final_grade")))
        elif col.agg != "median_low" or col.order != worst_first:
            problems.append(loaded.error(
                f"{scale.final_grade} must apply the panel's final-grade rule: "
                f"{{agg: median_low, order: [{', '.join(worst_first)}]}}", ("tables", tname, "columns", cname)))
    return problems


def _correction_problems(loaded, rs, contract: dict) -> list[RulesetError]:
    problems = []
    for tname, spec in rs.corrections.items():
        here = ("corrections", tname)
        columns = contract.get(tname)
        if columns is None:
            problems.append(loaded.error(f"corrections name table '{tname}', which is not an input table",
                                         here, expected=", ".join(contract)))
            continue
        named = [("keys", k) for k in spec.keys] + [("fields", f) for f in spec.fields]
        for where, column in named:
            if column not in columns:
                path = here + (where, column) if where == "fields" else here + ("keys",)
                problems.append(loaded.error(f"table '{tname}' has no column '{column}'", path,
                                             expected=", ".join(columns)))
        through = spec.through
        if through is not None and through.column not in contract.get(through.table, ()):
            problems.append(loaded.error(f"corrections.{tname}.through: table '{through.table}' has no "
                                         f"column '{through.column}' (or is not an input table)",
                                         here + ("through",)))
    return problems
