"""The benchmark harness measures correctly: percentiles and the coordinated-omission correction
on known inputs, verification catching every kind of damage, the native tools' output parsed from
text they really printed, and one short real run per broker where what arrived equals what was
sent. No assert here is about speed."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis
from confluent_kafka import Producer

from helpers.naming import unique_name
from lab import bench
from lab.bench import (
    claims,
    histogram,
    kafka_bench,
    legs,
    processes,
    redis_workers,
    report,
    targets,
    transactions,
    tuning,
    usage,
)
from lab.bench.native import kafka_tools, perftest, redis_benchmark
from lab.bench.pacing import FakeClock, simulated_stall
from lab.bench.payload import HEADER, BodyMaker, ReceivedTally, SentTally, verify
from lab.brokers import kafka_config

ROOT = Path(__file__).resolve().parents[1]

# --- percentiles ---------------------------------------------------------------------------


def test_histogram_of_known_latencies_gives_known_percentiles():
    h = bench.from_ms(range(1, 1001))  # 1, 2, ..., 1000 ms
    values = bench.summary_ms(h)
    assert values["p50_ms"] == pytest.approx(500, rel=1e-3)
    assert values["p99_ms"] == pytest.approx(990, rel=1e-3)
    assert values["p999_ms"] == pytest.approx(999, rel=1e-3)
    assert values["samples"] == 1000 and values["mean_ms"] == pytest.approx(500.5, rel=1e-3)


def test_histograms_merge_across_processes():
    left, right = bench.from_ms([1.0] * 90), bench.from_ms([10.0] * 10)
    merged = histogram.merge([histogram.encode(left), histogram.encode(right)])
    assert merged.get_total_count() == 100
    assert histogram.count_at_or_above_ms(merged, 5) == 10


# --- coordinated omission ------------------------------------------------------------------


def test_a_100_ms_stall_at_1000_per_s_delays_about_100_messages():
    # 2000 sends at 1000/s, each taking 0.05 ms except send 500, which takes 100 ms.
    from_intended, from_actual = simulated_stall(stall_at=500, stall_ms=100)
    honest, naive = bench.from_ms(from_intended), bench.from_ms(from_actual)
    # Timed from the intended send time, every message the stall held up shows it...
    assert 95 <= histogram.count_at_or_above_ms(honest, 1.0) <= 110
    assert bench.summary_ms(honest)["p99_ms"] > 50
    # ...timed from the actual send time, only the stalled send does: p99 hides it.
    assert histogram.count_at_or_above_ms(naive, 1.0) == 1
    assert bench.summary_ms(naive)["p99_ms"] < 0.1


def test_hdr_correction_restores_the_hidden_samples():
    _, from_actual = simulated_stall(stall_at=500, stall_ms=100)
    repaired = bench.corrected(from_actual, interval_ms=1.0)
    assert histogram.count_at_or_above_ms(repaired, 1.0) == 100  # 100, 99, ..., 1 ms
    assert repaired.get_total_count() == 2000 + 99


def test_the_pacer_keeps_its_schedule_after_a_stall():
    clock = FakeClock()
    pacer = bench.FixedRate(1000, clock=clock.now, sleep=clock.sleep, spin_ns=0)
    start = clock.now()
    assert pacer.wait(0) == start
    clock.sleep(0.010)  # 10 ms late: messages 1..10 are overdue
    assert [pacer.wait(i) - start for i in (1, 5, 10)] == [1_000_000, 5_000_000, 10_000_000]
    assert clock.now() == start + 10_000_000  # overdue ones were not delayed further
    assert pacer.wait(20) == start + 20_000_000 == clock.now()  # then it waits again


# --- verification --------------------------------------------------------------------------


def sent_and_bodies(count: int = 100, producer: int = 0) -> tuple[SentTally, list[bytes]]:
    maker, sent = BodyMaker(producer, 100), SentTally(producer)
    bodies = [maker.make(seq, seq, seq, warmup=seq < 10) for seq in range(count)]
    for seq, body in enumerate(bodies):
        sent.add(body, warmup=seq < 10)
    return sent, bodies


def received(bodies: list[bytes], lane: int = 0) -> ReceivedTally:
    tally = ReceivedTally()
    tally.add_batch(bodies, lane)
    return tally


def test_every_message_once_and_unchanged_verifies():
    sent, bodies = sent_and_bodies()
    check = verify([sent], [received(bodies)])
    assert check.ok and check.unique == 100 and check.missing == check.duplicates == 0


def test_a_lost_message_is_caught():
    sent, bodies = sent_and_bodies()
    check = verify([sent], [received(bodies[:40] + bodies[41:])])
    assert not check.ok and check.missing == 1 and not check.checksum_ok


def test_a_duplicated_message_is_caught_within_and_across_consumers():
    sent, bodies = sent_and_bodies()
    within = verify([sent], [received([*bodies, bodies[7]])])
    across = verify([sent], [received(bodies[:60]), received(bodies[59:])])
    assert not within.ok and within.duplicates == 1
    assert not across.ok and across.duplicates == 1 and across.missing == 0


def test_a_changed_message_is_caught_by_the_checksum():
    sent, bodies = sent_and_bodies()
    changed = bytearray(bodies[50])
    changed[-1] ^= 0x01  # one bit of the payload, header intact
    check = verify([sent], [received([*bodies[:50], bytes(changed), *bodies[51:]])])
    assert check.missing == 0 and check.duplicates == 0 and not check.checksum_ok and not check.ok


def test_reordering_is_counted_per_lane_only():
    sent, bodies = sent_and_bodies()
    swapped = verify([sent], [received([*bodies[:20], bodies[21], bodies[20], *bodies[22:]])])
    assert swapped.out_of_order == 1 and swapped.ok  # complete and unchanged, but reordered
    tally = ReceivedTally()  # two partitions, each in order, interleaved
    tally.add_batch(bodies, [seq % 2 for seq in range(len(bodies))])
    assert tally.out_of_order == 0


def tally_fields(tally: ReceivedTally) -> tuple[object, ...]:
    seen = {producer: bytes(bits).rstrip(b"\0") for producer, bits in tally.seen.items()}
    counts = (tally.count, tally.warmup, tally.checksum, tally.duplicates, tally.out_of_order)
    return (*counts, tally.malformed, seen, dict(tally.last_seq))


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_is_checked_exactly_as_message_by_message(seed):
    # Two producers over three lanes, with duplicates, reorderings and short bodies, received in
    # batches of random sizes: the batch checks count what `add` counts, one body at a time.
    rng = random.Random(seed)
    makers = [BodyMaker(producer, 100) for producer in (0, 1)]
    arrivals = [
        (maker.make(seq, 0, 0, warmup=seq < 5), rng.randrange(3))
        for seq in range(300)
        for maker in makers
    ]
    arrivals += rng.sample(arrivals, 20)  # duplicates, some in the same batch
    for _ in range(15):  # neighbours swapped: out of order within a lane when they share it
        at = rng.randrange(len(arrivals) - 1)
        arrivals[at], arrivals[at + 1] = arrivals[at + 1], arrivals[at]
    if seed % 2:
        arrivals.insert(rng.randrange(len(arrivals)), (b"short", 0))  # a malformed body
    one_by_one, batched, at = ReceivedTally(), ReceivedTally(), 0
    for body, lane in arrivals:
        one_by_one.add(body, lane)
    while at < len(arrivals):
        batch = arrivals[at : at + rng.randrange(1, 80)]
        lanes = [lane for _, lane in batch]
        batched.add_batch([body for body, _ in batch], lanes[0] if len(set(lanes)) == 1 else lanes)
        at += len(batch)
    assert tally_fields(batched) == tally_fields(one_by_one)
    assert one_by_one.duplicates >= 20 and one_by_one.out_of_order > 0  # the damage was there


def test_two_producers_are_told_apart():
    sent_a, bodies_a = sent_and_bodies(producer=0)
    sent_b, bodies_b = sent_and_bodies(producer=1)
    check = verify([sent_a, sent_b], [received(bodies_a + bodies_b[:-1])])
    assert check.sent == 200 and check.missing == 1


def test_bodies_have_exactly_the_message_size_and_a_readable_header():
    body = BodyMaker(3, 1000).make(42, 7, 8, warmup=True)
    assert len(body) == 1000 and HEADER.unpack_from(body) == (3, 1, 42, 7, 8)
    with pytest.raises(ValueError):
        BodyMaker(0, HEADER.size - 1)


# --- settings --------------------------------------------------------------------------------


def test_workload_splits_over_producers_without_losing_messages():
    w = bench.Workload(count=10, warmup=5, rate=100)
    shares = [w.share(i, 3) for i in range(3)]
    assert sum(s.count for s in shares) == 10 and sum(s.warmup for s in shares) == 5
    assert sum(s.rate for s in shares) == pytest.approx(100)
    with pytest.raises(ValueError):
        bench.Workload(count=10, duration_s=1)


def test_both_kafka_clients_get_the_same_values_under_their_own_names():
    k = bench.KafkaSettings(
        {"linger.ms": 20, "batch.size": 65536, "compression.type": "lz4", "fetch.wait.max.ms": 7}
    )
    java, librdkafka = k.java_producer(), k.librdkafka_producer()
    for key in ("acks", "linger.ms", "batch.size", "compression.type", "enable.idempotence"):
        assert java[key] == librdkafka[key]
    assert k.java_consumer()["fetch.max.wait.ms"] == k.librdkafka_consumer()["fetch.wait.max.ms"]
    text = bench.settings_text(k, 100)
    assert "linger.ms=20" in text and "batch.size=65536" in text and "compression.type=lz4" in text


def test_kafka_settings_are_written_as_kafka_spells_them_and_nothing_else_is_taken():
    assert (
        bench.KafkaSettings({"fetch.wait.max.ms": 0}).librdkafka_consumer()["fetch.wait.max.ms"]
        == "0"
    )
    with pytest.raises(ValueError, match="linger_ms: not a setting the harness gives both"):
        bench.KafkaSettings({"linger_ms": 0})  # a keyword spelling is refused, not translated
    with pytest.raises(TypeError):
        bench.KafkaSettings(linger_ms=0)  # type: ignore[call-arg]


def test_summary_pairs_python_with_native_of_the_same_settings():
    k = bench.KafkaSettings()
    other = bench.KafkaSettings({"linger.ms": 50})
    rows = []
    for settings, client, value in (
        (k, "python", 300.0),
        (k, "python", 500.0),
        (k, "native", 200.0),
        (other, "python", 100.0),
    ):
        row = bench.results.base_row(
            settings, bench.Workload(), client=client, tool="t", mode="produce", repeat=0
        )
        rows.append(bench.results.with_throughput(row, value, 1.0))
    table = bench.summary(bench.frame(rows)).set_index(["client", "settings"])
    python = table.loc[("python", bench.settings_text(k, 100))]
    assert python["throughput_msg_s"] == 400 and python["repeats"] == 2
    assert python["ratio_to_native"] == 2.0
    assert math.isnan(table.loc[("python", bench.settings_text(other, 100)), "ratio_to_native"])


def latency_row(settings, rate, client, tool, figures, resolution_ms=0.001, workload=None):
    """A latency row of `settings` at `rate` (None: a closed loop) with the given figures."""
    workload = workload or bench.Workload(count=1000, rate=rate)
    row = bench.results.base_row(
        settings, workload, client=client, tool=tool, mode="latency", repeat=0
    )
    row.update(figures, rate_msg_s=rate if rate else math.nan, latency_resolution_ms=resolution_ms)
    return row


def test_each_python_latency_rate_pairs_with_the_native_row_of_its_own_rate():
    rabbit = bench.RabbitMQSettings()
    rows = [
        # the harness: intended-time percentiles far above its actual-send (naive) ones
        latency_row(
            rabbit,
            300,
            "python",
            "pika",
            {"p50_ms": 40.0, "p99_ms": 90.0, "p50_naive_ms": 2.0, "p99_naive_ms": 5.0},
        ),
        latency_row(
            rabbit,
            1500,
            "python",
            "pika",
            {"p50_ms": 50.0, "p99_ms": 99.0, "p50_naive_ms": 3.0, "p99_naive_ms": 9.0},
        ),
        latency_row(rabbit, 300, "native", "PerfTest", {"p50_ms": 1.0, "p99_ms": 2.0}),
        latency_row(rabbit, 1500, "native", "PerfTest", {"p50_ms": 1.5, "p99_ms": 4.0}),
    ]
    table = bench.summary(bench.frame(rows))
    python = table[table["client"] == "python"].set_index("rate_msg_s")
    # Each rate minus PerfTest at that rate, from the actual send time as PerfTest times.
    assert python.loc[300, "p50_minus_native_ms"] == pytest.approx(1.0)
    assert python.loc[300, "p99_minus_native_ms"] == pytest.approx(3.0)
    assert python.loc[1500, "p50_minus_native_ms"] == pytest.approx(1.5)
    assert python.loc[1500, "p99_minus_native_ms"] == pytest.approx(5.0)
    assert python["compared"].str.contains("actual send").all()
    # No native row at a third rate: no difference rather than another rate's.
    rows.append(latency_row(rabbit, 4000, "python", "pika", {"p50_naive_ms": 8.0}))
    alone = bench.summary(bench.frame(rows)).set_index(["client", "rate_msg_s"])
    assert math.isnan(alone.loc[("python", 4000), "p50_minus_native_ms"])


def test_a_closed_loop_or_a_round_trip_is_never_subtracted_from_an_open_loop_figure():
    kafka, redis_one = bench.KafkaSettings({"linger.ms": 0}), bench.RedisSettings(pipeline=1)
    figures = {"p50_ms": 1.0, "p99_ms": 9.0, "mean_ms": 1.5, "p50_naive_ms": 0.4}
    rows = [
        latency_row(kafka, 500, "python", "confluent-kafka", figures),
        latency_row(kafka, None, "native", "EndToEndLatency", {"mean_ms": 1.6}, 1.0),
        latency_row(redis_one, 500, "python", "redis-py", figures),
        latency_row(redis_one, None, "native", "redis-benchmark", {"p50_ms": 0.1}),
    ]
    table = bench.summary(bench.frame(rows))
    python = table[table["client"] == "python"].set_index("broker")
    assert python[["p50_minus_native_ms", "p99_minus_native_ms"]].isna().all().all()
    assert "closed loop" in python.loc["kafka", "compared"]
    assert "without a consumer" in python.loc["redis", "compared"]


def throughput_row(settings, client, tool, mode, value, workload=None, repeat=0):
    workload = workload or bench.Workload()
    row = bench.results.base_row(
        settings, workload, client=client, tool=tool, mode=mode, repeat=repeat
    )
    return bench.results.with_throughput(row, value, 1.0)


def test_a_native_row_runs_the_clients_its_settings_say_or_is_no_reference():
    two = bench.KafkaSettings(partitions=2, consumers=2)
    # ConsumerPerformance is one consumer: it does not run consumers=2...
    assert "consumers=2" in bench.native.unlike_settings(two, "ConsumerPerformance")
    assert bench.native.unlike_settings(bench.KafkaSettings(), "ConsumerPerformance") == ""
    two_producers = bench.KafkaSettings(producers=2)
    assert "producers=2" in bench.native.unlike_settings(two_producers, "ProducerPerformance")
    # ...redis-benchmark writes one stream, with -c producer connections...
    assert "streams=2" in bench.native.unlike_settings(
        bench.RedisSettings(streams=2), "redis-benchmark"
    )
    assert bench.native.unlike_settings(bench.RedisSettings(producers=4), "redis-benchmark") == ""
    # ...PerfTest runs -x producers and -y consumers.
    rabbit_2 = bench.RabbitMQSettings(producers=2, consumers=2)
    assert bench.native.unlike_settings(rabbit_2, "PerfTest") == ""
    args = perftest.arguments(rabbit_2, bench.Workload(count=None, duration_s=1), "q", 2)
    assert args[args.index("-x") + 1] == args[args.index("-y") + 1] == "2"
    rows = []
    for settings in (two, bench.KafkaSettings()):
        native = throughput_row(settings, "native", "ConsumerPerformance", "consume", 400.0)
        native["unlike_settings"] = bench.native.unlike_settings(settings, "ConsumerPerformance")
        rows += [native, throughput_row(settings, "python", "confluent-kafka", "consume", 300.0)]
    table = bench.summary(bench.frame(rows)).set_index(["client", "settings"])
    refused = table.loc[("python", bench.settings_text(two, 100))]
    assert math.isnan(refused["ratio_to_native"])  # no ratio, and the reason
    assert "ran 1 consumer process" in refused["compared"]
    one = table.loc[("python", bench.settings_text(bench.KafkaSettings(), 100))]
    assert one["ratio_to_native"] == pytest.approx(0.75)


def test_summary_rows_never_mix_workloads():
    k = bench.KafkaSettings()
    small, large = bench.Workload(count=10_000), bench.Workload(count=500_000)
    rows = [
        throughput_row(k, "python", "confluent-kafka", "produce", 100.0, small, 0),
        throughput_row(k, "python", "confluent-kafka", "produce", 300.0, large, 0),
        throughput_row(k, "python", "confluent-kafka", "produce", 500.0, large, 1),
    ]
    table = bench.summary(bench.frame(rows).assign(experiment="one experiment"))
    assert len(table) == 2 and table["workload"].is_unique
    by_workload = table.set_index("workload")
    assert by_workload.loc[bench.results.workload_text(small), "repeats"] == 1
    assert by_workload.loc[bench.results.workload_text(large), "throughput_msg_s"] == 400
    # The same rows in two experiments are two summary rows each.
    twice = pd.concat([bench.frame(rows).assign(experiment=e) for e in ("a", "b")])
    assert len(bench.summary(twice)) == 4


def test_summary_csv_has_one_row_per_experiment_and_workload(tmp_path):
    two = bench.KafkaSettings(partitions=2, consumers=2)
    small, large = bench.Workload(count=10_000), bench.Workload(count=500_000)
    rows = [
        throughput_row(two, "python", "confluent-kafka", "consume", 300.0, small),
        throughput_row(two, "python", "confluent-kafka", "consume", 500.0, large),
        {
            **throughput_row(two, "native", "ConsumerPerformance", "consume", 400.0, large),
            "unlike_settings": bench.native.unlike_settings(two, "ConsumerPerformance"),
        },
    ]
    report.write(bench.frame(rows).assign(experiment="scaling"), tmp_path, notes={})
    written = pd.read_csv(tmp_path / "summary.csv")
    assert len(written) == 3 and (written["repeats"] == 1).all()
    assert written["ratio_to_native"].isna().all()  # one ConsumerPerformance is not consumers=2
    assert "ran 1 consumer process" in (tmp_path / "README.md").read_text()


def test_percentiles_over_repeats_come_from_the_merged_histograms():
    rabbit = bench.RabbitMQSettings()
    calm = [1.0] * 1000  # p99 1 ms
    stalled = [1.0] * 900 + [100.0] * 100  # p99 100 ms
    rows = []
    for repeat, values in enumerate((calm, stalled)):
        h = bench.from_ms(values)
        figures = bench.summary_ms(h)
        naive = {f"{k[:-3]}_naive_ms": figures[k] for k in ("p50_ms", "p99_ms", "p999_ms")}
        row = latency_row(rabbit, 500, "python", "pika", {**figures, **naive})
        encoded = histogram.encode(h)
        rows.append({**row, "repeat": repeat, "histogram": encoded, "histogram_naive": encoded})
    median_of_p99s = pd.Series([r["p99_ms"] for r in rows]).median()
    [merged] = bench.summary(bench.frame(rows)).to_dict("records")
    every_value = bench.summary_ms(bench.from_ms(calm + stalled))
    assert merged["p99_ms"] == pytest.approx(every_value["p99_ms"]) == pytest.approx(100, rel=1e-3)
    assert merged["p99_ms"] != pytest.approx(median_of_p99s, rel=0.1)  # 50.5 ms: no run's p99
    assert merged["p99_naive_ms"] == pytest.approx(every_value["p99_ms"])
    assert merged["mean_ms"] == pytest.approx(every_value["mean_ms"])


class SpinCountingClock(FakeClock):
    """A fake clock on which every reading takes 1 µs: the pacer's spinning is counted."""

    def __init__(self) -> None:
        super().__init__()
        self.spun_ns = 0

    def now(self) -> int:
        self.ns += 1000
        self.spun_ns += 1000
        return self.ns


