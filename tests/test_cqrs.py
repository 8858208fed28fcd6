"""The Order write side and the read-model projection, end to end through the real Kafka."""

import time

import pytest

from helpers import cqrs
from helpers import eventsourcing as es
from helpers.background import Background, BackgroundFailed
from helpers.naming import unique_name


@pytest.fixture
def topic(topics):
    return topics.create(unique_name("t-orders"), partitions=2)


def test_order_rules_are_enforced_on_the_write_side(tmp_path):
    service = cqrs.OrderService(es.EventStore(tmp_path / "w.db", cqrs.ORDER_EVENTS), "unused-topic")
    service.handle(cqrs.CreateOrder("o-1", "alice", items=1, total_cents=100))
    with pytest.raises(es.DomainError, match="already exists"):
        service.handle(cqrs.CreateOrder("o-1", "alice", items=1, total_cents=100))
    with pytest.raises(es.DomainError, match="positive total"):
        service.handle(cqrs.CreateOrder("o-2", "bob", items=1, total_cents=0))
    with pytest.raises(es.DomainError, match="cannot be shipped"):
        service.handle(cqrs.ShipOrder("o-3"))
    service.handle(cqrs.ShipOrder("o-1"))
    with pytest.raises(es.DomainError, match="cannot be shipped from OrderShipped"):
        service.handle(cqrs.ShipOrder("o-1"))


def test_applying_an_event_twice_changes_nothing(tmp_path):
    model = cqrs.OrdersReadModel(tmp_path / "r.db")
    created = {
        "event_id": "e1",
        "stream_id": "o-1",
        "type": "OrderCreated",
        "schema_version": 1,
        "recorded_at": 1.0,
        "data": {"customer": "alice", "items": 2, "total_cents": 500},
    }
    assert model.apply(created) is True
    assert model.apply(created) is False
    assert model.order_summary().loc["created", "orders"] == 1


def test_projection_through_kafka_matches_the_write_side_and_replays_idempotently(
    tmp_path, topic, kafka_ep
):
    store = es.EventStore(tmp_path / "w.db", cqrs.ORDER_EVENTS)
    service = cqrs.OrderService(store, topic)
    for i in range(20):
        service.handle(cqrs.CreateOrder(f"o-{i}", f"c-{i % 3}", items=1, total_cents=100 + i))
    for i in range(0, 20, 4):
        service.handle(cqrs.ShipOrder(f"o-{i}"))
    assert es.relay_once(store, kafka_ep.url) == 25
    model = cqrs.OrdersReadModel(tmp_path / "r.db")
    first = cqrs.project(topic, model, unique_name("t-p"), until_applied=25, url=kafka_ep.url)
    assert first.applied == 25
    summary = model.order_summary()
    assert summary.loc["shipped", "orders"] == 5 and summary.loc["created", "orders"] == 15
    assert list(model.orders_by_customer("c-0")["total_cents"]) == [
        100 + i for i in range(0, 20, 3)
    ]
    before = model.all_orders()
    again = cqrs.project(topic, model, unique_name("t-p2"), to_end=True, url=kafka_ep.url)
    assert again.read == 25 and again.applied == 0  # every event read again, none applied
    assert model.all_orders().equals(before)


def test_a_failing_event_is_rolled_back_and_later_events_still_apply(tmp_path):
    model = cqrs.OrdersReadModel(tmp_path / "r.db")
    created = {"stream_id": "o-1", "type": "OrderCreated", "schema_version": 1, "recorded_at": 1.0,
               "data": {"customer": "alice", "items": 2, "total_cents": 500}}  # fmt: skip
    assert model.apply({"event_id": "e1", **created})
    with pytest.raises(cqrs.ProjectionError, match="e2 .*OrderCreated of o-1"):
        model.apply({"event_id": "e2", **created})  # a second OrderCreated: primary key clash
    shipped = {"event_id": "e3", "stream_id": "o-1", "type": "OrderShipped", "schema_version": 1}
    shipped["recorded_at"] = 2.0
    assert model.apply({**shipped, "data": {}})  # the store is not wedged by the failure
    assert model.apply({"event_id": "e2", **created, "stream_id": "o-2"})  # e2 was not recorded
    assert model.order_summary()["orders"].to_dict() == {"created": 1, "shipped": 1}


def test_a_projector_that_dies_raises_in_the_caller(tmp_path, topic, kafka_ep):
    store = es.EventStore(tmp_path / "w.db", cqrs.ORDER_EVENTS)
    service = cqrs.OrderService(store, topic)
    service.handle(cqrs.CreateOrder("o-1", "alice", items=1, total_cents=100))
    es.relay_once(store, kafka_ep.url)
    broken = cqrs.OrdersReadModel(tmp_path / "r.db")
    broken.db.execute("DROP TABLE orders")  # every apply now fails
    projector = Background(cqrs.project, topic, broken, unique_name("t-p"), url=kafka_ep.url)
    deadline = time.monotonic() + 30
    while projector.running and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(BackgroundFailed, match="could not be applied"):
        projector.stop()
