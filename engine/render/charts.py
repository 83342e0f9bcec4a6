"""Small vector charts for the scorecards, as inline SVG markup.

Every chart is a function of plain numbers and labels that returns an SVG
string; every text that reaches the markup goes through ``escape`` (labels
come from the ruleset and the data).  No randomness, no clock, numbers
printed with fixed precision: the same input gives the same bytes.

Readable at a glance: the charts are placed at their own width (one SVG unit
is one CSS pixel, 0.75 pt), so text sizes are given in points and no text is
smaller than :data:`MIN_FONT_PT`; every text colour meets WCAG AA contrast
(4.5:1) on the white page (tests/test_readability.py checks both).  The words
a chart writes itself ("better", "target", …) come from the reader's language
(``language``, as :func:`merit.i18n.translator` takes it); labels and titles
passed in are already in that language.
"""

from __future__ import annotations

import math
from typing import Sequence

from markupsafe import Markup, escape

from merit.i18n import translator

# The visual identity (kept in step with templates/base.css).
INK = "#1f2a37"
MUTED = "#636b78"       # secondary text: 4.9:1 or more on every light background of the scorecards
GRID = "#e5e7eb"
ACCENT = "#0f766e"      # teal: the reader / this team
ACCENT_LIGHT = "#99d5cf"
OTHER = "#9ca3af"       # grey: anonymous peers (bars and dots only, never text)
TARGET = "#b45309"      # amber: targets
# Grade badges carry white text: each colour is dark enough for 4.5:1 against white.
GRADE_COLOURS = {"S": "#0f766e", "A": "#15803d", "B": "#1d4ed8", "C": "#b45309", "D": "#b91c1c"}
TEXT_COLOURS = (INK, MUTED, TARGET)  # every fill a chart's text uses
FONT = "Noto Sans CJK SC, sans-serif"

PX_PER_PT = 4 / 3       # CSS: 1 pt = 4/3 px, and a chart's unit is one CSS px
MIN_FONT_PT = 7.0       # the smallest text of any chart
LABEL_PT = 7.5          # row labels, panel titles, the marker's label
SMALL_PT = MIN_FONT_PT  # ticks, legends, scale ends, values


def _n(x: float) -> str:
    """A coordinate with fixed precision (deterministic, compact)."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _px(points: float) -> float:
    return points * PX_PER_PT


def _svg(width: float, height: float, body: list[str], title: str) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="{FONT}" role="img">'
            f'<title>{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def _text(x, y, text, size_pt=SMALL_PT, anchor="start", fill=INK, weight="normal") -> str:
    """A text at (x, y); *size_pt* in points (written in the chart's px units)."""
    size_pt = max(size_pt, MIN_FONT_PT)
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(_px(size_pt))}" text-anchor="{anchor}" '
            f'fill="{fill}" font-weight="{weight}">{escape(text)}</text>')


def text_width(text: str, size_pt: float) -> float:
    """About how wide *text* is in px: a CJK character is one em, others a bit over half."""
    em = _px(size_pt)
    return sum(em if ord(ch) >= 0x2E80 else 0.56 * em for ch in str(text))


def wrap_label(text: str, size_pt: float, width: float, lines: int = 2) -> list[str]:
    """*text* in at most *lines* lines of about *width* px, broken between words (CJK text
    anywhere); nothing is cut: the last line takes what remains."""
    text = str(text)
    out: list[str] = []
    rest = text
    while rest and len(out) < lines - 1 and text_width(rest, size_pt) > width:
        cut = _break_at(rest, size_pt, width)
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        out.append(rest)
    return out


def _break_at(text: str, size_pt: float, width: float) -> int:
    """Where to break *text* so that its first part fits *width* (at least one character)."""
    fits = 1
    for i in range(1, len(text) + 1):
        if text_width(text[:i], size_pt) > width:
            break
        fits = i
    spaces = [i for i in range(1, fits + 1) if text[i - 1] == " " or (i < len(text) and text[i] == " ")]
    wide = ord(text[fits - 1]) >= 0x2E80
    return spaces[-1] if spaces and not wide else fits


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


