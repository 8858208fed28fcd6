"""helpers.rabbitmq against the real RabbitMQ, including the failure paths."""

import json
import time

import pika
import pytest

from helpers.deadletter import DeadLetter
from helpers.faults import count_lost_and_duplicated
from helpers.naming import unique_name
from helpers.orders import MalformedMessage, parse_order
from helpers.rabbitmq import (
    RpcClient,
    RpcServer,
    RpcTimeout,
    Topology,
    competing_consumers,
    connect,
    consume_or_dead_letter,
    declare_retry_topology,
    drain,
    process_with_retries,
    publish_confirmed,
    publish_json,
    start_worker,
    wait_until_unconsumed,
)
from lab.brokers import BrokersUnavailable
from tests.conftest import free_port


@pytest.fixture
def channel(rabbitmq_ep):
    connection = connect(rabbitmq_ep.url)
    yield connection.channel()
    connection.close()


@pytest.fixture
def topology(rabbitmq_ep):
    connection = connect(rabbitmq_ep.url)
    topology = Topology(connection.channel())
    yield topology
    topology.delete_all()
    connection.close()


def test_connect_to_a_broker_that_is_down_fails_fast_and_names_the_fix():
    began = time.monotonic()
    with pytest.raises(BrokersUnavailable, match="make brokers-up"):
        connect(f"amqp://guest:guest@localhost:{free_port()}/%2F")
    assert time.monotonic() - began < 5


def test_wrong_credentials_are_named(rabbitmq_ep):
    url = rabbitmq_ep.url.replace("guest:guest", "guest:wrong")
    with pytest.raises(BrokersUnavailable, match="refused the login"):
        connect(url)


def test_publish_json_and_drain_round_trip_and_topology_cleanup(topology, channel):
    queue = topology.queue(unique_name("t-q"))
    for i in range(5):
        publish_json(topology.channel, queue, {"order_id": i, "amount": i}, message_id=str(i))
    got = drain(topology.channel, queue)
    assert [m.json()["order_id"] for m in got] == [0, 1, 2, 3, 4]
    assert [m.message_id for m in got] == ["0", "1", "2", "3", "4"]
    assert topology.message_count(queue) == 0
    topology.delete_all()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
        channel.queue_declare(queue=queue, passive=True)


@pytest.mark.parametrize("batch_size", [1, 50])
def test_confirms_ack_every_message_that_reached_the_queue(topology, rabbitmq_ep, batch_size):
    queue = topology.queue(unique_name("t-confirm"), durable=True)
    report = publish_confirmed([b"m"] * 200, queue, batch_size=batch_size, url=rabbitmq_ep.url)
    assert sorted(report.acked) == list(range(200)) and report.nacked == []
    assert topology.message_count(queue) == 200 and report.throughput_msg_s > 0


def test_confirms_name_exactly_the_messages_a_full_queue_refused(topology, rabbitmq_ep):
    full = {"x-max-length": 10, "x-overflow": "reject-publish"}
    queue = topology.queue(unique_name("t-full"), arguments=full)
    bodies = [str(i).encode() for i in range(25)]
    report = publish_confirmed(bodies, queue, batch_size=25, url=rabbitmq_ep.url)
    assert sorted(report.acked) == list(range(10))
    assert sorted(report.nacked) == list(range(10, 25))
    assert [m.body for m in drain(topology.channel, queue)] == bodies[:10]


def test_without_confirms_the_publisher_learns_nothing(topology, rabbitmq_ep):
    queue = topology.queue(unique_name("t-noconfirm"))
    report = publish_confirmed([b"m"] * 100, queue, batch_size=None, url=rabbitmq_ep.url)
    assert report.acked == [] and report.nacked == [] and report.seconds > 0
    assert len(drain(topology.channel, queue)) == 100


def test_prefetch_one_gives_the_fast_consumer_most_of_the_work(topology, rabbitmq_ep):
    queue = topology.queue(unique_name("t-work"))
    messages = [str(i).encode() for i in range(60)]
    work = {"slow": 0.03, "fast": 0.001}
    fair = competing_consumers(queue, work, messages, prefetch=1, url=rabbitmq_ep.url)
    assert sum(fair.counts.values()) == 60
    assert fair.counts["fast"] > 2 * fair.counts["slow"]
    assert topology.message_count(queue) == 0


def test_unlimited_prefetch_splits_the_work_round_robin(topology, rabbitmq_ep):
    queue = topology.queue(unique_name("t-work"))
    messages = [str(i).encode() for i in range(60)]
    work = {"slow": 0.005, "fast": 0.001}
    split = competing_consumers(queue, work, messages, prefetch=0, url=rabbitmq_ep.url)
    assert split.counts == {"slow": 30, "fast": 30}


@pytest.mark.parametrize("ack", ["manual", "auto"])
def test_a_worker_killed_before_an_ack_loses_nothing_with_manual_acks_only(
    topology, rabbitmq_ep, tmp_path, ack
):
    queue = topology.queue(unique_name(f"t-kill-{ack}"), durable=True)
    ids = [str(i) for i in range(200)]
    publish_confirmed([i.encode() for i in ids], queue, batch_size=200, url=rabbitmq_ep.url)
    worker = start_worker(queue, ack=ack, workdir=tmp_path, prefetch=20, work_s=0.005,
                          url=rabbitmq_ep.url, crash_at="before-ack", crash_after=20)  # fmt: skip
    assert worker.wait() == -9
    wait_until_unconsumed(topology.channel, queue)
    rest = drain(topology.channel, queue)
    effects = worker.records("processed")
    counts = count_lost_and_duplicated(ids, effects + [m.body.decode() for m in rest])
    assert len(effects) == 20 and counts["unexpected"] == 0
    redelivered = sum(m.redelivered for m in rest)
    if ack == "manual":  # the 20th was processed, never acked: redelivered and processed twice
        assert counts["lost"] == 0 and counts["duplicated"] == 1, counts
        assert 1 <= redelivered <= 20  # what the dead worker held unacked (up to the prefetch)
    else:  # everything pushed to the dead worker was forgotten by the broker
        assert counts["lost"] == 200 - 20 - len(rest) and counts["lost"] > 0, counts
        assert counts["duplicated"] == 0 and redelivered == 0


