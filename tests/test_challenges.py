"""helpers.challenges against the real brokers: for each challenge the reference keeps its
guarantee after every kill point and the naive version breaks it with the count that shows
why, at the kill point that exposes it; the counts themselves; bad functions get a clear
sentence."""

import os
import stat
import time

import pytest

from helpers import challenges
from helpers.challenges import ChallengeError, Guarantee, count

MESSAGES = 10  # two batches of five: the kill comes in the second, or at its second message

# --- the functions graded: each challenge's naive version and a reference ------------------


def naive_payment(db, message_id, amount):
    db.execute("INSERT INTO payments VALUES (?, ?)", (message_id, amount))


def reference_payment(db, message_id, amount):
    first_time = db.execute("INSERT OR IGNORE INTO processed VALUES (?)", (message_id,))
    if first_time.rowcount:
        db.execute("INSERT INTO payments VALUES (?, ?)", (message_id, amount))


def naive_publish(producer, topic, rows):
    for _position, event_id, payload in rows:
        producer.produce(topic, key=event_id, value=payload)
    return [position for position, _event_id, _payload in rows]


def reference_publish(producer, topic, rows):
    for _position, event_id, payload in rows:
        producer.produce(topic, key=event_id, value=payload)
    if producer.flush(10):
        raise RuntimeError("Kafka did not acknowledge every event")
    return [position for position, _event_id, _payload in rows]


def reversed_publish(producer, topic, rows):  # flushed, but each batch backwards
    for _position, event_id, payload in reversed(rows):
        producer.produce(topic, key=event_id, value=payload)
    producer.flush(10)
    return [position for position, _event_id, _payload in rows]


def naive_recover(r, stream, group, consumer, min_idle_ms):
    [(_stream, entries)] = r.xreadgroup(group, consumer, {stream: "0"})
    return entries


def reference_recover(r, stream, group, consumer, min_idle_ms):
    claimed, cursor = [], "0-0"
    while True:
        cursor, entries, _deleted = r.xautoclaim(stream, group, consumer, min_idle_ms, cursor)
        claimed += entries
        if cursor == "0-0":
            return claimed


def naive_process(consumer, producer, batch, output):
    producer.begin_transaction()
    for message in batch:
        producer.produce(output, key=message.key(), value=message.value())
    producer.commit_transaction()
    consumer.commit(asynchronous=False)


def reference_process(consumer, producer, batch, output):
    producer.begin_transaction()
    for message in batch:
        producer.produce(output, key=message.key(), value=message.value())
    offsets = consumer.position(consumer.assignment())
    producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata())
    producer.commit_transaction()


def naive_declare(channel, work, retry, parking_lot, delay_ms):
    channel.queue_declare(work)
    channel.queue_declare(retry, arguments={"x-message-ttl": delay_ms})
    channel.queue_declare(parking_lot)


def reference_declare(channel, work, retry, parking_lot, delay_ms):
    to_retry = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": retry}
    channel.queue_declare(work, arguments=to_retry)
    back = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": work}
    channel.queue_declare(retry, arguments={"x-message-ttl": delay_ms, **back})
    channel.queue_declare(parking_lot)


@pytest.fixture
def where(broker_endpoints, tmp_path):
    def at(broker):
        return {"workdir": tmp_path, "url": broker_endpoints[broker].url, "messages": MESSAGES}

    return at


# --- the counts -----------------------------------------------------------------------------


def test_count_separates_lost_duplicated_and_out_of_order():
    sent = ["a", "b", "c", "d"]
    assert count(sent, ["a", "b", "c", "d"]) == {
        "sent": 4,
        "lost": 0,
        "duplicated": 0,
        "out_of_order": 0,
    }
    # c before b: b is late; the replayed a and b are duplicates, not disorder; d is lost
    assert count(sent, ["a", "c", "b", "a", "b"]) == {
        "sent": 4,
        "lost": 1,
        "duplicated": 2,
        "out_of_order": 1,
    }


def test_a_guarantee_is_broken_only_by_what_it_forbids():
    at_least_once = Guarantee("at least once")
    exactly_once = Guarantee("exactly once, in order", no_duplicates=True, in_order=True)
    assert at_least_once.broken(lost=0, duplicated=3, out_of_order=2) == []
    assert at_least_once.broken(lost=1, duplicated=0, out_of_order=0) == ["lost 1"]
    assert exactly_once.broken(0, 3, 2) == ["duplicated 3", "out of order 2"]


# --- each challenge: the reference passes, the naive version fails where it should ----------


def test_idempotent_consumer_duplicates_only_after_a_kill_between_commit_and_ack(where):
    naive, reference = challenges.grade(
        "idempotent", naive_payment, reference_payment, **where("rabbitmq")
    )
    assert reference.passed and all(run.killed for run in reference.runs), str(reference)
    assert not naive.passed and naive.broke_at == ["after-commit"], str(naive)
    assert naive.at("after-commit").duplicated == 1  # prefetch 1: the one unacked message
    assert naive.at("after-commit").lost == naive.at("before-commit").duplicated == 0
    assert "duplicated 1" in str(naive) and "after-commit" in str(naive)


def test_outbox_relay_loses_what_it_marked_sent_before_kafka_had_it(where):
    naive, reference = challenges.grade(
        "outbox", naive_publish, reference_publish, **where("kafka")
    )
    assert reference.passed and all(run.killed for run in reference.runs), str(reference)
    assert reference.at("before-mark").duplicated == 5  # the batch published, not marked: again
    assert reference.at("after-mark").duplicated == 0
    assert not naive.passed and naive.at("after-mark").lost >= 5, str(naive)
    assert naive.at("after-mark").duplicated == 0


