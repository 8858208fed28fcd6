"""Diagrams drawn from the brokers' live state, shown inline as SVG (offline) in JupyterLab, the
book and its PDF:

    from helpers import diagrams
    diagrams.rabbitmq_topology(f"{run}.")                # exchanges → bindings → queues (+ DLX)
    diagrams.rabbitmq_topology(["", queue])              # exact names; "" = the default exchange
    diagrams.kafka_topic(topic, groups=[group])          # partitions, leaders, ISR, owners, offsets
    diagrams.redis_stream(stream)                        # groups, consumers, pending entries
    diagrams.event_store(store)                          # streams of events, outbox rows relayed
    diagrams.saga_states(saga_store)                     # states and the transitions orders took
    diagrams.saga_steps(saga_store, order_id)            # one order's saga, change by change
    diagrams.backlogs([queue, other_queue])              # a queue's ready vs its consumers' unacked
    diagrams.permissions()                               # who may do what on the secured brokers
    diagrams.measured_runs(rows)                         # a benchmark's processes and rates
    diagrams.row([before, after], title="...")           # steps of an experiment, side by side
    diagrams.timeline([before, after], title="...")      # the same behind a slider (JupyterLab)

Each call reads the broker (or store) when it is made: the picture is the state at that moment.
Not for changing any state.
"""

from .backlog import backlog, backlogs
from .eventstore import event_store
from .kafka import kafka_topic
from .management import ManagementUnavailable
from .measured import measured_runs
from .multiples import Row, Timeline, row, timeline
from .permissions import permissions
from .picture import Diagram, RenderError
from .rabbitmq import rabbitmq_topology
from .redis import redis_stream
from .sagas import saga_states, saga_steps

__all__ = [
    "Diagram",
    "ManagementUnavailable",
    "RenderError",
    "Row",
    "Timeline",
    "backlog",
    "backlogs",
    "event_store",
    "kafka_topic",
    "measured_runs",
    "permissions",
    "rabbitmq_topology",
    "redis_stream",
    "row",
    "saga_states",
    "saga_steps",
    "timeline",
]
