"""Write ``out/``: metrics.csv, scores.csv and results.json, all or nothing.

Everything is first written into a staging folder beside ``out/``; only when
every file is complete does the staging folder replace ``out/``.  A run that
fails or is killed leaves the previous ``out/`` as it was.

Numbers are written with 12 significant digits: enough for every figure a
scorecard shows, and it hides the last-bit noise of parallel floating-point
sums, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .evaluate import Evaluation
from .scoring import Scores

SIGNIFICANT = 12
METRICS_COLUMNS = ["scope", "id", "breakdown", "metric", "value", "n", "low", "high", "note"]


def fmt_numbers(values) -> np.ndarray:
    """Numbers as CSV text: '' for undefined, '%.12g' otherwise (integers without '.0')."""
    arr = np.asarray(values, dtype="float64")
    out = np.full(arr.shape, "", dtype=object)
    ok = ~np.isnan(arr)
    if ok.any():
        text = np.char.mod(f"%.{SIGNIFICANT}g", arr[ok])
        text = np.where(text == "-0", "0", text)
        out[ok] = text
    return out


def round_float(x):
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return None
    return float(f"{x:.{SIGNIFICANT}g}")


def metrics_long(evaluation: Evaluation) -> pd.DataFrame:
    """One row per number, in a stable order: scope, id, breakdown, ruleset order."""
    order = {mid: i for i, mid in enumerate(evaluation.plan.loaded.ruleset.metrics)}
    parts = []
    scope_rank = {"agent": 0, "team": 1, "org": 2}
    for (scope, breakdown), frame in evaluation.frames.items():
        data = frame.data
        for mid, cm in evaluation.plan.metrics.items():
            if scope not in cm.scopes or (breakdown is not None and breakdown not in cm.breakdowns):
                continue
            if breakdown is not None and mid not in data:
                continue
            rows = pd.DataFrame({"scope": scope, "id": data["id"].astype(str)})
            rows["breakdown"] = "" if breakdown is None else f"{breakdown}=" + data["breakdown"].astype(str)
            rows["metric"] = mid
            rows["_value"] = data[mid].astype("float64") if mid in data else np.nan
            rows["_n"] = data[f"{mid}__n"].astype("float64") if f"{mid}__n" in data else np.nan
            rows["_low"] = data[f"{mid}__low"].astype("float64") if f"{mid}__low" in data else np.nan
            rows["_high"] = data[f"{mid}__high"].astype("float64") if f"{mid}__high" in data else np.nan
            rows["note"] = evaluation.notes.get(mid, "")
            rows["_scope_rank"] = scope_rank[scope]
            rows["_metric_rank"] = order.get(mid, len(order))
            parts.append(rows)
    if not parts:
        return pd.DataFrame(columns=METRICS_COLUMNS)
    long = pd.concat(parts, ignore_index=True)
    long = long.sort_values(["_scope_rank", "id", "breakdown", "_metric_rank"], kind="stable")
    return long.reset_index(drop=True)


def metrics_csv(long: pd.DataFrame) -> pd.DataFrame:
    out = long[["scope", "id", "breakdown", "metric"]].copy()
    out["value"] = fmt_numbers(long["_value"])
    out["n"] = fmt_numbers(long["_n"])
    out["low"] = fmt_numbers(long["_low"])
    out["high"] = fmt_numbers(long["_high"])
    out["note"] = long["note"]
    return out


def scores_csv(scores: Scores) -> pd.DataFrame:
    t = scores.table
    out = t[["agent_id", "name", "team", "level"]].copy()
    out["total"] = fmt_numbers(t["total"])
    out["grade"] = t["grade"]
    out["rank"] = fmt_numbers(t["rank"].astype("float64"))
    for k in scores.kpis:
        out[k.id] = fmt_numbers(k.points)
    out["team_rank"] = fmt_numbers(t["team_rank"].astype("float64"))
    return out


def lists_csv(evaluation: Evaluation) -> pd.DataFrame:
    lists = evaluation.lists
    out = lists[["scope", "id", "list", "rank", "key"]].copy()
    out["value"] = fmt_numbers(lists["value"].astype("float64"))
    out["n"] = fmt_numbers(lists["n"].astype("float64"))
    return out


def results_document(evaluation: Evaluation, scores: Scores, long: pd.DataFrame, manifest: dict) -> dict:
    plan = evaluation.plan
    rs = plan.ruleset
    metrics = long[["scope", "id", "breakdown", "metric"]].copy()
    for src, dst in (("_value", "value"), ("_low", "low"), ("_high", "high")):
        metrics[dst] = pd.Series([round_float(v) for v in long[src].to_numpy()], dtype=object, index=metrics.index)
    metrics["n"] = pd.Series([None if np.isnan(v) else int(v) for v in long["_n"].to_numpy(dtype="float64")],
                             dtype=object, index=metrics.index)
    definitions = {}
    for mid, cm in plan.metrics.items():
        spec = cm.spec.model_dump(exclude_none=True, exclude_defaults=True)
        spec["scopes"] = list(cm.scopes)
        definitions[mid] = spec
    score_rows = []
    t = scores.table
    for i in range(len(t)):  # one entry per agent (not per record)
        row = t.iloc[i]
        score_rows.append({
            "agent_id": str(row["agent_id"]),
            "name": str(row["name"]),
            "team": str(row["team"]),
            "level": str(row["level"]),
            "total": round_float(float(row["total"])),
            "grade": row["grade"] or None,
            "rank": None if pd.isna(row["rank"]) else int(row["rank"]),
            "team_rank": None if pd.isna(row["team_rank"]) else int(row["team_rank"]),
            "kpis": {
                k.id: {
                    "metric": k.metric,
                    "value": round_float(float(k.value[i])),
                    "n": int(k.n[i]),
                    "target": round_float(float(k.target[i])),
                    "points": round_float(float(k.points[i])),
                    "status": str(k.status[i]),
                    "weight": k.kpi.weight,
                    "weight_share": round_float(float(k.weight_share[i])),
                }
                for k in scores.kpis
            },
        })
    return {
        "cycle": manifest["cycle"],
        "manifest": {key: value for key, value in manifest.items() if key != "cycle"},
        "ruleset": {
            "name": rs.name,
            "label": rs.label,
            "params": rs.params,
            "metrics": definitions,
            "scoring": rs.scoring.model_dump(exclude_none=True),
        },
        "notes": dict(sorted(evaluation.notes.items())),
        "metrics": metrics.to_dict(orient="records"),
        "lists": [
            {"scope": r.scope, "id": r.id, "list": r.list, "rank": int(r.rank), "key": r.key,
             "value": round_float(float(r.value)), "n": int(r.n)}
            for r in evaluation.lists.itertuples(index=False)
        ],
        "scores": score_rows,
    }


def write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def write_json(doc: dict, path: Path) -> None:
    text = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=False, default=str, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


@contextmanager
def staged_output(out_dir: Path):
    """Yield a staging folder; on success it atomically becomes ``out_dir``."""
    out_dir = Path(out_dir)
    parent = out_dir.parent
    staging = parent / f".{out_dir.name}.staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(staging, out_dir)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
