"""The metric catalogue, docs/metrics.md, generated from the rulesets shipped with merit.

Like dbt's generated docs: every metric with its definition as the rulesets
write it (table, records in the cycle, filters and what they leave out, how
the value is aggregated, unit, scopes, breakdowns, parameters) and how each
ruleset scores it.  A field that differs between rulesets is shown per
ruleset.  The text depends only on the rulesets, so ``merit catalog --check``
and tests/test_catalog.py can tell whether the committed file is current.
Labels, descriptions and the reasons filters give are shown in each language the
rulesets write them in (English, then Simplified Chinese).  Reads the rulesets
through the core (load, compile); the input tables' columns are documented by
merit.core.contract (docs/contract.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from merit.core.compile import CompiledMetric, Plan, compile_ruleset
from merit.core.ruleset import Curve, Kpi, load_ruleset, shipped_rulesets
from merit.core.ruleset_words import Words, text_in
from merit.i18n import DEFAULT_LANGUAGE, LANGUAGES

OTHER_LANGUAGES = tuple(language for language in LANGUAGES if language != DEFAULT_LANGUAGE)

# Where the catalogue lives in the repository.
DOC_PATH = Path("docs") / "metrics.md"

_PARAM = re.compile(r"params\.([A-Za-z_][A-Za-z0-9_]*)")
_VALUE_OF = {"sum": "the sum of", "mean": "the mean of", "min": "the smallest", "max": "the largest",
             "count_distinct": "the number of distinct values of"}


@dataclass
class ShippedRuleset:
    name: str  # as given to `ruleset:` in cycle.yaml
    plan: Plan

    @property
    def bases(self) -> list[str]:
        """The rulesets it extends, nearest last (from its file chain)."""
        return [Path(f).stem for f in self.plan.loaded.files[:-1]]


def shipped() -> list[ShippedRuleset]:
    return [ShippedRuleset(name, compile_ruleset(load_ruleset(name))) for name in shipped_rulesets()]


def metrics_markdown(rulesets: list[ShippedRuleset] | None = None) -> str:
    """The text of docs/metrics.md."""
    rulesets = shipped() if rulesets is None else rulesets
    ids = list(dict.fromkeys(mid for r in rulesets for mid in r.plan.ruleset.metrics))
    lines = _introduction(rulesets) + _index(rulesets, ids) + ["", "## Metrics"]
    for mid in ids:
        lines += ["", f"### {mid}", ""] + _metric_section(mid, [r for r in rulesets if mid in r.plan.metrics])
    return "\n".join(lines) + "\n"


def _introduction(rulesets: list[ShippedRuleset]) -> list[str]:
    lines = [
        "# Metric catalogue",
        "",
        "<!-- Generated from the shipped rulesets (rulesets/*.yaml) by `merit catalog` (merit.catalog): "
        "edit the rulesets, not this file. `merit catalog --check` tells whether it is current. -->",
        "",
        "Every metric of the rulesets shipped with merit: what it counts and from which records, which "
        "records its filters leave out, at which scopes it exists and how each ruleset scores it. A field "
        "that differs between the rulesets is shown per ruleset. How rulesets are written: "
        "[rulesets.md](rulesets.md); the expression language: [expressions.md](expressions.md); the input "
        "tables and their columns: [contract.md](contract.md); points, totals and grades: "
        "[scoring.md](scoring.md).",
        "",
        "A filter keeps the records for which it is true: a record for which it is false or empty is left "
        "out. Records are those of the cycle (their period column inside the cycle's period) credited to "
        "an agent, a team or only the organisation, as the ruleset's `tables:` section says. Labels, "
        "descriptions and the reasons filters give are shown as the rulesets write them for each language "
        "(`en` English, `zh-CN` Simplified Chinese): the texts scorecards show in that language.",
        "",
        f"| ruleset | {_LABEL_HEADS} | extends | metrics | scored KPIs (total weight) |",
        "|---|" + "---|" * len(LANGUAGES) + "---|---|---|",
    ]
    for r in rulesets:
        kpis = r.plan.ruleset.scoring.kpis
        lines.append(f"| `{r.name}` | {_label_cells(r.plan.ruleset.label, '')} | "
                     f"{', '.join(_code(b) for b in r.bases)} | {len(r.plan.metrics)} | "
                     f"{len(kpis)} ({_num(sum(k.weight for k in kpis.values()))}) |")
    return lines


def _index(rulesets: list[ShippedRuleset], ids: list[str]) -> list[str]:
    lines = ["", "## Index", "", f"| metric | {_LABEL_HEADS} | unit | computed as | scored in (weight) |",
             "|---|" + "---|" * len(LANGUAGES) + "---|---|---|"]
    for mid in ids:
        defining = [r for r in rulesets if mid in r.plan.metrics]
        cm = defining[0].plan.metrics[mid]
        scored = [f"{r.name} ({_num(_kpi_weight(r.plan, mid))} of {_num(_total_weight(r.plan))})"
                  for r in defining if _kpis_of(r.plan, mid)]
        lines.append(f"| [`{mid}`](#{mid}) | {_label_cells(cm.spec.label, mid)} | {cm.spec.unit} | "
                     f"{_cell(_computed_as(cm))} | {', '.join(scored)} |")
    return lines


def _computed_as(cm: CompiledMetric) -> str:
    if cm.agg == "formula":
        return "formula of " + ", ".join(f"`{d}`" for d in cm.deps) if cm.deps else "formula"
    if cm.agg == "standardized":
        return f"`{cm.spec.metric}` standardised by `{cm.spec.by}`"
    return f"{cm.agg} of `{cm.table}` records"


# ------------------------------------------------------------------ one metric
def _metric_section(mid: str, rulesets: list[ShippedRuleset]) -> list[str]:
    """The metric's fields: each once when every ruleset gives the same text, else per ruleset."""
    per_ruleset = {r.name: dict(_definition(r.plan, r.plan.metrics[mid])) for r in rulesets}
    per_ruleset_scoring = {r.name: _scoring_text(r.plan, mid) for r in rulesets}
    fields = list(dict.fromkeys(name for rows in per_ruleset.values() for name in rows))
    lines = [f"- **Defined in:** {', '.join(_code(r.name) for r in rulesets)}"]
    for name in fields:
        lines += _field(name, {r: rows.get(name, "(none)") for r, rows in per_ruleset.items()})
    lines += _field("Scoring", per_ruleset_scoring)
    return lines


