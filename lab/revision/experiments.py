"""The small experiments behind the quiz's "predict the count" questions, each on the real
broker and counted from it: partitions assigned, partitions written, what a queue kept or
nacked, a stream's length, a group's pending entries. A few seconds in all."""

from __future__ import annotations

from collections.abc import Callable

from helpers.backpressure.rabbitmq import overflow
from helpers.kafka import Topics, flush_or_raise, producer, read_all
from helpers.kafka.groups import rebalance_timeline
from helpers.redis_streams import client


def measure_all(run: str) -> dict[str, float]:
    """Every experiment, named by its question's id; `run` prefixes what they create."""
    return {question: float(run_it(run)) for question, run_it in EXPERIMENTS.items()}


def idle_consumers(run: str, partitions: int = 3, members: int = 4) -> int:
    """Members of one group on a `partitions`-partition topic left with no partition, once the
    last has joined and the group has settled (notebook 03's rebalance timeline)."""
    topics = Topics()
    topic = topics.create(f"{run}.idle", partitions=partitions)
    try:
        joins = [f"+c{i}" for i in range(1, members + 1)]
        timeline = rebalance_timeline(topic, f"{run}.idle-group", partitions, joins)
        return int((timeline.iloc[-1] == "idle").sum())
    finally:
        topics.delete_all()


def partitions_for_one_key(run: str, partitions: int = 6, messages: int = 20) -> int:
    topics = Topics()
    topic = topics.create(f"{run}.one-key", partitions=partitions)
    try:
        out = producer()
        for i in range(messages):
            out.produce(topic, key="order-7", value=str(i))
        flush_or_raise(out, 30)
        return len({record.partition() for record in read_all(topic)})
    finally:
        topics.delete_all()


def exact_maxlen(run: str, cap: int = 5, added: int = 20) -> int:
    r, stream = client(), f"{run}:exact"
    for i in range(added):
        r.xadd(stream, {"n": i}, maxlen=cap, approximate=False)
    length = r.xlen(stream)
    r.delete(stream)
    return length


def pending_after_crash(run: str, read: int = 10) -> int:
    """Entries read by a consumer that never acknowledged them, as XPENDING counts them."""
    r, stream = client(), f"{run}:pending"
    r.xgroup_create(stream, "workers", id="0", mkstream=True)
    for i in range(read):
        r.xadd(stream, {"n": i})
    r.xreadgroup("workers", "gone", {stream: ">"}, count=read)  # and then it "died"
    pending = int(r.xpending(stream, "workers")["pending"])
    r.delete(stream)
    return pending


EXPERIMENTS: dict[str, Callable[[str], float]] = {
    "kafka-idle-consumers": idle_consumers,
    "kafka-partitions-one-key": partitions_for_one_key,
    "rabbitmq-drop-head-kept": lambda run: overflow(
        f"{run}.drop-head", policy="drop-head", max_length=10, count=25)["kept"],
    "rabbitmq-reject-publish-nacks": lambda run: overflow(
        f"{run}.reject", policy="reject-publish", max_length=5, count=12)["nacked"],
    "redis-exact-maxlen": exact_maxlen,
    "redis-pending-after-crash": pending_after_crash,
}  # fmt: skip