@pytest.mark.parametrize("rate", [1_000, 5_000, 20_000])
def test_the_pacer_spins_at_most_a_tenth_of_its_period(rate):
    clock = SpinCountingClock()
    pacer = bench.FixedRate(rate, clock=clock.now, sleep=clock.sleep)
    clock.spun_ns = 0
    for i in range(1, 101):
        pacer.wait(i)
    period_ns = 1e9 / rate
    spun_per_send = clock.spun_ns / 100
    assert spun_per_send <= 0.1 * period_ns + 2000  # two readings of the clock beyond the spin
    assert clock.now() >= pacer.intended_ns(100)  # and still on time


def test_the_harness_per_message_producer_cost_is_a_microsecond_or_so():
    cost = bench.producer_cost_us(count=20_000)
    assert 0.05 < cost < 20  # clock, header, CRC-32: well under a client's own per-message cost


def test_the_comparison_ranks_brokers_only_from_rows_of_identical_settings():
    def produce(broker_settings, client, value, repeats=3):
        row = throughput_row(broker_settings, client, "t", "produce", value)
        return {**row, "repeats": repeats, "measured_at": "2026-12-01 10:00 UTC"}

    kafka, rabbit, redis_default = (
        bench.KafkaSettings(),
        bench.RabbitMQSettings(),
        bench.RedisSettings(),
    )
    rows = [
        produce(kafka, "python", 400e3),
        produce(kafka, "native", 300e3),
        produce(rabbit, "python", 5e3),
        produce(rabbit, "native", 20e3),
        produce(redis_default, "python", 50e3),
        produce(redis_default, "native", 250e3),
        # more producers: a different settings line, run by Python only
        produce(bench.RedisSettings(producers=4), "python", 900e3, repeats=1),
    ]
    table = pd.DataFrame(rows)
    # Kafka's 400k is first: Redis's 900k with four producers is another settings line.
    assert claims._throughput("kafka", table)["holds here"] == "yes: 1st of 3"
    best = claims.best_throughput(table)
    assert best.to_dict() == {"kafka": 300e3, "rabbitmq": 20e3, "redis": 250e3}  # native figures
    assert best.rank(ascending=False)["kafka"] == 1  # the 900k scaling row does not count
    assert claims.comparable(table).groupby("broker")["settings"].nunique().eq(1).all()
    assert claims.measured_on(table) == "2026-12-01 10:00 UTC"
    assert "measured 2026-12-01 10:00 UTC" in claims._throughput("kafka", table)["measured here"]


