"""The sizing calculator: known loads give the sizes worked out by hand below, measured figures
are read from a bench summary.csv and labelled as measured, missing ones fall back with their
source in view, and bad input gets a sentence naming it. One test measures the real Kafka."""

import math

import pandas as pd
import pytest

from helpers import sizing
from helpers.naming import unique_name
from helpers.sizing import designs, measure
from helpers.sizing.figures import KREPS_2014

KAFKA_SAFE = 421_823 / 786_980  # Kreps 2014: 3x sync ÷ 3x async replication, = 0.5360...


def fallback(tmp_path):
    return sizing.load_figures(tmp_path / "no-bench-here")


def test_known_load_on_the_fallback_figures(tmp_path):
    """50,000 msg/s of 1,000 B, kept one day, two subscribers, durable, headroom 2: peak 100,000.

    Kafka: 10 MB/s per partition ÷ 1,000 B = 10,000 msg/s, × 0.5360 (acks=all) = 5,360 → 19
    partitions (100,000 ÷ 5,360 = 18.66); a consumer 10,000 msg/s → 10, fewer than 19. Kept:
    50 MB/s × 86,400 s = 4,320 GB, × 3 replicas = 12,960 GB. In 50 MB/s, out 100, replication 100.
    RabbitMQ: 50,000 msg/s per queue (50 MB/s allows 50,000 of 1,000 B) × 0.5 = 25,000 → 4
    queues per subscriber, 8 in all; consumers 100,000 ÷ 50,000 = 2; kept 4,320 × 2 = 8,640 GB.
    Redis: 20,000 × 0.5 = 10,000 → 10 streams; consumers 100,000 ÷ 20,000 = 5; 4,320 GB in RAM
    is above the 25 GB budget: it does not fit.
    """
    load = sizing.Load(50_000, 1_000, retention_s=86_400, fan_out=2)
    kafka, rabbitmq, redis = sizing.propose(load, fallback(tmp_path))
    assert kafka.lane_msg_s == pytest.approx(10_000 * KAFKA_SAFE)
    assert (kafka.lanes, kafka.consumers_per_group, kafka.groups) == (19, 10, 2)
    assert kafka.kept_gb == pytest.approx(12_960)
    assert (kafka.in_mb_s, kafka.out_mb_s, kafka.replication_mb_s) == (50, 100, 100)
    assert (rabbitmq.lanes, rabbitmq.lanes_per_group, rabbitmq.consumers_per_group) == (8, 4, 2)
    assert rabbitmq.kept_gb == pytest.approx(8_640)
    assert (redis.lanes, redis.consumers_per_group, redis.fits) == (10, 5, False)
    assert "4,320 GB retained in RAM" in redis.reasons[0]
    assert kafka.fits and kafka.p99_ms == 3  # Kreps 2014's p99, no target given
    for proposal in (kafka, rabbitmq, redis):  # enough, and not one lane more than needed
        assert proposal.capacity_msg_s >= load.peak_msg_s
        assert (proposal.lanes_per_group - 1) * proposal.lane_msg_s < load.peak_msg_s


def test_missing_measurements_fall_back_with_a_visible_label(tmp_path):
    figures = fallback(tmp_path)
    assert "does not exist (run `make bench`)" in figures.note
    sources = figures.sources()
    assert not sources["measured here"].any()
    assert sources["source"].str.contains("ASSUMPTION").any()
    kafka = sources[sources["broker"] == "kafka"].set_index("figure")["source"]
    assert KREPS_2014 in kafka["safe_factor"] and "5 Common Pitfalls" in kafka["produce_msg_s"]
    assert (sources["source"].str.len() > 20).all()  # every figure says where it comes from


