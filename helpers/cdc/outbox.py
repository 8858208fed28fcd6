"""The transactional outbox relayed by Debezium: the service writes its order and the event it
means to publish in one transaction (the event as a row of an outbox table, deleted again at
once), and Debezium's outbox event router turns each captured outbox insert into that event, on
a topic per aggregate type, keyed by the aggregate's id. Not for capturing ordinary tables (see
`connect.postgres_source`)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from lab.brokers.config import kafka_config

from . import connect, database
from .events import end_offsets


def create_tables(orders: str, outbox: str) -> None:
    """The service's own table, and an outbox with the columns the event router reads by
    default: id, aggregatetype, aggregateid, payload (and a type, put in a header here)."""
    database.run(
        f"CREATE TABLE {orders} (id int PRIMARY KEY, status text NOT NULL);"
        f"CREATE TABLE {outbox} (id uuid PRIMARY KEY, aggregatetype text NOT NULL,"
        " aggregateid text NOT NULL, type text NOT NULL, payload jsonb NOT NULL);"
    )


def router_source(name: str, outbox: str) -> dict[str, str]:
    """A Debezium connector for the outbox table only, with the outbox event router: events on
    `<name>.<aggregatetype>`, keyed by aggregateid, the JSON payload as the value, the row's
    id and type as headers."""
    return connect.postgres_source(
        name,
        outbox,
        **{
            "transforms": "outbox",
            "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
            "transforms.outbox.route.topic.replacement": f"{name}.${{routedByValue}}",
            "transforms.outbox.table.expand.json.payload": "true",
            "transforms.outbox.table.fields.additional.placement": "type:header:eventType",
        },
    )


def place_order(orders: str, outbox: str, order: int, commit: bool = True) -> None:
    """One transaction: the order row, its OrderPlaced event in the outbox, the outbox row
    deleted again (the log keeps the insert), then COMMIT (or ROLLBACK)."""
    event = json.dumps({"order": order, "status": "placed"})
    database.run(
        f"BEGIN; INSERT INTO {orders} VALUES ({order}, 'placed');"
        f"INSERT INTO {outbox} VALUES (gen_random_uuid(), 'order', '{order}', 'OrderPlaced',"
        f" '{event}');"
        f"DELETE FROM {outbox} WHERE aggregateid = '{order}';"
        f"{'COMMIT' if commit else 'ROLLBACK'};"
    )


def _headers(message: Any) -> list[tuple[str, bytes | None]]:
    found: list[tuple[str, bytes | None]] = message.headers() or []
    return found


@dataclass(frozen=True)
class RoutedEvent:
    key: str
    payload: dict[str, Any]
    headers: dict[str, str]


def read_events(topic: str, timeout_s: float = 30.0) -> list[RoutedEvent]:
    """Every event on `topic` up to its current end offsets."""
    ends = end_offsets(topic)
    reader = Consumer({**kafka_config(), "group.id": "lab-cdc-reader", "enable.auto.commit": False})
    found: list[RoutedEvent] = []
    try:
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        left, deadline = {p for p, end in ends.items() if end > 0}, time.monotonic() + timeout_s
        while left and time.monotonic() < deadline:
            for message in reader.consume(num_messages=500, timeout=0.5):
                if message.error():
                    raise KafkaException(message.error())
                headers = {name: bytes(raw or b"").decode() for name, raw in _headers(message)}
                key, value = message.key() or b"null", message.value() or b"null"
                found.append(RoutedEvent(json.loads(key), json.loads(value), headers))
                if (message.offset() or 0) + 1 >= ends[message.partition() or 0]:
                    left.discard(message.partition() or 0)
        if left:
            raise TimeoutError(f"could not read {topic} to its end within {timeout_s:.0f} s")
    finally:
        reader.close()
    return found


def create_polled_outbox(table: str) -> None:
    """The outbox of a polling relay: the same columns, plus the order rows were written in
    (`seq`) and when the relay marked each sent (`sent_at`, NULL until then), with an index
    on the unsent rows, the relay's query."""
    database.run(
        f"CREATE TABLE {table} (id uuid PRIMARY KEY, seq bigserial, aggregatetype text NOT NULL,"
        " aggregateid text NOT NULL, type text NOT NULL, payload jsonb NOT NULL,"
        " sent_at timestamptz);"
        f"CREATE INDEX {table}_unsent ON {table} (seq) WHERE sent_at IS NULL;"
    )


def place_order_in_both(
    session: database.Session, orders: str, outbox: str, polled: str, order: int
) -> str:
    """One transaction: the order row and its OrderPlaced event, written into both outboxes
    with the same id and payload (the payload carries `written_at`, the database's clock just
    before COMMIT); the Debezium outbox's row deleted again. The event's id."""
    event_id = str(uuid.uuid4())
    columns = "id, aggregatetype, aggregateid, type, payload"
    row = f"'{event_id}'::uuid, 'order', '{order}', 'OrderPlaced', p"
    session.run(
        f"BEGIN; INSERT INTO {orders} VALUES ({order}, 'placed');"
        f"WITH e AS (SELECT jsonb_build_object('order', {order},"
        " 'written_at', extract(epoch FROM clock_timestamp())) AS p),"
        f" polled AS (INSERT INTO {polled} ({columns}) SELECT {row} FROM e)"
        f" INSERT INTO {outbox} ({columns}) SELECT {row} FROM e;"
        f"DELETE FROM {outbox} WHERE id = '{event_id}'; COMMIT;"
    )
    return event_id


