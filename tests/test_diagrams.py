"""helpers.diagrams against the real brokers: each picture follows the state it is drawn from
(a binding appears with its key, counts move with the queue, a joining member owns partitions, a
commit shows up in the log, an unacknowledged read shows up in the pending entries list, a
relayed outbox row changes its edge), and renders to SVG."""

import re
import time

import pytest
from confluent_kafka import TopicPartition

from helpers import diagrams, kafka
from helpers.cqrs import ORDER_EVENTS, CreateOrder, OrderService, ShipOrder
from helpers.diagrams.kafka import PartitionState, commit_against_outputs, partition_label
from helpers.diagrams.multiples import side_by_side
from helpers.eventsourcing import EventStore
from helpers.naming import unique_name
from helpers.rabbitmq import Topology, connect
from helpers.redis_streams import client, create_group
from helpers.sagas import Kind, Order, SagaStore
from helpers.sagas.orchestrator import TRANSITIONS
from tests.conftest import free_port

EDGE = re.compile(r"^\s*(\w+) -> (\w+) \[(.*)\]$", re.M)


def edge_labels(source: str) -> list[str]:
    """The label of every edge in a diagram's DOT source (invisible layout edges left out)."""
    labels = []
    for _tail, _head, attrs in EDGE.findall(source):
        if "invis" not in attrs:
            label = re.search(r"label=<(.*?)>(?=\s\w+=|$)", attrs)
            labels.append(label.group(1) if label else "")
    return labels


def cells(source: str) -> list[str]:
    """The text of every table cell (the queue, partition, group and consumer rows)."""
    return re.findall(r"<TD[^>]*>(?:<B>)?([^<]*)", source)


@pytest.fixture
def topology(rabbitmq_ep):
    connection = connect(rabbitmq_ep.url)
    channel = connection.channel()
    channel.confirm_delivery()  # a publish returns once the queue has the message
    declared = Topology(channel)
    yield declared
    declared.delete_all()
    connection.close()


def test_a_binding_appears_as_an_edge_labelled_with_its_key(topology, rabbitmq_ep):
    run = unique_name("diagram-binding")
    events = topology.exchange(f"{run}.events", "topic")
    orders = topology.queue(f"{run}.orders")
    topology.queue(f"{run}-elsewhere")  # not under the prefix: never drawn
    before = diagrams.rabbitmq_topology(f"{run}.", url=rabbitmq_ep.url, settle_s=0)
    assert edge_labels(before.source) == []
    topology.bind(orders, events, "order.*")
    after = diagrams.rabbitmq_topology(f"{run}.", url=rabbitmq_ep.url, settle_s=0)
    assert edge_labels(after.source) == ["order.*"]
    assert "queue orders" in cells(after.source)
    assert not any("elsewhere" in cell for cell in cells(after.source))
    assert "<svg" in after.svg and "order.*" in after.svg


def test_a_dead_letter_exchange_argument_draws_a_dead_letter_edge(topology, rabbitmq_ep):
    run = unique_name("diagram-dlx")
    parking = topology.exchange(f"{run}.parking", "fanout")
    arguments = {"x-dead-letter-exchange": parking, "x-dead-letter-routing-key": "parked"}
    topology.queue(f"{run}.work", arguments=arguments)
    topology.queue(f"{run}.plain")  # no dead-letter argument: no such edge
    picture = diagrams.rabbitmq_topology(f"{run}.", url=rabbitmq_ep.url, settle_s=0)
    assert edge_labels(picture.source) == ["dead letters (key parked)"]
    [dead_letter_edge] = [e for e in EDGE.findall(picture.source) if "dead letters" in e[2]]
    tail, head, _attrs = dead_letter_edge
    assert tail.startswith("q") and head.startswith("e")  # from the queue to the exchange


def test_ready_and_unacked_counts_follow_the_queue(topology, rabbitmq_ep):
    run = unique_name("diagram-counts")
    queue = topology.queue(f"{run}.jobs")
    for body in (b"one", b"two"):
        topology.channel.basic_publish("", queue, body)
    published = cells(diagrams.rabbitmq_topology(f"{run}.", url=rabbitmq_ep.url).source)
    assert "ready 2" in published and "unacked 0" in published
    method, _properties, _body = topology.channel.basic_get(queue)  # taken, not acknowledged
    assert method is not None
    taken = cells(diagrams.rabbitmq_topology(f"{run}.", url=rabbitmq_ep.url).source)
    assert "ready 1" in taken and "unacked 1" in taken  # not "(sampled)": a fresh sample
    topology.channel.basic_ack(method.delivery_tag)