def bench_summary(tmp_path):
    """A summary.csv in the bench's shape: Kafka measured, RabbitMQ and Redis not."""
    base = {"broker": "kafka", "client": "python", "rate_msg_s": math.nan, "p99_ms": math.nan}
    rows = [
        ("message size", "produce", 100, "acks=all partitions=1", 40_000),
        ("message size", "produce", 1_000, "acks=all partitions=1", 20_000),
        ("message size", "consume", 1_000, "acks=all partitions=1", 30_000),
        ("scaling", "produce", 1_000, "acks=all partitions=4", 5_000),  # not one lane: unused
        ("durability", "produce", 100, "acks=1 partitions=1", 80_000),
        ("durability", "produce", 100, "acks=all partitions=1", 40_000),
    ]
    table = [
        base
        | {"experiment": e, "mode": m, "message_bytes": b, "throughput_msg_s": t}
        | {"settings": f"message_bytes={b} {s}", "measured_at": "2026-12-01 10:00 UTC"}
        for e, m, b, s, t in rows
    ]
    table.append(
        base
        | {"experiment": "latency", "mode": "latency", "message_bytes": 100}
        | {"rate_msg_s": 5_000, "p99_ms": 4.2, "throughput_msg_s": math.nan}
        | {"settings": "message_bytes=100 acks=all linger.ms=0 partitions=1"}
    )
    pd.DataFrame(table).to_csv(tmp_path / "summary.csv", index=False)
    return sizing.load_figures(tmp_path, message_bytes=800)


def test_measured_figures_are_read_and_labelled(tmp_path):
    """800 B messages: the 1,000 B rows are the smallest size at least as big (20,000 msg/s
    produce, with acks=all already; 30,000 consume); acks=all ÷ acks=1 = 40,000 ÷ 80,000 = 0.5.

    4,000 msg/s, headroom 1, durable: one partition (20,000 ≥ 4,000), p99 4.2 ms (measured at
    5,000 msg/s, at least the 4,000 per partition). Not durable: 20,000 ÷ 0.5 = 40,000 per lane.
    30,000 msg/s, headroom 2: 60,000 ÷ 20,000 = 3 partitions of 20,000/s, above 5,000/s: no p99.
    """
    figures = bench_summary(tmp_path)
    kafka = figures.brokers["kafka"]
    assert kafka.produce_msg_s.measured and kafka.produce_msg_s.value == 20_000
    assert kafka.produce_is_safe and kafka.safe_factor.value == 0.5
    assert kafka.consume_msg_s.value == 30_000 and kafka.p99_ms.value == 4.2
    assert "measured here" in kafka.produce_msg_s.source and "1000 B" in kafka.produce_msg_s.source
    assert not figures.brokers["rabbitmq"].produce_msg_s.measured  # no RabbitMQ rows: fallback
    assert "CloudAMQP" in figures.brokers["rabbitmq"].produce_msg_s.source
    # ...for 100 B messages: 2,000 B ones are capped by its 50 MB/s, × 0.5 durable = 12,500
    rabbitmq = sizing.size(sizing.Load(1_000, 2_000), figures.brokers["rabbitmq"])
    assert rabbitmq.lane_msg_s == 12_500
    small = sizing.size(sizing.Load(4_000, 800, headroom=1, p99_target_ms=10), kafka)
    assert (small.lanes, small.p99_ms, small.fits) == (1, 4.2, True)
    tight = sizing.size(sizing.Load(4_000, 800, headroom=1, p99_target_ms=2), kafka)
    assert not tight.fits and "p99 4.2 ms above the 2 ms target" in tight.reasons
    fast = sizing.size(sizing.Load(4_000, 800, headroom=1, durable=False), kafka)
    assert fast.lane_msg_s == 40_000
    big = sizing.size(sizing.Load(30_000, 800, p99_target_ms=10), kafka)
    assert big.lanes == 3 and math.isnan(big.p99_ms) and big.fits
    assert any("p99 not checked" in reason for reason in big.reasons)