# long: one SVG of several parts (legend, one row per KPI) whose coordinates depend on each other
def kpi_positions(rows: Sequence[dict], width: float = 680, median_label: str | None = "team median",
                  language: str = "en") -> Markup:
    """One track per KPI, better to the right: the agent (dot), a peer median
    (hollow diamond) and the target (amber tick), on the KPI's own scale.

    ``rows``: dicts with label, lo, hi (scale ends, lo = worse end), value,
    median (None where no median may be shown), target, lo_text, hi_text.
    The scale ends are printed at the track's ends, on the row's line.
    ``median_label``: the legend's name for the diamonds; None leaves them
    out of the legend (no row has one).
    """
    _ = translator(language).gettext
    label_w, end_w, row_h, top = 196.0, 44.0, 20.0, 16.0
    x0, x1 = label_w + end_w, width - end_w
    wrapped = [wrap_label(r["label"], LABEL_PT, label_w - 8) for r in rows]
    heights = [row_h + (len(lines) - 1) * _px(LABEL_PT) for lines in wrapped]
    height = top + sum(heights) + 20
    body = [_text(x0, 10, _("worse"), SMALL_PT, "start", MUTED), _text(x1, 10, _("better"), SMALL_PT, "end", MUTED)]

    def pos(v, lo, hi):
        if not (_finite(v) and _finite(lo) and _finite(hi)) or hi == lo:
            return None
        f = (v - lo) / (hi - lo)
        return x0 + (x1 - x0) * min(1.0, max(0.0, f))

    y_top = top
    for r, lines, h in zip(rows, wrapped, heights):
        y = y_top + h / 2
        first = y + 3.5 - (len(lines) - 1) * _px(LABEL_PT) / 2
        for k, line in enumerate(lines):
            body.append(_text(label_w - 8, first + k * _px(LABEL_PT), line, LABEL_PT, "end"))
        y_top += h
        body.append(_text(x0 - 5, y + 3.5, r.get("lo_text", ""), SMALL_PT, "end", MUTED))
        body.append(_text(x1 + 5, y + 3.5, r.get("hi_text", ""), SMALL_PT, "start", MUTED))
        body.append(f'<line x1="{_n(x0)}" y1="{_n(y)}" x2="{_n(x1)}" y2="{_n(y)}" '
                    f'stroke="{GRID}" stroke-width="3" stroke-linecap="round"/>')
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
            body.append(_text((x0 + x1) / 2, y + 3.5, _("no value"), SMALL_PT, "middle", MUTED))
    ly = height - 5
    body.append(f'<circle cx="{_n(x0 + 4)}" cy="{_n(ly - 3)}" r="3.5" fill="{ACCENT}"/>')
    you = _("you")
    body.append(_text(x0 + 11, ly, you, SMALL_PT, "start", MUTED))
    x = x0 + 24 + text_width(you, SMALL_PT)
    if median_label:
        body.append(f'<path d="M{_n(x)} {_n(ly - 7)} L{_n(x + 4)} {_n(ly - 3)} L{_n(x)} {_n(ly + 1)} '
                    f'L{_n(x - 4)} {_n(ly - 3)} Z" fill="white" stroke="{MUTED}" stroke-width="1.2"/>')
        body.append(_text(x + 8, ly, median_label, SMALL_PT, "start", MUTED))
        x += 22 + text_width(median_label, SMALL_PT)
    body.append(f'<line x1="{_n(x)}" y1="{_n(ly - 8)}" x2="{_n(x)}" y2="{_n(ly + 2)}" stroke="{TARGET}" '
                f'stroke-width="1.4"/>')
    body.append(_text(x + 5, ly, _("target"), SMALL_PT, "start", MUTED))
    if median_label:
        title = _("Your KPIs against the {median} and the target").format(median=median_label)
    else:
        title = _("Your KPIs against the target")
    return _svg(width, height, body, title)


