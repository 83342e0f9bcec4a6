"""The data behind each scorecard PDF, as plain dicts (built in the main process).

One context per agent and one per team.  Contexts hold display-ready text
(numbers formatted here, once) and the charts as SVG markup, so the templates
stay simple and a context's hash says whether its PDF must be rendered again.

Privacy: an agent's context carries that agent's own records and numbers and
anonymous aggregates only (medians, percentile bands, a binned distribution of
totals); never another agent's name, id or numbers.  Co-authors are counted,
not named.  A peer statistic is shown only for a group of at least
``privacy.min_group_size`` agents who are part of it (the agents with a value
for that metric, or with a total): in a team of two the median and one's own
value give the colleague's; in a team of three the median *is* a colleague's
value.  Below that size the scorecard says the team is too small to compare
and uses the organisation when it is large enough, else nothing.  Free text
from the data (adjustment reasons and recorders, titles, record ids) passes
through :class:`ColleagueMask`, which replaces every other agent's name or id
with ``[colleague]``.  Team scorecards (for team leads and HR) are unaffected.

Record-level work (exclusions, credited outputs, per-customer lists) is one
Ibis query per table for all agents or teams at once; loops here run over
agents, teams, KPIs and metrics, never over records.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import ibis
import numpy as np
import pandas as pd

from merit import __version__
from merit.render import charts
from merit.core.evaluate import Evaluation, Evaluator
from merit.core.scoring import INSUFFICIENT, OK, UNDEFINED, Scores

MAIN_KPIS = 6  # KPI columns of the team scorecard's agent table (the largest weights)
MAX_LISTED = 300  # records listed per section before "and N more"

# Tables whose records credit agents as authors/owners (SPEC "Technical"), with
# the contract's attribution when the ruleset's `tables:` says nothing.
CREDIT_TABLES = {
    "knowledge": {"title": "Knowledge outputs", "people": "authors", "date": "published_on", "key": "item_id",
                  "show": [("kind", "Kind"), ("title", "Title"), ("published_on", "Published"),
                           ("final_grade", "Final grade")]},
    "requirements": {"title": "Requirements", "people": "submitter", "date": "submitted_on",
                     "key": "requirement_id",
                     "show": [("title", "Title"), ("kano", "KANO"), ("impact_share", "Impact"),
                              ("status", "Status")]},
    "innovations": {"title": "Innovations", "people": "owners", "date": "recognized_on", "key": "innovation_id",
                    "show": [("kind", "Kind"), ("title", "Title"), ("honor", "Honour")]},
    "influence": {"title": "Influence", "people": "owners", "date": "date", "key": "record_id",
                  "show": [("kind", "Kind"), ("customer_id", "Customer"), ("revenue", "Revenue"),
                           ("date", "Date")]},
}

# Team-scorecard sections: a metric goes to the first group one of its tables belongs to.
GROUPS = [
    ("management", "Management", {"costs", "incidents"}),
    ("technical", "Technical", {"knowledge", "grades", "requirements", "innovations", "influence",
                                "interceptions"}),
    ("service", "Service", {"tickets", "surveys", "handoffs"}),
    ("people", "People", {"agents", "timelog", "roster_days"}),
]

DASH = "–"
COLLEAGUE = "[colleague]"  # what an agent's scorecard prints for another agent's name or id


# ------------------------------------------------------------------ formatting
def _isnum(v) -> bool:
    return v is not None and not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) \
        and math.isfinite(float(v))


def fmt_value(v, unit: str | None) -> str:
    """A metric value as the scorecards print it ("40.0 %" for a rate of 0.4)."""
    if not _isnum(v):
        return DASH
    v = float(v)
    if unit == "rate":
        return f"{v * 100:.1f} %"
    if unit == "percent":
        return f"{v:.1f} %"
    if unit == "count":
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
    if unit in ("hours", "minutes", "days"):
        return f"{v:,.1f}"
    if unit == "currency":
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def fmt_delta(d, unit: str | None) -> str:
    if not _isnum(d):
        return ""
    d = float(d)
    if unit == "rate":
        return f"{d * 100:+.1f} pp"
    if unit in ("count", "currency"):
        return f"{d:+,.0f}"
    if unit in ("hours", "minutes", "days", "percent"):
        return f"{d:+,.1f}"
    return f"{d:+,.2f}"


def fmt_interval(low, high, unit: str | None) -> str:
    if not (_isnum(low) and _isnum(high)):
        return ""
    if unit == "rate":
        return f"{low * 100:.1f}–{high * 100:.1f} %"
    return f"{fmt_value(low, unit)}–{fmt_value(high, unit)}"


def fmt_points(v) -> str:
    return f"{float(v):.1f}" if _isnum(v) else DASH


def _num(v):
    """A plain float (or None) for JSON and charts."""
    return float(v) if _isnum(v) else None


def _plain(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.strftime("%Y-%m-%d") if (v.hour, v.minute, v.second) == (0, 0, 0) else v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "; ".join(str(x) for x in v)
    if v is pd.NA or v is pd.NaT:
        return ""
    return str(v)


def percentile_band(rank, ranked: int) -> str:
    """A rank as a coarse band (no exact position among named peers)."""
    if not _isnum(rank) or not ranked:
        return "not ranked"
    share = float(rank) / ranked
    for cut, text in ((0.10, "top 10 %"), (0.25, "top 25 %"), (0.50, "top 50 %")):
        if share <= cut:
            return text
    return "lower 50 %"


# ------------------------------------------------------------------ privacy
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

    def __init__(self, agents: pd.DataFrame):
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
            return m.group(0) if owners and reader in owners else COLLEAGUE

        return self.pattern.sub(replace, text)


def _mask_strings(value, mask):
    """*value* (strings in lists and dicts) with *mask* applied to every string."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_mask_strings(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: _mask_strings(v, mask) for k, v in value.items()}
    return value


def peer_note(scopes: list[str | None], counted: list[int], min_group: int) -> str:
    """A sentence under a table whose medians are not all the team's ("" when they are)."""
    shown = {s for s in scopes if s}
    too_small = any(s is None and c > 0 for s, c in zip(scopes, counted))
    if shown <= {"team"} and not too_small:
        return ""
    rule = (f"Medians are shown only for groups of at least {min_group} agents with a value, so that no "
            f"colleague's own figure can be read from them.")
    if "org" in shown:
        rest = " Where your team is too small to compare, the organisation's median is shown"
        rest += ", and none where the organisation is too small as well." if too_small else "."
    else:
        rest = " Where your team and the organisation are too small to compare, none is shown."
    return rule + rest