def test_an_unreachable_management_api_is_named_with_the_fix(rabbitmq_ep):
    began = time.monotonic()
    with pytest.raises(diagrams.ManagementUnavailable, match="RABBITMQ_MANAGEMENT_PORT"):
        diagrams.rabbitmq_topology("x", url=rabbitmq_ep.url, management_port=free_port())
    assert time.monotonic() - began < 6


def test_a_joining_member_owns_partitions_and_a_commit_shows_in_the_log(topics, kafka_ep):
    topic = topics.create(unique_name("diagram-topic"), partitions=2)
    group = unique_name("diagram-group")
    sink = kafka.producer(kafka_ep.url)
    for i in range(5):
        sink.produce(topic, value=str(i).encode(), partition=0)
    kafka.flush_or_raise(sink)
    before = diagrams.kafka_topic(topic, [group], url=kafka_ep.url)
    assert edge_labels(before.source) == []
    assert f"group {group}: no committed offset" in cells(before.source)
    assert "high watermark 5" in cells(before.source) and "high watermark 0" in cells(before.source)
    member = kafka.consumer(group, kafka_ep.url)
    try:
        member.subscribe([topic])
        deadline = time.monotonic() + 30
        while len(member.assignment()) < 2 and time.monotonic() < deadline:
            member.poll(0.1)  # the group's join and sync happen inside poll
        member.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
        after = diagrams.kafka_topic(topic, [group], url=kafka_ep.url)
    finally:
        member.close()
    assert edge_labels(after.source) == ["owns", "owns"]
    assert f"group {group}: committed 3, lag 2" in cells(after.source)  # partition 0
    assert f"group {group}: no committed offset" in cells(after.source)  # partition 1
    assert "leader: broker 1" in cells(after.source) and "ISR: 1" in cells(after.source)


def test_an_unacknowledged_read_shows_in_the_consumers_pending_entries(redis_ep):
    r, stream = client(redis_ep.url), unique_name("diagram-stream")
    try:
        create_group(r, stream, "billing")
        ids = [r.xadd(stream, {"n": str(i)}) for i in range(3)]
        before = cells(diagrams.redis_stream(stream, url=redis_ep.url).source)
        assert "pending 0" in before and not any(cell.startswith("PEL") for cell in before)
        assert "consumer groups 1" in before and "length 3" in before
        r.xreadgroup("billing", "alice", {stream: ">"}, count=2)  # read, not acknowledged
        read = cells(diagrams.redis_stream(stream, url=redis_ep.url).source)
        assert "consumer alice" in read and "pending 2" in read
        assert [c for c in read if c.startswith("PEL")] == [
            f"PEL {ids[0]} delivered 1x",
            f"PEL {ids[1]} delivered 1x",
        ]
        assert f"last delivered id {ids[1]}" in read and "lag 1" in read
        r.xack(stream, "billing", ids[0])
        acked = cells(diagrams.redis_stream(stream, url=redis_ep.url).source)
        assert [c for c in acked if c.startswith("PEL")] == [f"PEL {ids[1]} delivered 1x"]
    finally:
        r.delete(stream)
        r.close()


def test_outbox_rows_change_from_waiting_to_relayed(tmp_path):
    store = EventStore(tmp_path / "orders.db", ORDER_EVENTS)
    service = OrderService(store, "order-events")
    service.handle(CreateOrder("order-1", "alice", items=2, total_cents=4500))
    service.handle(ShipOrder("order-1"))
    waiting = diagrams.event_store(store)
    assert edge_labels(waiting.source).count("in the outbox") == 2
    assert "v1 OrderCreated<BR/>position 1" in waiting.source
    assert "v2 OrderShipped<BR/>position 2" in waiting.source
    store.mark_sent([1])  # what the relay does once Kafka acknowledged the event
    relayed = edge_labels(diagrams.event_store(store).source)
    assert sorted(relayed) == ["", "in the outbox", "relayed"]  # "": v1 → v2 in the stream


