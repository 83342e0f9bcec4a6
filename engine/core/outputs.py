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
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from merit.core.evaluate import Evaluation
from merit.core.scoring import Scores
from merit.core.xlsx import csv_safe

SIGNIFICANT = 12
METRICS_COLUMNS = ["scope", "id", "breakdown", "metric", "value", "n", "low", "high", "note"]
EXACT_POWERS_OF_TEN = 22  # 10**22 is the largest power of ten a double holds exactly


def round_sig(values) -> np.ndarray:
    """Round to SIGNIFICANT significant digits, vectorised (NaN stays NaN, -0 becomes 0).

    The result is the double nearest to the rounded decimal, so its shortest text (what
    the writers print) has at most SIGNIFICANT significant digits."""
    a = np.asarray(values, dtype="float64")
    out = np.full(a.shape, np.nan)
    ok = np.isfinite(a)
    v = a[ok]
    exponent = np.zeros(v.shape, dtype=int)
    nonzero = v != 0
    exponent[nonzero] = np.floor(np.log10(np.abs(v[nonzero]))).astype(int)
    decimals = SIGNIFICANT - 1 - exponent
    rounded = np.empty_like(v)
    for d in np.unique(decimals):  # a handful of magnitudes, not one per value
        mask = decimals == d
        if abs(d) <= EXACT_POWERS_OF_TEN:
            # np.round scales by 10**d, rounds and scales back: with an exact power of ten
            # the scaling back is one correctly rounded operation, so the result is the
            # double nearest the rounded decimal.
            rounded[mask] = np.round(v[mask], int(d))
        else:
            # Below 1e-11 or from 1e34 on, 10**d is inexact and np.round leaves noise in
            # the last bits (5.551115123130001e-17); let the decimal text decide instead.
            # Such magnitudes do not occur in support metrics, so this runs on few values.
            rounded[mask] = [float(f"{x:.{SIGNIFICANT}g}") for x in v[mask]]
    out[ok] = rounded + 0.0
    return out


def number_texts(values) -> pa.Array:
    """Numbers as the shortest text that reads back as the rounded value; null where undefined."""
    return pc.cast(pa.array(round_sig(values), type=pa.float64(), from_pandas=True), pa.string())


def fmt_numbers(values) -> np.ndarray:
    """Numbers as CSV text: '' for undefined."""
    return number_texts(values).fill_null("").to_numpy(zero_copy_only=False).astype(object)


def round_float(x):
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return None
    return float(round_sig([x])[0])


def metrics_long(evaluation: Evaluation) -> pd.DataFrame:
    """One row per number, in a stable order: scope, id, breakdown, ruleset order."""
    order = {mid: i for i, mid in enumerate(evaluation.plan.loaded.ruleset.metrics)}
    scope_rank = {"agent": 0, "team": 1, "org": 2}
    # Column pieces, one per (frame, metric), concatenated once: the frames are few but wide.
    cols: dict[str, list] = {name: [] for name in
                             ("scope", "id", "breakdown", "metric", "_value", "_n", "_low", "_high", "note",
                              "_scope_rank", "_metric_rank")}
    for (scope, breakdown), frame in evaluation.frames.items():
        data = frame.data
        size = len(data)
        ids = data["id"].astype(str).to_numpy(dtype=object)
        labels = np.full(size, "", dtype=object) if breakdown is None else \
            (f"{breakdown}=" + data["breakdown"].astype(str)).to_numpy(dtype=object)
        nothing = np.full(size, np.nan)

        def column(name):
            return data[name].to_numpy(dtype="float64", na_value=np.nan) if name in data else nothing

        for mid, cm in evaluation.plan.metrics.items():
            if scope not in cm.scopes or (breakdown is not None and breakdown not in cm.breakdowns):
                continue
            if breakdown is not None and mid not in data:
                continue
            cols["scope"].append(np.full(size, scope, dtype=object))
            cols["id"].append(ids)
            cols["breakdown"].append(labels)
            cols["metric"].append(np.full(size, mid, dtype=object))
            for key, name in (("_value", mid), ("_n", f"{mid}__n"), ("_low", f"{mid}__low"),
                              ("_high", f"{mid}__high")):
                cols[key].append(column(name))
            cols["note"].append(np.full(size, evaluation.notes.get(mid, ""), dtype=object))
            cols["_scope_rank"].append(np.full(size, scope_rank[scope]))
            cols["_metric_rank"].append(np.full(size, order.get(mid, len(order))))
    if not cols["scope"]:
        return pd.DataFrame(columns=METRICS_COLUMNS)
    columns = {name: np.concatenate(pieces) for name, pieces in cols.items()}
    # (sorted on integer codes: the ids and breakdowns are few distinct strings, the rows many)
    order = np.lexsort((columns["_metric_rank"], pd.factorize(columns["breakdown"], sort=True)[0],
                        pd.factorize(columns["id"], sort=True)[0], columns["_scope_rank"]))
    return pd.DataFrame({name: values[order] for name, values in columns.items()})


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