def _label_scopes(rows: list[dict], scopes: list[str | None], counted: list[int]) -> None:
    """Under each median, where it comes from when the table mixes team and organisation
    medians, and "too few to compare" where agents have a value but too few of them."""
    mixed = len({s for s in scopes if s}) > 1
    for row, scope, in_org in zip(rows, scopes, counted):
        if scope is None:
            row["median_where"] = "too few to compare" if in_org else ""
        else:
            row["median_where"] = ({"team": "team", "org": "organisation"}[scope]) if mixed else ""


def _legend(heading: str, scopes: list[str | None]) -> str | None:
    """The KPI chart's name for its median marks (None: no mark at all)."""
    if not any(scopes):
        return None
    return {"Team median": "team median", "Organisation median": "organisation median"}.get(
        heading, "median (team or organisation)")


def median_heading(scopes: list[str | None]) -> str:
    shown = {s for s in scopes if s}
    if shown == {"org"}:
        return "Organisation median"
    return "Team median" if shown <= {"team"} else "Median"


# ------------------------------------------------------------------ the ruleset in words
_PARAM = re.compile(r"params\.([A-Za-z_][A-Za-z0-9_]*)")


def metric_definition(mid: str, cm, params: dict | None = None) -> dict:
    """How one metric is computed, in the ruleset's own words (for the appendix)."""
    spec = cm.spec
    steps = []
    if spec.agg == "formula":
        steps.append(("formula", spec.formula))
        if spec.rollup == "sum":
            steps.append(("team and org", "the sum of their agents' values"))
    elif spec.agg == "standardized":
        steps.append(("standardised", f"{spec.metric} by {spec.by}"))
        steps.append(("weights", str(spec.weights) if spec.weights is not None else f"the org's mix of {spec.mix}"))
    else:
        steps.append(("records", f"{spec.table} in the cycle"))
        if spec.where:
            steps.append(("only", spec.where))
        if spec.agg == "ratio":
            steps.append(("numerator", spec.numerator_value or spec.numerator))
            den = spec.denominator_value or spec.denominator
            steps.append(("denominator", den if den else "every record above"))
        elif spec.agg == "quantile":
            steps.append(("value", f"P{spec.q * 100:g} of {spec.value}"))
        elif spec.agg == "count":
            steps.append(("value", "number of records"))
        else:
            steps.append(("value", f"{spec.agg} of {spec.value}"))
    used = []
    for _, text in steps:
        for name in _PARAM.findall(str(text)):
            if name not in used:
                used.append(name)
    shown = []
    for name in used:
        value = (params or {}).get(name)
        text = "null" if value is None else json.dumps(value, ensure_ascii=False)
        shown.append(f"{name} = {text if len(text) <= 160 else text[:157] + '...'}")
    return {
        "params": shown,
        "id": mid,
        "label": spec.label or mid,
        "unit": spec.unit,
        "description": " ".join((spec.description or "").split()),
        "steps": [{"name": a, "text": " ".join(str(b).split())} for a, b in steps],
        "interval": bool(spec.is_rate),
    }


def _curve_text(curve, unit: str | None) -> str:
    if curve.points is not None:
        pts = ", ".join(f"{fmt_value(v, unit)} → {p:g}" for v, p in curve.points)
        return f"linear between {pts} (clamped at the ends)"
    parts = []
    for b in curve.bands or []:
        bound = f"≥ {fmt_value(b.min, unit)}" if b.min is not None else f"≤ {fmt_value(b.max, unit)}"
        parts.append(f"{bound}: {b.points:g}")
    return "bands " + "; ".join(parts)


def scoring_definition(evaluation: Evaluation, level: str | None = None) -> dict:
    """The scoring rules (for one level's curves when *level* is given)."""
    plan = evaluation.plan
    scoring = plan.ruleset.scoring
    total_weight = sum(k.weight for k in scoring.kpis.values()) or 1.0
    kpis = []
    for kid, kpi in scoring.kpis.items():
        mid = kpi.metric or kid
        cm = plan.metrics.get(mid)
        unit = cm.spec.unit if cm else None
        curves = [("", kpi.curve)] + [(lvl, c) for lvl, c in kpi.by_level.items()]
        if level is not None:
            curves = [("", kpi.by_level.get(level, kpi.curve))]
        kpis.append({
            "id": kid,
            "label": kpi.label or (cm.spec.label if cm else None) or kid,
            "metric": mid,
            "weight": f"{kpi.weight:g}",
            "weight_pct": f"{kpi.weight / total_weight * 100:.1f} %",
            "direction": "higher is better" if kpi.direction == "higher" else "lower is better",
            "min_n": kpi.min_n,
            "curves": [{"level": lvl, "text": _curve_text(c, unit)} for lvl, c in curves],
        })
    grades = [{"grade": b.grade, "min": f"{b.min:g}"} for b in scoring.grades]
    forced = None
    if scoring.forced_distribution:
        forced = ", ".join(f"{g}: {s * 100:g} %" for g, s in scoring.forced_distribution.items())
    return {"kpis": kpis, "grades": grades, "forced": forced}


# ------------------------------------------------------------------ adjustments
def adjustment_lines(aid: str, entries: list[dict], mask: ColleagueMask | None = None) -> list[dict]:
    """One agent's adjustments (``Prepared.adjustments_by_agent[aid]``) for the scorecard.

    The ready-made ``text`` is used only when it cannot name another agent (a ticket
    field other than the assignee).  A reassignment names the other assignee and a
    grade names its panelist, so those are shown as record, field, before → after,
    reason and by, with another agent's id replaced by "another agent" and the
    panelist left out.  The reason and the recorder are free text: *mask* replaces
    any other agent's name or id in the line."""
    mask = mask or (lambda text, reader: text)
    out = []
    for a in entries:
        table, field, record = a.get("table"), a.get("field"), list(a.get("record") or [])
        if table == "tickets" and field != "assignee" and a.get("text"):
            line = str(a["text"])
        else:
            def shown(v):
                if v is None:
                    return "empty"
                return str(v) if field != "assignee" or str(v) == aid else "another agent"
            what = f"ticket {record[0]}" if table == "tickets" else \
                f"knowledge item {record[0]}, one panelist's grade" if table == "grades" else f"{table} record"
            line = (f"{what}: {field} {shown(a.get('before'))} → {shown(a.get('after'))}, by {a.get('by')}, "
                    f"because {a.get('reason')}")
        out.append({"id": a.get("id"), "text": mask(line, aid), "by": mask(a.get("by"), aid),
                    "at": _plain(a.get("at"))})
    return out


