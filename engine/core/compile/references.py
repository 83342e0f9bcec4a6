"""The passes over what refers to metrics and tables by name: strict lookups, KPIs, lists."""

from __future__ import annotations

from merit.core.compile.state import Compilation
from merit.core.suggest import did_you_mean


def constant_lookup_keys(c: Compilation) -> None:
    """A lookup without a default whose key is a constant: the key is in its table."""
    for check in c.ctx.key_checks:
        missing = check.missing_constant()
        if missing is not None:
            c.problems.append(missing)


def scored_kpis(c: Compilation) -> None:
    """Each KPI scores a metric of the ruleset that is computed per agent."""
    for kid, kpi in c.ruleset.scoring.kpis.items():
        mid = kpi.metric or kid
        if mid not in c.metrics:
            c.error(f"KPI '{kid}' scores '{mid}', which is not a metric of this ruleset"
                    + did_you_mean(mid, c.metrics), ("scoring", "kpis", kid))
        elif "agent" not in c.metrics[mid].scopes:
            c.error(f"KPI '{kid}' scores '{mid}', which is not computed at agent scope", ("scoring", "kpis", kid))


def lists(c: Compilation) -> None:
    """Each list ranks the records of a table metric by one of its table's dimensions."""
    for lid, spec in c.ruleset.lists.items():
        cm = c.metrics.get(spec.metric)
        if cm is None or cm.table is None:
            c.error(f"list '{lid}' needs a metric computed from a table", ("lists", lid, "metric"))
        elif spec.by not in c.dimensions.get(cm.table, {}):
            c.error(f"list '{lid}': table '{cm.table}' has no dimension '{spec.by}'", ("lists", lid, "by"),
                    expected=f"one of {sorted(c.dimensions.get(cm.table, {}))}")