def _field(name: str, texts: dict[str, str]) -> list[str]:
    if len(set(texts.values())) == 1:
        return [f"- **{name}:** {next(iter(texts.values()))}"]
    return [f"- **{name}:**"] + [f"  - `{ruleset}`: {text}" for ruleset, text in texts.items()]


def _definition(plan: Plan, cm: CompiledMetric) -> list[tuple[str, str]]:
    spec = cm.spec
    rows = _words_rows("Label", spec.label) or [("Label", cm.id)]
    rows += _words_rows("Description", spec.description)
    rows.append(("Unit", spec.unit))
    if cm.table is not None:
        rows.append(("Records", _records_text(plan, cm)))
        if spec.where:
            rows.append(("Filter", f"keeps the records where {_code(spec.where)}; those where it is false or "
                                   "empty are left out"))
            rows += _words_rows("Why the filter leaves records out", spec.reasons.get("where"))
        rows += _value_rows(cm, _split_credit(plan, cm.table))
    elif cm.agg == "formula":
        rows += _formula_rows(cm)
    else:
        rows += _standardised_rows(cm)
    rows.append(("Scopes", ", ".join(cm.scopes) if cm.scopes else "none"))
    if cm.breakdowns:
        dims = plan.dimensions.get(cm.table or "", {})
        rows.append(("Breakdowns", ", ".join(
            f"{_code(b)} ({_code(dims[b].text)})" if b in dims else _code(b) for b in cm.breakdowns)))
    if spec.is_rate:
        rows.append(("Interval", "95 % Wilson interval (a ratio of counts)"))
    params = _params_text(plan, cm)
    if params:
        rows.append(("Parameters", params))
    lists = [f"{_code(lid)} (by {_code(ls.by)}, top {ls.top}, {ls.order})"
             for lid, ls in plan.ruleset.lists.items() if ls.metric == cm.id]
    if lists:
        rows.append(("Lists", ", ".join(lists)))
    return rows


