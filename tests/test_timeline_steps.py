"""The notebooks' timelines against the real brokers: each step shows the state it was drawn in,
and moving the slider shows that step. A rebalance (notebook 03), the commit against the outputs
at each crash (04), one saga replayed from its store's log (08) and where a backlog waits as the
publisher runs ahead (12); the leader kill on the cluster (11) is in test_diagrams_cluster.py."""

import html
import re

import pytest
from confluent_kafka import TopicPartition

from helpers import diagrams, kafka
from helpers.diagrams.kafka import commit_against_outputs
from helpers.naming import unique_name
from helpers.rabbitmq import connect
from helpers.sagas import Kind, Order, SagaStore
from helpers.sagas.orchestrator import TRANSITIONS

EDGE = re.compile(r"^\s*(\w+) -> (\w+) \[(.*)\]$", re.M)
NODE = re.compile(r"^\s*(\w+) \[label=<(.*?)>(?:\s\w+=.*)?\]$", re.M)


def cells(source: str) -> list[str]:
    return re.findall(r"<TD[^>]*>(?:<B>)?([^<]*)", source)


def shown(timeline: diagrams.Timeline, index: int) -> str:
    """The text of the picture the slider shows at step `index` (dot escapes some characters)."""
    controls, picture = timeline.widget.children
    controls.children[0].value = index
    return html.unescape(picture.value)


# --- 03: a rebalance ----------------------------------------------------------------------------


def drawn_owners(source: str) -> dict[str, set[int]]:
    """Member → the partitions the picture draws it owning."""
    members = {n: label.split("<BR/>")[0] for n, label in NODE.findall(source) if n[0] == "m"}
    owned: dict[str, set[int]] = {}
    for tail, head, _attrs in EDGE.findall(source):
        if tail in members:
            owned.setdefault(members[tail], set()).add(int(head.removeprefix("p")))
    return owned


def test_each_step_of_a_rebalance_draws_the_assignment_the_group_had_then(topics, kafka_ep):
    topic = topics.create(unique_name("timeline-rebalance"), partitions=3)
    group, steps = unique_name("timeline-rebalance"), []

    def draw(step):
        steps.append(diagrams.kafka_topic(topic, [group], url=kafka_ep.url, title=step))

    moves = ["+a", "+b", "+c", "-a"]
    table = kafka.rebalance_timeline(topic, group, 3, moves, url=kafka_ep.url, on_settled=draw)
    timeline = diagrams.timeline(steps, title="a rebalance")
    assert [step.title for step in timeline.steps] == list(table.index)
    for step, (_name, row) in zip(timeline.steps, table.iterrows(), strict=True):
        expected = {
            member: {int(p) for p in held.split(",")}
            for member, held in row.items()
            if member in ("a", "b", "c") and held not in ("-", "idle")
        }
        assert drawn_owners(step.source) == expected
    assert drawn_owners(timeline.steps[0].source) == {"a": {0, 1, 2}}
    assert "a" not in drawn_owners(timeline.steps[-1].source)  # gone once it left
    assert ">a<" in shown(timeline, 0) and ">a<" not in shown(timeline, 3)


# --- 04: the commit against the outputs, crash by crash -----------------------------------------


def test_each_crash_step_draws_the_commit_and_the_outputs_the_broker_had(topics, kafka_ep):
    source = topics.create(unique_name("timeline-input"), partitions=1)
    output = topics.create(unique_name("timeline-output"), partitions=1)
    group = unique_name("timeline-worker")
    kafka.produce_numbered(source, 20, url=kafka_ep.url)
    committer, sink = kafka.consumer(group, kafka_ep.url), kafka.producer(kafka_ep.url)
    steps, produced = [], 0
    try:
        for commit_to, outputs_by_then in ((10, 4), (10, 13), (20, 20)):
            committer.commit(offsets=[TopicPartition(source, 0, commit_to)], asynchronous=False)
            for _ in range(outputs_by_then - produced):
                sink.produce(output, value=b"effect")
            kafka.flush_or_raise(sink)
            produced = outputs_by_then
            progress = kafka.progress_at_crash(source, output, group, url=kafka_ep.url)
            title = f"crash {len(steps) + 1}"
            steps.append(commit_against_outputs({"worker": progress}, title=title))
    finally:
        committer.close()
    timeline = diagrams.timeline(steps, title="crash by crash")
    first, second, third = (cells(step.source) for step in timeline.steps)
    assert "6 committed, never done: skipped on restart" in first
    assert "4 done and committed" in first and not any("done again" in c for c in first)
    assert "3 done after the commit: done again on restart" in second
    assert "10 done and committed" in second and not any("never done" in c for c in second)
    assert third == ["worker", "20 done and committed", "killed after 20 outputs"]
    assert "skipped on restart" in shown(timeline, 0)
    assert "skipped on restart" not in shown(timeline, 1)


