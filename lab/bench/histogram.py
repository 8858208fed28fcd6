"""End-to-end latency distributions with HdrHistogram, and the coordinated-omission correction.

Latencies are recorded in microseconds (1 µs to 10 minutes, 3 significant digits: every
percentile is within 0.1 % of the exact value) and reported in milliseconds. Histograms travel
between processes as HdrHistogram's compressed base64 encoding and are added up in the parent.

Two ways to get honest percentiles:
- record latencies from each message's *intended* send time (see `pacing`): nothing to correct;
- for a tool that only measured from the actual send time, `corrected` re-inserts the samples a
  stall hid, with HdrHistogram's `record_corrected_value` (an approximation of the first).
Not for timing the sends (see `pacing`).
"""

from __future__ import annotations

from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS = 1, 600_000_000, 3
PERCENTILES = {"p50_ms": 50.0, "p99_ms": 99.0, "p999_ms": 99.9}


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_ns(histogram: HdrHistogram, latency_ns: int) -> None:
    """Record one latency given in nanoseconds (clamped into the histogram's range)."""
    histogram.record_value(min(max(latency_ns // 1000, LOWEST_US), HIGHEST_US))


def from_ms(latencies_ms: Iterable[float]) -> HdrHistogram:
    histogram = new_histogram()
    for value in latencies_ms:
        record_ns(histogram, round(value * 1e6))
    return histogram


def corrected(latencies_ms: Iterable[float], interval_ms: float) -> HdrHistogram:
    """Latencies measured from the actual send time, corrected for coordinated omission: a
    sample longer than the sending interval also stands for the sends it held up."""
    histogram = new_histogram()
    interval_us = max(round(interval_ms * 1000), 1)
    for value in latencies_ms:
        us = min(max(round(value * 1000), LOWEST_US), HIGHEST_US)
        histogram.record_corrected_value(us, interval_us)
    return histogram


def summary_ms(histogram: HdrHistogram) -> dict[str, float]:
    """p50, p99, p99.9, mean and max in milliseconds, and the sample count."""
    if histogram.get_total_count() == 0:
        return {
            **dict.fromkeys(PERCENTILES, float("nan")),
            "mean_ms": float("nan"),
            "max_ms": float("nan"),
            "samples": 0,
        }
    values = {
        column: histogram.get_value_at_percentile(p) / 1000 for column, p in PERCENTILES.items()
    }
    values["mean_ms"] = histogram.get_mean_value() / 1000
    values["max_ms"] = histogram.get_max_value() / 1000
    values["samples"] = histogram.get_total_count()
    return values


def count_at_or_above_ms(histogram: HdrHistogram, threshold_ms: float) -> int:
    """How many samples are at least `threshold_ms` (e.g. the ones a stall delayed)."""
    threshold_us = threshold_ms * 1000
    return sum(
        item.count_added_in_this_iter_step
        for item in histogram.get_recorded_iterator()
        if item.value_iterated_to >= threshold_us
    )


def encode(histogram: HdrHistogram) -> str:
    encoded: bytes = histogram.encode()  # base64 of the compressed histogram
    return encoded.decode()


def merge(encoded: Iterable[str]) -> HdrHistogram:
    total = new_histogram()
    for text in encoded:
        total.add(HdrHistogram.decode(text.encode()))
    return total
