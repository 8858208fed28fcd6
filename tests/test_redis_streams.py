"""helpers.redis_streams and the crashable worker, against the real Redis."""

import json
import time

import pytest
import redis

from helpers.deadletter import DeadLetter
from helpers.faults import count_lost_and_duplicated
from helpers.naming import unique_name
from helpers.orders import MalformedMessage, parse_order
from helpers.redis_streams import (
    add_entries,
    client,
    consume,
    create_group,
    recover,
    start_worker,
)
from tests.conftest import free_port


@pytest.fixture
def r(redis_ep):
    connection = client(redis_ep.url)
    yield connection
    connection.close()


@pytest.fixture
def stream(r):
    name = unique_name("test-stream")
    yield name
    r.delete(name, f"{name}.dlq")


def test_create_group_is_safe_to_run_twice(r, stream):
    assert create_group(r, stream, "g") is True
    assert create_group(r, stream, "g") is False
    assert [g["name"] for g in r.xinfo_groups(stream)] == ["g"]


def test_parse_order_names_what_is_wrong():
    assert parse_order('{"order_id": 1, "amount": 9.5}')["amount"] == 9.5
    with pytest.raises(MalformedMessage, match="not JSON"):
        parse_order("{not json")
    with pytest.raises(MalformedMessage, match="amount"):
        parse_order(json.dumps({"order_id": 1}))


def test_consume_acks_what_the_handler_accepts_and_leaves_failures_pending(r, stream):
    create_group(r, stream, "g")
    ids = add_entries(r, stream, [{"order_id": i, "amount": i} for i in range(20)] + ["{bad"])
    report = consume(r, stream, "g", "c1", lambda _id, fields: parse_order(fields.get("data")))
    assert report.acked == ids[:20] and report.failed == [ids[20]]
    pending = r.xpending(stream, "g")
    assert pending["pending"] == 1 and pending["min"] == ids[20]


@pytest.mark.parametrize("kill", ["self", "external"])
def test_a_killed_worker_leaves_its_entries_pending_and_recovery_loses_nothing(
    r, stream, tmp_path, kill
):
    create_group(r, stream, "g")
    good = [{"order_id": i, "amount": i} for i in range(200)]
    ids = add_entries(r, stream, good + ["{bad json", json.dumps({"order_id": 7})])
    crash_point = {"crash_at": "before-ack", "crash_after": 20} if kill == "self" else {}
    worker = start_worker(
        stream, "g", "doomed", workdir=tmp_path, work_s=0.005, url=_url(r), **crash_point
    )
    if kill == "self":
        assert worker.wait() == -9
    else:
        worker.wait_for(20)
        worker.kill()
    # Whatever the dead worker was delivered and had not finished is pending, nothing else;
    # killed from outside, it may die between two batches, with nothing in flight.
    [group] = r.xinfo_groups(stream)
    delivered = set(ids[: ids.index(group["last-delivered-id"]) + 1])
    pending = {e["message_id"] for e in r.xpending_range(stream, "g", "-", "+", len(ids))}
    assert delivered - set(worker.records("processed")) <= pending <= delivered
    if kill == "self":
        assert pending, "the worker killed before its XACK held no unacked entry"

    rescued = []

    def handler(entry_id, fields):
        parse_order(fields.get("data"))
        rescued.append(entry_id)

    for _ in range(3):  # each pass claims what is idle and retries it, up to 2 deliveries
        time.sleep(0.02)
        recover(r, stream, "g", "rescuer", handler, dead_letter_stream=f"{stream}.dlq",
                min_idle_s=0.01, max_deliveries=2)  # fmt: skip
        consume(r, stream, "g", "rescuer", handler, idle_s=0.1)

    dlq = r.xrange(f"{stream}.dlq")
    letters = [DeadLetter.read(fields) for _id, fields in dlq]
    reasons = {letter.position: f"{letter.reason}: {letter.error}" for letter in letters}
    counts = count_lost_and_duplicated(ids, worker.records("processed") + rescued + list(reasons))
    assert r.xpending(stream, "g")["pending"] == 0
    assert counts["lost"] == 0 and counts["unexpected"] == 0, counts
    if kill == "self":  # killed after the effect, before the XACK: that one entry ran twice
        assert counts["duplicated"] == 1, counts
    else:  # wherever the kill landed: at most the one entry in flight
        assert counts["duplicated"] <= 1, counts
    assert set(reasons) == set(ids[-2:])
    assert "not JSON" in reasons[ids[-2]] and "amount" in reasons[ids[-1]]


def test_a_redis_that_is_down_fails_fast_with_a_connection_error():
    dead = client(f"redis://localhost:{free_port()}/0")
    began = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        dead.xadd("s", {"f": "v"})
    assert time.monotonic() - began < 5


def _url(r: redis.Redis) -> str:
    kwargs = r.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"