def _records_text(plan: Plan, cm: CompiledMetric) -> str:
    """Which records of the table the metric reads, and whom they are credited to."""
    table = cm.table
    cfg = plan.tables.get(table)
    if table == "roster_days":
        text = "`roster_days` (built in: one row per agent and day of the period on which the agent was employed)"
    elif cfg is not None and cfg.period:
        text = f"`{table}` records whose `{cfg.period}` falls in the cycle's period"
    else:
        text = f"every `{table}` record (the table has no period column)"
    if cfg is not None and cfg.agent:
        text += f", credited to `{cfg.agent}`"
        if _split_credit(plan, table):
            text += " (a list: each listed agent gets an equal share)"
    elif cfg is not None and cfg.team:
        text += f", credited to team `{cfg.team}` (no agent)"
    else:
        text += ", credited to the organisation only"
    for dname, key in (cfg.join.items() if cfg is not None else ()):
        derived = plan.derived.get(dname)
        source = f" (`{derived.source}` grouped by `{derived.group_by}`)" if derived else ""
        text += f"; joined with `{dname}`{source} on `{key}`"
    if cfg is not None and cfg.roster:
        text += "; with the agent's roster columns " + ", ".join(f"`{c}`" for c in cfg.roster)
    return text


def _split_credit(plan: Plan, table: str) -> bool:
    """Whether the table credits a record to a list of agents, each getting an equal share."""
    cfg = plan.tables.get(table)
    schema = plan.schemas.get(table)
    return bool(cfg and cfg.agent and schema is not None and cfg.agent in schema and schema[cfg.agent].is_array())


def _value_rows(cm: CompiledMetric, split: bool) -> list[tuple[str, str]]:
    spec = cm.spec
    weighted = " (each weighted by the agent's share)" if split else ""
    if cm.agg == "count":
        return [("Value", "the number of records" + weighted)]
    if cm.agg == "ratio":
        return _ratio_rows(cm)
    if cm.agg == "quantile":
        value = f"the {_num(spec.q * 100)}th percentile (continuous) of {_code(spec.value)}"
    else:
        value = f"{_VALUE_OF[cm.agg]} {_code(spec.value)}"
        if cm.agg == "sum":
            value += weighted
    return [("Value", value + "; a record whose value is empty is left out")]


def _ratio_rows(cm: CompiledMetric) -> list[tuple[str, str]]:
    spec = cm.spec
    rows = []
    for side, condition, value in (("Numerator", spec.numerator, spec.numerator_value),
                                   ("Denominator", spec.denominator, spec.denominator_value)):
        which = f" where {_code(condition)}" if condition else ""
        rows.append((side, f"the sum of {_code(value)} over the records{which}" if value
                     else f"the number of records{which}"))
    if spec.denominator:
        rows.append(("Left out of the denominator", f"records where {_code(spec.denominator)} is false or empty"))
        rows += _words_rows("Why they are left out", spec.reasons.get("denominator"))
    rows.append(("Value", "numerator / denominator (undefined when the denominator is 0)"))
    return rows


def _formula_rows(cm: CompiledMetric) -> list[tuple[str, str]]:
    spec = cm.spec
    rows = [("Formula", _code(spec.formula or ""))]
    if cm.deps:
        rows.append(("Uses", ", ".join(f"[`{d}`](#{d})" for d in cm.deps)))
    if spec.rollup == "sum":
        rows.append(("Team and org", "the sum of their agents' values"))
    if spec.n:
        rows.append(("Sample size", f"the records of [`{spec.n}`](#{spec.n})"))
    return rows


def _standardised_rows(cm: CompiledMetric) -> list[tuple[str, str]]:
    spec = cm.spec
    mix = f"the organisation's mix of [`{spec.mix}`](#{spec.mix}) by `{spec.by}`" if spec.mix else None
    if spec.weights is None:
        weights = mix
    else:
        weights = _code(spec.weights if isinstance(spec.weights, str) else json.dumps(spec.weights, ensure_ascii=False))
        if mix:
            weights += f" (when it is null: {mix})"
    return [("Standardises", f"[`{spec.metric}`](#{spec.metric}) by `{spec.by}`: the sum over the values of "
                             f"`{spec.by}` of a weight × the metric within that value"),
            ("Weights", f"{weights}; values where the scope has no records drop out and the other weights "
                        "are rescaled to 1")]


