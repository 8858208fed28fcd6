"""The order saga as orchestration: one orchestrator owns a persisted state machine per order and
tells the participants what to do, over a commands topic; they answer on a replies topic.

    NEW ─▶ PAYMENT_PENDING ─paid─▶ INVENTORY_PENDING ─reserved─▶ COMPLETED
                 └─declined─▶ CANCELLED          └─refused─▶ REFUND_PENDING ─refunded─▶ CANCELLED

The state lives in SQLite and changes in one transaction per step, so the orchestrator can be
SIGKILLed at any moment: on restart it re-sends the command of every saga still pending (the
participants are idempotent) and carries on with the replies Kafka kept for it.

    python -m helpers.sagas.orchestrator_process --db sagas.db --commands C --replies R --group G
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

from helpers.kafka import consumer, producer

from .participants import Inventory, Order, Payments

# state -> the command it waits on; reply type -> (from state, to state)
PENDING_COMMAND = {
    "PAYMENT_PENDING": "ProcessPayment",
    "INVENTORY_PENDING": "ReserveInventory",
    "REFUND_PENDING": "RefundPayment",
}
TRANSITIONS = {
    "PaymentProcessed": ("PAYMENT_PENDING", "INVENTORY_PENDING"),
    "PaymentFailed": ("PAYMENT_PENDING", "CANCELLED"),
    "InventoryReserved": ("INVENTORY_PENDING", "COMPLETED"),
    "InventoryReservationFailed": ("INVENTORY_PENDING", "REFUND_PENDING"),
    "PaymentRefunded": ("REFUND_PENDING", "CANCELLED"),
}
FINAL = {"COMPLETED": "completed", "CANCELLED": "cancelled"}


class SagaStore:
    """Saga state per order, and a log of every state change, in SQLite."""

    def __init__(self, path: Path | str) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS sagas (order_id TEXT PRIMARY KEY, payload TEXT NOT NULL,"
            " state TEXT NOT NULL)"
        )

    def place(self, order: Order) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO sagas VALUES (?, ?, 'NEW')",
            (order.order_id, json.dumps(order.__dict__)),
        )

    def move(self, order_id: str, expected: str, new: str) -> bool:
        """Change state if the saga is in `expected`; False for a stale or duplicate reply.

        One transaction; on an error it is rolled back (the saga keeps its state) and the error
        is raised, so the orchestrator stops instead of carrying on with a wedged store.
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            changed = self.db.execute(
                "UPDATE sagas SET state = ? WHERE order_id = ? AND state = ?",
                (new, order_id, expected),
            ).rowcount
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return bool(changed)

    def in_state(self, *states: str) -> list[tuple[str, dict, str]]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            f"SELECT order_id, payload, state FROM sagas WHERE state IN ({marks})", states
        ).fetchall()
        return [(order_id, json.loads(payload), state) for order_id, payload, state in rows]

    def statuses(self) -> dict[str, str]:
        rows = self.db.execute("SELECT order_id, state FROM sagas").fetchall()
        return {order_id: FINAL.get(state, state) for order_id, state in rows}


def orchestrate(
    store: SagaStore,
    commands: str,
    replies: str,
    group: str,
    *,
    url: str | None = None,
    die_after: int | None = None,
    idle_exit_s: float = 3.0,
) -> None:
    sink = producer(url)
    # Static membership: a restarted orchestrator takes over its partitions at once, instead of
    # waiting for the killed one's session to time out.
    source = consumer(
        group, url, group_instance_id=f"{group}-orchestrator", session_timeout_ms=6000
    )
    source.subscribe([replies])

    def send(order_id: str, payload: dict, command: str) -> None:
        sink.produce(commands, key=order_id, value=json.dumps({"type": command, **payload}))

    for order_id, payload, state in store.in_state(*PENDING_COMMAND):  # resume after a crash
        send(order_id, payload, PENDING_COMMAND[state])
    moves, idle_since = 0, time.monotonic()
    while time.monotonic() - idle_since < idle_exit_s:
        for order_id, payload, _state in store.in_state("NEW"):
            if store.move(order_id, "NEW", "PAYMENT_PENDING"):
                send(order_id, payload, "ProcessPayment")
        sink.flush(30)
        batch = [m for m in source.consume(100, timeout=0.05) if not m.error()]
        for message in batch:
            reply = json.loads(message.value())
            before, after = TRANSITIONS[reply["type"]]
            if store.move(reply["order_id"], before, after):
                moves += 1
                if die_after is not None and moves >= die_after:
                    os.kill(os.getpid(), signal.SIGKILL)  # state saved, command not yet sent
                if after in PENDING_COMMAND:
                    send(reply["order_id"], _payload(reply), PENDING_COMMAND[after])
        if batch:
            sink.flush(30)  # the next commands are out before the replies count as handled
            source.commit(asynchronous=False)
            idle_since = time.monotonic()
        elif store.in_state("NEW", *PENDING_COMMAND):
            idle_since = time.monotonic()  # still waiting for replies: not idle
    source.close()


def _payload(message: dict) -> dict:
    return {k: message[k] for k in ("order_id", "customer", "amount_cents", "quantity")}


def serve_participants(
    commands: str,
    replies: str,
    payments: Payments,
    inventory: Inventory,
    stop: threading.Event,
    url: str | None = None,
) -> None:
    """The payment and inventory services, answering the orchestrator's commands."""
    source, sink = consumer(f"{commands}.participants", url), producer(url)
    source.subscribe([commands])
    while not stop.is_set():
        batch = [m for m in source.consume(100, timeout=0.05) if not m.error()]
        for message in batch:
            command = json.loads(message.value())
            order_id = command["order_id"]
            if command["type"] == "ProcessPayment":
                paid = payments.charge(order_id, command["amount_cents"])
                kind = "PaymentProcessed" if paid else "PaymentFailed"
            elif command["type"] == "ReserveInventory":
                reserved = inventory.reserve(order_id, command["quantity"])
                kind = "InventoryReserved" if reserved else "InventoryReservationFailed"
            else:
                payments.refund(order_id)
                kind = "PaymentRefunded"
            reply = {"type": kind, **_payload(command)}
            sink.produce(replies, key=order_id, value=json.dumps(reply))
        if batch:
            sink.flush(30)
            source.commit(asynchronous=False)
    source.close()
