"""Stream processing's parts: the reference windows the engines are checked against, the engines'
own environments (the pinned versions, the conflict that keeps them out of .venv), and each
engine's windows pipeline on the real broker against the reference."""

import importlib.util
import subprocess
import time
import uuid

import pytest

from helpers.kafka import admin_client
from helpers.streams import crash, orders, processes, scaling
from lab.brokers import engines

WINDOW, STEP, GRACE = 1000, 500, 2000


@pytest.fixture
def topics(topics, kafka_ep):
    """The conftest's topics, and after the test also those Quix Streams created for its
    changelogs (their names contain the test's topic names)."""
    yield topics
    admin = admin_client(kafka_ep.url)
    made = [t for t in admin.list_topics(timeout=10).topics if t.startswith("changelog__")]
    ours = {name.rsplit("-", 1)[0] for name in topics.created}
    topics.created += [t for t in made if any(prefix in t for prefix in ours)]


def _order(order_id: int, event_ms: int) -> orders.Order:
    return orders.Order(order_id, "customer-0", 100, event_ms, "")


def test_an_order_counts_until_event_time_passes_its_window_end_plus_grace():
    sent = [_order(0, 105), _order(1, 2_505), _order(2, 905), _order(3, 3_105), _order(4, 15)]
    # order 2 (window [0, 1000)) arrives at event time 2505 < 1000 + 2000: late, counted;
    # order 4 (the same window) arrives at 3105 >= 1000 + 2000: its window is final, dropped
    assert orders.reference_windows(sent, WINDOW, WINDOW, GRACE) == {0: 2, 2000: 1, 3000: 1}
    assert [o.order_id for o in orders.dropped(sent, WINDOW, GRACE)] == [4]
    in_time = sorted(sent, key=lambda order: order.event_ms)
    assert orders.dropped(in_time, WINDOW, GRACE) == []  # the same orders in order: none late
    assert orders.reference_windows(in_time, WINDOW, WINDOW, GRACE) == {0: 3, 2000: 1, 3000: 1}


def test_a_sliding_window_per_order_counts_late_orders_only_where_not_expired():
    base = 10_000
    times = [105, 2_505, 905, 3_105, 15, 1_200]
    sent = [_order(i, base + t) for i, t in enumerate(times)]
    # 905 arrives after 2505, within grace: its own window [-95, 905] holds 105 and itself;
    # 15 arrives after 3105 (15 <= 3105 - 2000 - 1 - 1000): dropped, no window;
    # 1200 arrives late too, within grace: its window [200, 1200] holds 905 and itself
    assert orders.reference_sliding(sent, WINDOW, GRACE) == {
        base - 895: 1,
        base - 95: 2,
        base + 200: 2,
        base + 1_505: 1,
        base + 2_105: 2,
    }
    in_time = sorted(sent, key=lambda order: order.event_ms)  # the same orders in order
    assert orders.reference_sliding(in_time, WINDOW, GRACE)[base - 985] == 1  # 15 has one


def test_the_generated_orders_are_late_on_purpose_and_each_counted_or_dropped():
    sent = orders.late_orders(120, 1_000_000, 50, GRACE, WINDOW)
    dropped = orders.dropped(sent, WINDOW, GRACE)
    assert dropped and {o.lateness for o in dropped} == {"too late"}
    assert sum(orders.reference_windows(sent, WINDOW, WINDOW, GRACE).values()) == 120 - len(dropped)
    hopping = orders.reference_windows(sent, WINDOW, STEP, GRACE)
    assert (
        sum(hopping.values()) < 2 * 120
    )  # every order is in two hopping windows, but not all count
    assert [o.order_id for o in sent] != sorted(o.order_id for o in sent)  # not in event-time order
    assert all(o.event_ms % 10 == 5 for o in sent)  # never on a window boundary


def test_latency_is_from_the_closing_order_ack_to_the_result_broker_append_time():
    def result(start: int, appended_ms: int, log_append: bool = True) -> processes.Record:
        return processes.Record(None, {"start": start, "value": 1}, appended_ms, log_append)

    closed = [(1_000, 50_000.0), (2_000, 51_000.0)]  # window start, closing order acked (ms)
    results = [result(1_000, 50_008), result(2_000, 51_113), result(1_000, 52_000)]
    # one figure per window, from its first result's append time; a repeat does not count
    assert processes.latencies(results, closed) == [8.0, 113.0]
    with pytest.raises(ValueError, match="LogAppendTime"):  # a producer's timestamp is refused
        processes.latencies([result(1_000, 50_008, log_append=False)], closed[:1])
    with pytest.raises(ValueError, match="2000"):  # a window without a result is named
        processes.latencies(results[:1], closed)


def test_an_unknown_engine_is_refused_with_the_known_ones():
    with pytest.raises(engines.EngineError, match="quix, flink"):
        engines.requirements("spark")