class RawJSON(str):
    """Text that is already JSON (a big array built column-wise), spliced in by write_json."""


_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def _json_strings(values, null: bool = False) -> pa.Array:
    """JSON string literals, escaping only the values that need it (vectorised for the common case).
    An undefined value is "" (or null with *null*)."""
    arr = pc.cast(pa.array(values, from_pandas=True), pa.string())
    missing = arr.is_null()
    arr = arr.fill_null("")
    needs = pc.match_substring_regex(arr, _NEEDS_ESCAPE)
    if pc.any(needs).as_py():
        texts = arr.to_pylist()
        flags = needs.to_pylist()
        out = pa.array([json.dumps(t, ensure_ascii=False) if f else f'"{t}"' for t, f in zip(texts, flags)])
    else:
        out = pc.binary_join_element_wise('"', arr, '"', "")
    return pc.if_else(missing, "null", out) if null else out


def _json_numbers(values) -> pa.Array:
    return number_texts(values).fill_null("null")


def _json_booleans(values) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(values, dtype=bool)), "true", "false")


def records_json(columns: dict[str, pa.Array]) -> RawJSON:
    """An array of objects from pre-encoded columns, one object per line (joined in Arrow)."""
    names = list(columns)
    if not names or len(columns[names[0]]) == 0:
        return RawJSON("[]")
    parts = []
    for i, name in enumerate(names):
        parts.append(("{" if i == 0 else ",") + json.dumps(name) + ":")
        parts.append(columns[name])
    parts.append("}")
    lines = pc.binary_join_element_wise(*parts, "")
    return RawJSON("[\n" + _joined(lines, ",\n") + "\n]")