def tuning_inputs():
    batching = pd.DataFrame(
        {
            "throughput_msg_s": [1, 2, 3, 4, 5, 6.0],
            "p50_ms": [0.5, 1, 25, 0.7, 3, 26.0],
            "p99_ms": [1, 2, 50, 1.5, 6, 51.0],
        },
        index=pd.MultiIndex.from_product(
            [[16384, 1048576], [0, 5, 50]], names=["batch.size", "linger.ms"]
        ),
    )
    codecs = pd.DataFrame(
        {"ratio_to_none": [1, 0.2, 0.3], "producer_cpu_us_per_msg": [3, 20, 5.0]},
        index=["none", "gzip", "lz4"],
    )
    acks = pd.DataFrame({"throughput_msg_s": [3, 2, 1.0]}, index=["0", "1", "all"])
    fetch = pd.DataFrame(
        {"p50_ms": [1, 20, 250.0]},
        index=pd.MultiIndex.from_tuples(
            [(1, 500), (1024, 100), (65536, 500)], names=["fetch.min.bytes", "fetch.wait.max.ms"]
        ),
    )
    return batching, codecs, acks, fetch


def test_recommendations_follow_their_stated_rules():
    batching, codecs, _, fetch = tuning_inputs()
    chosen = tuning.recommendations(batching, codecs, fetch)["set"]
    assert chosen["highest throughput"] == "batch.size=1048576, linger.ms=50"
    assert chosen["lowest p99 latency"] == "batch.size=16384, linger.ms=0"
    assert chosen["throughput with p99 ≤ 2× the lowest"] == "batch.size=1048576, linger.ms=0"
    assert chosen["fewest bytes on disk"] == "compression.type=gzip"
    assert chosen.filter(like="small and cheap").iloc[0] == "compression.type=lz4"
    assert chosen["lowest consumer latency"] == "fetch.min.bytes=1, fetch.wait.max.ms=500"