@pytest.mark.parametrize(
    ("engine", "module", "package"),
    [("quix", "quixstreams", "quixstreams"), ("flink", "pyflink.version", "apache-flink")],
)
def test_each_engine_environment_holds_its_pinned_release(engine, module, package):
    pins = dict(
        line.split("==")
        for line in engines.requirements(engine).read_text().splitlines()
        if "==" in line
    )
    found = subprocess.run(
        [str(engines.python(engine)), "-c", f"import {module} as m; print(m.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert found.stdout.strip() == pins[package], found.stderr[-500:]
    assert importlib.util.find_spec(module.split(".")[0]) is None  # not in the lab's own .venv


def test_the_quix_environment_pins_a_client_the_lab_does_not():
    # the reason for an environment of its own: quixstreams 3.28 needs confluent-kafka < 2.13
    import confluent_kafka

    pins = engines.requirements("quix").read_text()
    assert "confluent-kafka==2.12." in pins
    assert not confluent_kafka.version()[0].startswith("2.12.")


def _windows_run(engine: str, kafka_url: str, topics, tmp_path, parallelism: int = 1):
    start = (int(time.time() * 1000) // WINDOW - 60) * WINDOW
    sent = orders.late_orders(60, start, 50, GRACE, WINDOW)
    closing = orders.closing_order(sent, GRACE, WINDOW)
    name = f"streams-test-{uuid.uuid4().hex[:8]}"
    source = topics.create(f"{name}-orders")
    orders.produce(kafka_url, source, [*sent, closing], key="shop")
    kinds = ("tumbling", "hopping", "sliding")[: 3 if engine == "quix" else 2]
    append = {"message.timestamp.type": "LogAppendTime"}  # the broker times each result
    sinks = tuple(topics.create(f"{name}-{kind}", config=append) for kind in kinds)
    folder = tmp_path / name
    job = processes.start_windows(
        engine, kafka_url, source, sinks, (WINDOW, STEP, GRACE), folder, parallelism
    )
    last = max(orders.reference_windows(sent, WINDOW, STEP, GRACE))

    def read(topic):
        return processes.read_topic(kafka_url, topic)

    try:
        if engine == "flink":
            job.wait(240)
        else:
            processes.wait_until(
                "the last window",
                lambda: last in processes.window_counts(processes.read_topic(kafka_url, sinks[1])),
                90,
                job,
            )
            closed = orders.produce_ticks(kafka_url, source, closing, 2, WINDOW, GRACE, "shop")
            processes.wait_until(
                "the live windows",
                lambda: {s for s, _ in closed} <= set(processes.append_times(read(sinks[0]))),
                30,
                job,
            )
            latency = processes.latencies(read(sinks[0]), closed)
            assert len(latency) == 2 and min(latency) >= 0  # one per live window, after its order
    finally:
        job.stop()

    def counts(topic):
        found = processes.window_counts(processes.read_topic(kafka_url, topic))
        return {start: n for start, n in found.items() if start < closing.event_ms - WINDOW}

    assert counts(sinks[0]) == orders.reference_windows(sent, WINDOW, WINDOW, GRACE)
    assert counts(sinks[1]) == orders.reference_windows(sent, WINDOW, STEP, GRACE)
    if engine == "quix":  # the sliding window too, late orders included
        assert counts(sinks[2]) == orders.reference_sliding(sent, WINDOW, GRACE)


def test_quix_streams_windows_match_the_reference(kafka_ep, topics, tmp_path):
    _windows_run("quix", kafka_ep.url, topics, tmp_path)


@pytest.mark.soak
@pytest.mark.parametrize("parallelism", [1, 2])
def test_flink_windows_match_the_reference_at_each_parallelism(
    kafka_ep, topics, tmp_path, parallelism
):
    _windows_run("flink", kafka_ep.url, topics, tmp_path, parallelism)


@pytest.mark.soak
def test_a_killed_flink_job_resumes_from_its_checkpoint_with_every_window_once(
    kafka_ep, topics, tmp_path
):
    start = (int(time.time() * 1000) // WINDOW - 60) * WINDOW
    sent = orders.late_orders(120, start, 50, GRACE, WINDOW)
    closing = orders.closing_order(sent, GRACE, WINDOW)
    name = f"streams-restore-{uuid.uuid4().hex[:8]}"
    io = (topics.create(f"{name}-orders"), topics.create(f"{name}-windows"))
    restored = crash.flink_kill_and_restore(
        kafka_ep.url, io, [*sent, closing], 90, (WINDOW, GRACE), tmp_path / name, 300
    )
    expected = orders.reference_windows(sent, WINDOW, WINDOW, GRACE)
    assert restored.windows == expected  # state (open windows, offsets) came back exact
    assert restored.outputs == len(expected)  # and no window was committed twice
    assert "chk-" in restored.restored_from


@pytest.mark.soak
def test_two_quix_instances_share_the_partitions_and_hand_state_over(kafka_ep, topics, tmp_path):
    start = int(time.time() * 1000) - 60_000
    sent = sorted(
        orders.late_orders(60, start, 50, GRACE, WINDOW, customers=8), key=lambda o: o.event_ms
    )
    name = f"streams-scale-{uuid.uuid4().hex[:8]}"
    io = (topics.create(f"{name}-in", 2), topics.create(f"{name}-out", 2))
    hand_over = scaling.share_then_hand_over(kafka_ep.url, io, sent, tmp_path / name, 120)
    assert hand_over.shared == [[0], [1]]  # one partition each, from the broker
    assert hand_over.after == [[0, 1]]  # the stopped one's partition moved
    assert hand_over.totals_exact  # with its state, rebuilt from the changelog