# --- 08: one saga from the store's log -----------------------------------------------------------


def filled(source: str) -> list[str]:
    """The states a saga picture fills (the one the order is in)."""
    return re.findall(r"^\s*(\w+) \[label=<[^\n]*fillcolor=\"#(?!ffffff)", source, re.M)


def solid(source: str) -> set[tuple[str, str]]:
    return {(t, h) for t, h, attrs in EDGE.findall(source) if "dotted" not in attrs}


def test_each_step_of_a_saga_is_the_state_its_log_had_reached(tmp_path):
    store = SagaStore(tmp_path / "sagas.db")
    for name in ("refunded", "other"):
        store.place(Order(name, "alice", 1000, 1))
        store.move(name, "NEW", "PAYMENT_PENDING")
    store.move("refunded", *TRANSITIONS[Kind.PAYMENT_PROCESSED])
    store.move("refunded", *TRANSITIONS[Kind.PAYMENT_PROCESSED])  # stale: not logged, no step
    store.move("other", *TRANSITIONS[Kind.PAYMENT_FAILED])  # another order: not in its steps
    store.move("refunded", *TRANSITIONS[Kind.INVENTORY_RESERVATION_FAILED])
    store.move("refunded", *TRANSITIONS[Kind.PAYMENT_REFUNDED])

    timeline = diagrams.timeline(diagrams.saga_steps(store, "refunded"), title="one saga")

    path = ["NEW", "PAYMENT_PENDING", "INVENTORY_PENDING", "REFUND_PENDING", "CANCELLED"]
    assert [filled(step.source) for step in timeline.steps] == [[state] for state in path]
    taken = list(zip(path, path[1:], strict=False))
    for number, step in enumerate(timeline.steps):
        assert solid(step.source) == set(taken[:number])
    assert ("PAYMENT_PENDING", "CANCELLED") not in solid(timeline.steps[-1].source)  # "other"'s
    assert "REFUND_PENDING → CANCELLED" in timeline.steps[-1].title
    assert "change 2 of 4" in shown(timeline, 2)
    with pytest.raises(LookupError, match="no state change of 'nobody'"):
        diagrams.saga_steps(store, "nobody")


# --- 12: where the backlog waits as the publisher runs ahead ------------------------------------


def test_each_step_draws_where_the_backlog_waited_as_it_grew(rabbitmq_ep):
    run = unique_name("timeline-backlog")
    queues = [f"{run}.limited", f"{run}.unlimited"]
    publisher = connect(rabbitmq_ep.url).channel()
    publisher.confirm_delivery()
    holders, steps = [], []
    try:
        for queue, prefetch in zip(queues, (5, 0), strict=True):
            publisher.queue_declare(queue)
            holder = connect(rabbitmq_ep.url).channel()
            holder.basic_qos(prefetch_count=prefetch)
            holder.basic_consume(queue, lambda *_delivery: None)  # never acknowledges
            holders.append(holder)
        for upto in (3, 30):
            for queue in queues:
                for i in range(upto - (3 if upto == 30 else 0)):
                    publisher.basic_publish("", queue, str(i).encode())
            titles = [f"prefetch 5: {upto} published", f"no limit: {upto} published"]
            where = diagrams.backlogs(queues, url=rabbitmq_ep.url, titles=titles, settle_s=30)
            steps.append(diagrams.row(where, title=f"{upto} published"))
    finally:
        for holder in holders:
            holder.connection.close()
        for queue in queues:
            publisher.queue_delete(queue)
        publisher.connection.close()
    timeline = diagrams.timeline(steps, title="the publisher runs ahead")
    (limited_3, unlimited_3), (limited_30, unlimited_30) = (step.steps for step in steps)
    assert "ready 0" in cells(limited_3.source) and "holds 3 unacked" in limited_3.source
    assert "ready 25" in cells(limited_30.source) and "holds 5 unacked" in limited_30.source
    for unlimited, held in ((unlimited_3, 3), (unlimited_30, 30)):
        assert "ready 0" in cells(unlimited.source) and f"holds {held} unacked" in unlimited.source
    assert "ready 25" not in shown(timeline, 0) and "ready 25" in shown(timeline, 1)
    # Where no widget is drawn (the book): the rounds as one picture, in the order they happened.
    book = timeline._repr_mimebundle_()["image/svg+xml"]
    order = ["prefetch 5: 3", "no limit: 3", "prefetch 5: 30", "no limit: 30"]
    assert [book.index(f"{title} published") for title in order] == sorted(
        book.index(f"{title} published") for title in order
    )
