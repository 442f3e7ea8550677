"""Charts read in order: cohorts by value, tiers in protocol order, shares in per cent."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sla_analysis.report import charts  # noqa: E402


def test_natural_order_of_cohorts_and_tiers():
    assert charts.natural_order(["1", "2", "8", "9", "10", "19", "20+", "3", "4"]) == \
        ["1", "2", "3", "4", "8", "9", "10", "19", "20+"]
    assert charts.natural_order(["low", "high", "moderate"]) == ["high", "moderate", "low"]
    # bands by their lower edge, in their unit (the score bands of page 06, the response times of page 07)
    assert charts.natural_order(["90 and above", "30-39", "below 30", "40-49"]) == ["below 30", "30-39", "40-49", "90 and above"]
    assert charts.natural_order(["never", "1-4 h", "1-3 days", "later", "4-24 h", "within 1 hour", "5-60 min", "< 5 min"]) == \
        ["< 5 min", "5-60 min", "within 1 hour", "1-4 h", "4-24 h", "1-3 days", "later", "never"]
    assert charts.natural_order(["webinar", "Tradeshow", "contact sales"]) == ["contact sales", "Tradeshow", "webinar"]


def cohorts(groups):
    rows = []
    for g in groups:  # cohorts in the order a SQL GROUP BY happened to return them
        for a in ["1", "2", "8", "9", "10", "19", "20+", "3", "4"]:
            rows.append({"attempts": a, "tier": g, "rate": 0.1, "low": 0.05, "high": 0.2})
    return pd.DataFrame(rows)


def test_rate_by_cohort_chart_orders_the_axis_and_uses_per_cent():
    fig = charts.rate_by_cohort_chart(cohorts(["high"]), "attempts", "rate", "low", "high", "t", "converted")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4", "8", "9", "10", "19", "20+"]
    text = ax.yaxis.get_major_formatter()(0.25, 0)
    assert text.endswith("%") and float(text[:-1]) == 25


def test_groups_get_small_multiples_in_tier_order():
    fig = charts.rate_by_cohort_chart(cohorts(["low", "high", "moderate"]), "attempts", "rate", "low", "high",
                                      "t", "converted", hue="tier")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["high", "moderate", "low"]
    first = [t.get_text() for t in visible[0].get_xticklabels()]
    assert first == sorted(first, key=lambda s: int(s.rstrip("+")))


def test_money_axis_has_the_currency():
    fig = charts.bar_chart(pd.DataFrame({"source": ["b", "a"], "value": [1500.0, 20000.0]}), "source", "value",
                           "t", "value per MQL", kind="money", currency="USD")
    assert fig.axes[0].yaxis.get_major_formatter()(10000, 0) == "$10,000"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b"]


def test_interval_chart_keeps_the_order_of_bands_and_ranks_the_rest():
    bands = pd.DataFrame({"band": ["1-4 h", "1-3 days", "4-24 h"], "v": [0.9, 0.8, 0.7], "lo": [0.5] * 3, "hi": [1.2] * 3})
    fig = charts.interval_chart(bands, "band", "v", "lo", "hi", "t", "x")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][::-1] == ["1-4 h", "4-24 h", "1-3 days"]  # top first
    sources = bands.assign(band=["webinar", "tradeshow", "white paper"])
    fig = charts.interval_chart(sources, "band", "v", "lo", "hi", "t", "x")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][::-1] == ["webinar", "tradeshow", "white paper"]  # by value


def test_money_puts_a_loss_sign_before_the_currency_sign():
    from sla_analysis.formats import money
    assert money(-31.4) == "-$31" and money(1600) == "$1,600" and money(-1.36, digits=2) == "-$1.36"
    assert money(-0.4) == "$0"  # rounds to nothing: no "-$0"
    assert money(-1600, "EUR") == "-1,600 EUR" and money(float("nan")) == "–"


def test_ratios_are_written_as_multiples_not_bare_fractions():
    from sla_analysis.report.columns import readable
    shown = readable(pd.DataFrame({"band": ["4-24 h"], "relative_to_within_1h": [0.734],
                                   "relative_to_within_1h_low": [0.5], "relative_to_within_1h_high": [1.09]}),
                     ["band", "relative_to_within_1h"])
    assert shown.iloc[0].tolist() == ["4-24 h", "0.73×", "0.50× – 1.09×"]


def test_weekday_hour_heatmap_shows_the_hours_worked_not_the_empty_night():
    rows = [{"weekday": d, "weekday_name": n, "hour": h, "attempts": (5 if 8 <= h < 18 and d < 5 else 0)}
            for d, n in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]) for h in range(24)]
    fig = charts.weekday_hour_heatmap(pd.DataFrame(rows), "attempts", "t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{h:02d}:00" for h in range(8, 18)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # every day stays


def test_words_read_left_aligned_and_numbers_right_aligned_in_tables():
    from sla_analysis.report.notebook import is_text_column
    assert is_text_column(pd.Series(["high", "moderate"])) and is_text_column(pd.Series(["< 5 min", "1-4 h"]))
    assert not is_text_column(pd.Series(["4.0 h", "–"])) and not is_text_column(pd.Series(["$1,200", "-$31", "+7.6%"]))
    assert not is_text_column(pd.Series(["23.9% – 30.8%", "0.73×"]))


def test_many_reps_are_shown_as_a_distribution_not_a_comb_of_bars():
    rng = np.random.default_rng(3)
    paces = pd.Series(rng.normal(30, 5, 200))
    fig = charts.distribution_chart(paces, "Dialling pace across reps", "calls per hour", "reps", reference=25.0,
                                    reference_label="assumed in the SLA")
    ax = fig.axes[0]
    assert sum(p.get_height() for p in ax.patches) == 200           # every rep counted once
    assert len(ax.patches) < charts.MAX_BARS                        # in a readable number of bands
    assert ax.lines[0].get_xdata()[0] == 25.0                        # the SLA's assumption drawn
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("calls per hour", "reps")


def test_a_table_can_show_some_rows_and_record_all(monkeypatch):
    from sla_analysis.report import notebook as nb

    shown, recorded = [], {}

    class Ctx:
        cfg = type("C", (), {"currency": "USD", "confidence_level": 0.95})()
        limits: dict = {}

        def record_table(self, name, frame):
            recorded[name] = frame

    monkeypatch.setitem(nb._CURRENT, "ctx", Ctx())
    monkeypatch.setattr(nb, "show_table", lambda frame, *a, **k: shown.append(frame))
    frame = pd.DataFrame({"rep_id": ["r1", "r2", "all reps"], "attempts": [5, 7, 12]})
    nb.table(frame, ["rep_id", "attempts"], record="pace", rows=[2])
    assert len(recorded["pace"]) == 3 and len(shown[0]) == 1
    assert shown[0].iloc[0, 0] == "all reps"


def test_the_pace_page_draws_bars_for_a_few_reps_and_the_spread_for_many():
    from sla_analysis.analyses import cost

    def reps(n):
        return pd.DataFrame({"rep_id": [f"r{i}" for i in range(n)], "calls_per_hour_dialling": np.arange(n) + 10.0})

    few, many = charts.rep_pace_chart(reps(5), 12.0), charts.rep_pace_chart(reps(40), 12.0)
    assert few.axes[0].get_title() == "Dialling pace by rep" and len(few.axes[0].patches) == 5
    assert many.axes[0].get_title() == "Dialling pace across reps"
    assert sum(p.get_height() for p in many.axes[0].patches) == 40
    text = cost.pace_spread_text(reps(40), 12.0, many=True)
    assert "40 reps" in text and "**19.8 to 39.2 calls an hour**" in text   # quartiles of 10..49
    assert cost.pace_spread_text(reps(5), 12.0, many=False).startswith("Each bar is one rep's")
