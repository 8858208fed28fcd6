"""The order saga in both styles, against the real Kafka, with injected failures and a crash."""

import sqlite3
import threading

import pytest

from helpers import sagas
from helpers.naming import unique_name

ORDERS = [sagas.Order(f"o-{i}", f"c-{i % 4}", 1_000 + i, 1 + i % 3) for i in range(40)]
STOCK = 80  # enough for every order (79 units): outcomes depend only on injected failures


def test_choreography_keeps_every_invariant_under_failures(topics, kafka_ep):
    payments, inventory = sagas.Payments(0.25, seed=7), sagas.Inventory(STOCK, 0.25, seed=7)
    topic = topics.create(unique_name("t-saga"), partitions=2)
    status = sagas.run_choreography(topic, ORDERS, payments, inventory, url=kafka_ep.url)
    table = sagas.final_states(ORDERS, status, payments, inventory)
    assert sagas.violations(table, STOCK, inventory) == []
    assert {"completed", "cancelled"} == set(table["status"])  # both paths were exercised
    assert (table["refunded_cents"] > 0).any(), "no compensation happened"


def test_the_orchestrator_survives_a_sigkill_and_both_styles_agree(topics, kafka_ep, tmp_path):
    commands = topics.create(unique_name("t-cmd"), partitions=2)
    replies = topics.create(unique_name("t-rep"), partitions=2)
    store = sagas.SagaStore(tmp_path / "sagas.db")
    for order in ORDERS:
        store.place(order)
    payments, inventory = sagas.Payments(0.25, seed=7), sagas.Inventory(STOCK, 0.25, seed=7)
    stop = threading.Event()
    participants = threading.Thread(
        target=sagas.serve_participants,
        args=(commands, replies, payments, inventory, stop, kafka_ep.url),
    )
    participants.start()
    group, launch = unique_name("t-orch"), {"workdir": tmp_path, "url": kafka_ep.url}
    try:
        crash = {"crash_at": "after-state-saved", "crash_after": 25}
        first = sagas.start_orchestrator(
            store.path, commands, replies, group, name="first", **crash, **launch
        )
        assert first.wait(timeout_s=120) == -9
        unfinished = [s for s in store.statuses().values() if s not in ("completed", "cancelled")]
        assert unfinished, "the crash came after every saga had finished"
        second = sagas.start_orchestrator(
            store.path, commands, replies, group, name="second", **launch
        )
        assert second.wait(timeout_s=120) == 0
    finally:
        stop.set()
        participants.join(timeout=30)
    table = sagas.final_states(ORDERS, store.statuses(), payments, inventory)
    assert sagas.violations(table, STOCK, inventory) == []
    chore_pay, chore_inv = sagas.Payments(0.25, seed=7), sagas.Inventory(STOCK, 0.25, seed=7)
    chore = sagas.run_choreography(
        topics.create(unique_name("t-saga")), ORDERS, chore_pay, chore_inv, url=kafka_ep.url
    )
    assert table["status"].to_dict() == chore


def test_violations_are_reported():
    payments, inventory = sagas.Payments(0.0), sagas.Inventory(10, 0.0)
    orders = ORDERS[:2]
    payments.charge("o-0", orders[0].amount_cents)
    payments.charge("o-1", orders[1].amount_cents)
    inventory.reserve("o-0", orders[0].quantity)
    status = {"o-0": "completed", "o-1": "cancelled"}  # o-1 charged, never refunded
    table = sagas.final_states(orders, status, payments, inventory)
    found = sagas.violations(table, 10, inventory)
    assert "o-1: cancelled but charged and not refunded" in found
    assert any("money not conserved" in f for f in found)


def test_a_failed_state_change_is_rolled_back_and_the_store_keeps_working(tmp_path):
    store = sagas.SagaStore(tmp_path / "sagas.db")
    store.place(ORDERS[0])
    with pytest.raises(sqlite3.IntegrityError):
        store.move(ORDERS[0].order_id, "NEW", None)  # NOT NULL: the update fails
    assert store.statuses() == {ORDERS[0].order_id: "NEW"}  # unchanged...
    assert store.move(ORDERS[0].order_id, "NEW", "PAYMENT_PENDING")  # ...and not wedged