def test_a_row_holds_each_step_once_with_ids_kept_apart(tmp_path):
    store = EventStore(tmp_path / "orders.db", ORDER_EVENTS)
    OrderService(store, "order-events").handle(CreateOrder("order-1", "alice", 1, 100))
    steps = [diagrams.event_store(store, title=f"step {i}") for i in (1, 2)]
    row = diagrams.row(steps, title="two steps")
    svg = row._repr_mimebundle_()["image/svg+xml"]
    assert svg.startswith("<svg") and svg.count("<svg") == 3  # the row and its two steps
    assert "step 1" in svg and "step 2" in svg
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids and len(ids) == len(set(ids))
    with pytest.raises(ValueError, match="at least one"):
        diagrams.row([])


def test_a_row_wider_than_a_page_wraps_to_a_second_line(tmp_path):
    store = EventStore(tmp_path / "orders.db", ORDER_EVENTS)
    steps = [diagrams.event_store(store, title=f"step {i}").svg for i in (1, 2)]
    one_line = re.findall(r'<svg x="([\d.]+)" y="([\d.]+)"', side_by_side(steps))
    assert one_line[0] == ("0.0", "0.0") and float(one_line[1][0]) > 0 and one_line[1][1] == "0.0"
    wrapped = re.findall(r'<svg x="([\d.]+)" y="([\d.]+)"', side_by_side(steps, max_width_pt=1))
    assert wrapped[0] == ("0.0", "0.0") and wrapped[1][0] == "0.0" and float(wrapped[1][1]) > 0


def test_a_diagram_shows_as_inline_svg_in_jupyter(tmp_path):
    store = EventStore(tmp_path / "orders.db", ORDER_EVENTS)
    picture = diagrams.event_store(store, title="empty store")
    bundle = picture._repr_mimebundle_()
    assert bundle["image/svg+xml"] == picture._repr_svg_() == picture.svg
    assert "<svg" in bundle["image/svg+xml"] and "empty store" in bundle["image/svg+xml"]
    assert bundle["text/plain"] == "[diagram] empty store"


def test_saga_transitions_count_the_orders_that_took_them(tmp_path):
    store = SagaStore(tmp_path / "sagas.db")
    names = ("paid", "declined", "refunded", "waiting")
    for name in names:
        store.place(Order(name, "alice", 1000, 1))
        store.move(name, "NEW", "PAYMENT_PENDING")
    steps = [
        ("paid", Kind.PAYMENT_PROCESSED),
        ("paid", Kind.PAYMENT_PROCESSED),  # a repeated reply: the store ignores it
        ("paid", Kind.INVENTORY_RESERVED),
        ("declined", Kind.PAYMENT_FAILED),
        ("refunded", Kind.PAYMENT_PROCESSED),
        ("refunded", Kind.INVENTORY_RESERVATION_FAILED),
        ("refunded", Kind.PAYMENT_REFUNDED),
    ]
    for name, kind in steps:
        store.move(name, *TRANSITIONS[kind])
    picture = diagrams.saga_states(store).source
    assert "COMPLETED<BR/>1 orders now" in picture and "CANCELLED<BR/>2 orders now" in picture
    assert "PAYMENT_PENDING<BR/>1 orders now" in picture and "NEW<BR/>0 orders now" in picture
    labels = edge_labels(picture)
    assert "started<BR/>4 orders" in labels
    assert "PaymentProcessed<BR/>2 orders" in labels  # the repeated reply counts once
    assert "InventoryReserved<BR/>1 orders" in labels and "PaymentFailed<BR/>1 orders" in labels
    # Both end in CANCELLED: only the log of state changes tells the two paths apart.
    assert "InventoryReservationFailed<BR/>1 orders" in labels
    assert "PaymentRefunded<BR/>1 orders" in labels


def test_the_default_exchange_is_drawn_only_when_named(topology, rabbitmq_ep):
    run = unique_name("diagram-default")
    queue = topology.queue(f"{run}.jobs")
    with_default = diagrams.rabbitmq_topology(["", queue], url=rabbitmq_ep.url, settle_s=0)
    assert edge_labels(with_default.source) == [queue]  # routed by the queue's own name
    assert "(default exchange)" in with_default.source and "queue jobs" in with_default.source
    without = diagrams.rabbitmq_topology([queue], url=rabbitmq_ep.url, settle_s=0)
    assert edge_labels(without.source) == [] and "default exchange" not in without.source


