"""The backpressure experiments of notebook 12 against the real brokers: each helper measures what
it says, ends on a condition within a deadline, and cleans up after itself."""

from __future__ import annotations

import socket
import time

import pytest
import redis
from confluent_kafka import Consumer, TopicPartition

from helpers.backpressure import kafka as kafka_backpressure
from helpers.backpressure import rabbitmq as rabbitmq_backpressure
from helpers.backpressure import redis as redis_backpressure
from helpers.kafka import admin as kafka_admin
from helpers.kafka import consumer, flush_or_raise, producer
from helpers.naming import unique_name
from tests.conftest import USE_TESTCONTAINERS, free_port

# --- Kafka: lag read by one client per group, closed at the end ---------------------------------


@pytest.fixture
def built(monkeypatch):
    """Every Kafka consumer and admin client built while a test runs (real ones, counted)."""
    made: dict[str, list] = {"consumers": [], "admin clients": []}

    def counted_consumer(group, url=None, **overrides):
        client = consumer(group, url, **overrides)
        made["consumers"].append(client)
        return client

    class CountedAdminClient(kafka_admin.AdminClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made["admin clients"].append(self)

    monkeypatch.setattr(kafka_backpressure, "consumer", counted_consumer)
    monkeypatch.setattr(kafka_admin, "AdminClient", CountedAdminClient)
    return made


def _closed(client: Consumer) -> bool:
    try:
        client.assignment()
    except RuntimeError:  # "Consumer closed"
        return True
    return False


def test_lag_is_read_by_one_client_per_group_and_falls_only_where_consumers_join(
    kafka_ep, topics, built
):
    topic = topics.create(unique_name("bp-lag"), partitions=3)
    groups = [
        kafka_backpressure.Group("alone", unique_name("bp-alone"), added=0),
        kafka_backpressure.Group("scaled", unique_name("bp-scaled"), added=2),
    ]
    result = kafka_backpressure.lag_while_scaling(
        topic, groups, partitions=3, rate_per_s=800, produce_s=4.0, work_s=0.002, add_at_s=1.0
    )
    samples = len(result["timeline"]) // len(groups)
    members = sum(1 + g.added for g in groups)
    # One reader per group for the whole experiment (a client per sample would make 2 x samples),
    # no admin client at all, and every client closed by the time the experiment returns.
    assert samples > 10
    assert len(built["consumers"]) == members + len(groups)
    assert built["admin clients"] == []
    assert all(_closed(client) for client in built["consumers"])
    lag = {g.label: [r["lag"] for r in result["timeline"] if r["group"] == g.label] for g in groups}
    # It ends once the group that grew has caught up; the one left alone is still far behind.
    assert lag["scaled"][-1] == 0 and lag["alone"][-1] > 0.5 * max(lag["alone"])


def test_group_lag_counts_from_the_start_until_a_commit_then_from_the_commit(kafka_ep, topics):
    topic = topics.create(unique_name("bp-commit"), partitions=2)
    out = producer(kafka_ep.url)
    for i in range(30):
        out.produce(topic, key=str(i), value=b"x", partition=i % 2)
    flush_or_raise(out)
    group = unique_name("bp-commit-g")
    with kafka_backpressure.GroupLag(topic, group, 2) as lag:
        assert lag.read(committed_yet=False) == 30
        assert lag.read(committed_yet=True) == 30  # asked, and nothing is committed yet
        committer = consumer(group, kafka_ep.url)
        try:
            committer.commit(offsets=[TopicPartition(topic, 0, 10)], asynchronous=False)
        finally:
            committer.close()
        assert lag.read(committed_yet=True) == 20  # partition 0 from offset 10, 1 from its start


def test_waiting_for_room_gives_up_at_its_deadline_when_the_broker_never_answers():
    nowhere = producer(f"localhost:{free_port()}", {"queue.buffering.max.messages": 10})
    began = time.monotonic()
    with pytest.raises(TimeoutError, match="no room in the local queue for 1 s"):
        kafka_backpressure.produce_waiting_for_room(nowhere, "t", [b"x"] * 100, timeout_s=1)
    assert time.monotonic() - began < 5  # the deadline, not librdkafka's 5-minute timeout
    nowhere.purge()


# --- RabbitMQ ------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [7, 0])
def test_what_the_consumer_holds_is_counted_exactly_after_its_last_ack(rabbitmq_ep, prefetch):
    run = rabbitmq_backpressure.depth_over_time(
        unique_name("bp-depth"), prefetch=prefetch, rate_per_s=600, produce_s=1.0, work_s=0.004
    )
    assert run["published"] == run["ready_at_end"] + run["acked"] + run["held_by_consumer"]
    if prefetch:
        assert run["held_by_consumer"] == prefetch and run["ready_at_end"] > 0
    else:  # no limit: the broker pushed everything, the queue looks empty
        assert run["ready_at_end"] == 0 and run["held_by_consumer"] > 50


def test_a_dead_letter_queue_gets_exactly_what_drop_head_dropped(rabbitmq_ep):
    run = rabbitmq_backpressure.overflow(
        unique_name("bp-full"), policy="drop-head", max_length=30, count=200, dead_letter=True
    )
    assert (run["confirmed"], run["kept"], run["dead_lettered"]) == (200, 30, 170)
    assert run["kept_first_last"] == (170, 199) and run["confirmed_then_gone"] == 0


@pytest.mark.skipif(USE_TESTCONTAINERS, reason="raises the alarm of the lab's own RabbitMQ")
def test_the_memory_alarm_blocks_the_publisher_not_the_consumer(rabbitmq_ep):
    run = rabbitmq_backpressure.publish_through_alarm(
        unique_name("bp-alarm"), hold_s=0.5, backlog=50
    )
    assert run["published_during_alarm"] == 0 and run["published_after_alarm"] > 0
    assert run["consumed_during_alarm"] == 50
    assert run["publisher_events"][:2] == ["blocked: low on memory", "unblocked"]


# --- Redis: a memory cap on a server of its own ------------------------------------------------


def test_a_memory_cap_refuses_xadd_and_the_previous_settings_come_back():
    with redis_backpressure.private_redis() as r:
        r.config_set("maxmemory-policy", "allkeys-lru")  # not the policy the experiment uses
        before = r.config_get("maxmemory*")
        run = redis_backpressure.refused_when_full(
            r, "bp:full", headroom_bytes=200_000, entry_bytes=500
        )
        assert r.config_get("maxmemory*") == before
        port = r.connection_pool.connection_kwargs["port"]
    assert 0 < run["accepted"] < 200_000 // 500 and run["xlen_when_full"] == run["accepted"]
    assert run["refusal"] == "OutOfMemoryError: command not allowed when used memory > 'maxmemory'."
    assert run["accepted_after_trim"] is True
    with socket.socket() as probe:  # the server of its own is gone
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_shared_redis_is_not_capped(redis_ep):
    shared = redis.Redis.from_url(redis_ep.url)
    before = shared.config_get("maxmemory*")
    with redis_backpressure.private_redis() as r:
        redis_backpressure.refused_when_full(r, "bp:full", headroom_bytes=100_000, entry_bytes=500)
        assert shared.config_get("maxmemory*") == before
    shared.close()