def test_optimization_lines_are_judged_by_the_data():
    batching, codecs, acks, fetch = tuning_inputs()
    assert set(tuning.optimization_lines(batching, codecs, acks, fetch)["holds here"]) == {"yes"}
    acks_reversed = acks.assign(throughput_msg_s=[1, 2, 3.0])
    lines = tuning.optimization_lines(batching, codecs, acks_reversed, fetch)
    assert lines.loc["acks", "holds here"] == "no"


# --- the native tools' output, as they print it ------------------------------------------------

PRODUCER_PERFORMANCE = """\
Warmup first 50000 records. Steady state results will print after the complete test summary.
200000 records sent, 180505.415162 records/sec (17.21 MB/sec), 21.24 ms avg latency, 423.00 ms \
max latency, 13 ms 50th, 71 ms 95th, 75 ms 99th, 84 ms 99.9th.
150000 steady state records sent, 346420.323326 records/sec (33.04 MB/sec), 21.18 ms avg \
latency, 86.00 ms max latency, 11 ms 50th, 72 ms 95th, 75 ms 99th, 84 ms 99.9th.
"""

CONSUMER_PERFORMANCE = """\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-11-27 08:16:03:665, 2026-11-27 08:16:04:718, 19.0735, 18.1135, 200000, 189933.5233, 475, \
578, 32.9991, 346020.7612
"""

