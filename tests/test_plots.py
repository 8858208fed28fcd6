"""The plot helpers label what they draw (title, units) and show a legend only when needed."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from helpers.plots import bars, lines, timeline  # noqa: E402


def test_bars_carry_title_units_and_values():
    ax = bars(pd.Series({"everysec": 9000.0, "always": 800.0}, name="x"), title="T", ylabel="msg/s")
    assert ax.get_title() == "T" and ax.get_ylabel() == "msg/s"
    assert [p.get_height() for p in ax.patches] == [9000.0, 800.0]
    assert ax.get_legend() is None


def test_lines_show_a_legend_only_for_several_series():
    frame = pd.DataFrame({"t_s": [0, 1, 2], "lag": [0, 5, 1], "pending": [0, 2, 0]})
    one = lines(frame, x="t_s", y=["lag"], title="T", xlabel="time (s)", ylabel="entries")
    two = lines(frame, x="t_s", y=["lag", "pending"], title="T", xlabel="time (s)", ylabel="n")
    assert one.get_legend() is None and two.get_legend() is not None
    assert list(one.get_lines()[0].get_ydata()) == [0, 5, 1]


def test_timeline_puts_each_event_on_its_lane():
    frame = pd.DataFrame(
        {"t_ms": [0, 5, 9], "service": ["order", "payment", "order"], "event": ["a", "b", "c"]}
    )
    ax = timeline(frame, x="t_ms", lane="service", label="event", title="T", xlabel="time (ms)")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["order", "payment"]
    assert [a.get_text() for a in ax.texts] == ["a", "b", "c"]
