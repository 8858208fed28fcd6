"""helpers.kafka against the real broker, including crashes and the failure paths."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import KafkaException

from helpers import kafka
from helpers.deadletter import DeadLetter
from helpers.naming import unique_name
from helpers.orders import parse_order
from tests.conftest import free_port


def test_topics_are_created_ready_and_deleted(topics, kafka_ep):
    name = topics.create(unique_name("t-topic"), partitions=3)
    metadata = kafka.admin_client(kafka_ep.url).list_topics(name, timeout=5).topics[name]
    assert len(metadata.partitions) == 3 and all(
        p.leader >= 0 for p in metadata.partitions.values()
    )
    topics.delete_all()
    deadline = time.monotonic() + 10
    while name in kafka.admin_client(kafka_ep.url).list_topics(timeout=5).topics:
        assert time.monotonic() < deadline, "topic was not deleted"
        time.sleep(0.2)
    topics.delete_all()  # idempotent


def test_delivery_log_counts_acks_per_partition_and_read_all_reads_everything(topics, kafka_ep):
    name = topics.create(unique_name("t-log"), partitions=2)
    producer, log = kafka.producer(kafka_ep.url), kafka.DeliveryReport()
    for i in range(100):
        producer.produce(name, key=str(i), value=str(i), on_delivery=log.report)
    producer.flush(30)
    assert log.delivered == 100 and not log.failed and sum(log.partitions.values()) == 100
    assert sorted(int(m.value()) for m in kafka.read_all(name, url=kafka_ep.url)) == list(
        range(100)
    )


def test_a_broker_that_is_down_fails_deliveries_with_a_reason():
    producer = kafka.producer(f"localhost:{free_port()}", {"message.timeout.ms": 1500})
    log = kafka.DeliveryReport()
    producer.produce("anything", value=b"x", on_delivery=log.report)
    # Nothing is left in the local queue when flush returns: message.timeout.ms (1.5 s) failed
    # the message, rather than flush giving up at its own limit with the message still queued.
    assert producer.flush(60) == 0 and log.delivered == 0
    assert len(log.failed) == 1 and "timed out" in log.failed[0].lower()


def test_idempotence_refuses_settings_that_would_break_it(kafka_ep):
    with pytest.raises(KafkaException, match="acks"):
        kafka.producer(kafka_ep.url, {"enable.idempotence": True, "acks": "1"})
    kafka.producer(kafka_ep.url, {"enable.idempotence": False, "acks": "1"})  # without it: fine


def test_settings_are_written_as_kafka_spells_them_and_never_translated(kafka_ep):
    with pytest.raises(TypeError):  # no keyword spelling (enable_idempotence=...) to translate
        kafka.producer(kafka_ep.url, enable_idempotence=False)
    with pytest.raises(KafkaException, match="No such configuration property"):
        kafka.producer(kafka_ep.url, {"enable_idempotence": False})  # passed as written


def test_read_committed_hides_aborted_transactions(topics, kafka_ep):
    name = topics.create(unique_name("t-txn"))
    writer = kafka.producer(kafka_ep.url, {"transactional.id": unique_name("t-writer")})
    writer.init_transactions(30)
    for outcome in ("commit", "abort"):
        writer.begin_transaction()
        writer.produce(name, value=outcome)
        writer.flush(30)
        if outcome == "commit":
            writer.commit_transaction(30)
        else:
            writer.abort_transaction(30)
    committed = kafka.read_all(name, url=kafka_ep.url)
    everything = kafka.read_all(name, url=kafka_ep.url, isolation="read_uncommitted")
    assert [m.value() for m in committed] == [b"commit"]
    assert sorted(m.value() for m in everything) == [b"abort", b"commit"]


def test_rebalance_timeline_leaves_the_extra_consumer_idle(topics, kafka_ep):
    name = topics.create(unique_name("t-group"), partitions=2)
    timeline = kafka.rebalance_timeline(
        name, unique_name("t-g"), 2, ["+a", "+b", "+c", "-a"], url=kafka_ep.url
    )
    assert timeline.loc["a joins", "a"] == "0,1"
    assert (timeline.loc["c joins", ["a", "b", "c"]] == "idle").sum() == 1
    assert "idle" not in timeline.loc["a leaves", ["b", "c"]].tolist()


def test_an_eager_rebalance_revokes_everything_a_cooperative_one_only_what_moves(topics, kafka_ep):
    name = topics.create(unique_name("t-group"), partitions=2)
    steps = ["+a", "+b"]
    eager, cooperative = (
        kafka.rebalance_timeline(name, unique_name("t-g"), 2, steps, strategy=s, url=kafka_ep.url)
        for s in (kafka.EAGER, kafka.COOPERATIVE)
    )
    assert eager.loc["b joins", "revoked_from_others"] == 2  # a gave up both partitions...
    assert cooperative.loc["b joins", "revoked_from_others"] == 1  # ...or only the one b took


def test_a_python_side_callback_setting_reaches_the_client(kafka_ep, topics):
    name = topics.create(unique_name("t-commit"))
    producer = kafka.producer(kafka_ep.url)
    producer.produce(name, value=b"x")
    producer.flush(30)
    commits = []
    reader = kafka.consumer(
        unique_name("t-g"), kafka_ep.url, {"on_commit": lambda err, parts: commits.append(err)}
    )
    reader.subscribe([name])
    assert len(kafka.consume_n(reader, 1, timeout_s=20)) == 1
    reader.commit(asynchronous=True)  # its result arrives through on_commit...
    deadline = time.monotonic() + 10
    while not commits and time.monotonic() < deadline:
        reader.poll(0.1)  # ...served by poll
    reader.close()
    assert commits == [None]


# (lost > 0, duplicated > 0) when the worker dies mid-batch, after some outputs were acknowledged
EXPECTED = {
    "at-most-once": (True, False),
    "at-least-once": (False, True),
    "exactly-once": (False, False),
}


def test_a_worker_killed_mid_batch_loses_or_duplicates_as_its_guarantee_says(
    topics, kafka_ep, tmp_path
):
    def crash(mode: str) -> dict:
        return _crash_experiment(topics, kafka_ep, tmp_path / mode, mode, kill_every=300)

    with ThreadPoolExecutor(max_workers=len(EXPECTED)) as pool:  # side by side, as notebook 04
        results = dict(zip(EXPECTED, pool.map(crash, EXPECTED), strict=True))
    for mode, result in results.items():
        assert (result["lost"] > 0, result["duplicated"] > 0) == EXPECTED[mode], result
        assert result["unexpected"] == 0, result
    # Where the group's commit sat when the worker died: past the outputs it had written (the
    # rest of the batch is skipped), or short of them (the batch is done again, or its
    # transaction aborted).
    at_crash = {mode: result["at_crash"] for mode, result in results.items()}
    assert at_crash["at-most-once"]["committed"] > at_crash["at-most-once"]["outputs"], at_crash
    for mode in ("at-least-once", "exactly-once"):
        assert at_crash[mode]["committed"] < at_crash[mode]["outputs"], at_crash


def test_exactly_once_survives_kills_at_random_moments(topics, kafka_ep, tmp_path):
    result = _crash_experiment(topics, kafka_ep, tmp_path, "exactly-once", kill_within_s=1.0)
    assert result["lost"] == 0 and result["duplicated"] == 0, result


def _crash_experiment(topics, kafka_ep, tmp_path, mode, **kill) -> dict:
    source = topics.create(unique_name("t-in"), partitions=2)
    output = topics.create(unique_name("t-out"), partitions=2)
    keys = kafka.produce_numbered(source, 1000, url=kafka_ep.url)
    group, at_crash = unique_name("t-proc"), []

    def look(_crash: int) -> None:  # the killed worker's group, before the next one starts
        at_crash.append(kafka.progress_at_crash(source, output, group, url=kafka_ep.url))

    result = kafka.run_with_crashes(
        mode,
        input_topic=source,
        output_topic=output,
        group=group,
        input_keys=keys,
        crashes=1,
        workdir=tmp_path,
        url=kafka_ep.url,
        on_crash=look,
        **kill,
    )
    return result | {"at_crash": at_crash[0]}


def test_poison_messages_go_to_the_dead_letter_topic_with_error_headers(topics, kafka_ep):
    source = topics.create(unique_name("t-orders"))
    topics.create(kafka.dead_letter_topic(source))
    producer = kafka.producer(kafka_ep.url)
    for body in [json.dumps({"order_id": 1, "amount": 2}), "{bad", json.dumps({"order_id": 3})]:
        producer.produce(source, value=body)
    producer.flush(30)
    report = kafka.process_or_dead_letter(
        source, unique_name("t-dlt"), lambda m: parse_order(m.value()), url=kafka_ep.url
    )
    assert report.processed == [{"order_id": 1, "amount": 2}] and report.dead_lettered == 2
    dead = kafka.read_all(kafka.dead_letter_topic(source), url=kafka_ep.url)
    letters = [DeadLetter.read(m.headers()) for m in dead]
    assert [letter.position for letter in letters] == ["0:1", "0:2"]
    assert {letter.reason for letter in letters} == {"malformed"}
    assert all(letter.error.startswith("MalformedMessage: ") for letter in letters)