def histogram(counts: Sequence[int], edges: Sequence[float], marker: float | None = None,
              marker_label: str | None = None, width: float = 680, height: float = 112,
              title: str | None = None, x_label: str | None = None, language: str = "en") -> Markup:
    """Bars of counts per bin (anonymous), with an optional marker line."""
    _ = translator(language).gettext
    marker_label = _("you") if marker_label is None else marker_label
    title = _("Distribution") if title is None else title
    x_label = _("total score") if x_label is None else x_label
    left, right, top, bottom = 28.0, 12.0, 16.0, 28.0
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
        body.append(_text(left - 4, y + 3.5, str(k), SMALL_PT, "end", MUTED))
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
            body.append(_text(left + i * bw, top + plot_h + 11, f"{e:g}", SMALL_PT, "middle", MUTED))
    body.append(_text(left + plot_w / 2, height - 3, x_label, SMALL_PT, "middle", MUTED))
    if not sum(counts):
        body.append(_text(left + plot_w / 2, top + plot_h / 2, _("no rated totals"), 8, "middle", MUTED))
    if _finite(marker) and hi > lo:
        x = left + plot_w * min(1.0, max(0.0, (marker - lo) / (hi - lo)))
        body.append(f'<line x1="{_n(x)}" y1="{_n(top - 4)}" x2="{_n(x)}" y2="{_n(top + plot_h)}" '
                    f'stroke="{INK}" stroke-width="1.2" stroke-dasharray="3 2"/>')
        anchor = "end" if x > left + plot_w * 0.85 else "start"
        body.append(_text(x + (-3 if anchor == "end" else 3), top + 3, marker_label, LABEL_PT, anchor, INK,
                          "bold"))
    return _svg(width, height, body, title)


def bars(labels: Sequence[str], values: Sequence[float | None], width: float = 680, height: float = 130,
         title: str = "", fmt=lambda v: f"{v:g}", colours: Sequence[str] | None = None,
         reference: float | None = None, reference_label: str = "", language: str = "en") -> Markup:
    """Vertical bars with value labels (month or channel breakdowns, grade counts).
    ``language`` is accepted like every chart's; the labels passed in carry the words."""
    left, right, top, bottom = 10.0, 10.0, 16.0, 20.0
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
        body.append(_text(cx, top + plot_h + 12, lab, SMALL_PT, "middle", MUTED))
        if not _finite(v):
            body.append(_text(cx, top + plot_h - 3, "–", SMALL_PT, "middle", MUTED))
            continue
        h = plot_h * max(v, 0) / peak
        colour = colours[i] if colours else ACCENT
        body.append(f'<rect x="{_n(cx - bw / 2)}" y="{_n(top + plot_h - h)}" width="{_n(bw)}" '
                    f'height="{_n(h)}" fill="{colour}" rx="1.5"/>')
        body.append(_text(cx, top + plot_h - h - 3, fmt(v), SMALL_PT, "middle", INK))
    if _finite(reference):
        y = top + plot_h - plot_h * reference / peak
        body.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}" '
                    f'stroke="{TARGET}" stroke-width="1" stroke-dasharray="4 2"/>')
        body.append(_text(left + plot_w, y - 3, reference_label, SMALL_PT, "end", TARGET))
    return _svg(width, height, body, title)


# Units whose values have natural ends: a rate's axis is 0–100 %, whatever the values.
FULL_SCALE = {"rate": (0.0, 1.0), "percent": (0.0, 100.0)}


def trend_axis(values: Sequence[float | None], unit: str | None = None) -> tuple[float, float]:
    """The vertical axis (lo, hi) of a trend panel: zero-anchored, so that a small change reads
    as small (83.8 % → 84.4 % is nearly flat on 0–100 %, not a line from bottom to top).

    A rate spans 0–100 % (a percent 0–100); any other unit spans 0 to a round number above
    its values (below them, for negative values).  Panels of one unit share the axis: pass
    all their values together.
    """
    finite = [float(v) for v in values if _finite(v)]
    lo, hi = FULL_SCALE.get(unit or "", (0.0, 0.0))
    lo = min([lo, *finite])
    hi = max([hi, *finite])
    if lo < 0 and lo not in FULL_SCALE.get(unit or "", ()):
        lo = -_round_up(-lo)
    if hi > 0 and hi not in FULL_SCALE.get(unit or "", ()):
        hi = _round_up(hi)
    if hi == lo:
        hi = lo + 1.0
    return lo, hi


