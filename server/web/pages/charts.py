"""The agreement audit's pictures, drawn as inline SVG by the templates from the geometry computed
here: a heatmap of pairwise kappa, a Bland-Altman plot for two raters, each rater's drift by quarter."""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import pairwise

import pandas as pd

from server.services.agreement import number, records


def fmt(value, digits: int = 2, signed: bool = False) -> str:
    """A figure for the page: '–' where there is none."""
    value = number(value)
    if value is None:
        return "–"
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text.replace("-", "−")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _mix(a: str, b: str, t: float) -> str:
    ca = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb))


# Sequential blues from 0 to 1 (colour-blind safe, as ColorBrewer's Blues); reds below 0.
KAPPA_STOPS = [(0.0, "#f7fbff"), (0.4, "#c6dbef"), (0.6, "#6baed6"), (0.75, "#2171b5"), (1.0, "#08306b")]


NEGATIVE_STOPS = [(-1.0, "#a50f15"), (0.0, "#fee0d2")]


def kappa_colour(value: float | None) -> str:
    if value is None:
        return "#eef0f3"
    stops = NEGATIVE_STOPS if value < 0 else KAPPA_STOPS
    value = min(max(value, stops[0][0]), stops[-1][0])
    for (x0, c0), (x1, c1) in pairwise(stops):
        if value <= x1:
            return _mix(c0, c1, (value - x0) / (x1 - x0))
    return stops[-1][1]


