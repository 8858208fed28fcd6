"""helpers.diagrams.measured_runs: the picture follows the benchmark's rows (no broker needed)."""

import pandas as pd

from helpers import diagrams


def rows(producers: int = 1, rate: float = 400_000.0) -> pd.DataFrame:
    common = {"broker": "kafka", "message_bytes": 100, "partitions": 2, "sent": 33_000}
    return pd.DataFrame(
        [
            {
                **common,
                "client": "python",
                "tool": "confluent-kafka",
                "mode": "produce",
                "producers": producers,
                "consumers": 1,
                "throughput_msg_s": rate,
            },
            {
                **common,
                "client": "python",
                "tool": "confluent-kafka",
                "mode": "consume",
                "producers": producers,
                "consumers": 1,
                "throughput_msg_s": 200_000.0,
            },
            {
                **common,
                "client": "native",
                "tool": "PerfTest",
                "mode": "produce",
                "producers": 1,
                "consumers": 1,
                "throughput_msg_s": 20_000.0,
                "broker": "rabbitmq",
            },
        ]
    )


def test_the_picture_follows_the_rows():
    one = diagrams.measured_runs(rows()).source
    assert "400,000 msg/s" in one and "200,000 msg/s" in one and "20,000 msg/s" in one
    assert "1 producer process" in one and "2 partition(s)" in one
    more = diagrams.measured_runs(rows(producers=3, rate=123_456)).source
    assert "3 producer processes" in more and "123,456 msg/s" in more
    assert "400,000 msg/s" not in more  # the old figure is gone with the old rows


def test_a_tool_with_one_process_for_both_sides_says_so():
    perftest = rows().iloc[[2]]
    both = pd.concat([perftest, perftest.assign(mode="consume", throughput_msg_s=19_000.0)])
    source = diagrams.measured_runs(both).source
    assert "one process, both sides" in source and "19,000 msg/s" in source
    assert "one process, both sides" not in diagrams.measured_runs(rows()).source


def test_latency_rows_are_left_out():
    latency = rows().assign(mode="latency")
    assert "msg/s" not in diagrams.measured_runs(latency).source
