"""Orders enriched with their customer's record, by Quix Streams: a stream-table join. The
customers topic is compacted (the latest record per customer is the table); each order is joined
with the customer's record as of the order's event time. Run in the quix environment as a
process: python quix_enrich.py BOOTSTRAP GROUP ORDERS CUSTOMERS OUTPUT."""

import sys

from quixstreams import Application  # type: ignore[import-not-found]  # its own venv

bootstrap, group, orders_topic, customers_topic, sink = sys.argv[1:6]

app = Application(
    broker_address=bootstrap,
    consumer_group=group,
    auto_offset_reset="earliest",
    state_dir=f"state-{group}",
)
orders = app.dataframe(app.topic(orders_topic, value_deserializer="json"))  # keyed by customer
customers = app.dataframe(app.topic(customers_topic, value_deserializer="json"))
# Each customer record goes into state; each order looks up the latest one at or before its
# own timestamp, with the same key. Both topics need the same number of partitions.
enriched = orders.join_asof(customers, how="left", on_merge="keep-left")
enriched.to_topic(app.topic(sink, value_serializer="json"))
app.run()
