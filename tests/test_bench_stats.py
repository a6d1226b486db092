"""The bench's pure helpers (bench/stats.py): percentiles, ratios and the last line's format. No time is asserted."""
from __future__ import annotations

import math
import re

from bench.stats import LAST_LINE_KEYS, last_line, percentile, ratio, summary, table

LAST_LINE = re.compile(r"bench p50_ratio=\S+ thr8_ratio=\S+ turn50_growth=\S+ c50_p95_s=\S+ startup_s=\S+ rasa_rss_mb=\S+")


def test_percentile_interpolates_between_ranks_like_numpy():
    values = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.0) == 1.0 and percentile(values, 1.0) == 5.0
    assert percentile(values, 0.95) == 4.8  # numpy.percentile(values, 95)
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_of_nothing_is_nan_and_a_fraction_outside_0_1_is_refused():
    assert math.isnan(percentile([], 0.5))
    try:
        percentile([1.0], 95)
    except ValueError:
        pass
    else:
        raise AssertionError("a percentage given as a fraction must be refused")


def test_summary_holds_the_count_and_three_percentiles():
    found = summary([1.0, 2.0, 3.0])
    assert found["n"] == 3.0 and found["p50"] == 2.0
    assert math.isclose(found["p95"], 2.9) and math.isclose(found["p99"], 2.98)


def test_ratio_is_nan_where_a_side_is_missing_or_zero():
    assert ratio(3.0, 2.0) == 1.5
    assert all(math.isnan(ratio(*pair)) for pair in [(None, 1.0), (1.0, None), (1.0, 0.0), (math.nan, 1.0)])


def test_last_line_has_every_key_in_order_and_nan_for_a_missing_figure():
    line = last_line({"p50_ratio": 2.345, "thr8_ratio": 0.5, "turn50_growth": 1.0, "c50_p95_s": 0.81,
                      "startup_s": 55.46, "rasa_rss_mb": 1733.6})
    assert line == "bench p50_ratio=2.35 thr8_ratio=0.50 turn50_growth=1.00 c50_p95_s=0.81 startup_s=55.5 rasa_rss_mb=1734"
    assert LAST_LINE.fullmatch(line)
    missing = last_line({"p50_ratio": 1.0})
    assert LAST_LINE.fullmatch(missing) and missing.count("=nan") == len(LAST_LINE_KEYS) - 1


def test_table_shows_ours_stock_and_their_ratio():
    text = table([("single conversation, all, p50", 0.2, 0.1, "s"), ("peak resident memory: actions", 48.0, None, "MB")])
    lines = text.splitlines()
    assert lines[0].split() == ["figure", "ours", "stock", "ours/stock"]
    assert lines[2].split()[-5:] == ["0.200", "s", "0.100", "s", "2.00"]
    assert lines[3].split()[-4:] == ["48", "MB", "-", "nan"]