def flagged_items(prep) -> dict[str, str]:
    """{item_id: final grade} of the knowledge items whose panel grades are flagged for a
    calibration discussion (merit.panel.report.item_verdicts); empty without grades."""
    tables = prep.tables.tables
    if "grades" not in tables:
        return {}
    from merit.panel.assignment import ruleset_grade_settings
    from merit.panel.report import item_verdicts

    order, spread, _ = ruleset_grade_settings(prep.loaded.ruleset)
    grades = tables["grades"].select("item_id", "grade").execute()
    if grades.empty:
        return {}
    v = item_verdicts(grades, order, spread)
    v = v[v["flagged"].astype(bool)]
    return dict(zip(v["item_id"].astype(str), v["final_grade"].astype(str)))


# ------------------------------------------------------------------ record queries
def _key_column(plan, tname: str, table: ibis.Table) -> str:
    cfg = plan.tables.get(tname)
    if cfg is not None and cfg.key and cfg.key in table.columns:
        return cfg.key
    return "_row"


def exclusions(evaluator: Evaluator, evaluation: Evaluation, agent_ids: list[str]) -> dict:
    """{agent_id: [{kpi, label, ids, ...}]}: per scored KPI that is a ratio with a
    ``denominator`` filter, the records that pass ``where`` but fail the
    denominator (for bad_rate_service: the product-caused bad reviews).
    One query per source table, for all agents."""
    plan = evaluation.plan
    by_table: dict[str, list] = {}
    for kid, kpi in plan.ruleset.scoring.kpis.items():
        cm = plan.metrics.get(kpi.metric or kid)
        if cm is None or cm.agg != "ratio" or cm.denominator is None or cm.id in evaluation.notes:
            continue
        if not all(evaluator._present(t) for t in cm.tables):
            continue
        by_table.setdefault(cm.table, []).append((kid, kpi, cm))
    out: dict[str, list] = {}
    for tname, items in by_table.items():
        cohort = evaluator.cohort(tname)
        key = _key_column(plan, tname, cohort)
        ctx = evaluator.ctx
        flags = {}
        for i, (kid, kpi, cm) in enumerate(items):
            where = cm.where.to_column(cohort, ctx).fill_null(False) if cm.where is not None else ibis.literal(True)
            den = cm.denominator.to_column(cohort, ctx).fill_null(False)
            flags[f"_x{i}"] = where & ~den
        mine = cohort.filter(cohort._agent.isin(agent_ids))
        mine = mine.mutate(**{name: expr for name, expr in flags.items()})
        any_flag = None
        for name in flags:
            any_flag = mine[name] if any_flag is None else (any_flag | mine[name])
        df = (mine.filter(any_flag).select("_agent", "_row", _key=mine[key].cast("string"), **{n: mine[n] for n in flags})
              .order_by(["_agent", "_row"]).execute())
        for i, (kid, kpi, cm) in enumerate(items):
            hit = df[df[f"_x{i}"].astype(bool)]
            groups = hit.groupby("_agent", sort=False)["_key"].agg(list)
            for agent, ids in groups.items():
                out.setdefault(str(agent), []).append({
                    "kpi": kid,
                    "label": kpi.label or cm.spec.label or kid,
                    "metric": cm.id,
                    "table": tname,
                    "key": key if key != "_row" else "record",
                    "where": cm.spec.where or "",
                    "denominator": cm.spec.denominator,
                    "count": len(ids),
                    "ids": ids[:MAX_LISTED],
                    "more": max(0, len(ids) - MAX_LISTED),
                })
    return out