END_TO_END_LATENCY = """\
0\t151.11904800000002
1000\t0.968677
Avg latency: 2.6752 ms
Percentiles: 50th = 0, 99th = 24, 99.9th = 151
"""

PERF_TEST = """\
id: test-081620-447, starting producer #0, channel #0
id: test-081620-447, time 1.001 s, sent: 16954 msg/s, received: 13300 msg/s, min/median/75th/95th\
/99th consumer latency: 1240/365771/417271/435056/444370 µs
id: test-081620-447, time 2.002 s, sent: 19292 msg/s, received: 21846 msg/s, min/median/75th/95th\
/99th consumer latency: 197/24471/78949/294887/352499 µs
id: test-081620-447, time 3.000 s, sent: 31011 msg/s, received: 30197 msg/s, min/median/75th/95th\
/99th consumer latency: 1238/47785/59273/88660/106494 µs
test stopped (Producer reached message limit, Consumer reached message limit)
id: test-081620-447, sending rate avg: 24096 msg/s
id: test-081620-447, receiving rate avg: 24096 msg/s
id: test-081620-447, consumer latency min/median/75th/95th/99th 597/51376/86469/413028/442324 µs
"""

REDIS_BENCHMARK = """\
"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",\
"max_latency_ms"
"xadd probe-s1 * d xxxx","262123.19","0.225","0.040","0.191","0.415","1.271","6.023"
"""


def test_producer_performance_steady_state_line_is_the_figure():
    parsed = kafka_tools.parse_producer_performance(PRODUCER_PERFORMANCE)
    assert parsed["steady_state"] and parsed["records"] == 150000
    assert parsed["records_s"] == pytest.approx(346420.323326)
    total_only = PRODUCER_PERFORMANCE.splitlines()[1]
    assert kafka_tools.parse_producer_performance(total_only)["records"] == 200000


def test_consumer_performance_fetch_time_excludes_the_group_join():
    parsed = kafka_tools.parse_consumer_performance(CONSUMER_PERFORMANCE)
    assert parsed["records"] == 200000 and parsed["rebalance_ms"] == 475
    assert parsed["records"] / parsed["fetch_s"] == pytest.approx(parsed["fetch_records_s"], 1e-3)


def test_end_to_end_latency_average_without_the_first_record():
    parsed = kafka_tools.parse_end_to_end_latency(END_TO_END_LATENCY, records=2000)
    assert (parsed["p50_ms"], parsed["p99_ms"], parsed["p999_ms"]) == (0, 24, 151)
    assert parsed["first_ms"] == pytest.approx(151.119, 1e-4)
    assert parsed["mean_after_first_ms"] == pytest.approx((2.6752 * 2000 - 151.119) / 1999, 1e-4)


def test_perftest_rates_leave_out_the_warm_up_interval():
    parsed = perftest.parse_perftest(PERF_TEST)
    assert parsed["sent_msg_s"] == 24096 and parsed["intervals"] == 3
    assert parsed["steady_sent_msg_s"] == (19292 + 31011) / 2
    assert parsed["steady_received_msg_s"] == (21846 + 30197) / 2
    assert parsed["median_ms"] == 51.376 and parsed["p99_ms"] == 442.324
    # The steady intervals' worst median consumer latency: 47.785 ms, not the warm-up's 365 ms.
    assert parsed["worst_median_ms"] == 47.785


def test_a_throughput_whose_consumers_fell_behind_is_called_an_overload_figure():
    """Producers and consumers at once (RabbitMQ): a row is sustained only if the messages
    still waiting when the producers stopped drain within a second at the consumers' rate."""
    from lab.bench.processes import RunOutcome

    rabbit = bench.RabbitMQSettings()
    workload = bench.Workload(count=None, duration_s=1.0, warmup=0)

    def outcome(backlog: int) -> RunOutcome:
        maker, tally = BodyMaker(0, 100), SentTally(0)
        bodies = [maker.make(seq, 0, 0) for seq in range(20_000)]
        for body in bodies:
            tally.add(body)
        producer = {"sent": tally, "start_ns": 0, "end_ns": 1_000_000_000, "cpu_s": 1.0}
        consumer = {
            "received": received(bodies),
            "first_ns": 0,
            "last_ns": 2_000_000_000,
            "cpu_s": 1.0,
            "intended": None,
            "naive": None,
        }
        return RunOutcome([producer], [consumer], 2.0, backlog_at_producers_end=backlog)

    def rows(backlog: int) -> pd.DataFrame:
        made = bench.results.python_rows(
            rabbit, workload, outcome(backlog), tool="pika", latency=False, repeat=0
        )
        native = throughput_row(rabbit, "native", "PerfTest", "produce", 10_000.0)
        return bench.summary(bench.frame([*made, {**native, "sustained": True}]))

    # 10,000 msg/s consumed; 15,000 waiting = 1.5 s to drain: an overload figure.
    behind = rows(15_000).set_index(["client", "mode"])
    assert behind.loc[("python", "produce"), "sustained"] == False  # noqa: E712
    assert "overload figure for Python" in behind.loc[("python", "produce"), "compared"]
    # 2,000 waiting = 0.2 s: the consumers kept up.
    kept_up = rows(2_000).set_index(["client", "mode"])
    assert kept_up.loc[("python", "produce"), "sustained"] == True  # noqa: E712
    assert "overload" not in kept_up.loc[("python", "produce"), "compared"]


