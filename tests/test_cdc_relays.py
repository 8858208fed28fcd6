"""The parts of change data capture's lesson that need no Kafka Connect, on the lab's PostgreSQL
and Kafka: one long-lived psql session, the polling outbox relay (killed mid-stream: nothing
lost, repeats only of what it had published), PostgreSQL's counters of its reads, and the read
model that resumes from the positions it stored (and the one that lost them, which skips)."""

import json
import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import Producer

from helpers.background import Background
from helpers.cdc import database, outbox, readmodel
from helpers.cdc import relay as polling
from helpers.faults import count_lost_and_duplicated
from helpers.kafka import Topics
from lab.brokers import require
from lab.brokers.config import kafka_config


@pytest.fixture(scope="module")
def kafka_topics():
    topics = Topics(require("kafka")["kafka"].url)
    database.ensure_running()
    yield topics
    topics.delete_all()


@pytest.fixture
def name() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


def test_a_session_keeps_one_server_process_and_says_what_postgres_refused(name):
    session = database.Session(name)
    try:
        assert session.run("SELECT pg_backend_pid()") == [[str(session.backend_pid)]]
        assert outbox.backend_pid(name) == session.backend_pid  # named in pg_stat_activity
        assert session.run("SELECT 1, 'a'; SELECT 2") == [["1", "a"], ["2"]]
        with pytest.raises(database.DatabaseError, match="does not exist"):
            session.run("SELECT * FROM no_such_table_here")
    finally:
        session.close()


def _until(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_the_polling_relay_killed_mid_stream_loses_nothing(kafka_topics, name, tmp_path):
    orders, debezium_outbox, polled = f"o_{name}", f"x_{name}", f"p_{name}"
    outbox.create_tables(orders, debezium_outbox)
    outbox.create_polled_outbox(polled)
    topic = kafka_topics.create(f"{name}-polled")
    try:
        first = polling.start_relay(polled, topic, interval_s=0.05, name=name, workdir=tmp_path)
        writer = Background(outbox.write_orders, orders, debezium_outbox, polled, range(40), 40.0)
        _until(lambda: len(outbox.event_ids(topic)) >= 5)
        first.kill()  # mid-stream, most likely: the service writes for a second
        _until(lambda: not writer.running)
        written = writer.stop()
        stopped = Background(
            outbox.write_orders, orders, debezium_outbox, polled, range(40, 50), 1e3
        )
        _until(lambda: not stopped.running)
        written += stopped.stop()  # committed while the relay is dead
        unsent = int(database.scalar(f"SELECT count(*) FROM {polled} WHERE sent_at IS NULL"))
        assert unsent >= 10
        second = polling.start_relay(polled, topic, interval_s=0.05, name=name, workdir=tmp_path)
        _until(lambda: set(written) <= set(outbox.event_ids(topic)))
        assert second.stop() == 0
        on_topic = outbox.event_ids(topic)
        counts = count_lost_and_duplicated(written, on_topic)
        assert counts["lost"] == 0 and counts["delivered_once_or_more"] == 50
        assert counts["duplicated"] == sum(n - 1 for n in Counter(on_topic).values())
        reads = outbox.relay_reads(polled)  # counted by PostgreSQL, reported at the relay's exit
        assert reads["updated"] >= 50 and reads["scans"] > 0
        assert outbox.relay_reads(debezium_outbox)["updated"] == 0
        assert database.scalar(f"SELECT count(*) FROM {polled} WHERE sent_at IS NULL") == "0"
    finally:
        database.run(f"DROP TABLE IF EXISTS {orders}, {debezium_outbox}, {polled}")


def _debezium_event(op: str, key: int, version: int, status: str) -> bytes:
    row = {"id": key, "status": status, "version": version}
    before, after = (row, None) if op == "d" else (None, row)
    return json.dumps({"before": before, "after": after, "op": op}).encode()


def test_the_read_model_resumes_from_its_stored_positions(kafka_topics, name, tmp_path):
    """A change topic in Debezium's shape, produced here; the projector stops half-way, more
    changes arrive, and it starts again: equal to what the changes say. One that lost its
    positions and starts at the end skips what came while it was stopped."""
    topic = kafka_topics.create(f"{name}-changes", partitions=3)
    producer = Producer(kafka_config())

    def send(*changes: tuple[str, int, int, str]) -> None:
        for op, key, version, status in changes:
            event = _debezium_event(op, key, version, status)
            producer.produce(topic, key=json.dumps({"id": key}), value=event)
            if op == "d":
                producer.produce(topic, key=json.dumps({"id": key}), value=None)  # tombstone
        assert producer.flush(10) == 0

    send(*[("c", key, 1, "placed") for key in range(1, 9)], ("u", 2, 2, "paid"))
    model = readmodel.ReadModel(tmp_path / "model.db")
    lost = readmodel.ReadModel(tmp_path / "lost.db")
    first = readmodel.project(topic, model, stop_after=5)
    readmodel.project(topic, lost, stop_after=5)
    lost.db.execute("DELETE FROM positions")
    stopped_at = model.positions()
    model.close()
    send(("u", 3, 2, "shipped"), ("d", 4, 1, "placed"), ("c", 9, 1, "placed"))
    model = readmodel.ReadModel(tmp_path / "model.db")
    resumed = readmodel.project(topic, model)
    skipped = readmodel.project(topic, lost, from_end_if_new=True)
    expected = {key: ("placed", 1) for key in (1, 5, 6, 7, 8, 9)} | {2: ("paid", 2)}
    expected[3] = ("shipped", 2)
    assert model.rows() == expected
    assert resumed.started_at == {p: stopped_at.get(p, 0) for p in resumed.started_at}
    assert first.applied + resumed.applied == 9 + 3 + 1  # every message once (a tombstone too)
    assert skipped.applied == 0 and lost.rows() != expected
    model.close()
    lost.close()