def heatmap(pairs: pd.DataFrame, raters: list[str], names: Mapping[str, str], link) -> dict | None:
    """A raters x raters grid of quadratic-weighted kappa; each cell links to that pair's Bland-Altman."""
    if len(raters) < 2:
        return None
    kappas = {}
    for row in records(pairs):
        kappas[(row["rater_a"], row["rater_b"])] = kappas[(row["rater_b"], row["rater_a"])] = row
    label_width = 12 + 7.2 * max(len(names.get(r, r)) for r in raters)
    cell = max(34, min(60, 440 // len(raters)))
    top = label_width * 0.72 + 14
    left = label_width + 8
    size = cell * len(raters)
    cells = []
    for i, a in enumerate(raters):
        for j, b in enumerate(raters):
            x, y = left + j * cell, top + i * cell
            if a == b:
                cells.append({"x": x, "y": y, "diagonal": True, "title": names.get(a, a)})
                continue
            row = kappas.get((a, b))
            value = number(row["kappa"]) if row else None
            fill = kappa_colour(value)
            dark = value is not None and value > 0.62
            title = (f"{names.get(a, a)} and {names.get(b, b)}: weighted kappa {fmt(value)}"
                     f" ({row['reading'] or 'no reading'}) on {row['n_ratings']} item scores of "
                     f"{row['n_recordings']} shared recording{'s' if row['n_recordings'] != 1 else ''}"
                     if row else f"{names.get(a, a)} and {names.get(b, b)} have rated nothing in common")
            cells.append({"x": x, "y": y, "fill": fill, "text": fmt(value) if value is not None else "",
                          "ink": "#ffffff" if dark else "#1d2433", "title": title, "href": link(a, b) if row else None})
    legend_y = top + size + 26
    legend_width = min(size, 320)
    stops = [{"offset": f"{x * 100:.0f}%", "colour": colour} for x, colour in KAPPA_STOPS]
    marks = [{"x": left + legend_width * t, "label": label} for t, label in
             ((0, "0"), (0.4, ".40"), (0.6, ".60"), (0.75, ".75"), (1, "1"))]
    bands = [{"x": left + legend_width * (lo + hi) / 2, "label": label} for lo, hi, label in
             ((0, .4, "poor"), (.4, .6, "fair"), (.6, .75, "good"), (.75, 1, "excellent"))]
    return {
        "width": max(left + size + 10, left + legend_width + 90), "height": legend_y + 44,
        "cell": cell, "left": left, "top": top, "size": size, "cells": cells,
        "rows": [{"y": top + i * cell + cell / 2, "label": names.get(r, r)} for i, r in enumerate(raters)],
        "columns": [{"x": left + j * cell + cell / 2, "label": names.get(r, r)} for j, r in enumerate(raters)],
        "legend": {"x": left, "y": legend_y, "width": legend_width, "stops": stops, "marks": marks, "bands": bands,
                   "negative_x": left + legend_width + 18},
    }


def bland_altman_pair(pairs: pd.DataFrame, raters: list[str], a: str, b: str) -> tuple[str, str, str | None]:
    """The two raters of the Bland-Altman plot: those asked for, else the pair with the most recordings
    in common; and a note when the ones asked for cannot be shown."""
    note = None
    if (a or b) and (a not in raters or b not in raters or a == b):
        note = ("Choose two different raters who have ratings under these filters." if a == b or not (a and b)
                else "A rater chosen is not among those with ratings under these filters.")
        a = b = ""
    if not (a and b) and not pairs.empty:
        best = pairs.sort_values(["n_recordings", "rater_a", "rater_b"], ascending=[False, True, True]).iloc[0]
        a, b = best["rater_a"], best["rater_b"]
    return a, b, note


def bland_altman(totals: pd.DataFrame, ratings: pd.DataFrame, a: str, b: str, names: Mapping[str, str]) -> dict:
    """Mean against difference (a - b) of two raters' total scores on the recordings both rated, with the
    mean difference and the 95% limits of agreement (mean difference +/- 1.96 SD)."""
    name_a, name_b = names.get(a, a), names.get(b, b)
    wide = totals.pivot_table(index="recording", columns="rater", values="score", aggfunc="first")
    if a not in wide.columns or b not in wide.columns:
        shared = pd.DataFrame(columns=[a, b])
    else:
        shared = wide[[a, b]].dropna()
    mean = (shared[a] + shared[b]) / 2
    difference = shared[a] - shared[b]
    n = len(shared)
    bias = float(difference.mean()) if n else None
    sd = float(difference.std(ddof=1)) if n >= 2 else None
    limits = (bias - 1.96 * sd, bias + 1.96 * sd) if sd is not None else None
    result = {"a": a, "b": b, "name_a": name_a, "name_b": name_b, "n": n, "bias": bias, "sd": sd, "limits": limits}
    if n == 0:
        return result
    where = ratings.drop_duplicates("recording").set_index("recording")[["case", "session"]]
    width, height, left, right, top, bottom = 640, 320, 58, 150, 16, 44
    x_low, x_high = float(mean.min()), float(mean.max())
    pad = max((x_high - x_low) * 0.08, 2.0)
    x_low, x_high = x_low - pad, x_high + pad
    # Zero, every difference and both limits in view, with a margin.
    values = [0.0, *map(float, difference), *(limits or ())]
    y_low, y_high = min(values), max(values)
    margin = max((y_high - y_low) * 0.12, 1.0)
    y_low, y_high = y_low - margin, y_high + margin
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(value: float) -> float:
        return left + (value - x_low) / (x_high - x_low) * plot_w

    def sy(value: float) -> float:
        return top + (y_high - value) / (y_high - y_low) * plot_h

    points = []
    for recording, m, d in zip(shared.index, mean, difference):
        case, session = where.loc[recording] if recording in where.index else ("?", "?")
        points.append({
            "x": sx(m), "y": sy(d),
            "title": (f"Recording {recording} ({case} session {session}): {name_a} {fmt(shared.at[recording, a], 1)}, "
                      f"{name_b} {fmt(shared.at[recording, b], 1)}; mean {fmt(m, 1)}, difference {fmt(d, 1, True)}"),
        })
    lines = [{"y": sy(0), "kind": "zero", "label": "0", "value": 0.0}]
    lines.append({"y": sy(bias), "kind": "bias", "label": f"mean {fmt(bias, 1, True)}", "value": bias})
    if limits:
        for sign, limit in (("+", limits[1]), ("−", limits[0])):
            lines.append({"y": sy(limit), "kind": "limit", "label": f"{sign}1.96 SD {fmt(limit, 1, True)}", "value": limit})
    return result | {
        "width": width, "height": height, "left": left, "top": top, "plot_w": plot_w, "plot_h": plot_h,
        "points": points, "lines": lines,
        "x_ticks": [{"x": sx(t), "label": f"{t:g}"} for t in nice_ticks(x_low, x_high, 6)],
        "y_ticks": [{"y": sy(t), "label": fmt(t, 0 if float(t).is_integer() else 1, signed=t != 0)}
                    for t in nice_ticks(y_low, y_high, 7)],
    }


def drift_chart(drift: pd.DataFrame, panel: pd.DataFrame, names: Mapping[str, str], band: float) -> dict | None:
    """Small multiples: each rater's mean difference from the others per quarter, the band shaded."""
    drift = drift.dropna(subset=["mean_difference"]) if not drift.empty else drift
    if drift.empty:
        return None
    periods = sorted(drift["period"].unique())
    raters = sorted(drift["rater"].unique(), key=lambda r: names.get(r, r).lower())
    flagged = {row["rater"] for row in records(panel) if row["flagged"]}
    extent = max(float(drift["mean_difference"].abs().max()), band * 2, 1.0)
    extent = math.ceil(extent * 2) / 2
    columns = min(4, len(raters))
    panel_w, panel_h, gap_x, gap_y, left, top, label_h = 220, 110, 52, 46, 40, 30, 28
    y_ticks = [-extent, 0.0, extent]
    charts = []
    for index, rater in enumerate(raters):
        column, row_number = index % columns, index // columns
        x0 = left + column * (panel_w + gap_x)
        y0 = top + row_number * (panel_h + gap_y + label_h)

        def sx(period: str, x0: float = x0) -> float:
            if len(periods) == 1:
                return x0 + panel_w / 2
            return x0 + 22 + periods.index(period) / (len(periods) - 1) * (panel_w - 44)

        def sy(value: float, y0: float = y0) -> float:
            return y0 + (extent - value) / (2 * extent) * panel_h

        mine = drift[drift["rater"] == rater].sort_values("period")
        points = [{"x": sx(r["period"]), "y": sy(r["mean_difference"]),
                   "title": (f"{names.get(rater, rater)}, {r['period']}: {fmt(r['mean_difference'], 2, True)} "
                             f"against the others over {r['n_recordings']} "
                             f"recording{'s' if r['n_recordings'] != 1 else ''}")}
                  for r in records(mine)]
        step = max(1, math.ceil(len(periods) / 4))
        charts.append({
            "name": names.get(rater, rater), "flagged": rater in flagged,
            "x0": x0, "y0": y0, "w": panel_w, "h": panel_h,
            "band_top": sy(band), "band_bottom": sy(-band), "zero": sy(0), "points": points,
            "path": " ".join(f"{'M' if i == 0 else 'L'}{p['x']:.1f},{p['y']:.1f}" for i, p in enumerate(points)),
            "y_ticks": [{"y": sy(t), "label": fmt(t, 1, signed=t != 0)} for t in y_ticks],
            "x_ticks": [{"x": sx(p), "label": p} for i, p in enumerate(periods)
                        if i % step == 0 or i == len(periods) - 1],
        })
    rows = math.ceil(len(raters) / columns)
    return {"width": left + columns * panel_w + (columns - 1) * gap_x + 10,
            "height": top + (rows - 1) * (panel_h + gap_y + label_h) + panel_h + 22,
            "charts": charts, "periods": periods, "extent": extent}