def _final_grades(grades: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Per item: the median of its panelists' grades, the lower middle one when
    the count is even (vectorised: sort best first, take position n // 2)."""
    rank = {g: i for i, g in enumerate(order)}
    g = grades[["item_id", "grade"]].dropna().copy()
    g["r"] = g["grade"].map(rank)
    g = g.dropna(subset=["r"]).sort_values(["item_id", "r"], kind="stable")
    g["pos"] = g.groupby("item_id").cumcount()
    g["cnt"] = g.groupby("item_id")["r"].transform("size")
    pick = g[g["pos"] == g["cnt"] // 2]
    return pick.rename(columns={"grade": "final_grade", "cnt": "panelists"})[["item_id", "final_grade", "panelists"]]


def credits(evaluator: Evaluator, evaluation: Evaluation, agent_ids: list[str]) -> tuple[list[dict], dict]:
    """Records of the credit tables (knowledge, requirements, ...) per agent:
    (sections present in the workspace, {agent_id: {table: [rows]}})."""
    plan = evaluation.plan
    tables = evaluator.tables.tables
    params = plan.params
    sections, out = [], {}
    start, end = evaluator.ws.config.period.start, evaluator.ws.config.period.end
    for tname, meta in CREDIT_TABLES.items():
        if tname not in tables:
            continue
        cfg = plan.tables.get(tname)
        if cfg is not None and cfg.agent is not None:
            t = evaluator.cohort(tname)
        else:
            t = tables[tname]
            if meta["date"] in t.columns:
                t = t.filter(t[meta["date"]].between(start, end))
            col = t[meta["people"]]
            if col.type().is_array():
                t = t.mutate(_credit=1.0 / col.length().cast("float64"), _people=col.length(), _agent=col.unnest())
            else:
                t = t.mutate(_credit=ibis.literal(1.0), _people=ibis.literal(1), _agent=col)
        if "_people" not in t.columns:
            t = t.mutate(_people=(1.0 / t._credit).round().cast("int64"))
        t = t.filter(t._agent.isin(agent_ids))
        # Points: the ruleset's own agent-scope sum/count metrics on this table, per record.
        point_cols, point_metrics = {}, []
        for cm in plan.metrics.values():
            if cm.table != tname or cm.agg not in ("sum", "count") or "agent" not in cm.scopes:
                continue
            if cm.id in evaluation.notes or cm.spec.unit not in ("points", "currency"):
                continue
            try:
                cond = cm.where.to_column(t, evaluator.ctx).fill_null(False) if cm.where is not None else None
                val = (cm.value.to_column(t, evaluator.ctx).cast("float64") if cm.value is not None
                       else ibis.literal(1.0)) * t._credit
                point_cols[f"_p_{cm.id}"] = val if cond is None else ibis.ifelse(cond, val, ibis.null("float64"))
                point_metrics.append(cm)
            except Exception:  # an expression this listing cannot bind: leave its column out
                continue
        shown = [c for c, _ in meta["show"] if c in t.columns]
        key = meta["key"] if meta["key"] in t.columns else "_row"
        cols = {"_agent": t._agent, "_key": t[key].cast("string"), "_credit": t._credit, "_people": t._people}
        cols.update({c: t[c] for c in shown})
        cols.update(point_cols)
        df = t.select(**cols).order_by(["_agent", "_key"]).execute()
        headers = [label for c, label in meta["show"] if c in shown]
        extra = []
        if tname == "knowledge" and "grades" in tables and "final_grade" not in shown:
            order = list(params.get("grade_points", {}) or ["S", "A", "B", "C"])
            finals = _final_grades(tables["grades"].select("item_id", "grade").execute(), order)
            df = df.merge(finals, left_on="_key", right_on="item_id", how="left")
            extra.append("Final grade")
        if not point_metrics:
            df["_p_fallback"] = _fallback_points(tname, df, params)
        df["_shared"] = np.where(df["_people"].fillna(1) > 1,
                                 "shared with " + (df["_people"].fillna(1).astype(int) - 1).astype(str), "own")
        point_names = [f"_p_{cm.id}" for cm in point_metrics] or ["_p_fallback"]
        point_heads = [(cm.spec.label or cm.id) for cm in point_metrics] or ["Points"]
        sections.append({"table": tname, "title": meta["title"],
                         "headers": ["Id"] + headers + extra + ["Credit"] + point_heads})
        for agent, part in df.groupby("_agent", sort=True):
            rows = []
            for rec in part.to_dict("records"):  # one agent's own records (a handful)
                cells = [_plain(rec["_key"])] + [_plain(rec[c]) for c in shown]
                if tname == "knowledge":
                    at = len(cells) - 1 if "final_grade" in shown else len(cells)
                    fg = rec.get("final_grade")
                    cell = _plain(fg) if isinstance(fg, str) and fg else "ungraded"
                    if at < len(cells):
                        cells[at] = cell
                    else:
                        cells.append(cell)
                cells.append(rec["_shared"])
                cells += [fmt_points(rec.get(p)) for p in point_names]
                rows.append(cells)
            totals = [fmt_points(part[p].sum()) for p in point_names]
            out.setdefault(str(agent), {})[tname] = {"rows": rows[:MAX_LISTED], "more": max(0, len(rows) - MAX_LISTED),
                                                     "totals": totals}
    return sections, out


def _fallback_points(tname: str, df: pd.DataFrame, params: dict) -> pd.Series:
    """SPEC's point rules from the ruleset's params, for rulesets that define no
    points metric on the table yet (vectorised; NaN where a param is missing)."""
    nan = pd.Series(np.nan, index=df.index)
    credit = df["_credit"].astype("float64")
    try:
        if tname == "knowledge" and "final_grade" in df:
            pts = df["final_grade"].map(params.get("grade_points", {})).astype("float64").fillna(0.0)
            return pts * credit
        if tname == "requirements" and "kano" in df and "impact_share" in df:
            bands = sorted(params.get("impact_multiplier", []), key=lambda b: -b["min"])
            share = df["impact_share"].astype("float64")
            mult = pd.Series(np.nan, index=df.index)
            for b in reversed(bands):  # first matching row (highest min) wins
                mult = mult.where(~(share >= b["min"]), b["multiplier"])
            kano = df["kano"].map(params.get("kano_points", {})).astype("float64")
            landed = df["status"] == "landed" if "status" in df else True
            return (kano * mult).where(landed, 0.0) * credit
        if tname == "innovations" and "kind" in df and "honor" in df:
            return (df["kind"].map(params.get("innovation_kind_points", {})).astype("float64")
                    * df["honor"].map(params.get("honor_multiplier", {})).astype("float64") * credit)
        if tname == "influence" and "kind" in df:
            return df["kind"].map(params.get("influence_kind_points", {})).astype("float64") * credit
    except (TypeError, KeyError, AttributeError):
        return nan
    return nan


def ruleset_lists(evaluation: Evaluation, scope: str, sid: str) -> list[dict]:
    """The ruleset's top-N lists (``lists:``, e.g. customers with the most tickets) of one scope id."""
    lists = getattr(evaluation, "lists", None)
    specs = getattr(evaluation.plan.ruleset, "lists", {}) or {}
    if lists is None or not len(lists) or not specs:
        return []
    part = lists[(lists["scope"] == scope) & (lists["id"].astype(str) == sid)]
    out = []
    for lid, spec in specs.items():
        rows = part[part["list"] == lid].sort_values("rank", kind="stable")
        cm = evaluation.plan.metrics.get(spec.metric)
        unit = cm.spec.unit if cm else None
        out.append({
            "id": lid, "label": spec.label or lid, "by": spec.by,
            "metric": (cm.spec.label if cm and cm.spec.label else spec.metric),
            "min_n": spec.min_n,
            "rows": [{"rank": int(r.rank), "key": _plain(r.key), "value": fmt_value(r.value, unit),
                      "n": f"{int(r.n):,}" if _isnum(r.n) else ""} for r in rows.itertuples()],
        })
    return out


# ------------------------------------------------------------------ builders
class ContextBuilder:
    """Builds every agent and team context of one evaluated cycle."""

    def __init__(self, prep, evaluation: Evaluation, scores: Scores):
        self.prep = prep
        self.ev = evaluation
        self.scores = scores
        self.plan = evaluation.plan
        ws = prep.ws
        cfg = ws.config
        end_local = dt.datetime.combine(cfg.period.end, dt.time(23, 59, 59), tzinfo=ws.zone)
        self.cycle = {
            "name": cfg.name,
            "start": cfg.period.start.isoformat(),
            "end": cfg.period.end.isoformat(),
            "timezone": cfg.timezone,
            "ruleset": self.plan.ruleset.label or self.plan.ruleset.name,
            "ruleset_sha": prep.loaded.sha256[:12],
            "engine": f"merit {__version__}",
            "pdf_date": end_local.isoformat(),  # PDF metadata: the cycle's end, never the clock
        }
        self.table = scores.table.reset_index(drop=True)
        self.pos = {str(a): i for i, a in enumerate(self.table["agent_id"].astype(str))}
        agent_frame = evaluation.frame("agent").copy()
        agent_frame["id"] = agent_frame["id"].astype(str)
        self.agent_rows = agent_frame.set_index("id", drop=False)
        teams = self.table[["agent_id", "team"]].astype(str).rename(columns={"agent_id": "id"})
        self.agent_team = agent_frame.merge(teams, on="id", how="inner")
        numeric = [c for c in agent_frame.columns if c != "id" and pd.api.types.is_numeric_dtype(agent_frame[c])]
        self.team_median = self.agent_team.groupby("team")[numeric].median()
        # What an agent's scorecard may say about peers: medians with the number of agents behind them.
        privacy = getattr(self.plan.ruleset, "privacy", None)
        self.min_group = int(getattr(privacy, "min_group_size", 5))
        self.team_count = self.agent_team.groupby("team")[numeric].count()
        self.org_median = self.agent_team[numeric].median()
        self.org_count = self.agent_team[numeric].count()
        self._peer_medians: dict[tuple[str, str], tuple] = {}
        # Rated agents (merit.core.scoring's `rated`: enough data for a total; without that column,
        # those with a total).  Only their totals are peers' totals.
        total = self.table["total"].astype("float64")
        rated = self.table["rated"].fillna(False).astype(bool) if "rated" in self.table else total.notna()
        self.rated = (rated & total.notna()).to_numpy()
        rated_rows = self.table.loc[self.rated, ["team", "total"]]
        self.org_totals = rated_rows["total"].to_numpy(dtype="float64")
        self.team_totals = {str(t): part.to_numpy(dtype="float64")
                            for t, part in rated_rows.groupby(rated_rows["team"].astype(str))["total"]}
        self.min_scored_weight = float(getattr(self.plan.ruleset.scoring, "min_scored_weight", 0.5))
        self.mask = ColleagueMask(self._all_agents(prep))
        self._ruleset_names: bool | None = None  # whether the ruleset's text names any agent
        self.team_frame = evaluation.frame("team").set_index("id", drop=False)
        self.org_frame = evaluation.frame("org")
        trends = prep.trends
        if trends is None and list(getattr(cfg, "previous", []) or []):
            from merit.core.pipeline import attach_trends

            trends = attach_trends(prep, evaluation, scores)
        self.trends = trends if trends and len(trends.get("cycles", [])) > 1 else None
        self.prev_name = self.trends["cycles"][-2]["name"] if self.trends else None
        self.adjustments = prep.adjustments_by_agent
        self.flagged = flagged_items(prep)
        self.definitions = {scope: [metric_definition(mid, cm, self.plan.params) for mid, cm in self._ordered_metrics()
                                    if scope in cm.scopes] for scope in ("agent", "team")}
        used = {t for cm in self.plan.metrics.values() for t in cm.tables}
        self.tables_used = [
            {"name": name, "period": f"{cfg.period} in the period" if cfg.period else "always (no period column)",
             "agent": cfg.agent or (f"team ({cfg.team})" if cfg.team else "the organisation"),
             "key": cfg.key or "line number"}
            for name, cfg in self.plan.tables.items() if name in used]
        self.evaluator = Evaluator(self.plan, prep.tables, ws)

    def _all_agents(self, prep) -> pd.DataFrame:
        """Every agent's id and name (the agents table, employed in the cycle or not)."""
        agents = prep.tables.tables.get("agents")
        if agents is None:
            return self.table[["agent_id", "name"]]
        frame = agents.select("agent_id", "name").execute()
        return pd.concat([frame, self.table[["agent_id", "name"]]], ignore_index=True)

    def _peer_median(self, team: str, mid: str) -> tuple[float | None, str | None, int]:
        """The median of *mid* an agent of *team* may see: the team's when at least
        min_group of its agents have a value, else the organisation's when at least
        min_group agents have one, else none; with the number of agents with a value
        in the organisation (0: nobody has one, so there is nothing to compare).
        Worked out once per team and metric."""
        key = (team, mid)
        if key not in self._peer_medians:
            in_org = int(self.org_count.get(mid, 0))
            if mid in self.team_count.columns and team in self.team_count.index \
                    and self.team_count.at[team, mid] >= self.min_group:
                self._peer_medians[key] = (self.team_median.at[team, mid], "team", in_org)
            elif in_org >= self.min_group:
                self._peer_medians[key] = (self.org_median[mid], "org", in_org)
            else:
                self._peer_medians[key] = (None, None, in_org)
        return self._peer_medians[key]

    def _peer_totals(self, totals: np.ndarray, rank, rated: bool) -> dict:
        """The band, group size and median of totals for one tile (team or organisation);
        nothing but "too small to compare" below min_group rated agents."""
        if len(totals) < self.min_group:
            return {"compare": False}
        return {"compare": True, "band": percentile_band(rank, len(totals)) if rated else "not ranked",
                "size": len(totals), "median": fmt_points(np.median(totals))}

    def _distribution(self, team: str, marker) -> dict:
        """The histogram of totals on an agent's scorecard: the team's, else the organisation's,
        else none (fewer than min_group rated agents in both)."""
        edges = list(range(0, 101, 10))
        for scope, totals, title in (("team", self.team_totals.get(team, np.array([])), "Total scores in your team"),
                                     ("org", self.org_totals, "Total scores in the organisation")):
            if len(totals) >= self.min_group:
                counts = np.histogram(np.clip(totals, 0, 100), bins=edges)[0].tolist()
                chart = charts.histogram(counts, edges, marker=marker, title=title,
                                         x_label="total score (agents per 10-point band)")
                return {"scope": scope, "agents": len(totals), "chart": str(chart)}
        return {"scope": None, "agents": None, "chart": ""}

    def _ordered_metrics(self):
        order = list(self.plan.ruleset.metrics)
        return sorted(self.plan.metrics.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))

    def _unit(self, mid):
        cm = self.plan.metrics.get(mid)
        return cm.spec.unit if cm else None

    def _label(self, mid):
        cm = self.plan.metrics.get(mid)
        return (cm.spec.label if cm and cm.spec.label else mid)

    def _trend(self, entry: dict | None, unit: str | None, direction=None, points: bool = False):
        """A cell "vs. previous" from a trends entry ({current, previous, delta, ...});
        *points*: a total score (one decimal) rather than a metric value."""
        if not self.trends:
            return None
        fmt = fmt_points if points else (lambda v: fmt_value(v, unit))
        old = (entry or {}).get("previous")
        delta = (entry or {}).get("delta")
        if not (_isnum(old) and _isnum(delta)):
            return {"text": DASH, "cls": "", "previous": fmt(old) if _isnum(old) else ""}
        cls = ""
        if direction and abs(delta) > 1e-12:
            better = delta > 0 if direction == "higher" else delta < 0
            cls = "up" if better else "down"
        text = f"{float(delta):+.1f}" if points else fmt_delta(delta, unit)
        return {"text": text, "cls": cls, "previous": fmt(old)}

    def _agent_trends(self, aid: str) -> dict:
        return (self.trends or {}).get("agents", {}).get(aid, {})

    def _team_trend_chart(self, team: str) -> str | None:
        """Small multiples of the team's main metrics over the cycles (2+ cycles only)."""
        if not self.trends:
            return None
        series = self.trends.get("teams", {}).get(team, {})
        panels = []
        for k in self._main_kpis():
            entry = series.get(k.metric)
            if not entry or sum(v is not None for v in entry["series"]) < 1:
                continue
            unit = self._unit(k.metric)
            panels.append({"label": k.kpi.label or self._label(k.metric), "values": entry["series"],
                           "fmt": lambda v, u=unit: fmt_value(v, u)})
        if not panels:
            return None
        names = [c["name"] if len(c["name"]) <= 18 else c["name"][:17] + "…" for c in self.trends["cycles"]]
        return str(charts.trend_panels(names, panels, title=f"Team {team}: main metrics over the cycles"))

    # -------------------------------------------------------------- agents
    def agent_contexts(self, agent_ids: list[str]) -> list[tuple[str, dict]]:
        excl = exclusions(self.evaluator, self.ev, agent_ids)
        credit_sections, credited = credits(self.evaluator, self.ev, agent_ids)
        out = []
        for aid in agent_ids:
            out.append((aid, self._agent(aid, excl.get(aid, []), credit_sections, credited.get(aid, {}))))
        return out

    def _agent(self, aid: str, excl: list, credit_sections: list, credited: dict) -> dict:
        i = self.pos[aid]
        row = self.table.iloc[i]
        team = str(row["team"])
        level = str(row["level"])
        rated = bool(self.rated[i])
        arow = self.agent_rows.loc[aid] if aid in self.agent_rows.index else None
        kpis, chart_rows, scopes, counted = [], [], [], []
        for k in self.scores.kpis:
            mid, unit = k.metric, self._unit(k.metric)
            value, n, status = k.value[i], int(k.n[i]), str(k.status[i])
            low = arow.get(f"{mid}__low") if arow is not None else None
            high = arow.get(f"{mid}__high") if arow is not None else None
            median, scope, in_org = self._peer_median(team, mid)
            scopes.append(scope)
            counted.append(in_org)
            target = k.target[i]
            label = k.kpi.label or self._label(mid)
            kpis.append({
                "id": k.id, "metric": mid, "label": label,
                "value": fmt_value(value, unit),
                "interval": fmt_interval(low, high, unit),
                "target": fmt_value(target, unit),
                "points": fmt_points(k.points[i]) if status == OK else DASH,
                "weight": f"{k.kpi.weight:g}",
                "share": f"{k.weight_share[i] * 100:.1f} %" if status == OK and rated else "",
                "median": fmt_value(median, unit),
                "n": f"{n:,}",
                "min_n": k.kpi.min_n,
                "status": status,
                "insufficient": status == INSUFFICIENT,
                "undefined": status == UNDEFINED,
                "note": self.ev.notes.get(mid, ""),
                "direction": k.kpi.direction,
                "trend": self._trend(self._agent_trends(aid).get("kpis", {}).get(k.id), unit, k.kpi.direction),
            })
            curve = k.kpi.by_level.get(level, k.kpi.curve)
            xs = [p[0] for p in curve.points] if curve.points else [b.min if b.min is not None else b.max
                                                                     for b in curve.bands or []]
            lo, hi = (min(xs), max(xs)) if xs else (None, None)
            if k.kpi.direction == "lower":
                lo, hi = hi, lo
            chart_rows.append({"label": label, "lo": lo, "hi": hi, "value": _num(value), "median": _num(median),
                               "target": _num(target), "lo_text": fmt_value(lo, unit), "hi_text": fmt_value(hi, unit)})
        _label_scopes(kpis, scopes, counted)
        kpi_heading = median_heading(scopes)
        total = row["total"]
        kpi_ids = {k.metric for k in self.scores.kpis}
        others, other_scopes, other_counted = [], [], []
        for mid, cm in self._ordered_metrics():
            if "agent" not in cm.scopes or mid in kpi_ids or arow is None or mid not in arow.index:
                continue
            unit = cm.spec.unit
            n = arow.get(f"{mid}__n")
            median, scope, in_org = self._peer_median(team, mid)
            other_scopes.append(scope)
            other_counted.append(in_org)
            others.append({
                "id": mid, "label": self._label(mid), "value": fmt_value(arow.get(mid), unit),
                "interval": fmt_interval(arow.get(f"{mid}__low"), arow.get(f"{mid}__high"), unit),
                "median": fmt_value(median, unit),
                "n": f"{int(n):,}" if _isnum(n) else "",
                "note": self.ev.notes.get(mid, ""),
            })
        _label_scopes(others, other_scopes, other_counted)
        sections = []
        for sec in credit_sections:
            data = credited.get(sec["table"], {"rows": [], "more": 0, "totals": []})
            flagged = []
            at = sec["headers"].index("Final grade") if "Final grade" in sec["headers"] else None
            rows = []
            for r in data["rows"]:  # the agent's own records (at most MAX_LISTED)
                r = list(r)
                if sec["table"] == "knowledge" and r[0] in self.flagged:
                    flagged.append({"id": self.mask(r[0], aid), "grade": self.flagged[r[0]]})
                    if at is not None:
                        r[at] = f"{r[at]} †"
                rows.append([self.mask(c, aid) for c in r])  # titles are written by people
            sections.append({**sec, **data, "rows": rows, "flagged": flagged})
        excl = [{**x, "ids": [self.mask(v, aid) for v in x["ids"]]} for x in excl]
        tr = self._agent_trends(aid)
        previous = None
        if self.trends:
            previous = {"total": fmt_points((tr.get("total") or {}).get("previous")),
                        "grade": (tr.get("grade") or {}).get("previous") or DASH,
                        "delta": self._trend(tr.get("total"), None, "higher", points=True)}
        weight = row.get("scored_weight")
        if not _isnum(weight):  # before merit.core.scoring said it: the weight of the KPIs with enough data
            every = sum(k.kpi.weight for k in self.scores.kpis)
            weight = sum(k.kpi.weight for k in self.scores.kpis if str(k.status[i]) == OK) / every if every else 0.0
        marker = _num(total) if rated else None
        distribution = self._distribution(team, marker)
        return {
            "kind": "agent",
            "cycle": self.cycle,
            "previous": self.prev_name,
            "agent": {"id": aid, "name": str(row["name"]), "team": team, "level": level},
            "score": {
                "rated": rated,
                "total": fmt_points(total) if rated else DASH,
                "grade": (str(row["grade"] or "") or DASH) if rated else DASH,
                "scored_weight": f"{float(weight) * 100:.1f} %",
                "min_scored_weight": f"{self.min_scored_weight * 100:g} %",
                "team": self._peer_totals(self.team_totals.get(team, np.array([])), row["team_rank"], rated),
                "org": self._peer_totals(self.org_totals, row["rank"], rated),
            },
            "min_group": self.min_group,
            "score_previous": previous,
            "adjustments": adjustment_lines(aid, self.adjustments.get(aid, []), self.mask),
            "kpis": kpis,
            "kpi_median": {"heading": kpi_heading, "note": peer_note(scopes, counted, self.min_group)},
            "insufficient": any(k["insufficient"] or k["undefined"] for k in kpis),
            "others": others,
            "others_median": {"heading": median_heading(other_scopes),
                              "note": peer_note(other_scopes, other_counted, self.min_group)},
            "exclusions": excl,
            "exclusion_rules": self._ruleset_text(self._exclusion_rules(), aid),
            "credit_sections": sections,
            "distribution": {"scope": distribution["scope"], "agents": distribution["agents"]},
            "charts": {
                "kpis": str(charts.kpi_positions(chart_rows, median_label=_legend(kpi_heading, scopes))),
                "distribution": distribution["chart"],
            },
            "definitions": self._ruleset_text(self.definitions["agent"], aid),
            "tables": self.tables_used,
            "scoring": scoring_definition(self.ev, level),
        }

    def _ruleset_text(self, value, aid: str):
        """The ruleset's own words (descriptions, expressions, parameters) on *aid*'s scorecard:
        as they are, unless they name an agent (``where: assignee != 'A006'``, a parameter table
        keyed by agent id); then masked like the data's free text."""
        if self._ruleset_names is None:  # one look at the whole ruleset text, for every scorecard
            texts: list[str] = []
            _mask_strings([self.definitions["agent"], self._exclusion_rules()], texts.append)
            self._ruleset_names = bool(self.mask.owners) and any(self.mask.pattern.search(t) for t in texts)
        return _mask_strings(value, lambda text: self.mask(text, aid)) if self._ruleset_names else value


    def _exclusion_rules(self) -> list[dict]:
        rules = []
        for kid, kpi in self.plan.ruleset.scoring.kpis.items():
            cm = self.plan.metrics.get(kpi.metric or kid)
            if cm is not None and cm.agg == "ratio" and cm.denominator is not None:
                rules.append({"kpi": kid, "label": kpi.label or cm.spec.label or kid, "table": cm.table,
                              "where": cm.spec.where or "", "denominator": cm.spec.denominator})
        return rules

    # -------------------------------------------------------------- teams
    def team_contexts(self, teams: list[str]) -> list[tuple[str, dict]]:
        return [(team, self._team(team, ruleset_lists(self.ev, "team", team))) for team in teams]

    def _metric_rows(self, scope_frame: pd.DataFrame, sid: str, scope: str) -> dict:
        groups = {key: [] for key, _, _ in GROUPS}
        row = scope_frame.loc[sid] if sid in scope_frame.index else None
        org = self.org_frame.iloc[0] if len(self.org_frame) else None
        for mid, cm in self._ordered_metrics():
            if scope not in cm.scopes:
                continue
            group = next((key for key, _, tabs in GROUPS if set(cm.tables) & tabs), "people")
            unit = cm.spec.unit
            value = row.get(mid) if row is not None else None
            n = row.get(f"{mid}__n") if row is not None else None
            groups[group].append({
                "id": mid, "label": self._label(mid), "value": fmt_value(value, unit),
                "interval": fmt_interval(row.get(f"{mid}__low") if row is not None else None,
                                         row.get(f"{mid}__high") if row is not None else None, unit),
                "n": f"{int(n):,}" if _isnum(n) else "",
                "org": fmt_value(org.get(mid) if org is not None else None, unit),
                "note": self.ev.notes.get(mid, ""),
                "trend": self._trend(((self.trends or {}).get("teams", {}).get(sid, {}) if scope == "team"
                                      else (self.trends or {}).get("org", {})).get(mid), unit),
            })
        return [{"key": key, "title": title, "rows": groups[key]} for key, title, _ in GROUPS if groups[key]]

    def _breakdown(self, scope: str, sid: str, breakdown: str) -> dict | None:
        key = (scope, breakdown)
        if key not in self.ev.frames:
            return None
        data = self.ev.frames[key].data
        part = data[data["id"].astype(str) == sid].sort_values("breakdown")
        mids = [mid for mid, cm in self._ordered_metrics() if breakdown in cm.breakdowns and mid in part.columns]
        if part.empty or not mids:
            return None
        rows = []
        for rec in part.to_dict("records"):  # one row per month/channel value
            cells = []
            for mid in mids:
                unit = self._unit(mid)
                text = fmt_value(rec.get(mid), unit)
                iv = fmt_interval(rec.get(f"{mid}__low"), rec.get(f"{mid}__high"), unit)
                cells.append({"value": text, "interval": iv})
            rows.append({"key": str(rec["breakdown"]), "cells": cells})
        first = mids[0]
        chart = charts.bars([str(b) for b in part["breakdown"]], [_num(v) for v in part[first]],
                            title=f"{self._label(first)} by {breakdown}", width=680, height=120,
                            fmt=lambda v, u=self._unit(first): fmt_value(v, u))
        return {"name": breakdown, "headers": [self._label(m) for m in mids], "rows": rows, "chart": str(chart),
                "chart_label": self._label(first)}

    def _team(self, team: str, top_lists: list[dict]) -> dict:
        in_team = (self.table["team"].astype(str) == team).to_numpy()
        members = self.table[in_team].copy()
        # An agent who is not rated shows no total, grade or rank and counts in no team figure.
        members["_rated"] = self.rated[in_team]
        members.loc[~members["_rated"], "total"] = np.nan
        members.loc[~members["_rated"], "grade"] = ""
        members.loc[~members["_rated"], "team_rank"] = pd.NA
        members["_r"] = members["team_rank"].astype("float64")
        members = members.sort_values(["_r", "agent_id"], na_position="last", kind="stable")
        main = self._main_kpis()
        kpi_heads = [{"id": k.id, "label": k.kpi.label or self._label(k.metric)} for k in main]
        rated = members["_rated"].to_numpy()
        agents = []
        for (_, m), is_rated in zip(members.iterrows(), rated):  # one row per agent of the team
            i = self.pos[str(m["agent_id"])]
            cells = []
            for k in main:
                cells.append({"value": fmt_value(k.value[i], self._unit(k.metric)),
                              "muted": str(k.status[i]) != OK})
            agents.append({"id": str(m["agent_id"]), "name": str(m["name"]), "level": str(m["level"]),
                           "rated": bool(is_rated),
                           "total": fmt_points(m["total"]), "grade": str(m["grade"] or "") or DASH,
                           "rank": "" if pd.isna(m["team_rank"]) else str(int(m["team_rank"])), "kpis": cells})
        grade_names = [b.grade for b in self.plan.ruleset.scoring.grades] or sorted(
            {g for g in members["grade"] if g})
        counts = members["grade"].value_counts()
        grade_counts = [int(counts.get(g, 0)) for g in grade_names]
        ungraded = int((members["grade"].fillna("") == "").sum())
        not_rated = int((~rated).sum())
        totals = members["total"].to_numpy(dtype="float64")
        edges = list(range(0, 101, 10))
        hist = np.histogram(np.clip(totals[~np.isnan(totals)], 0, 100), bins=edges)[0].tolist()
        kpi_medians = []
        med = self.team_median.loc[team] if team in self.team_median.index else None
        org_med = self.agent_team.median(numeric_only=True)
        for k in main:
            unit = self._unit(k.metric)
            kpi_medians.append({"label": k.kpi.label or self._label(k.metric),
                                "median": fmt_value(med.get(k.metric) if med is not None else None, unit),
                                "org_median": fmt_value(org_med.get(k.metric), unit)})
        breakdowns = [b for b in (self._breakdown("team", team, name) for name in self._breakdown_names()) if b]
        return {
            "kind": "team",
            "cycle": self.cycle,
            "previous": self.prev_name,
            "team": {"name": team, "agents": len(members), "scored": int(rated.sum()),
                     "mean_total": fmt_points(np.nanmean(totals) if np.isfinite(totals).any() else None),
                     "median_total": fmt_points(np.nanmedian(totals) if np.isfinite(totals).any() else None)},
            "groups": self._metric_rows(self.team_frame, team, "team"),
            "kpi_heads": kpi_heads,
            "main_kpis": len(main),
            "all_kpis": len(self.scores.kpis),
            "kpi_medians": kpi_medians,
            "agents": agents,
            "grades": [{"grade": g, "count": c} for g, c in zip(grade_names, grade_counts)],
            "ungraded": ungraded - not_rated,  # rated without a grade (a grade table with a gap)
            "not_rated": not_rated,
            "breakdowns": breakdowns,
            "trend_cycles": [c["name"] for c in self.trends["cycles"]] if self.trends else [],
            "lists": top_lists,
            "charts": {
                "grades": str(charts.bars(grade_names, grade_counts, title="Grade distribution",
                                          fmt=lambda v: f"{v:.0f}",
                                          colours=[charts.GRADE_COLOURS.get(g, charts.ACCENT) for g in grade_names],
                                          width=330, height=130)),
                "distribution": str(charts.histogram(hist, edges, title="Total scores in the team",
                                                     x_label="total score (agents per 10-point band)",
                                                     width=330, height=130)),
                "trend": self._team_trend_chart(team),
            },
            "definitions": self.definitions["team"],
            "tables": self.tables_used,
            "scoring": scoring_definition(self.ev),
        }

    def _main_kpis(self, count: int = MAIN_KPIS):
        """The scored KPIs with the largest weights (ruleset order among equals), in ruleset order."""
        kpis = list(self.scores.kpis)
        top = sorted(range(len(kpis)), key=lambda i: (-kpis[i].kpi.weight, i))[:count]
        return [kpis[i] for i in sorted(top)]

    def _breakdown_names(self) -> list[str]:
        names = []
        for cm in self.plan.metrics.values():
            for b in cm.breakdowns:
                if b not in names:
                    names.append(b)
        preferred = [b for b in ("month", "channel") if b in names]
        return preferred + sorted(b for b in names if b not in preferred)