def test_outbox_relay_that_reorders_is_caught_out_of_order(where):
    [graded] = [
        challenges.grade("outbox", reversed_publish, **where("kafka"), kill_points=["after-mark"])
    ]
    assert graded.at("after-mark").lost == 0
    assert graded.at("after-mark").out_of_order > 0 and not graded.passed, str(graded)
    assert "out of order" in str(graded)


def test_claimer_that_reads_only_its_own_pending_entries_loses_the_dead_ones(where):
    naive, reference = challenges.grade(
        "claimer", naive_recover, reference_recover, **where("redis")
    )
    assert reference.passed and all(run.killed for run in reference.runs), str(reference)
    assert reference.at("before-ack").duplicated == 1  # its effect recorded before the kill
    assert naive.broke_at == ["after-read", "before-ack"], str(naive)
    assert naive.at("after-read").lost == 5  # the batch read by the dead consumer
    assert naive.at("before-ack").lost == 3  # the rest of it, after one acked and one done


def test_transactional_loop_duplicates_when_offsets_commit_after_the_transaction(where):
    naive, reference = challenges.grade(
        "transactional", naive_process, reference_process, **where("kafka")
    )
    assert reference.passed and all(run.killed for run in reference.runs), str(reference)
    assert naive.broke_at == ["after-commit-transaction"], str(naive)
    assert naive.at("after-commit-transaction").duplicated == 5  # the batch, written again
    assert naive.at("before-commit-transaction").duplicated == 0  # aborted: never seen


def test_retry_topology_without_dead_lettering_loses_every_task_that_failed(where):
    naive, reference = challenges.grade(
        "retry", naive_declare, reference_declare, **where("rabbitmq")
    )
    assert reference.passed and all(run.killed for run in reference.runs), str(reference)
    # tasks 1, 5, 9... fail once and 3, 7, 11... always: half of them, dropped at their first reject
    assert [run.lost for run in naive.runs] == [MESSAGES // 2] * 2, str(naive)
    assert naive.broke_at == ["after-reject", "before-ack"]
    assert all(run.out_of_order is None for run in naive.runs)  # two records, no one order


def test_worker_settings_are_readable_by_their_owner_only(where, tmp_path):
    challenges.grade(
        "idempotent", reference_payment, **where("rabbitmq"), kill_points=["after-commit"]
    )
    settings = list(tmp_path.glob("*/*.json"))
    assert settings and all(stat.S_IMODE(os.stat(f).st_mode) == 0o600 for f in settings)


# --- bad input --------------------------------------------------------------------------------


def test_a_function_with_the_wrong_parameters_is_refused_before_anything_runs(tmp_path):
    def apply_payment(db, message_id):
        pass

    with pytest.raises(
        ChallengeError, match=r"define it as `def apply_payment\(db, message_id, amount\):`"
    ):
        challenges.grade("idempotent", apply_payment, workdir=tmp_path)
    with pytest.raises(ChallengeError, match="not a function defined with `def`"):
        challenges.grade("idempotent", lambda db, message_id, amount: None, workdir=tmp_path)
    with pytest.raises(ChallengeError, match="no challenge 'dedupe': one of idempotent"):
        challenges.grade("dedupe", naive_payment, workdir=tmp_path)
    with pytest.raises(ChallengeError, match="unknown kill points"):
        challenges.grade("idempotent", naive_payment, workdir=tmp_path, kill_points=["later"])
    assert not list(tmp_path.iterdir())  # refused before any resource was made


def failing_payment(db, message_id, amount):
    return 1 / 0


def payment_using_a_notebook_name(db, message_id, amount):
    db.execute("INSERT INTO payments VALUES (?, ?)", (message_id, amount * EXCHANGE_RATE))  # noqa: F821


def test_a_function_that_raises_is_named_with_its_error(where):
    one = {**where("rabbitmq"), "kill_points": ["before-commit"], "messages": 3}
    with pytest.raises(
        ChallengeError, match="failing_payment: ZeroDivisionError: division by zero"
    ):
        challenges.grade("idempotent", failing_payment, **one)
    with pytest.raises(
        ChallengeError, match="NameError: name 'EXCHANGE_RATE'.*import what it uses"
    ):
        challenges.grade("idempotent", payment_using_a_notebook_name, **one)


def recover_nothing_useful(r, stream, group, consumer, min_idle_ms):
    return None


def test_a_function_that_returns_the_wrong_thing_is_told_what_to_return(where):
    one = {**where("redis"), "kill_points": ["after-read"], "messages": 10}
    with pytest.raises(ChallengeError, match=r"it returned None: return a list of \(entry id"):
        challenges.grade("claimer", recover_nothing_useful, **one)


def payment_that_never_returns(db, message_id, amount):
    while True:
        time.sleep(1)


def test_a_function_that_never_returns_is_stopped_at_the_deadline(where):
    one = {**where("rabbitmq"), "kill_points": ["before-commit"], "messages": 3}
    began = time.monotonic()
    with pytest.raises(ChallengeError, match="did not finish within 3 s .it was killed."):
        challenges.grade("idempotent", payment_that_never_returns, **one, timeout_s=3)
    assert time.monotonic() - began < 30