def test_a_worker_killed_from_outside_at_any_moment_loses_nothing_with_manual_acks(
    topology, rabbitmq_ep, tmp_path
):
    queue = topology.queue(unique_name("t-kill-outside"), durable=True)
    ids = [str(i) for i in range(200)]
    publish_confirmed([i.encode() for i in ids], queue, batch_size=200, url=rabbitmq_ep.url)
    worker = start_worker(
        queue, ack="manual", workdir=tmp_path, prefetch=20, work_s=0.002, url=rabbitmq_ep.url
    )
    worker.wait_for(37)
    worker.kill()
    wait_until_unconsumed(topology.channel, queue)
    rest = [m.body.decode() for m in drain(topology.channel, queue)]
    counts = count_lost_and_duplicated(ids, worker.records("processed") + rest)
    assert counts["lost"] == 0 and counts["duplicated"] <= 1, counts


def test_poison_messages_go_to_the_dead_letter_queue_with_the_reason(topology):
    dlx = topology.exchange(unique_name("t-dlx"), "fanout")
    dlq = topology.queue(unique_name("t-dlq"))
    topology.bind(dlq, dlx)
    queue = topology.queue(unique_name("t-orders"), arguments={"x-dead-letter-exchange": dlx})
    bodies = [json.dumps({"order_id": i, "amount": 1}) for i in range(10)]
    bodies += ["{oops", json.dumps({"order_id": 99}), "[1, 2]"]
    for i, body in enumerate(bodies):
        topology.channel.basic_publish(
            "", queue, body.encode(), pika.BasicProperties(message_id=str(i))
        )
    report = consume_or_dead_letter(
        topology.channel, queue, lambda body: parse_order(body), dead_letter_exchange=dlx
    )
    assert len(report.processed) == 10 and set(report.dead_lettered) == {"10", "11", "12"}
    dead = {m.message_id: m.headers for m in drain(topology.channel, dlq)}
    assert set(dead) == {"10", "11", "12"}
    letters = {message_id: DeadLetter.read(h) for message_id, h in dead.items()}
    assert "not JSON" in letters["10"].error and "amount" in letters["11"].error
    assert all(
        letter.source == queue and letter.reason == "malformed" for letter in letters.values()
    )


def test_parse_order_rejects_what_can_never_be_processed():
    assert parse_order(b'{"order_id": 1, "amount": 2}') == {"order_id": 1, "amount": 2}
    for bad in (b"{", b"[]", b'{"amount": 1}', b"\xff"):
        with pytest.raises(MalformedMessage):
            parse_order(bad)


def test_rpc_replies_reach_the_caller_that_asked_under_concurrency(rabbitmq_ep):
    queue = unique_name("t-rpc")

    def slow_square(request: dict) -> dict:
        time.sleep(0.002 * (10 - request["n"] % 10))  # later requests answer sooner
        return {"n": request["n"], "square": request["n"] ** 2}

    with (
        RpcServer(queue, slow_square, rabbitmq_ep.url),
        RpcServer(queue, slow_square, rabbitmq_ep.url),
    ):
        client = RpcClient(rabbitmq_ep.url)
        sent = {client.send(queue, {"n": n}): n for n in range(40)}
        replies = client.collect(list(sent), timeout_s=10)
        client.channel.queue_delete(queue=queue)
        client.close()
    assert all(replies[c] == {"n": n, "square": n * n} for c, n in sent.items())


def test_rpc_without_a_server_times_out_at_its_deadline(topology, rabbitmq_ep):
    queue = topology.queue(unique_name("t-rpc-down"))
    client = RpcClient(rabbitmq_ep.url)
    began = time.monotonic()
    with pytest.raises(RpcTimeout, match="is a server consuming"):
        client.call(queue, {"n": 1}, timeout_s=0.5)
    # It waited for its deadline (not less), and gave up instead of waiting on: the upper bound
    # is ten times the deadline, so a loaded machine does not fail it.
    assert 0.5 <= time.monotonic() - began < 5
    client.close()


def test_retry_with_delay_then_parking_lot(topology):
    names = declare_retry_topology(topology, unique_name("t-retry"), delay_s=0.05)
    for message_id in ("flaky", "broken"):
        topology.channel.basic_publish(
            names.work_exchange,
            "task",
            message_id.encode(),
            pika.BasicProperties(message_id=message_id),
        )

    def handler(body: bytes, attempt: int) -> None:
        if body == b"broken" or attempt < 3:
            raise RuntimeError(f"attempt {attempt} failed")

    began = time.monotonic()
    log = process_with_retries(
        topology.channel,
        names,
        handler,
        max_attempts=4,
        expected=2,
        clock=lambda: time.monotonic() - began,
    )
    assert log.succeeded == ["flaky"] and log.parked == ["broken"]
    attempts = {}
    for row in log.attempts:
        attempts.setdefault(row["message_id"], []).append(row["attempt"])
    assert attempts == {"flaky": [1, 2, 3], "broken": [1, 2, 3, 4]}
    parked = drain(topology.channel, names.parking_lot)
    assert [m.body for m in parked] == [b"broken"]
    letter = DeadLetter.read(parked[0].headers)
    assert letter.reason == "attempts-exhausted" and "attempt 4 failed" in letter.error
    assert letter.attempts == 4
