"""Health checks that talk each broker's own protocol (each broker's module holds its exchange),
each within a deadline.

A port that accepts TCP is not a healthy broker: every probe completes a real exchange
(Kafka metadata, an AMQP handshake, a Redis PING) and, when `deep`, a write round trip
(topic create/delete, queue declare, XADD). Only a broker the lab started itself gets a deep
probe: someone else's cluster is never written to. Not for starting or stopping brokers.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from redis.backoff import NoBackoff
from redis.retry import Retry

from . import rabbitmq_broker
from .config import BROKER_MODULES, Endpoint, too_old

# A redis-py retry policy of one try. redis-py 8 retries a ConnectionError (AuthenticationError is
# one) 10 times with backoff by default, about 4 s: a probe, or a lesson showing a refusal, wants
# the answer at once.
ONE_TRY = Retry(NoBackoff(), retries=0)


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str  # why it is unhealthy, or a short description of what answered
    version: str | None = None
    listening: bool = False  # something accepted a TCP connection on the port
    speaks: bool = False  # ...and answered in the broker's own protocol
    alarms: tuple[str, ...] = ()  # RabbitMQ's resource alarms in effect ("memory on rabbit@x")


def port_is_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def probe(ep: Endpoint, timeout_s: float = 3.0, deep: bool = False) -> Health:
    """Check one broker; never raises, never takes much longer than `timeout_s`."""
    if not port_is_open(ep.host, ep.port, timeout_s=min(timeout_s, 1.5)):
        return Health(False, f"nothing is listening on {ep.address}")
    try:
        version = BROKER_MODULES[ep.broker].probe(ep, timeout_s, deep)
    except Exception as exc:  # any failure of the exchange means "not a healthy broker"
        return Health(
            False,
            f"something listens on {ep.address} but it does not answer as {ep.broker}: "
            f"{type(exc).__name__}: {_first_line(exc)}",
            listening=True,
        )
    old = too_old(ep.broker, version)
    if old:
        return Health(False, f"{old}: upgrade it", version, listening=True, speaks=True)
    alarms = (
        tuple(rabbitmq_broker.alarms(ep, min(timeout_s, 1.5)) or ())
        if ep.broker == "rabbitmq"
        else ()
    )
    if alarms:
        detail = f"resource alarm on ({'; '.join(alarms)}): it blocks every publishing connection"
        return Health(False, detail, version, listening=True, speaks=True, alarms=alarms)
    return Health(True, "ok", version=version, listening=True, speaks=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    return text.splitlines()[0][:200]