def _params_text(plan: Plan, cm: CompiledMetric) -> str:
    texts = [getattr(cm.spec, name) for name in ("where", "value", "numerator", "denominator", "numerator_value",
                                                 "denominator_value", "formula", "weights")]
    names = list(dict.fromkeys(n for t in texts if isinstance(t, str) for n in _PARAM.findall(t)))
    return ", ".join(f"`{n}` = {_code(json.dumps(plan.params.get(n), ensure_ascii=False))}" for n in names)


# ------------------------------------------------------------------ scoring
def _kpis_of(plan: Plan, mid: str) -> list[tuple[str, Kpi]]:
    return [(kid, kpi) for kid, kpi in plan.ruleset.scoring.kpis.items() if (kpi.metric or kid) == mid]


def _total_weight(plan: Plan) -> float:
    return sum(k.weight for k in plan.ruleset.scoring.kpis.values())


def _kpi_weight(plan: Plan, mid: str) -> float:
    return sum(kpi.weight for _, kpi in _kpis_of(plan, mid))


def _scoring_text(plan: Plan, mid: str) -> str:
    kpis = _kpis_of(plan, mid)
    if not kpis:
        return "not scored"
    total = _total_weight(plan)
    texts = []
    for kid, kpi in kpis:
        text = (f"KPI `{kid}`, weight {_num(kpi.weight)} of {_num(total)} ({kpi.weight / total * 100:.1f} %), "
                f"{kpi.direction} is better")
        if kpi.min_n:
            text += f", a sample of at least {kpi.min_n} (else insufficient data)"
        text += f"; points: {_curve_text(kpi.curve)}"
        text += "".join(f"; level {_code(level)}: {_curve_text(curve)}" for level, curve in kpi.by_level.items())
        texts.append(text)
    return "; ".join(texts)


def _curve_text(curve: Curve) -> str:
    if curve.points is not None:
        text = ", ".join(f"{_num(v)} → {_num(p)}" for v, p in curve.points) + " (linear between, clamped at the ends)"
    else:
        text = "; ".join((f"≥ {_num(b.min)}" if b.min is not None else f"≤ {_num(b.max)}")
                         + f" → {_num(b.points)}" for b in curve.bands or [])
    return text + (f", target {_num(curve.target)}" if curve.target is not None else "")


# ------------------------------------------------------------------ text
_LABEL_HEADS = " | ".join(["label"] + [f"label ({language})" for language in OTHER_LANGUAGES])


def _label_cells(value, fallback: str) -> str:
    """Table cells of a label: in English (else *fallback*), then in each other language."""
    cells = [_english(value) or fallback] + [text_in(value, language) or "" for language in OTHER_LANGUAGES]
    return " | ".join(_cell(c) for c in cells)


def _english(value) -> str | None:
    """A ruleset text as written in English (a plain string as it is: its language is not said)."""
    if isinstance(value, Words) and isinstance(value.written, dict):
        return text_in(value, DEFAULT_LANGUAGE)
    return value


def _words_rows(name: str, value) -> list[tuple[str, str]]:
    """A ruleset text as rows: in English under *name*, in each other language it is written in
    under "*name* (language)"."""
    if value is None:
        return []
    rows = []
    english = _english(value)
    if english:
        rows.append((name, _plain(english)))
    for language in OTHER_LANGUAGES:
        text = text_in(value, language)
        if text:
            rows.append((f"{name} ({language})", _plain(text)))
    return rows


def _num(x: float) -> str:
    return f"{x:g}"


def _plain(text: str) -> str:
    return " ".join(text.split())


def _code(text: str) -> str:
    """*text* as a code span (its whitespace folded); one with backticks gets a longer fence."""
    text = _plain(text)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return _plain(text).replace("|", "\\|")
