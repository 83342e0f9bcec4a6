"""The builder of every agent and team context of one evaluated cycle: the state they share
(the cycle, scores, peers, trends, the ruleset in words); :mod:`.agent` and :mod:`.team`
build the contexts themselves."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from merit import __version__
from merit.core.compile.needs import undefined_metrics
from merit.core.evaluate import Evaluation, Evaluator
from merit.core.scoring import Scores
from merit.core.ruleset_words import words
from merit.cycles.run import attach_trends
from merit.i18n import check_language, formats, gettext_for, translator
from merit.panel.report import flagged_items
from merit.render.context import agent as agent_context
from merit.render.context import team as team_context
from merit.render.context.formatting import DASH, fmt_delta, fmt_interval, fmt_points, fmt_value, is_number
from merit.render.context.peers import Peers
from merit.render.context.privacy import ColleagueMask, mask_strings
from merit.render.context.records import credits, exclusions, ruleset_lists
from merit.render.context.wording import exclusion_rules, metric_definition

MAIN_KPIS = 6  # KPI columns of the team scorecard's agent table (the largest weights)


class ContextBuilder:
    """Builds every agent and team context of one evaluated cycle."""

    def __init__(self, prep, evaluation: Evaluation, scores: Scores, language: str | None = None):
        """*language*: the readers' (None: the cycle's ``language``)."""
        self.language = check_language(language or getattr(prep.ws.config, "language", None))
        self._ = gettext_for(self.language)
        self.ngettext = translator(self.language).ngettext
        self._gaps: dict | None = None  # metric id -> why the data leaves it undefined (merit.core.compile.needs)
        self.currency = getattr(evaluation.plan.ruleset, "currency", None)  # ISO 4217, when the ruleset says
        self.prep = prep
        self.ev = evaluation
        self.scores = scores
        self.plan = evaluation.plan
        self.cycle = self._cycle(prep)
        self.table = scores.table.reset_index(drop=True)
        self.pos = {str(a): i for i, a in enumerate(self.table["agent_id"].astype(str))}
        agent_frame = evaluation.frame("agent").copy()
        agent_frame["id"] = agent_frame["id"].astype(str)
        self.agent_rows = agent_frame.set_index("id", drop=False)
        # Rated agents (merit.core.scoring's `rated`: enough data for a total; without that column,
        # those with a total).
        total = self.table["total"].astype("float64")
        rated = self.table["rated"].fillna(False).astype(bool) if "rated" in self.table else total.notna()
        self.rated = (rated & total.notna()).to_numpy()
        privacy = getattr(self.plan.ruleset, "privacy", None)
        self.min_group = int(getattr(privacy, "min_group_size", 5))
        self.peers = Peers(self.table, agent_frame, self.rated, self.min_group, self.language)
        self.min_scored_weight = float(getattr(self.plan.ruleset.scoring, "min_scored_weight", 0.5))
        self.mask = ColleagueMask(self._all_agents(prep), colleague=self._("[colleague]"))
        self._ruleset_names: bool | None = None  # whether the ruleset's text names any agent
        self.team_frame = evaluation.frame("team").set_index("id", drop=False)
        self.org_frame = evaluation.frame("org")
        self.trends = self._trends(prep, evaluation, scores)
        self.prev_name = self.trends["cycles"][-2]["name"] if self.trends else None
        self.adjustments = getattr(prep, "adjustments_by_agent", {})  # (a cycle's: merit.cycles.run)
        self.agent_columns = {name: cfg.agent for name, cfg in self.plan.tables.items()}
        self.flagged = flagged_items(prep.tables, prep.loaded.ruleset)
        self.definitions = {scope: [metric_definition(mid, cm, self.plan.params, self.language)
                                    for mid, cm in self.ordered_metrics() if scope in cm.scopes]
                            for scope in ("agent", "team")}
        self.tables_used = self._tables_used()
        self.evaluator = Evaluator(self.plan, prep.tables, prep.ws)

    def _cycle(self, prep) -> dict:
        ws = prep.ws
        cfg = ws.config
        end_local = dt.datetime.combine(cfg.period.end, dt.time(23, 59, 59), tzinfo=ws.zone)
        return {
            "name": cfg.name,
            "start": cfg.period.start.isoformat(),
            "end": cfg.period.end.isoformat(),
            "period": formats.format_period(cfg.period.start, cfg.period.end, self.language),
            "timezone": cfg.timezone,
            "ruleset": words(self.plan.ruleset.label, self.language) or self.plan.ruleset.name,
            "ruleset_sha": prep.loaded.sha256[:12],
            "engine": f"merit {__version__}",
            "pdf_date": end_local.isoformat(),  # PDF metadata: the cycle's end, never the clock
        }

    @staticmethod
    def _trends(prep, evaluation: Evaluation, scores: Scores) -> dict | None:
        """The trends of a cycle prepared by merit.cycles.run (attached here when the caller did
        not); none for a workspace prepared by the core pipeline alone."""
        if not hasattr(prep, "trends"):
            return None
        trends = prep.trends
        if trends is None and list(getattr(prep.ws.config, "previous", []) or []):
            trends = attach_trends(prep, evaluation, scores)
        return trends if trends and len(trends.get("cycles", [])) > 1 else None

    def _tables_used(self) -> list[dict]:
        _ = self._
        used = {t for cm in self.plan.metrics.values() for t in cm.tables}
        return [
            {"name": name,
             "period": _("%(column)s in the period") % {"column": cfg.period} if cfg.period
             else _("always (no period column)"),
             "agent": cfg.agent or (_("team (%(column)s)") % {"column": cfg.team} if cfg.team
                                    else _("the organisation")),
             "key": cfg.key or _("line number")}
            for name, cfg in self.plan.tables.items() if name in used]

    def _all_agents(self, prep) -> pd.DataFrame:
        """Every agent's id and name (the agents table, employed in the cycle or not)."""
        agents = prep.tables.tables.get("agents")
        if agents is None:
            return self.table[["agent_id", "name"]]
        frame = agents.select("agent_id", "name").execute()
        return pd.concat([frame, self.table[["agent_id", "name"]]], ignore_index=True)

    # -------------------------------------------------------------- shared helpers
    def ordered_metrics(self):
        order = list(self.plan.ruleset.metrics)
        return sorted(self.plan.metrics.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))

    def unit(self, mid):
        cm = self.plan.metrics.get(mid)
        return cm.spec.unit if cm else None

    def label(self, mid):
        """A metric's label in the reader's language (its id when the ruleset gives none)."""
        cm = self.plan.metrics.get(mid)
        return words(cm.spec.label, self.language) if cm and cm.spec.label else mid

    def kpi_label(self, k) -> str:
        """A scored KPI's label (merit.core.scoring's KpiScore): its own, else its metric's."""
        return words(k.kpi.label, self.language) or self.label(k.metric)

    def value(self, v, unit) -> str:
        """A value as printed in the reader's language (money in the ruleset's currency)."""
        return fmt_value(v, unit, self.language, self.currency)

    def interval(self, low, high, unit) -> str:
        return fmt_interval(low, high, unit, self.language, self.currency)

    def points(self, v) -> str:
        return fmt_points(v, self.language)

    def breakdown_label(self, name: str) -> str:
        """A breakdown (dimension) in the reader's language: the ruleset's ``breakdowns`` label, else its id."""
        label = self.plan.ruleset.breakdowns.get(name)
        return words(label, self.language) if label is not None else name

    def note(self, mid: str) -> str:
        """Why metric *mid* has no value, in the reader's language ("" when it has one)."""
        if mid not in self.ev.notes:
            return ""
        if self._gaps is None:
            self._gaps = undefined_metrics(self.plan, self.prep.tables.tables, self.prep.tables.absent)
        gap = self._gaps.get(mid)
        if gap is None:
            return self.ev.notes[mid]
        if gap.tables:
            names = ", ".join(gap.tables)
            return self.ngettext("undefined: table %(names)s is not in the workspace",
                           "undefined: tables %(names)s are not in the workspace", len(gap.tables)) % {"names": names}
        names = ", ".join(f"{t}.{col}" for t, col in gap.columns)
        return self.ngettext("undefined: column %(names)s is not in the workspace's data",
                       "undefined: columns %(names)s are not in the workspace's data",
                       len(gap.columns)) % {"names": names}

    def trend(self, entry: dict | None, unit: str | None, direction=None, points: bool = False):
        """A cell "vs. previous" from a trends entry ({current, previous, delta, ...});
        *points*: a total score (one decimal) rather than a metric value."""
        if not self.trends:
            return None
        fmt = self.points if points else (lambda v: self.value(v, unit))
        old = (entry or {}).get("previous")
        delta = (entry or {}).get("delta")
        if not (is_number(old) and is_number(delta)):
            return {"text": DASH, "cls": "", "previous": fmt(old) if is_number(old) else ""}
        cls = ""
        if direction and abs(delta) > 1e-12:
            better = delta > 0 if direction == "higher" else delta < 0
            cls = "up" if better else "down"
        text = formats.format_signed(delta, self.language, 1) if points else fmt_delta(delta, unit, self.language)
        return {"text": text, "cls": cls, "previous": fmt(old)}

    def agent_trends(self, aid: str) -> dict:
        return (self.trends or {}).get("agents", {}).get(aid, {})

    def main_kpis(self, count: int = MAIN_KPIS):
        """The scored KPIs with the largest weights (ruleset order among equals), in ruleset order."""
        kpis = list(self.scores.kpis)
        top = sorted(range(len(kpis)), key=lambda i: (-kpis[i].kpi.weight, i))[:count]
        return [kpis[i] for i in sorted(top)]

    def exclusion_rules(self) -> list[dict]:
        return exclusion_rules(self.plan, self.language)

    def ruleset_text(self, value, aid: str):
        """The ruleset's own words (descriptions, expressions, parameters) on *aid*'s scorecard:
        as they are, unless they name an agent (``where: assignee != 'A006'``, a parameter table
        keyed by agent id); then masked like the data's free text."""
        if self._ruleset_names is None:  # one look at the whole ruleset text, for every scorecard
            texts: list[str] = []
            mask_strings([self.definitions["agent"], self.exclusion_rules()], texts.append)
            self._ruleset_names = bool(self.mask.owners) and any(self.mask.pattern.search(t) for t in texts)
        return mask_strings(value, lambda text: self.mask(text, aid)) if self._ruleset_names else value

    # -------------------------------------------------------------- contexts
    def agent_contexts(self, agent_ids: list[str]) -> list[tuple[str, dict]]:
        excl = exclusions(self.evaluator, self.ev, agent_ids, self.language)
        credited = credits(self.evaluator, self.ev, agent_ids, self.language)
        return [(aid, agent_context.build(self, aid, excl.get(aid, []), credited)) for aid in agent_ids]

    def team_contexts(self, teams: list[str]) -> list[tuple[str, dict]]:
        return [(team, team_context.build(self, team, ruleset_lists(self.ev, "team", team, self.language)))
                for team in teams]
