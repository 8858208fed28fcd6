"""The order saga's state machine as it ran: every state with the number of orders in it now,
and every transition with the number of orders that took it, both from the orchestrator's SQLite
store (its `sagas` table and the log of state changes it writes in the same transaction); and one
order's saga step by step, replayed from that log (`saga_steps`).

Two paths end in CANCELLED (payment declined, or refunded after the inventory refused), so the
current states alone cannot tell which way an order went: the log can. Reads the file through a
read-only connection, so drawing never takes the orchestrator's lock. Not for running sagas
(see `helpers.sagas`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

from helpers.sagas import SagaStore
from helpers.sagas.orchestrator import TRANSITIONS

from .picture import DONE, WAITING, Diagram, new_graph, text

STARTED = "started"  # NEW -> PAYMENT_PENDING: the orchestrator starts every new saga
FINAL_STATES = ("COMPLETED", "CANCELLED")


def saga_states(store: SagaStore | Path | str, *, title: str | None = None) -> Diagram:
    """States with their orders now, transitions (named by the reply that moves a saga along
    each) with the orders that took them."""
    path = store.path if isinstance(store, SagaStore) else str(store)
    now, taken = read_store(path)
    edges = _edges()
    graph = new_graph(title or f"Saga states in {Path(path).name}")
    for state in _states(edges):
        fill = (DONE if state in FINAL_STATES else WAITING) if now[state] else "white"
        shape = "doubleoctagon" if state in FINAL_STATES else "box"
        label = text(state, f"{now[state]} orders now")
        graph.node(state, label, shape=shape, style="rounded,filled", fillcolor=fill)
    for kind, (before, after) in edges.items():
        orders = taken[before, after]
        graph.edge(
            before,
            after,
            text(kind, f"{orders} orders"),
            penwidth=f"{1 + min(orders, 40) / 10:.1f}",  # thicker for more orders
            style="solid" if orders else "dotted",
        )
    return Diagram(graph, graph.graph_attr["label"])


def _edges() -> dict[str, tuple[str, str]]:
    """The state machine's transitions, each named by what moves a saga along it."""
    return {STARTED: ("NEW", "PAYMENT_PENDING")} | {str(k): t for k, t in TRANSITIONS.items()}


def _states(edges: dict[str, tuple[str, str]]) -> list[str]:
    return list(dict.fromkeys(s for pair in edges.values() for s in pair))


def saga_steps(store: SagaStore | Path | str, order_id: str) -> list[Diagram]:
    """One order's saga as the store's log recorded it: a picture of the state machine in NEW,
    then one after each state change logged for the order, in the log's order, with the state
    it was in then filled and the transitions it had taken by then drawn solid."""
    path = store.path if isinstance(store, SagaStore) else str(store)
    log = read_log(path, order_id)
    if not log:
        raise LookupError(f"the saga store {path} has logged no state change of {order_id!r}")
    steps = [_step(order_id, "NEW", [], f"{order_id}: placed (NEW)")]
    for number, (before, after) in enumerate(log, 1):
        title = f"{order_id}, change {number} of {len(log)}: {before} → {after}"
        steps.append(_step(order_id, after, log[:number], title))
    return steps


def _step(order_id: str, state: str, taken: list[tuple[str, str]], title: str) -> Diagram:
    edges = _edges()
    graph = new_graph(title)
    for name in _states(edges):
        shape = "doubleoctagon" if name in FINAL_STATES else "box"
        fill = (DONE if name in FINAL_STATES else WAITING) if name == state else "white"
        label = text(name, order_id) if name == state else text(name)
        graph.node(name, label, shape=shape, style="rounded,filled", fillcolor=fill)
    for kind, (before, after) in edges.items():
        took = (before, after) in taken
        graph.edge(before, after, text(kind), style="solid" if took else "dotted")
    return Diagram(graph, title)


def read_log(path: str, order_id: str) -> list[tuple[str, str]]:
    """The (before, after) state changes the store logged for one order, in order."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    query = "SELECT before, after FROM transitions WHERE order_id = ? ORDER BY position"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        return [(before, after) for before, after in db.execute(query, (order_id,))]


def read_store(path: str) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """Orders per saga state, and per (from, to) state change the orders that made it, through
    a read-only connection."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        now = Counter(state for (state,) in db.execute("SELECT state FROM sagas"))
        changes = db.execute("SELECT before, after, COUNT(*) FROM transitions GROUP BY 1, 2")
        taken = Counter({(before, after): count for before, after, count in changes})
    return now, taken