def _joined(texts, separator: str) -> str:
    """The strings of an Arrow array joined by *separator*, in Arrow (no Python list of rows)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    return pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(texts)], pa.int32()), texts),
                          separator)[0].as_py()


def scores_json(scores: Scores) -> RawJSON:
    """One compact JSON object per agent and line, built column-wise (as json.dumps writes it)."""
    t = scores.table
    if not len(t):
        return RawJSON("[]")
    grades = t["grade"].astype(object)
    parts: list = []
    for i, (name, values) in enumerate((
            ("agent_id", _json_strings(t["agent_id"].astype(str))), ("name", _json_strings(t["name"].astype(str))),
            ("team", _json_strings(t["team"].astype(str))), ("level", _json_strings(t["level"], null=True)),
            ("total", _json_numbers(t["total"])),
            ("grade", _json_strings(grades.where(grades.notna() & (grades != ""), None), null=True)),
            ("rank", _json_numbers(t["rank"].astype("float64"))),
            ("team_rank", _json_numbers(t["team_rank"].astype("float64"))),
            ("rated", _json_booleans(t["rated"])), ("scored_weight", _json_numbers(t["scored_weight"])))):
        parts += [("{" if i == 0 else ", ") + json.dumps(name) + ": ", values]
    parts.append(', "kpis": {')
    for i, k in enumerate(scores.kpis):
        parts += [("" if i == 0 else ", ") + json.dumps(k.id) + ': {"metric": ' + json.dumps(k.metric)
                  + ', "weight": ' + json.dumps(k.kpi.weight) + ', "value": ', _json_numbers(k.value),
                  ', "n": ', _json_numbers(k.n.astype("float64")), ', "target": ', _json_numbers(k.target),
                  ', "points": ', _json_numbers(k.points), ', "status": ', _json_strings(k.status.astype(str)),
                  ', "weight_share": ', _json_numbers(k.weight_share), "}"]
    parts.append("}}")
    return RawJSON("[\n" + _joined(pc.binary_join_element_wise(*parts, ""), ",\n") + "\n]")


def results_document(evaluation: Evaluation, scores: Scores, long: pd.DataFrame, manifest: dict | None) -> dict:
    """The results.json document; *manifest* may be set later with set_manifest."""
    plan = evaluation.plan
    rs = plan.ruleset
    metrics = records_json({
        "scope": _json_strings(long["scope"]),
        "id": _json_strings(long["id"]),
        "breakdown": _json_strings(long["breakdown"]),
        "metric": _json_strings(long["metric"]),
        "value": _json_numbers(long["_value"]),
        "n": _json_numbers(long["_n"]),
        "low": _json_numbers(long["_low"]),
        "high": _json_numbers(long["_high"]),
    })
    lists = evaluation.lists
    lists_json = records_json({
        "scope": _json_strings(lists["scope"]),
        "id": _json_strings(lists["id"]),
        "list": _json_strings(lists["list"]),
        "rank": _json_numbers(lists["rank"].astype("float64")),
        "key": _json_strings(lists["key"]),
        "value": _json_numbers(lists["value"].astype("float64")),
        "n": _json_numbers(lists["n"].astype("float64")),
    })
    definitions = {}
    for mid, cm in plan.metrics.items():
        spec = cm.spec.model_dump(exclude_none=True, exclude_defaults=True)
        spec["scopes"] = list(cm.scopes)
        definitions[mid] = spec
    doc = {
        "cycle": None,
        "manifest": None,
        "ruleset": {
            "name": rs.name,
            "label": rs.label,
            "params": rs.params,
            "metrics": definitions,
            "lists": {lid: spec.model_dump(exclude_none=True) for lid, spec in rs.lists.items()},
            "scoring": rs.scoring.model_dump(exclude_none=True),
        },
        "notes": dict(sorted(evaluation.notes.items())),
        "metrics": metrics,
        "lists": lists_json,
        "scores": scores_json(scores),
    }
    if manifest is not None:
        set_manifest(doc, manifest)
    return doc


def set_manifest(doc: dict, manifest: dict) -> None:
    """Fill the "cycle" and "manifest" sections of a results document."""
    doc["cycle"] = manifest["cycle"]
    doc["manifest"] = {key: value for key, value in manifest.items() if key != "cycle"}


_CSV_SPECIAL = r'[",\n\r]'


def _csv_fields(values: pd.Series) -> pa.Array:
    """A column as CSV fields: empty for undefined, a text beginning with =, +, -, @, tab or CR
    neutralised with a leading ' (merit.core.xlsx.csv_safe), quoted only where needed (as the csv
    module does); built in Arrow, without a Python loop over the rows of text columns."""
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values.dtype):
        arr = pa.array(values, type=pa.string(), from_pandas=True)
    elif pd.api.types.is_integer_dtype(values.dtype):
        arr = pc.cast(pa.array(values, from_pandas=True), pa.string())
    else:
        arr = _texts(values)
    arr = arr.fill_null("")
    if not pd.api.types.is_numeric_dtype(values.dtype):  # number columns stay numbers
        arr = csv_safe(arr)  # no live formulas (merit.core.xlsx): '=..., while a text '-5' stays -5
    special = pc.match_substring_regex(arr, _CSV_SPECIAL)
    if pc.any(special).as_py():
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
        arr = pc.if_else(special, quoted, arr)
    return arr


def _texts(values: pd.Series) -> pa.Array:
    """A column of objects as str() writes them, undefined as null: in Arrow when they are all
    texts (numbers written by fmt_numbers), else value by value (numbers, booleans, mixed
    objects: few such columns, and small)."""
    if pd.api.types.is_object_dtype(values.dtype):
        try:
            return pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # (not all texts)
            pass
    return pa.array([("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
                     for v in values.astype(object)], type=pa.string())


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """*df* as UTF-8 CSV: a header row, then one line per row, '\\n' line ends."""
    header = _csv_fields(pd.Series([str(c) for c in df.columns], dtype="str"))
    lines = [",".join(header.to_pylist())]
    if len(df) and len(df.columns):
        rows = pc.binary_join_element_wise(*[_csv_fields(df[c]) for c in df.columns], ",")
        lines.append(_joined(rows, "\n"))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\n".join(lines) + "\n")


_RAW_SLOT = re.compile(r'"\\u0000raw(\d+)\\u0000"')


def write_json(doc: dict, path: Path) -> None:
    """JSON with RawJSON parts spliced in place (they are already encoded)."""
    raw: list[RawJSON] = []

    def swap(value):
        if isinstance(value, RawJSON):
            raw.append(value)
            return f"\u0000raw{len(raw) - 1}\u0000"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(doc), ensure_ascii=False, indent=1, sort_keys=False, default=str, allow_nan=False)
    # (one split and join: replacing slot by slot would copy the whole text once per slot)
    pieces = _RAW_SLOT.split(text)
    pieces[1::2] = [raw[int(i)] for i in pieces[1::2]]
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(pieces)
        fh.write("\n")
