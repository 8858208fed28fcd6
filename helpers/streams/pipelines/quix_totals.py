"""A running total per customer, kept in Quix Streams' state (RocksDB on local disk, every change
also written to a changelog topic), one output per order. Run in the quix environment as a
process: python quix_totals.py BOOTSTRAP GROUP INPUT OUTPUT GUARANTEE COMMIT_EVERY STATE_DIR
INSTANCE."""

import sys

from quixstreams import Application  # type: ignore[import-not-found]  # its own venv
from quixstreams.state import State  # type: ignore[import-not-found]

bootstrap, group, source, sink, guarantee, commit_every, state_dir, instance = sys.argv[1:9]

app = Application(
    broker_address=bootstrap,
    consumer_group=group,
    auto_offset_reset="earliest",
    processing_guarantee=guarantee,  # exactly-once: outputs, changelog, offsets in 1 transaction
    commit_every=int(commit_every),  # a checkpoint after this many orders ...
    commit_interval=600.0,  # ... and not by time, so the crash falls between two checkpoints
    state_dir=state_dir,  # a new folder: the state is rebuilt from the changelog topic
    # a static member: a restarted instance takes its partitions back at once, without waiting
    # for the group to notice that the killed one is gone; one that stays away loses them after
    # session.timeout.ms (6 s, the broker's minimum; librdkafka's default is 45 s)
    consumer_extra_config={"group.instance.id": instance, "session.timeout.ms": 6000},
    # a stable transactional.id (Quix's default is random): the restarted instance fences the
    # killed one and aborts its open transaction at once, instead of read_committed readers
    # waiting for it to time out (transaction.timeout.ms, 60 s in librdkafka)
    producer_extra_config={"transactional.id": f"{group}-{instance}"},
)


def add_to_total(order: dict[str, int], state: State) -> dict[str, int]:
    total = state.get("total", 0) + order["amount"]  # state is per message key: the customer
    state.set("total", total)
    return {"order_id": order["order_id"], "customer": order["customer"], "total": total}


orders = app.dataframe(app.topic(source, value_deserializer="json"))
orders = orders.apply(add_to_total, stateful=True)
orders.to_topic(app.topic(sink, value_serializer="json"))
app.run()
