"""Small vector charts for the scorecards, as inline SVG markup.

Every chart is a function of plain numbers and labels that returns an SVG
string; every text that reaches the markup goes through ``escape`` (labels
come from the ruleset and the data).  No randomness, no clock, numbers
printed with fixed precision: the same input gives the same bytes.
"""

from __future__ import annotations

import math
from typing import Sequence

from markupsafe import Markup, escape

# The visual identity (kept in step with templates/base.css).
INK = "#1f2a37"
MUTED = "#6b7280"
GRID = "#e5e7eb"
ACCENT = "#0f766e"      # teal: the reader / this team
ACCENT_LIGHT = "#99d5cf"
OTHER = "#9ca3af"       # grey: anonymous peers
TARGET = "#b45309"      # amber: targets
GRADE_COLOURS = {"S": "#0f766e", "A": "#14b8a6", "B": "#60a5fa", "C": "#f59e0b", "D": "#ef4444"}
FONT = "Noto Sans CJK SC, sans-serif"


def _n(x: float) -> str:
    """A coordinate with fixed precision (deterministic, compact)."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _svg(width: float, height: float, body: list[str], title: str) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="{FONT}" role="img">'
            f'<title>{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def _text(x, y, text, size=7.5, anchor="start", fill=INK, weight="normal") -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}" '
            f'fill="{fill}" font-weight="{weight}">{escape(text)}</text>')


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def kpi_positions(rows: Sequence[dict], width: float = 680, median_label: str | None = "team median") -> Markup:
    """One track per KPI, better to the right: the agent (dot), a peer median
    (hollow diamond) and the target (amber tick), on the KPI's own scale.

    ``rows``: dicts with label, lo, hi (scale ends, lo = worse end), value,
    median (None where no median may be shown), target, lo_text, hi_text.
    ``median_label``: the legend's name for the diamonds; None leaves them
    out of the legend (no row has one).
    """
    label_w, pad_r, row_h, top = 170.0, 14.0, 24.0, 14.0
    track_w = width - label_w - pad_r
    height = top + row_h * len(rows) + 16
    body = [_text(label_w, 9, "worse", 6.5, "start", MUTED), _text(width - pad_r, 9, "better", 6.5, "end", MUTED)]

    def pos(v, lo, hi):
        if not (_finite(v) and _finite(lo) and _finite(hi)) or hi == lo:
            return None
        f = (v - lo) / (hi - lo)
        return label_w + track_w * min(1.0, max(0.0, f))

    for i, r in enumerate(rows):
        y = top + row_h * i + row_h / 2
        body.append(_text(label_w - 8, y + 2.5, r["label"], 7.5, "end"))
        body.append(f'<line x1="{_n(label_w)}" y1="{_n(y)}" x2="{_n(label_w + track_w)}" y2="{_n(y)}" '
                    f'stroke="{GRID}" stroke-width="3" stroke-linecap="round"/>')
        body.append(_text(label_w, y + 10, r.get("lo_text", ""), 5.5, "start", MUTED))
        body.append(_text(label_w + track_w, y + 10, r.get("hi_text", ""), 5.5, "end", MUTED))
        t = pos(r.get("target"), r["lo"], r["hi"])
        if t is not None:
            body.append(f'<line x1="{_n(t)}" y1="{_n(y - 6)}" x2="{_n(t)}" y2="{_n(y + 6)}" '
                        f'stroke="{TARGET}" stroke-width="1.4"/>')
        m = pos(r.get("median"), r["lo"], r["hi"])
        if m is not None:
            body.append(f'<path d="M{_n(m)} {_n(y - 4.5)} L{_n(m + 4.5)} {_n(y)} L{_n(m)} {_n(y + 4.5)} '
                        f'L{_n(m - 4.5)} {_n(y)} Z" fill="white" stroke="{MUTED}" stroke-width="1.2"/>')
        a = pos(r.get("value"), r["lo"], r["hi"])
        if a is not None:
            body.append(f'<circle cx="{_n(a)}" cy="{_n(y)}" r="4" fill="{ACCENT}"/>')
        else:
            body.append(_text(label_w + track_w / 2, y + 2.5, "no value", 6.5, "middle", MUTED))
    ly = height - 5
    body.append(f'<circle cx="{_n(label_w + 4)}" cy="{_n(ly - 2.5)}" r="3.5" fill="{ACCENT}"/>')
    body.append(_text(label_w + 11, ly, "you", 6.5, "start", MUTED))
    x = label_w + 45
    if median_label:
        body.append(f'<path d="M{_n(x)} {_n(ly - 6.5)} L{_n(x + 4)} {_n(ly - 2.5)} L{_n(x)} {_n(ly + 1.5)} '
                    f'L{_n(x - 4)} {_n(ly - 2.5)} Z" fill="white" stroke="{MUTED}" stroke-width="1.2"/>')
        body.append(_text(x + 8, ly, median_label, 6.5, "start", MUTED))
        x += 35 + 3.6 * len(median_label)  # past the label (about 3.6 px a character at 6.5 px)
    body.append(f'<line x1="{_n(x)}" y1="{_n(ly - 7)}" x2="{_n(x)}" y2="{_n(ly + 2)}" stroke="{TARGET}" '
                f'stroke-width="1.4"/>')
    body.append(_text(x + 5, ly, "target", 6.5, "start", MUTED))
    title = f"Your KPIs against the {median_label} and the target" if median_label else "Your KPIs against the target"
    return _svg(width, height, body, title)


def histogram(counts: Sequence[int], edges: Sequence[float], marker: float | None = None,
              marker_label: str = "you", width: float = 680, height: float = 120,
              title: str = "Distribution", x_label: str = "total score") -> Markup:
    """Bars of counts per bin (anonymous), with an optional marker line."""
    left, right, top, bottom = 28.0, 10.0, 14.0, 24.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(max(counts, default=0), 1)
    nb = len(counts)
    bw = plot_w / max(nb, 1)
    lo, hi = edges[0], edges[-1]
    body = []
    for k in range(0, peak + 1, max(1, math.ceil(peak / 4))):
        y = top + plot_h - plot_h * k / peak
        body.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}" '
                    f'stroke="{GRID}" stroke-width="0.6"/>')
        body.append(_text(left - 4, y + 2.5, str(k), 6.5, "end", MUTED))
    mark_bin = None
    if _finite(marker):
        mark_bin = min(nb - 1, max(0, int((marker - lo) / (hi - lo) * nb))) if hi > lo else None
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        x = left + i * bw
        colour = ACCENT if i == mark_bin else OTHER
        if c:
            body.append(f'<rect x="{_n(x + 1)}" y="{_n(top + plot_h - h)}" width="{_n(bw - 2)}" '
                        f'height="{_n(h)}" fill="{colour}" rx="1"/>')
    for i, e in enumerate(edges):
        if i % max(1, nb // 10) == 0 or i == nb:
            body.append(_text(left + i * bw, top + plot_h + 9, f"{e:g}", 6.5, "middle", MUTED))
    body.append(_text(left + plot_w / 2, height - 3, x_label, 6.5, "middle", MUTED))
    if not sum(counts):
        body.append(_text(left + plot_w / 2, top + plot_h / 2, "no rated totals", 8, "middle", MUTED))
    if _finite(marker) and hi > lo:
        x = left + plot_w * min(1.0, max(0.0, (marker - lo) / (hi - lo)))
        body.append(f'<line x1="{_n(x)}" y1="{_n(top - 4)}" x2="{_n(x)}" y2="{_n(top + plot_h)}" '
                    f'stroke="{INK}" stroke-width="1.2" stroke-dasharray="3 2"/>')
        anchor = "end" if x > left + plot_w * 0.85 else "start"
        body.append(_text(x + (-3 if anchor == "end" else 3), top + 2, marker_label, 7, anchor, INK, "bold"))
    return _svg(width, height, body, title)


def bars(labels: Sequence[str], values: Sequence[float | None], width: float = 680, height: float = 130,
         title: str = "", fmt=lambda v: f"{v:g}", colours: Sequence[str] | None = None,
         reference: float | None = None, reference_label: str = "") -> Markup:
    """Vertical bars with value labels (month or channel breakdowns, grade counts)."""
    left, right, top, bottom = 10.0, 10.0, 14.0, 18.0
    plot_w, plot_h = width - left - right, height - top - bottom
    finite = [v for v in values if _finite(v)]
    peak = max(max(finite, default=0.0), reference if _finite(reference) else 0.0)
    peak = peak if peak > 0 else 1.0
    n = max(len(labels), 1)
    slot = plot_w / n
    bw = min(slot * 0.62, 46.0)
    body = [f'<line x1="{_n(left)}" y1="{_n(top + plot_h)}" x2="{_n(left + plot_w)}" y2="{_n(top + plot_h)}" '
            f'stroke="{GRID}" stroke-width="0.8"/>']
    for i, (lab, v) in enumerate(zip(labels, values)):
        cx = left + slot * (i + 0.5)
        body.append(_text(cx, top + plot_h + 10, lab, 7, "middle", MUTED))
        if not _finite(v):
            body.append(_text(cx, top + plot_h - 3, "–", 7, "middle", MUTED))
            continue
        h = plot_h * max(v, 0) / peak
        colour = colours[i] if colours else ACCENT
        body.append(f'<rect x="{_n(cx - bw / 2)}" y="{_n(top + plot_h - h)}" width="{_n(bw)}" '
                    f'height="{_n(h)}" fill="{colour}" rx="1.5"/>')
        body.append(_text(cx, top + plot_h - h - 3, fmt(v), 7, "middle", INK))
    if _finite(reference):
        y = top + plot_h - plot_h * reference / peak
        body.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}" '
                    f'stroke="{TARGET}" stroke-width="1" stroke-dasharray="4 2"/>')
        body.append(_text(left + plot_w, y - 3, reference_label, 6.5, "end", TARGET))
    return _svg(width, height, body, title)


def trend_panels(cycles: Sequence[str], panels: Sequence[dict], width: float = 680,
                 per_row: int = 3, panel_h: float = 86, title: str = "Trend over the cycles") -> Markup:
    """Small multiples: one line per metric over the cycles (oldest first, this cycle last).

    ``panels``: dicts with label, values (one per cycle, None where missing) and
    fmt (value → text).  Each panel has its own scale; the last point (this
    cycle) is highlighted.
    """
    gap, top, bottom, side = 10.0, 16.0, 14.0, 16.0
    rows = max(1, math.ceil(len(panels) / per_row))
    pw = (width - gap * (per_row - 1)) / per_row
    height = rows * panel_h + (rows - 1) * gap
    n = len(cycles)
    body = []
    for idx, p in enumerate(panels):
        ox = (idx % per_row) * (pw + gap)
        oy = (idx // per_row) * (panel_h + gap)
        fmt = p.get("fmt") or (lambda v: f"{v:g}")
        body.append(f'<rect x="{_n(ox)}" y="{_n(oy)}" width="{_n(pw)}" height="{_n(panel_h)}" fill="none" '
                    f'stroke="{GRID}" stroke-width="0.6" rx="2"/>')
        body.append(_text(ox + 5, oy + 10, p["label"], 7, "start", INK, "bold"))
        x0, x1 = ox + side, ox + pw - side
        y0, y1 = oy + top + 8, oy + panel_h - bottom  # y0: top of the plot, y1: its bottom
        vals = [v if _finite(v) else None for v in p["values"]]
        finite = [v for v in vals if v is not None]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if hi == lo:
            lo, hi = lo - 1.0, hi + 1.0

        def xy(i, v):
            x = x0 + ((x1 - x0) * i / (n - 1) if n > 1 else (x1 - x0) / 2)
            return x, y1 - (y1 - y0) * (v - lo) / (hi - lo)

        body.append(f'<line x1="{_n(x0)}" y1="{_n(y1)}" x2="{_n(x1)}" y2="{_n(y1)}" stroke="{GRID}" '
                    f'stroke-width="0.6"/>')
        for i, name in enumerate(cycles):
            x, _ = xy(i, lo)
            anchor = "middle" if n == 1 or 0 < i < n - 1 else ("start" if i == 0 else "end")
            x = ox + 4 if anchor == "start" else ox + pw - 4 if anchor == "end" else x
            body.append(_text(x, y1 + 9, name, 5.5, anchor, MUTED))
        segment: list[str] = []
        for i, v in enumerate(vals + [None]):
            if v is None:
                if len(segment) > 1:
                    body.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{ACCENT}" '
                                f'stroke-width="1.4"/>')
                segment = []
                continue
            x, y = xy(i, v)
            segment.append(f"{_n(x)},{_n(y)}")
        for i, v in enumerate(vals):
            if v is None:
                continue
            x, y = xy(i, v)
            last = i == n - 1
            body.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{2.6 if last else 1.8}" '
                        f'fill="{ACCENT if last else OTHER}"/>')
            body.append(_text(x, y - 4, fmt(v), 6, "middle", INK if last else MUTED, "bold" if last else "normal"))
    return _svg(width, height, body, title)
