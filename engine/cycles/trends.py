"""Trends: this cycle against the previous cycles named in ``cycle.yaml``.

``cycle.yaml`` may list previous cycles under ``previous:`` — paths (relative
to the workspace) of their workspaces, of their ``out/`` folders or of a
``results.json``.  For a workspace, the results of its **latest published
run** (from its history database) are used, and its ``out/results.json`` only
when nothing was published there.  Cycles are put in order by their period
start, so the order in ``cycle.yaml`` does not matter; the most recent one is
"the previous cycle" that deltas are taken against.

Per agent and KPI: the current value of the KPI's metric, the previous one and
the change (current − previous), plus the series over every cycle; per agent
also the total, grade and rank.  Per team and for the organisation: every
metric's series over every cycle (the team scorecard's trend chart).  Agents
and teams are matched by id; an agent new this cycle has no previous value.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from merit.cycles import history
from merit.core.errors import WorkspaceError
from merit.core.outputs import fmt_numbers, round_sig
from merit.core.scoring import Scores
from merit.core.workspace import Workspace


@dataclass
class PreviousCycle:
    ref: str  # as written in cycle.yaml
    name: str
    start: str
    end: str
    source: str  # what was read, e.g. "../2026-Q2: published run 4"
    sha256: str  # of the results.json text that was read
    doc: dict


def _error(ws: Workspace, index: int, message: str, expected: str | None = None) -> WorkspaceError:
    pos = ws.doc.pos(("previous", index))
    return WorkspaceError(message, file=ws.display(ws.cycle_file), line=pos.line if pos else None,
                          column=pos.column if pos else None, field="previous", expected=expected)


def _read_results(ws: Workspace, index: int, ref: str) -> tuple[bytes, str]:
    base = Path(ref) if Path(ref).is_absolute() else ws.root / ref
    if base.is_file():
        return base.read_bytes(), ref
    if base.is_dir():
        if history.exists(base):
            found = history.published_results(base)
            if found is not None:
                run_id, data = found
                return data, f"{ref}: published run {run_id}"
        for cand, label in ((base / "out" / "results.json", "out/results.json"), (base / "results.json", "results.json")):
            if cand.is_file():
                return cand.read_bytes(), f"{ref}: {label}"
        raise _error(ws, index, f"previous cycle '{ref}' has no results: no published run and no results.json",
                     expected="run (and publish) that cycle first")
    raise _error(ws, index, f"previous cycle '{ref}' not found",
                 expected="a path, relative to this workspace, to a previous cycle's workspace, "
                          "its out/ folder or a results.json")


def load_previous(ws: Workspace) -> list[PreviousCycle]:
    out = []
    for i, ref in enumerate(ws.config.previous):
        data, source = _read_results(ws, i, ref)
        try:
            doc = json.loads(data.decode("utf-8"))
            cycle = doc["cycle"]
            name, start, end = cycle["name"], cycle["period"]["start"], cycle["period"]["end"]
        except (ValueError, KeyError, TypeError):
            raise _error(ws, i, f"previous cycle '{ref}': {source} is not a merit results.json") from None
        if (start, end) == (ws.config.period.start.isoformat(), ws.config.period.end.isoformat()) \
                and name == ws.config.name:
            raise _error(ws, i, f"previous cycle '{ref}' is this cycle itself")
        out.append(PreviousCycle(ref, name, start, end, source, hashlib.sha256(data).hexdigest(), doc))
    out.sort(key=lambda c: (c.start, c.end, c.name))
    return out


def _metric_values(doc: dict, scopes: tuple[str, ...]) -> pd.DataFrame:
    rows = doc.get("metrics") or []
    df = pd.DataFrame(rows, columns=["scope", "id", "breakdown", "metric", "value"]) if rows \
        else pd.DataFrame(columns=["scope", "id", "breakdown", "metric", "value"])
    df = df[(df["breakdown"].fillna("") == "") & df["scope"].isin(scopes)]
    return df[["scope", "id", "metric", "value"]].astype({"id": str, "value": "float64"})


def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else float(round_sig([x])[0])


def _entry(series: list) -> dict:
    current, previous = series[-1], (series[-2] if len(series) > 1 else None)
    delta = None if current is None or previous is None else _num(current - previous)
    return {"current": current, "previous": previous, "delta": delta, "series": series}


def compute(ws: Workspace, long: pd.DataFrame, scores: Scores, previous: list[PreviousCycle]) -> dict | None:
    """The ``trends`` section of results.json (None when no previous cycle is configured)."""
    if not previous:
        return None
    n_prev = len(previous)
    cycles = [{"name": c.name, "start": c.start, "end": c.end, "source": c.source, "sha256": c.sha256}
              for c in previous]
    cycles.append({"name": ws.config.name, "start": ws.config.period.start.isoformat(),
                   "end": ws.config.period.end.isoformat(), "source": "this run", "sha256": None})

    # All metric values, every cycle, long: (cycle, scope, id, metric, value).
    cur = long[long["breakdown"] == ""][["scope", "id", "metric", "_value"]].rename(columns={"_value": "value"})
    parts = [_metric_values(c.doc, ("agent", "team", "org")).assign(cycle=i) for i, c in enumerate(previous)]
    parts.append(cur.astype({"id": str, "value": "float64"}).assign(cycle=n_prev))
    allv = pd.concat(parts, ignore_index=True)
    allv["value"] = round_sig(allv["value"].to_numpy(dtype="float64"))
    allv = allv.drop_duplicates(["scope", "id", "metric", "cycle"])
    wide = allv.set_index(["scope", "id", "metric", "cycle"])["value"].unstack("cycle")
    wide = wide.reindex(columns=range(n_prev + 1))
    series_of = {key: [None if np.isnan(v) else float(v) for v in row]
                 for key, row in zip(wide.index, wide.to_numpy(dtype="float64"))}
    empty = [None] * (n_prev + 1)

    t = scores.table.reset_index(drop=True)
    prev_scores = [{str(r["agent_id"]): r for r in (c.doc.get("scores") or [])} for c in previous]
    agents: dict[str, dict] = {}
    current_totals = round_sig(t["total"].to_numpy(dtype="float64"))
    for i, aid in enumerate(t["agent_id"].astype(str)):
        totals = [_num(p[aid].get("total")) if aid in p else None for p in prev_scores] + [_num(current_totals[i])]
        ranks = [p[aid].get("rank") if aid in p else None for p in prev_scores] + \
                [None if pd.isna(t["rank"].iloc[i]) else int(t["rank"].iloc[i])]
        grades = [p[aid].get("grade") if aid in p else None for p in prev_scores] + [t["grade"].iloc[i] or None]
        kpis = {}
        for k in scores.kpis:
            kpis[k.id] = {"metric": k.metric, **_entry(series_of.get(("agent", aid, k.metric), empty))}
        rank_entry = {"current": ranks[-1], "previous": ranks[-2], "series": ranks,
                      "change": None if ranks[-1] is None or ranks[-2] is None else ranks[-2] - ranks[-1]}
        agents[aid] = {
            "total": _entry(totals), "rank": rank_entry,
            "grade": {"current": grades[-1], "previous": grades[-2], "series": grades},
            "kpis": kpis,
        }
    groups: dict[str, dict] = {"team": {}, "org": {}}
    for (scope, sid, metric), series in series_of.items():
        if scope in groups and any(v is not None for v in series):
            groups[scope].setdefault(sid, {})[metric] = _entry(series)
    order = {mid: i for i, mid in enumerate(long["metric"].drop_duplicates())}
    teams = {sid: dict(sorted(m.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
             for sid, m in sorted(groups["team"].items())}
    org = groups["org"].get("org", {})
    org = dict(sorted(org.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    return {"cycles": cycles, "agents": agents, "teams": teams, "org": org}


def scores_columns(scores_csv: pd.DataFrame, trends: dict | None, scores: Scores) -> pd.DataFrame:
    """scores.csv plus the change against the previous cycle (only with previous cycles):
    ``delta_total``, ``previous_grade``, ``previous_rank`` and ``delta_<kpi>`` (the change of
    the KPI's metric value, not of its points)."""
    if not trends:
        return scores_csv
    out = scores_csv.copy()
    ids = out["agent_id"].astype(str)
    agents = trends["agents"]

    def col(getter):
        return [getter(agents[a]) if a in agents else None for a in ids]

    out["delta_total"] = fmt_numbers(np.array([np.nan if v is None else v
                                               for v in col(lambda x: x["total"]["delta"])], dtype="float64"))
    out["previous_grade"] = [v or "" for v in col(lambda x: x["grade"]["previous"])]
    out["previous_rank"] = fmt_numbers(np.array([np.nan if v is None else v
                                                 for v in col(lambda x: x["rank"]["previous"])], dtype="float64"))
    for k in scores.kpis:
        vals = col(lambda x, kid=k.id: x["kpis"][kid]["delta"])
        out[f"delta_{k.id}"] = fmt_numbers(np.array([np.nan if v is None else v for v in vals], dtype="float64"))
    return out


def manifest_entries(previous: list[PreviousCycle]) -> list[dict]:
    return [{"ref": c.ref, "name": c.name, "period": {"start": c.start, "end": c.end}, "source": c.source,
             "sha256": c.sha256} for c in previous]