def test_log_dirs_sizes_add_up_per_topic():
    text = (
        '{"brokers":[{"broker":1,"logDirs":[{"partitions":[{"partition":"a-b-0","size":10},'
        '{"partition":"a-b-1","size":5},{"partition":"c-0","size":7}],"error":null,'
        '"logDir":"/d"}]}],"version":1}'
    )
    assert kafka_tools.parse_log_dirs(text, ["a-b", "c", "x"]) == {"a-b": 15, "c": 7, "x": 0}


def test_java_client_config_log_is_read_block_by_block():
    text = (
        "noise\nProducerConfig values: \n\tacks = -1\n\tbatch.size = 16384\n"
        "\tlinger.ms = 5\nafter\n\tnot = this\n"
    )
    values = kafka_tools.parse_config_values(text, "ProducerConfig")
    assert values == {"acks": "-1", "batch.size": "16384", "linger.ms": "5"}


def test_redis_benchmark_csv():
    parsed = redis_benchmark.parse_redis_benchmark_csv(REDIS_BENCHMARK)
    assert parsed["rps"] == 262123.19 and parsed["p50_ms"] == 0.191 and parsed["max_ms"] == 6.023


def test_unreadable_tool_output_is_a_clear_error():
    with pytest.raises(bench.native.ToolFailed, match="ProducerPerformance"):
        kafka_tools.parse_producer_performance("Exception in thread main")


def test_perftest_arguments_mirror_the_settings():
    settings = bench.RabbitMQSettings(
        confirms=True, persistent=True, prefetch=50, multi_ack_every=10, producers=2
    )
    args = perftest.arguments(settings, bench.Workload(count=None, duration_s=2, rate=100), "q", 3)
    pairs = set(zip(args, args[1:], strict=False))  # each flag with the argument after it
    for expected in (
        ("-x", "2"),
        ("-c", "1"),
        ("-f", "persistent"),
        ("-q", "50"),
        ("-A", "10"),
        ("-r", "50"),  # 100 msg/s over 2 producers
        ("-u", "q"),
        ("-z", "3"),
    ):
        assert expected in pairs, f"{expected} not in {args}"
    assert "--predeclared" in args


# --- one short real run per broker ---------------------------------------------------------


def test_brokers_are_ranked_by_their_own_tools_with_the_python_figure_beside():
    """A Python client can be the bottleneck (here Redis's Python row is the fastest): the
    ranking uses each broker's own tool, and says so."""

    def produce(broker_settings, client, value):
        row = throughput_row(broker_settings, client, "t", "produce", value)
        return {**row, "repeats": 3, "measured_at": "2026-12-03 10:00 UTC"}

    kafka, rabbit, redis_default = (
        bench.KafkaSettings(),
        bench.RabbitMQSettings(),
        bench.RedisSettings(),
    )
    table = pd.DataFrame(
        [
            produce(kafka, "python", 50e3),
            produce(kafka, "native", 400e3),
            produce(rabbit, "python", 9e3),
            produce(rabbit, "native", 20e3),
            produce(redis_default, "python", 100e3),
            produce(redis_default, "native", 250e3),
        ]
    )
    assert claims.best_throughput(table).rank(ascending=False).to_dict() == {
        "kafka": 1.0,
        "redis": 2.0,
        "rabbitmq": 3.0,
    }
    kafka_line = claims._throughput("kafka", table)
    assert kafka_line["holds here"] == "yes: 1st of 3"
    assert "50,000 msg/s python" in kafka_line["measured here"]
    assert "ranked by the native figure" in kafka_line["measured here"]
    # Without native rows, the Python figures rank, and the line says so.
    python_only = table[table["client"] == "python"]
    assert claims.best_throughput(python_only).idxmax() == "redis"
    assert (
        "ranked by the python figure" in claims._throughput("redis", python_only)["measured here"]
    )


def test_cpu_per_message_and_harness_over_bare_come_from_their_own_rows():
    redis_default = bench.RedisSettings()
    rows = []
    for client, value, cpu_s in (("python", 40e3, 2.0), ("bare", 50e3, 1.5), ("native", 80e3, 0.4)):
        row = throughput_row(redis_default, client, "t", "produce", value)
        rows.append({**row, "sent": 40_000, "cpu_s": cpu_s, "broker_cpu_s": 0.2})
    table = bench.summary(bench.frame(rows)).set_index("client")
    assert table.loc["python", "ratio_to_bare"] == pytest.approx(0.8)
    assert math.isnan(table.loc["native", "ratio_to_bare"])  # only Python rows have one
    assert table.loc["python", "client_cpu_us_per_msg"] == pytest.approx(2.0 / 40e3 * 1e6)
    assert table.loc["native", "client_cpu_us_per_msg"] == pytest.approx(0.4 / 80e3 * 1e6)
    assert table.loc["bare", "broker_cpu_us_per_msg"] == pytest.approx(0.2 / 40_000 * 1e6)
    # Another workload's bare row is no reference.
    other = bench.Workload(count=999)
    moved = [{**rows[1], "workload": bench.results.workload_text(other)}, rows[0]]
    assert math.isnan(
        bench.summary(bench.frame(moved)).set_index("client").loc["python", "ratio_to_bare"]
    )


TINY = bench.Workload(count=2000, warmup=200)


@pytest.mark.parametrize(
    "settings",
    [bench.KafkaSettings(), bench.RabbitMQSettings(), bench.RedisSettings()],
    ids=["kafka", "rabbitmq", "redis"],
)
def test_a_bare_run_counts_what_arrived_in_the_harness_window(broker_endpoints, settings):
    # Enough work for the broker to be charged CPU: the kernel charges CPU time by the clock
    # tick (10 ms), and 2,000 XADDs take Redis less than that, so they may be charged nothing.
    workload = {
        "kafka": bench.Workload(count=2000, warmup=200),
        "rabbitmq": bench.Workload(count=None, duration_s=0.5, warmup=200),
        "redis": bench.Workload(count=20_000, warmup=200),
    }[bench.settings.broker_of(settings)]
    rows = bench.bare_throughput(settings, workload, progress=False)
    assert list(rows["client"]) == ["bare", "bare"] and list(rows["mode"]) == ["produce", "consume"]
    assert (rows["received"] == rows["sent"]).all() and (rows["missing"] == 0).all()
    assert not rows["verified"].any()  # counted, never verified: the bodies carry no sequence
    assert (rows["throughput_msg_s"] > 0).all() and (rows["cpu_s"] > 0).all()
    assert (rows["broker_cpu_s"] > 0).all()  # the lab's native broker worked for it