def test_each_figure_comes_from_the_first_folder_that_measured_it(tmp_path):
    """The bench's folder measured Kafka's produce rate but ran no durability pair; the quick
    measurement's folder measured both: the produce rate comes from the first, the safe factor
    (45,000 ÷ 90,000 = 0.5) from the second, RabbitMQ's figures from neither."""
    bench, quick = tmp_path / "bench", tmp_path / "quick"
    row = {"broker": "kafka", "client": "python", "mode": "produce", "message_bytes": 100}
    for folder, rates in ((bench, {"all": 60_000}), (quick, {"1": 90_000, "all": 45_000})):
        measure.save(
            pd.DataFrame(
                row
                | {"experiment": "durability", "throughput_msg_s": rate}
                | {"settings": f"message_bytes=100 acks={acks} partitions=1"}
                for acks, rate in rates.items()
            ),
            folder,
        )
    figures = sizing.load_figures([bench, quick, tmp_path / "absent"])
    kafka = figures.brokers["kafka"]
    assert kafka.produce_msg_s.value == 60_000 and str(bench) in kafka.produce_msg_s.source
    assert kafka.safe_factor.value == 0.5 and str(quick) in kafka.safe_factor.source
    assert not figures.brokers["rabbitmq"].produce_msg_s.measured
    assert str(bench) in figures.note and str(quick) in figures.note
    assert "do not exist" in sizing.load_figures([tmp_path / "a", tmp_path / "b"]).note


def test_a_slow_consumer_sets_the_partition_count(tmp_path):
    """10 ms of work per message: 100 msg/s per consumer; 1,000 msg/s, headroom 1 → 10
    consumers, so 10 partitions although one partition takes the writes."""
    kafka = fallback(tmp_path).brokers["kafka"]
    proposal = sizing.size(sizing.Load(1_000, 100, work_ms=10, headroom=1), kafka)
    assert (proposal.consumers_per_group, proposal.lanes) == (10, 10)
    assert sizing.size(sizing.Load(1_000, 100, headroom=1), kafka).lanes == 1


def test_the_recommendation_follows_the_requirements(tmp_path):
    figures = fallback(tmp_path)

    def choice(**requirements):
        load = sizing.Load(1_000, 200, **requirements)
        return sizing.recommend(load, sizing.propose(load, figures))

    assert choice(priorities=True)[0] == "rabbitmq"
    assert choice(replay=True, retention_s=3_600)[0] == "kafka"
    assert choice()[0] == "rabbitmq"  # a work queue: nothing retained, one subscriber
    broker, why = choice(priorities=True, replay=True)  # RabbitMQ cannot replay
    assert broker == "" and "no broker fits" in why


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"messages_per_s": -5, "message_bytes": 100}, "messages_per_s must be above 0"),
        ({"messages_per_s": 10, "message_bytes": 0}, "message_bytes must be at least 1"),
        ({"messages_per_s": 10, "message_bytes": 100, "fan_out": 0}, "fan_out must be at least"),
        ({"messages_per_s": 10, "message_bytes": 100, "headroom": 0.5}, "headroom must be at"),
    ],
)
def test_a_bad_load_is_refused_with_a_sentence(arguments, message):
    with pytest.raises(ValueError, match=message):
        sizing.Load(**arguments)


def test_both_problems_are_named_at_once():
    with pytest.raises(ValueError, match="messages_per_s .*; message_bytes"):
        sizing.Load(0, 0)


