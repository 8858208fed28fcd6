"""Orders counted per window of event time, by Quix Streams: one tumbling and one hopping window,
each emitted once it is final (event time past its end plus the grace period). Run in the quix
environment as a process: python quix_windows.py BOOTSTRAP GROUP INPUT TUMBLING_OUT HOPPING_OUT
WINDOW_MS STEP_MS GRACE_MS [SLIDING_OUT], and a sliding window of WINDOW_MS, per order, to
SLIDING_OUT if given."""

import json
import sys
import time

from quixstreams import Application  # type: ignore[import-not-found]  # its own venv

bootstrap, group, source, tumbling_out, hopping_out = sys.argv[1:6]
window_ms, step_ms, grace_ms = (int(arg) for arg in sys.argv[6:9])

app = Application(
    broker_address=bootstrap,
    consumer_group=group,
    auto_offset_reset="earliest",  # a new group reads the topic from its first order
    state_dir=f"state-{group}",
)
orders = app.dataframe(app.topic(source, value_deserializer="json"))  # event time: the timestamp
seen = {"first": 0.0, "last": 0.0, "orders": 0}


def note(order: dict[str, int]) -> None:  # when each order was processed, for the throughput figure
    seen["first"] = seen["first"] or time.time()
    seen["last"], seen["orders"] = time.time(), seen["orders"] + 1
    print(json.dumps({"processed": seen}), flush=True)  # one line per order in the log


orders = orders.update(note)
tumbling = orders.tumbling_window(duration_ms=window_ms, grace_ms=grace_ms).count().final()
tumbling.to_topic(app.topic(tumbling_out, value_serializer="json"))
hopping = orders.hopping_window(duration_ms=window_ms, step_ms=step_ms, grace_ms=grace_ms)
hopping.count().final().to_topic(app.topic(hopping_out, value_serializer="json"))
if len(sys.argv) > 9:  # a window [t - WINDOW_MS, t] for each order's event time t
    sliding = orders.sliding_window(duration_ms=window_ms, grace_ms=grace_ms).count().final()
    sliding.to_topic(app.topic(sys.argv[9], value_serializer="json"))
app.run()
