"""The peer statistics an agent's scorecard may show: medians and totals of groups of at
least ``privacy.min_group_size`` agents (the team's, else the organisation's, else none)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from merit.render import charts
from merit.i18n import DEFAULT_LANGUAGE, gettext_for
from merit.render.context.formatting import fmt_points, percentile_band


class Peers:
    """Medians per team and for the organisation, with the number of agents behind each, and
    the rated agents' totals; worked out once per cycle."""

    def __init__(self, table: pd.DataFrame, agent_frame: pd.DataFrame, rated: np.ndarray, min_group: int,
                 language: str | None = DEFAULT_LANGUAGE):
        self.min_group = min_group
        self.language = language
        teams = table[["agent_id", "team"]].astype(str).rename(columns={"agent_id": "id"})
        self.agent_team = agent_frame.merge(teams, on="id", how="inner")
        numeric = [c for c in agent_frame.columns if c != "id" and pd.api.types.is_numeric_dtype(agent_frame[c])]
        self.team_median = self.agent_team.groupby("team")[numeric].median()
        self.team_count = self.agent_team.groupby("team")[numeric].count()
        self.org_median = self.agent_team[numeric].median()
        self.org_count = self.agent_team[numeric].count()
        self._medians: dict[tuple[str, str], tuple] = {}
        # Only rated agents' totals are peers' totals.
        rated_rows = table.loc[rated, ["team", "total"]]
        self.org_totals = rated_rows["total"].to_numpy(dtype="float64")
        self.team_totals = {str(t): part.to_numpy(dtype="float64")
                            for t, part in rated_rows.groupby(rated_rows["team"].astype(str))["total"]}

    def median(self, team: str, mid: str) -> tuple[float | None, str | None, int]:
        """The median of *mid* an agent of *team* may see: the team's when at least
        min_group of its agents have a value, else the organisation's when at least
        min_group agents have one, else none; with the number of agents with a value
        in the organisation (0: nobody has one, so there is nothing to compare)."""
        key = (team, mid)
        if key not in self._medians:
            in_org = int(self.org_count.get(mid, 0))
            if mid in self.team_count.columns and team in self.team_count.index \
                    and self.team_count.at[team, mid] >= self.min_group:
                self._medians[key] = (self.team_median.at[team, mid], "team", in_org)
            elif in_org >= self.min_group:
                self._medians[key] = (self.org_median[mid], "org", in_org)
            else:
                self._medians[key] = (None, None, in_org)
        return self._medians[key]

    def team_totals_of(self, team: str) -> np.ndarray:
        return self.team_totals.get(team, np.array([]))

    def totals_tile(self, totals: np.ndarray, rank, rated: bool) -> dict:
        """The band, group size and median of totals for one tile (team or organisation);
        nothing but "too small to compare" below min_group rated agents."""
        if len(totals) < self.min_group:
            return {"compare": False}
        band = percentile_band(rank if rated else None, len(totals), self.language)
        return {"compare": True, "band": band, "size": len(totals), "median": fmt_points(np.median(totals), self.language)}

    def distribution(self, team: str, marker) -> dict:
        """The histogram of totals on an agent's scorecard: the team's, else the organisation's,
        else none (fewer than min_group rated agents in both)."""
        _ = gettext_for(self.language)
        edges = list(range(0, 101, 10))
        for scope, totals, title in (("team", self.team_totals_of(team), _("Total scores in your team")),
                                     ("org", self.org_totals, _("Total scores in the organisation"))):
            if len(totals) >= self.min_group:
                counts = np.histogram(np.clip(totals, 0, 100), bins=edges)[0].tolist()
                chart = charts.histogram(counts, edges, marker=marker, title=title,
                                         x_label=_("total score (agents per 10-point band)"))
                return {"scope": scope, "agents": len(totals), "chart": str(chart)}
        return {"scope": None, "agents": None, "chart": ""}