def test_a_bare_latency_run_times_every_measured_message_from_its_due_time(broker_endpoints):
    settings = bench.KafkaSettings({"linger.ms": 0})
    workload = bench.Workload(count=300, warmup=50, rate=500)
    rows = pd.concat(
        [
            bench.bare_latency(settings, workload, progress=False),
            bench.latency(settings, workload, progress=False),
        ]
    )
    table = bench.summary(rows).set_index("client")
    bare = rows[rows["client"] == "bare"].iloc[0]
    assert bare["received"] == bare["sent"] == 350
    assert histogram.merge([bare["histogram"]]).get_total_count() == 300  # measured ones only
    assert table.loc["python", "p99_over_bare"] > 0  # the harness row has its bare reference
    assert math.isnan(table.loc["bare", "p99_over_bare"])


@pytest.mark.parametrize(
    "settings",
    [
        bench.KafkaSettings(partitions=2, consumers=2),
        bench.RabbitMQSettings(),
        bench.RedisSettings(producers=2, pipeline=16),
    ],
    ids=["kafka", "rabbitmq", "redis"],
)
def test_a_short_real_run_receives_exactly_what_was_sent(broker_endpoints, settings):
    rows = bench.throughput(settings, TINY, progress=False)
    assert list(rows["mode"]) == ["produce", "consume"]
    assert (rows["sent"] == 2200).all() and (rows["received"] == 2200).all()
    assert (rows["missing"] == 0).all() and (rows["duplicates"] == 0).all()
    assert rows["verified"].all() and (rows["out_of_order"] == 0).all()


def test_a_short_latency_run_times_every_measured_message(broker_endpoints):
    rows = bench.latency(
        bench.RedisSettings(pipeline=1, producers=1),
        bench.Workload(count=300, warmup=50, rate=500),
        progress=False,
    )
    [row] = rows.to_dict("records")
    assert row["verified"] and row["received"] == 350
    assert not math.isnan(row["p50_ms"]) and not math.isnan(row["p99_naive_ms"])


def test_native_tools_run_with_the_same_settings(broker_endpoints):
    kafka = bench.KafkaSettings()
    redis = bench.RedisSettings(producers=2, pipeline=16)
    rows = pd.concat(
        [
            bench.native.throughput(kafka, bench.Workload(count=5000, warmup=500)),
            bench.native.throughput(redis, bench.Workload(count=5000, warmup=0)),
        ]
    )
    assert set(rows["tool"]) == {"ProducerPerformance", "ConsumerPerformance", "redis-benchmark"}
    assert (rows[rows["tool"] == "ConsumerPerformance"]["received"] == 5500).all()
    assert rows[rows["tool"] == "redis-benchmark"]["verified"].all()  # 5000 XADDs or a few more
    assert rows[rows["broker"] == "kafka"]["settings"].nunique() == 1
    assert (rows["throughput_msg_s"] > 0).all()


# --- failures: one deadline for the run, no worker left behind --------------------------------


def _redis_producer(url: str, stream: str, index: int, workload: bench.Workload) -> dict:
    return {
        "url": url,
        "stream": stream,
        "pipeline": 1,
        "producer_id": index,
        "workload": workload,
    }


def _bench_children() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name.startswith("bench-")]


def test_a_worker_that_fails_to_start_fails_the_run_at_once_and_none_is_left(redis_ep):
    stream = unique_name("bench-fails")
    work = bench.Workload(count=100, warmup=0)
    waiting = [_redis_producer(redis_ep.url, stream, i, work) for i in range(3)]  # connect, wait
    refused = _redis_producer("redis://127.0.0.1:1/0", stream, 3, work)  # nothing listens there
    warm = processes.context().Process(target=time.sleep, args=(0,))  # the fork server up, with
    warm.start()  # the worker modules loaded, before the clock starts
    warm.join()
    began = time.monotonic()
    with pytest.raises(bench.RunFailed, match=r"producer 3 failed:(.|\n)*ConnectionError"):
        processes.run(
            redis_workers.produce,
            redis_workers.consume,
            [*waiting, refused],
            [],
            overlap=False,
            timeout_s=300,
        )
    # The three that were waiting for the start signal see the run stopped and exit together:
    # before, each was joined for 10 s in turn.
    assert time.monotonic() - began < 15
    assert _bench_children() == []
    redis.Redis.from_url(redis_ep.url).delete(stream)


ORPHAN_RUN = """
import json, multiprocessing, sys, threading, time
from multiprocessing import forkserver
from lab.bench import processes, redis_workers
from lab.bench.settings import Workload
from lab.brokers import endpoint
stream, out, timeout_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
url = endpoint("redis").url  # from the environment, never on a command line
work = Workload(count=None, duration_s=3600, warmup=0, rate=20)
producer = {"url": url, "stream": stream, "pipeline": 1, "producer_id": 0, "workload": work}
consumer = {"url": url, "streams": [(stream, 0)], "group": "bench", "name": "c0",
            "read_count": 10, "latency": True}
warm = processes.context().Process(target=time.sleep, args=(0,))  # the fork server up, with
warm.start()  # the worker modules loaded, before the deadline's clock starts
warm.join()
deadline = time.monotonic() + timeout_s
threading.Thread(target=processes.run, daemon=True,
                 args=(redis_workers.produce, redis_workers.consume, [producer], [consumer]),
                 kwargs={"overlap": True, "timeout_s": timeout_s}).start()
while len(workers := list(multiprocessing.active_children())) < 2:
    time.sleep(0.05)
pids = [p.pid for p in workers] + [forkserver._forkserver._forkserver_pid]
with open(out, "w") as f:
    json.dump({"pids": pids, "deadline": deadline}, f)
threading.Event().wait()
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its exit status waits to be collected


def _wait_for(condition, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}"
        time.sleep(0.1)


@pytest.mark.parametrize(
    "fate, timeout_s", [("killed", 3600), ("stopped", 6)], ids=["parent-killed", "parent-stuck"]
)
def test_workers_end_by_themselves_when_their_parent_dies_or_their_deadline_passes(
    redis_ep, tmp_path, fate, timeout_s
):
    """A paced producer and a consumer that would run for an hour. A parent SIGKILLed (a kernel
    killed mid-run) leaves them orphaned; a parent SIGSTOPped (alive, stuck) never ends the run:
    either way the workers end by themselves (the run's deadline is 6 s in the second case)."""
    stream, out = unique_name("bench-orphans"), tmp_path / "workers.json"
    r = redis.Redis.from_url(redis_ep.url)
    r.xgroup_create(stream, "bench", id="0", mkstream=True)
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_RUN, stream, str(out), str(timeout_s)], cwd=ROOT
    )
    pids: list[int] = []
    try:
        _wait_for(lambda: out.exists() and r.xlen(stream) >= 2, 60, "the run to start sending")
        started = json.loads(out.read_text())
        pids = started["pids"][:2] if fate == "stopped" else started["pids"]
        if fate == "killed":
            parent.kill()
            parent.wait(timeout=10)
        else:
            parent.send_signal(signal.SIGSTOP)
            assert time.monotonic() < started["deadline"], "stopped too late: the parent ended it"
        until_deadline = max(0.0, started["deadline"] - time.monotonic())
        within = 15 + (until_deadline if fate == "stopped" else 0)
        _wait_for(lambda: not any(map(_running, pids)), within, f"workers {pids} to exit")
    finally:
        if parent.poll() is None:
            parent.send_signal(signal.SIGCONT)
            parent.kill()
            parent.wait(timeout=10)
        for pid in filter(_running, pids):
            os.kill(pid, signal.SIGKILL)  # this test's own workers, if they failed to exit
        r.delete(stream)


