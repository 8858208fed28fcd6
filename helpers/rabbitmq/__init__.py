"""RabbitMQ helpers for the notebooks (pika): connections and topology, JSON publishing and
draining, publisher confirms, competing and poison-aware consumers, a crashable worker process,
request-reply, and retry-with-delay queues."""

from .confirms import ConfirmReport, publish_confirmed
from .connection import Topology, connect, parameters, queue_depth, wait_until_unconsumed
from .consumers import DispatchReport, competing_consumers, consume_or_dead_letter
from .messages import PERSISTENT, TRANSIENT, Received, drain, publish_json
from .retry import attempts_so_far, declare_retry_topology, process_with_retries
from .routing import observe_routing, requeue_until_gone
from .rpc import RpcClient, RpcServer, RpcTimeout
from .worker import start_worker

__all__ = [
    "PERSISTENT",
    "TRANSIENT",
    "ConfirmReport",
    "DispatchReport",
    "Received",
    "RpcClient",
    "RpcServer",
    "RpcTimeout",
    "Topology",
    "attempts_so_far",
    "competing_consumers",
    "connect",
    "consume_or_dead_letter",
    "declare_retry_topology",
    "drain",
    "parameters",
    "process_with_retries",
    "publish_confirmed",
    "publish_json",
    "observe_routing",
    "queue_depth",
    "requeue_until_gone",
    "start_worker",
    "wait_until_unconsumed",
]