def _round_up(x: float) -> float:
    """The first round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 or 10 times a power of ten)
    at or above *x* (> 0)."""
    step = 10 ** math.floor(math.log10(x))
    for f in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if f * step >= x * (1 - 1e-12):
            return f * step
    return 10 * step


def _trend_axes(panels: Sequence[dict]) -> list[tuple[float, float]]:
    """One axis per panel, shared by the panels of a unit (a panel without a unit has its own)."""
    by_unit: dict[str, list] = {}
    for p in panels:
        if p.get("unit"):
            by_unit.setdefault(p["unit"], []).extend(p["values"])
    return [trend_axis(by_unit[p["unit"]] if p.get("unit") else p["values"], p.get("unit")) for p in panels]


# long: small multiples; each panel's frame, axis ends, cycle names, line and printed values
def trend_panels(cycles: Sequence[str], panels: Sequence[dict], width: float = 680,
                 per_row: int = 3, panel_h: float = 96, title: str | None = None,
                 language: str = "en") -> Markup:
    """Small multiples: one line per metric over the cycles (oldest first, this cycle last).

    ``panels``: dicts with label, values (one per cycle, None where missing),
    fmt (value → text) and unit (the metric's unit: panels of one unit share
    their axis, see :func:`trend_axis`).  Every value is printed at its point
    and the axis ends at the left; the last point (this cycle) is highlighted.
    """
    _ = translator(language).gettext
    title = _("Trend over the cycles") if title is None else title
    gap, top, bottom, left, right = 10.0, 18.0, 16.0, 44.0, 14.0
    rows = max(1, math.ceil(len(panels) / per_row))
    pw = (width - gap * (per_row - 1)) / per_row
    height = rows * panel_h + (rows - 1) * gap
    n = len(cycles)
    body = []
    for idx, (p, (lo, hi)) in enumerate(zip(panels, _trend_axes(panels))):
        ox = (idx % per_row) * (pw + gap)
        oy = (idx // per_row) * (panel_h + gap)
        fmt = p.get("fmt") or (lambda v: f"{v:g}")
        body.append(f'<rect x="{_n(ox)}" y="{_n(oy)}" width="{_n(pw)}" height="{_n(panel_h)}" fill="none" '
                    f'stroke="{GRID}" stroke-width="0.6" rx="2"/>')
        body.append(_text(ox + 5, oy + 12, p["label"], LABEL_PT, "start", INK, "bold"))
        x0, x1 = ox + left, ox + pw - right
        y0, y1 = oy + top + 12, oy + panel_h - bottom  # y0: top of the plot, y1: its bottom

        def xy(i, v):
            x = x0 + ((x1 - x0) * i / (n - 1) if n > 1 else (x1 - x0) / 2)
            return x, y1 - (y1 - y0) * (v - lo) / (hi - lo)

        for end, y in ((lo, y1), (hi, y0)):
            body.append(f'<line x1="{_n(x0 - 3)}" y1="{_n(y)}" x2="{_n(x1)}" y2="{_n(y)}" stroke="{GRID}" '
                        f'stroke-width="0.6"/>')
            body.append(_text(x0 - 5, y + 3, fmt(end), SMALL_PT, "end", MUTED))
        for i, name in enumerate(cycles):
            x, _y = xy(i, lo)
            anchor = "middle" if n == 1 or 0 < i < n - 1 else ("start" if i == 0 else "end")
            x = x - 6 if anchor == "start" else x + 6 if anchor == "end" else x
            body.append(_text(x, y1 + 11, name, SMALL_PT, anchor, MUTED))
        vals = [v if _finite(v) else None for v in p["values"]]
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
            body.append(_text(x, y - 5, fmt(v), SMALL_PT, "middle", INK if last else MUTED,
                              "bold" if last else "normal"))
    return _svg(width, height, body, title)