def write_orders(
    orders: str, outbox: str, polled: str, ids: range, rate: float, stop: threading.Event
) -> list[str]:
    """The service: place each order of `ids` at about `rate` orders per second, on one
    connection; the ids of the events committed (a Background loop: stops early if told)."""
    session, written = database.Session(f"service-{orders}"), []
    began = time.monotonic()
    try:
        for n, order in enumerate(ids):
            if stop.wait(max(0.0, began + n / rate - time.monotonic())):
                break
            written.append(place_order_in_both(session, orders, outbox, polled, order))
    finally:
        session.close()
    return written


@dataclass
class Arrivals:
    """Each event's arrivals at a consumer, per topic: event id -> seconds from the payload's
    `written_at` to each arrival (more than one: a duplicate). Filled by `collect_arrivals`
    while it runs."""

    by_topic: dict[str, dict[str, list[float]]]

    @classmethod
    def on(cls, topics: list[str]) -> Arrivals:
        return cls({topic: {} for topic in topics})

    def complete(self, ids: list[str]) -> bool:
        """Every event of `ids` has arrived on every topic."""
        return all(set(ids) <= arrived.keys() for arrived in list(self.by_topic.values()))

    def latencies_ms(self, topic: str, ids: list[str]) -> list[float]:
        """The first arrival of each event of `ids`, in milliseconds."""
        return [1000 * self.by_topic[topic][event_id][0] for event_id in ids]


def ends(topics: list[str]) -> list[TopicPartition]:
    """Each partition of `topics` at its current end: where a reader of new events starts."""
    return [TopicPartition(t, p, end) for t in topics for p, end in end_offsets(t).items()]


def collect_arrivals(
    start: list[TopicPartition], arrivals: Arrivals, *, stop: threading.Event
) -> Arrivals:
    """Consume from `start` until `stop`, noting in `arrivals` when each event arrives (a
    Background loop; take `start` before the events are written, so that none is missed)."""
    reader = Consumer({**kafka_config(), "group.id": "lab-cdc-latency", "fetch.wait.max.ms": 10})
    reader.assign(start)
    try:
        while not stop.is_set():
            message = reader.poll(0.05)  # returns at the first record, unlike consume(n)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            now = time.time()
            headers = {name: bytes(raw or b"").decode() for name, raw in _headers(message)}
            written_at = float(json.loads(message.value() or b"{}")["written_at"])
            seen = arrivals.by_topic[str(message.topic())].setdefault(headers["id"], [])
            seen.append(now - written_at)
    finally:
        reader.close()
    return arrivals


def event_ids(topic: str) -> list[str]:
    """The `id` header of every event on `topic`, in order, repeats included."""
    return [event.headers["id"] for event in read_events(topic)]


def relay_reads(table: str) -> dict[str, int]:
    """What PostgreSQL counted on `table` (pg_stat_user_tables): scans, rows read by them,
    rows inserted, updated, deleted. A backend reports its counts at most once a second and
    when it exits: read them after the readers have closed their connections."""
    rows = database.run(
        "SELECT seq_scan + coalesce(idx_scan, 0), seq_tup_read + coalesce(idx_tup_fetch, 0),"
        f" n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = '{table}'"
    )
    names = ("scans", "rows read", "inserted", "updated", "deleted")
    return dict(zip(names, map(int, rows[0]), strict=True))


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the PostgreSQL server process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pid(application_name: str, timeout_s: float = 30.0) -> int:
    """The server process serving the connection named `application_name`, once it has
    connected (a relay just started takes a second or two)."""
    query = f"SELECT pid FROM pg_stat_activity WHERE application_name = '{application_name}'"
    deadline = time.monotonic() + timeout_s
    while not (rows := database.run(query)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no connection named {application_name} within {timeout_s} s")
        time.sleep(0.1)
    return int(rows[0][0])


def walsender_pid(slot: str) -> int:
    """The WAL sender serving replication slot `slot` (Debezium's connection)."""
    return int(
        database.scalar(f"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'")
    )


def decoded(slot: str) -> dict[str, int]:
    """What logical decoding has handed slot `slot`'s output plugin (pg_stat_replication_slots):
    transactions and bytes decoded from the log."""
    rows = database.run(
        f"SELECT total_txns, total_bytes FROM pg_stat_replication_slots WHERE slot_name = '{slot}'"
    )
    return {"transactions decoded": int(rows[0][0]), "bytes decoded": int(rows[0][1])}