def test_a_file_that_is_not_a_bench_summary_is_refused(tmp_path):
    (tmp_path / "summary.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="lacks the columns .* bench summary.csv"):
        sizing.load_figures(tmp_path)


def test_a_design_node_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        sizing.design("x", [("a", ["a"], "database")], [])


def test_the_quick_measurement_counts_what_kafka_acknowledged_and_what_was_read(
    kafka_ep, topics, tmp_path
):
    run = unique_name("sizing")
    names = [topics.create(f"{run}.acks-{acks}") for acks in ("1", "all")]
    rows = measure.measure_partition(
        kafka_ep.url, names, f"{run}.g", count=2_000, message_bytes=200
    )
    assert list(rows["mode"]) == ["produce", "produce", "consume"]
    assert (rows["throughput_msg_s"] > 0).all()
    figures = sizing.load_figures(measure.save(rows, tmp_path).parent, message_bytes=200)
    kafka = figures.brokers["kafka"]
    assert kafka.produce_msg_s.measured and kafka.safe_factor.measured
    assert not kafka.p99_ms.measured  # no latency row: Kreps 2014's figure, labelled


def test_figures_are_read_from_what_the_bench_writes(tmp_path):
    """Rows made by the bench's own code (its settings lines, its summary and its columns):
    Kafka 100 B produce 50,000 msg/s with acks=all in the comparison, 90,000 with acks=1 and
    45,000 with acks=all in the durability experiment; RabbitMQ 8,000 without confirms, 2,000
    with; Redis 30,000 with the server's appendfsync. The lowest one-lane Kafka row of 100 B is
    45,000 (acks=all: already safe); the safe factors are 45,000 ÷ 90,000 = 0.5 and
    2,000 ÷ 8,000 = 0.25; Redis ran no durability pair, so its factor stays the assumption."""
    from lab.bench import KafkaSettings, RabbitMQSettings, RedisSettings, Workload, frame, summary
    from lab.bench.report import SUMMARY_COLUMNS
    from lab.bench.results import base_row, with_throughput

    runs = [
        ("100-byte comparison", KafkaSettings(), 50_000),
        ("durability", KafkaSettings({"acks": "1", "enable.idempotence": False}), 90_000),
        ("durability", KafkaSettings({"acks": "all"}), 45_000),
        ("durability", RabbitMQSettings(), 8_000),
        ("durability", RabbitMQSettings(confirms=True, persistent=True), 2_000),
        ("100-byte comparison", RedisSettings(server={"appendfsync": "everysec"}), 30_000),
    ]
    workload, rows = Workload(message_bytes=100, count=1_000), []
    for experiment, settings, rate in runs:
        row = base_row(
            settings, workload, client="python", tool="harness", mode="produce", repeat=0
        )
        rows.append(with_throughput(row, rate, 1.0) | {"experiment": experiment})
    made = summary(frame(rows))
    made[[c for c in SUMMARY_COLUMNS if c in made]].to_csv(tmp_path / "summary.csv", index=False)
    brokers = sizing.load_figures(tmp_path, message_bytes=100).brokers
    kafka, rabbitmq, redis = brokers["kafka"], brokers["rabbitmq"], brokers["redis"]
    assert (kafka.produce_msg_s.value, kafka.produce_is_safe) == (45_000, True)
    assert kafka.safe_factor.value == pytest.approx(0.5) and kafka.safe_factor.measured
    assert (rabbitmq.produce_msg_s.value, rabbitmq.produce_is_safe) == (2_000, True)
    assert rabbitmq.safe_factor.value == pytest.approx(0.25)
    assert redis.produce_msg_s.value == 30_000 and not redis.produce_is_safe
    assert not redis.safe_factor.measured and "ASSUMPTION" in redis.safe_factor.source


def test_a_design_is_drawn_with_the_numbers_of_its_proposal(tmp_path):
    """Round 1's load on the fallback figures: 5 ms of work, 6,000 msg/s at peak → 30
    consumers, so 30 partitions; the picture says so, and changes with the proposal."""
    figures = fallback(tmp_path).brokers["kafka"]
    kafka = sizing.size(sizing.Load(3_000, 1_000, fan_out=3, work_ms=5), figures)
    picture = designs.order_pipeline(kafka)
    assert "30 partitions" in picture.svg and "30 consumers" in picture.svg
    fewer = sizing.size(sizing.Load(300, 1_000, fan_out=3, work_ms=5), figures)  # 600 ÷ 200
    assert "3 partitions" in designs.order_pipeline(fewer).svg