def test_a_committed_read_waits_for_open_transactions_and_then_reads_to_the_end(kafka_ep):
    """While a transaction is open, a read_committed consumer cannot pass it: the count is not
    final, and the read says so at its deadline instead of returning what it had."""
    topic = kafka_bench.create_topic(unique_name("bench-tx-open"), 1)
    producer = Producer({**kafka_config(), "transactional.id": unique_name("bench-tx")})
    try:
        producer.init_transactions(30)
        producer.begin_transaction()
        producer.produce(topic, b"committed later")
        producer.flush(10)
        with pytest.raises(TimeoutError, match="still has an open transaction"):
            transactions.read_committed(topic, timeout_s=1)
        producer.commit_transaction(30)
        assert transactions.read_committed(topic) == [b"committed later"]
    finally:
        kafka_bench.delete_topic(topic)


# --- the broker's CPU ----------------------------------------------------------------------

# A stand-in for Redis's snapshot: on a line from its parent, the process forks a child that
# burns CPU, waits for it (the child's time then lives only in the parent's children_* counts),
# and says "waited".
FORKING = """
import os, sys, time
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        end = time.process_time() + float(line)
        while time.process_time() < end:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    print("waited", flush=True)
"""


def test_the_broker_cpu_counts_the_children_it_has_already_waited_for():
    tree = subprocess.Popen(
        [sys.executable, "-c", FORKING], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert tree.stdin is not None and tree.stdout is not None
    try:
        meter = usage.CpuMeter(tree.pid)
        idle = meter.seconds()
        tree.stdin.write("0.4\n")
        tree.stdin.flush()
        assert tree.stdout.readline().strip() == "waited"
        assert idle < 0.2  # before the child ran
        assert meter.seconds() >= 0.3  # its 0.4 s, though it was gone when the meter looked
    finally:
        tree.stdin.close()
        tree.wait(timeout=10)
    assert math.isnan(meter.seconds())  # its process ended: no figure from another one
    assert math.isnan(usage.CpuMeter(None).seconds())  # a broker the lab did not start


def test_targets_are_judged_from_the_rows_with_the_cpu_beside_them():
    kafka = bench.KafkaSettings()
    rows = []
    for client, produced, consumed in (
        ("python", 110e3, 50e3),
        ("bare", 120e3, 60e3),
        ("native", 100e3, 100e3),
    ):
        for mode, value in (("produce", produced), ("consume", consumed)):
            row = throughput_row(kafka, client, client, mode, value)
            rows.append({**row, "sent": 40_000, "cpu_s": 0.1, "broker_cpu_s": 0.04})
    table = targets.against(bench.summary(bench.frame(rows))).set_index(["mode", "figure"])
    assert table.loc[("produce", "ratio_to_native"), "met"]  # 1.1 >= 1.0
    assert not table.loc[("consume", "ratio_to_native"), "met"]  # 0.5 < 0.8
    assert table.loc[("produce", "ratio_to_bare"), "met"]  # 110/120 >= 0.9
    assert not table.loc[("consume", "ratio_to_bare"), "met"]  # 50/60 < 0.9
    missed = table.loc[("consume", "ratio_to_native")]
    assert missed["harness_cpu_us_per_msg"] == pytest.approx(0.1 / 50e3 * 1e6)
    assert (
        "serve at most" in missed["reason"]
        and table.loc[("produce", "ratio_to_native")]["reason"] == ""
    )
    assert set(table.reset_index()["broker"]) == {"kafka"}  # no rows, no verdict for the others
    assert "missed: kafka consume ratio_to_native" in targets.met_text(table.reset_index())


def test_every_kafka_message_is_timed_on_every_leg(kafka_ep):
    table, found = legs.measure(rate=400, seconds=1.0)
    # Every measured message (the warm-up left out) had its delivery report, its broker append
    # time (LogAppendTime) and its receipt: none is missing from any leg.
    assert (table["messages"] == 400).all()
    assert table["p99_ms"].notna().all()
    # librdkafka's statistics came in and split the client's queue from the broker round trip,
    # which no message can beat: the slowest round trip is at least the fastest delivery report
    delivered = table.loc["produce() to delivery report"]
    assert delivered["p50_ms"] * 0.5 <= found["rtt_max_ms"] <= delivered["max_ms"] * 5 + 5
    assert found["int_latency_max_ms"] >= 0
    if not np.isnan(found["stopped_ms"]) and not np.isnan(found["gc_ms"]):
        assert found["stopped_ms"] >= found["gc_ms"] - 1  # safepoints include the collections
    assert np.isnan(found["stolen_ms"]) or found["stolen_ms"] >= 0


def test_the_cpu_the_hypervisor_took_only_grows():
    first = usage.stolen_cpu_seconds()
    sum(range(2_000_000))  # a little CPU
    second = usage.stolen_cpu_seconds()
    assert (math.isnan(first) and math.isnan(second)) or 0 <= first <= second
