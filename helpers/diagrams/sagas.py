"""The order saga's state machine as it ran: every state with the number of orders in it now
(the orchestrator's SQLite store), and every transition with the number of orders that took it
(the replies on the saga's Kafka topic, one per order and kind, since each kind of reply moves a
saga along exactly one transition).

The store keeps only each saga's current state, and two paths end in CANCELLED (payment declined,
or refunded after the inventory refused), so the transitions are read from the replies. Not for
running sagas (see `helpers.sagas`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

from helpers.kafka import read_all
from helpers.kafka.records import value_of
from helpers.sagas import SagaMessage, SagaStore
from helpers.sagas.orchestrator import TRANSITIONS

from .picture import DONE, WAITING, Diagram, new_graph, text

STARTED = "started"  # NEW -> PAYMENT_PENDING: the orchestrator starts every new saga
FINAL_STATES = ("COMPLETED", "CANCELLED")


def saga_states(
    store: SagaStore | Path | str,
    replies: str,
    *,
    url: str | None = None,
    title: str | None = None,
) -> Diagram:
    """States with their orders now, transitions with the orders that took them."""
    path = store.path if isinstance(store, SagaStore) else str(store)
    now = current_states(path)
    taken = transitions_taken(replies, url)
    edges = {STARTED: ("NEW", "PAYMENT_PENDING")} | {str(k): t for k, t in TRANSITIONS.items()}
    taken[STARTED] = sum(orders for state, orders in now.items() if state != "NEW")
    graph = new_graph(title or f"Saga states in {Path(path).name}")
    for state in dict.fromkeys(s for pair in edges.values() for s in pair):
        fill = (DONE if state in FINAL_STATES else WAITING) if now[state] else "white"
        shape = "doubleoctagon" if state in FINAL_STATES else "box"
        label = text(state, f"{now[state]} orders now")
        graph.node(state, label, shape=shape, style="rounded,filled", fillcolor=fill)
    for kind, (before, after) in edges.items():
        orders = taken[kind]
        graph.edge(
            before,
            after,
            text(kind, f"{orders} orders"),
            penwidth=f"{1 + min(orders, 40) / 10:.1f}",  # thicker for more orders
            style="solid" if orders else "dotted",
        )
    return Diagram(graph, graph.graph_attr["label"])


def current_states(path: str) -> Counter[str]:
    """Orders per saga state, through a read-only connection."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        return Counter(state for (state,) in db.execute("SELECT state FROM sagas"))


def transitions_taken(replies: str, url: str | None = None) -> Counter[str]:
    """Orders per reply kind on the replies topic, each order counted once per kind (a
    participant may answer a re-sent command again)."""
    seen = set()
    for record in read_all(replies, url=url):
        message = SagaMessage.from_json(value_of(record))
        if message.kind in TRANSITIONS:
            seen.add((message.order.order_id, str(message.kind)))
    return Counter(kind for _order, kind in seen)
