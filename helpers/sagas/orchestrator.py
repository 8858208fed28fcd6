"""The order saga as orchestration: one orchestrator owns a persisted state machine per order and
tells the participants what to do, over a commands topic; they answer on a replies topic.

    NEW ─▶ PAYMENT_PENDING ─paid─▶ INVENTORY_PENDING ─reserved─▶ COMPLETED
                 └─declined─▶ CANCELLED          └─refused─▶ REFUND_PENDING ─refunded─▶ CANCELLED

The state lives in SQLite and changes in one transaction per step, so the orchestrator can be
SIGKILLed at any moment: on restart it re-sends the command of every saga still pending (the
participants are idempotent) and carries on with the replies Kafka kept for it.

    python -m helpers.sagas.orchestrator --db sagas.db --commands C --replies R --group G \\
        [--crash-at after-state-saved --crash-after 150]

Crash point `after-state-saved`: a state change is committed, the command it calls for not yet
sent; the restarted orchestrator must re-send it. `start_orchestrator` launches the process.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Unpack

from helpers.faults import CrashPoint, Launch, WorkerProcess
from helpers.kafka import Output, consumer, producer, run
from helpers.kafka.records import Record, value_of

from .messages import Kind, SagaMessage
from .participants import Inventory, Order, Payments

# state -> the command it waits on; reply kind -> (from state, to state)
PENDING_COMMAND = {
    "PAYMENT_PENDING": Kind.PROCESS_PAYMENT,
    "INVENTORY_PENDING": Kind.RESERVE_INVENTORY,
    "REFUND_PENDING": Kind.REFUND_PAYMENT,
}
TRANSITIONS = {
    Kind.PAYMENT_PROCESSED: ("PAYMENT_PENDING", "INVENTORY_PENDING"),
    Kind.PAYMENT_FAILED: ("PAYMENT_PENDING", "CANCELLED"),
    Kind.INVENTORY_RESERVED: ("INVENTORY_PENDING", "COMPLETED"),
    Kind.INVENTORY_RESERVATION_FAILED: ("INVENTORY_PENDING", "REFUND_PENDING"),
    Kind.PAYMENT_REFUNDED: ("REFUND_PENDING", "CANCELLED"),
}
FINAL = {"COMPLETED": "completed", "CANCELLED": "cancelled"}


class SagaStore:
    """Saga state per order, and a log of every state change (`transitions`), in SQLite."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS sagas (order_id TEXT PRIMARY KEY, payload TEXT NOT NULL,"
            " state TEXT NOT NULL)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS transitions (position INTEGER PRIMARY KEY,"
            " order_id TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL)"
        )

    def place(self, order: Order) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO sagas VALUES (?, ?, 'NEW')",
            (order.order_id, json.dumps(asdict(order))),
        )

    def move(self, order_id: str, expected: str, new: str) -> bool:
        """Change state if the saga is in `expected`, and log the change; False for a stale or
        duplicate reply (nothing logged).

        One transaction; on an error it is rolled back (the saga keeps its state) and the error
        is raised, so the orchestrator stops instead of carrying on with a wedged store.
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            changed = self.db.execute(
                "UPDATE sagas SET state = ? WHERE order_id = ? AND state = ?",
                (new, order_id, expected),
            ).rowcount
            if changed:
                self.db.execute(
                    "INSERT INTO transitions (order_id, before, after) VALUES (?, ?, ?)",
                    (order_id, expected, new),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return bool(changed)

    def in_state(self, *states: str) -> list[tuple[Order, str]]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            f"SELECT payload, state FROM sagas WHERE state IN ({marks})", states
        ).fetchall()
        return [(Order(**json.loads(payload)), state) for payload, state in rows]

    def statuses(self) -> dict[str, str]:
        rows = self.db.execute("SELECT order_id, state FROM sagas").fetchall()
        return {order_id: FINAL.get(state, state) for order_id, state in rows}


CRASH_POINTS = ("after-state-saved",)


def orchestrate(
    store: SagaStore,
    commands: str,
    replies: str,
    group: str,
    *,
    url: str | None = None,
    crash: CrashPoint | None = None,
    idle_exit_s: float = 3.0,
) -> None:
    """Drive every saga in `store` to a final state; return when none is pending any more."""
    crash = crash or CrashPoint(None, None)
    # Resume after a crash: re-send the command every pending saga waits on (participants are
    # idempotent, so a command that had been sent already is answered the same way again).
    pending = store.in_state(*PENDING_COMMAND)
    resend = [command_message(commands, order, PENDING_COMMAND[state]) for order, state in pending]

    def start_sagas() -> list[Output]:
        outputs = [resend.pop() for _ in range(len(resend))]
        for order, _state in store.in_state("NEW"):
            if store.move(order.order_id, "NEW", "PAYMENT_PENDING"):
                outputs.append(command_message(commands, order, Kind.PROCESS_PAYMENT))
        return outputs

    def on_reply(message: Record) -> list[Output]:
        return advance(store, SagaMessage.from_json(value_of(message)), commands, crash)

    # Static membership: a restarted orchestrator takes over its partitions at once, instead of
    # waiting for the killed one's session to time out.
    source = consumer(
        group, url, {"group.instance.id": f"{group}-orchestrator", "session.timeout.ms": 6000}
    )
    source.subscribe([replies])
    unfinished = lambda: bool(store.in_state("NEW", *PENDING_COMMAND))  # noqa: E731
    run(
        source,
        on_reply,
        sink=producer(url),
        commit="after",
        tick=start_sagas,
        busy=unfinished,
        idle_exit_s=idle_exit_s,
    )


def advance(store: SagaStore, reply: SagaMessage, commands: str, crash: CrashPoint) -> list[Output]:
    before, after = TRANSITIONS[reply.kind]  # e.g. PaymentProcessed: PAYMENT_ -> INVENTORY_PENDING
    if not store.move(reply.order.order_id, before, after):  # one SQLite transaction
        return []  # a stale or duplicate reply: the saga has moved on
    crash.reached("after-state-saved")  # the state is saved, the next command not yet sent
    if after not in PENDING_COMMAND:
        return []  # COMPLETED or CANCELLED: the saga is over
    return [command_message(commands, reply.order, PENDING_COMMAND[after])]  # e.g. ReserveInventory


def command_message(topic: str, order: Order, kind: Kind) -> Output:
    return Output(topic, SagaMessage(kind, order, "orchestrator").to_json(), key=order.order_id)


def serve_participants(
    commands: str,
    replies: str,
    payments: Payments,
    inventory: Inventory,
    stop: threading.Event,
    url: str | None = None,
) -> None:
    """The payment and inventory services, answering the orchestrator's commands."""

    def answer(message: Record) -> list[Output]:
        command = SagaMessage.from_json(value_of(message))
        order = command.order
        if command.kind == Kind.PROCESS_PAYMENT:
            paid = payments.charge(order.order_id, order.amount_cents)
            kind, service = (Kind.PAYMENT_PROCESSED if paid else Kind.PAYMENT_FAILED), "payment"
        elif command.kind == Kind.RESERVE_INVENTORY:
            reserved = inventory.reserve(order.order_id, order.quantity)
            kind = Kind.INVENTORY_RESERVED if reserved else Kind.INVENTORY_RESERVATION_FAILED
            service = "inventory"
        else:
            payments.refund(order.order_id)
            kind, service = Kind.PAYMENT_REFUNDED, "payment"
        return [Output(replies, command.answer(kind, service).to_json(), key=order.order_id)]

    source = consumer(f"{commands}.participants", url)
    source.subscribe([commands])
    run(source, answer, sink=producer(url), commit="after", stop=stop)


def start_orchestrator(
    db: Path | str,
    commands: str,
    replies: str,
    group: str,
    *,
    name: str = "orchestrator",
    **launch: Unpack[Launch],
) -> WorkerProcess:
    """Run `orchestrate` in a new process; it kills itself at `crash_at` the `crash_after`-th
    time it gets there. Its effects are the saga states in `db`."""
    args = ["--db", str(db), "--commands", commands, "--replies", replies, "--group", group]
    return WorkerProcess("helpers.sagas.orchestrator", args, name=name, effects=False, **launch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option in ("--db", "--commands", "--replies", "--group"):
        parser.add_argument(option, required=True)
    parser.add_argument("--url")
    CrashPoint.add_options(parser, CRASH_POINTS)
    args = parser.parse_args()
    crash = CrashPoint.from_options(args)
    orchestrate(
        SagaStore(args.db), args.commands, args.replies, args.group, url=args.url, crash=crash
    )


if __name__ == "__main__":
    main()