def test_a_replica_out_of_the_isr_and_a_partition_without_leader_are_marked():
    # Drawn from a state as describe_topics reports it after broker 2 fell behind, then after
    # every replica failed: the cluster-wide experiments live in notebook 11.
    behind = PartitionState(0, leader=3, replicas=[3, 1, 2], isr=[3, 1])
    label = partition_label(behind, groups=[])
    assert "replicas: 3 (leader), 1, 2 (not in sync)" in label and "ISR: 3, 1" in label
    offline = PartitionState(1, leader=-1, replicas=[1], isr=[])
    label = partition_label(offline, groups=[])
    assert "leader: none (offline)" in label and "ISR: empty" in label


def test_a_queue_exclusive_to_another_connection_is_drawn_with_sampled_counts(
    topology, rabbitmq_ep
):
    run = unique_name("diagram-exclusive")
    topology.queue(f"{run}.shared")
    owner = connect(rabbitmq_ep.url)
    try:
        # A passive declare of it from any other connection is refused (405 RESOURCE_LOCKED).
        owner.channel().queue_declare(f"{run}.private", exclusive=True)
        rows = cells(diagrams.rabbitmq_topology(f"{run}.", url=rabbitmq_ep.url).source)
    finally:
        owner.close()
    assert "queue private" in rows and "queue shared" in rows
    assert sum(row.endswith("(sampled)") for row in rows) == 1  # the private one only


def test_a_topic_is_drawn_the_moment_it_is_created(topics, kafka_ep):
    # Its leader may still be loading it: the offsets are asked again instead of failing.
    for _ in range(5):
        topic = topics.create(unique_name("diagram-new"), partitions=3)
        rows = cells(diagrams.kafka_topic(topic, url=kafka_ep.url).source)
        assert rows.count("high watermark 0") == 3


def test_a_rebalance_drawn_at_each_step_shows_who_owns_what_by_name(topics, kafka_ep):
    topic = topics.create(unique_name("diagram-rebalance"), partitions=2)
    group, owners = unique_name("diagram-rebalance"), {}

    def draw(step):
        source = diagrams.kafka_topic(topic, [group], url=kafka_ep.url).source
        owners[step] = sorted(re.findall(r"label=<([^<>]+)<BR/>group ", source))  # members

    steps = ["+a", "+b", "+c", "-a"]
    kafka.rebalance_timeline(topic, group, 2, steps, url=kafka_ep.url, on_settled=draw)
    assert owners["a joins"] == ["a"]  # one member, both partitions
    assert owners["b joins"] == ["a", "b"]
    assert len(owners["c joins"]) == 2  # two partitions: one of three members owns nothing
    assert "a" not in owners["a leaves"] and len(owners["a leaves"]) == 2


def test_a_static_member_is_drawn_by_its_instance_id(topics, kafka_ep):
    topic, group = topics.create(unique_name("diagram-static")), unique_name("diagram-static")
    member = kafka.consumer(group, kafka_ep.url, {"group.instance.id": f"{group}-worker"})
    try:
        member.subscribe([topic])
        deadline = time.monotonic() + 30
        while not member.assignment() and time.monotonic() < deadline:
            member.poll(0.1)  # the group's join and sync happen inside poll
        source = diagrams.kafka_topic(topic, [group], url=kafka_ep.url).source
    finally:
        member.close()
    assert f"{group}-worker" in re.findall(r"label=<([^<>]+)<BR/>group ", source)


def test_a_commit_past_the_outputs_is_drawn_skipped_and_one_short_of_them_done_again():
    def drawn(committed):
        progress = {"worker": {"committed": committed, "outputs": 252}}
        return cells(commit_against_outputs(progress, title="at the crash").source)

    ahead, behind = drawn(300), drawn(200)
    assert "252 done and committed" in ahead and "killed after 252 outputs" in ahead
    assert "48 committed, never done: skipped on restart" in ahead
    assert "200 done and committed" in behind and not any("never done" in c for c in behind)
    assert "52 done after the commit: done again on restart" in behind
    assert len(drawn(252)) == 3  # header, done and committed, killed after: no gap to draw
