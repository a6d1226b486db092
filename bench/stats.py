"""The bench's arithmetic: percentiles, ratios, the table and the last line. Pure: no process, no network."""
from __future__ import annotations

import math
from collections.abc import Sequence

LAST_LINE_KEYS = ("p50_ratio", "thr8_ratio", "turn50_growth", "c50_p95_s", "startup_s", "rasa_rss_mb")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of the values lie (linear interpolation between the closest ranks,
    as numpy's default); NaN for no values."""
    if not values:
        return math.nan
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within 0 and 1, not {fraction}")
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(latencies: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and the count of a list of latencies (seconds)."""
    return {"n": float(len(latencies)), "p50": percentile(latencies, 0.50), "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99)}


def ratio(ours: float | None, stock: float | None) -> float:
    """ours / stock; NaN when either is missing or stock is 0."""
    if ours is None or stock is None or math.isnan(ours) or math.isnan(stock) or stock == 0:
        return math.nan
    return ours / stock


def number(value: float | None, digits: int = 2) -> str:
    """A figure as the table and the last line print it: `digits` decimals, `nan` when missing."""
    if value is None or math.isnan(value):
        return "nan"
    return f"{value:.{digits}f}"


def last_line(figures: dict[str, float | None]) -> str:
    """`bench p50_ratio=<x> thr8_ratio=<x> turn50_growth=<x> c50_p95_s=<x> startup_s=<x> rasa_rss_mb=<x>`."""
    digits = {"startup_s": 1, "rasa_rss_mb": 0}
    return "bench " + " ".join(f"{key}={number(figures.get(key), digits.get(key, 2))}" for key in LAST_LINE_KEYS)


def table(rows: Sequence[tuple[str, float | None, float | None, str]]) -> str:
    """Rows of (figure, ours, stock, unit) as aligned text with the ratio ours / stock."""
    header = ("figure", "ours", "stock", "ours/stock")
    lines = [header]
    for name, ours, stock, unit in rows:
        digits = 0 if unit == "MB" else 3 if unit == "s" else 1
        shown = [f"{number(v, digits)} {unit}".strip() if v is not None else "-" for v in (ours, stock)]
        lines.append((name, shown[0], shown[1], number(ratio(ours, stock))))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join([line[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(line[1:], widths[1:], strict=True))]))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
