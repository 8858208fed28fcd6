"""Health checks that talk each broker's own protocol, each within a deadline.

A port that accepts TCP is not a healthy broker: every probe completes a real exchange
(Kafka metadata, an AMQP handshake, a Redis PING) and, when `deep`, a write round trip
(topic create/delete, queue declare, XADD). Only a broker the lab started itself gets a deep
probe: someone else's cluster is never written to. Not for starting or stopping brokers.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

import pika
import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import Endpoint, kafka_config, too_old

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
        version = _PROBES[ep.broker](ep, timeout_s, deep)
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
        tuple(rabbitmq_alarms(ep, min(timeout_s, 1.5)) or ()) if ep.broker == "rabbitmq" else ()
    )
    if alarms:
        detail = f"resource alarm on ({'; '.join(alarms)}): it blocks every publishing connection"
        return Health(False, detail, version, listening=True, speaks=True, alarms=alarms)
    return Health(True, "ok", version=version, listening=True, speaks=True)


def management_port() -> int:
    return int(os.environ.get("RABBITMQ_MANAGEMENT_PORT", "15672"))


def rabbitmq_alarms(ep: Endpoint, timeout_s: float = 1.5) -> list[str] | None:
    """The resource alarms in effect on RabbitMQ's nodes ("memory on rabbit@host"), read live
    (not from the statistics, which lag by seconds) from the management API's alarm check, on
    RABBITMQ_MANAGEMENT_PORT of the broker's host with the URL's user. None if that API does not
    answer: a broker without the management plugin, or a user who may not read it."""
    params = pika.URLParameters(ep.url)
    user = getattr(params.credentials, "username", "")
    password = getattr(params.credentials, "password", "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    scheme = "https" if ep.url.startswith("amqps:") else "http"
    url = f"{scheme}://{ep.host}:{management_port()}/api/health/checks/alarms"
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code != 503:  # 503 is the check failing: the alarms are listed in the body
            return None
        answer = json.load(exc)
    except (OSError, ValueError):
        return None
    return [f"{a.get('resource')} on {a.get('node')}" for a in answer.get("alarms", [])]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    return text.splitlines()[0][:200]


def _kafka(ep: Endpoint, timeout_s: float, deep: bool) -> str | None:
    admin = AdminClient(
        {
            **kafka_config(ep.url),
            "socket.timeout.ms": int(timeout_s * 1000),
            # A probe of a wrong port should say one sentence, not log a page of retries.
            "log_level": 0,
        }
    )
    metadata = admin.list_topics(timeout=timeout_s)
    if not metadata.brokers:
        raise KafkaException(f"metadata from {ep.address} lists no broker")
    if deep:
        name = f"_lab_ready_{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(name, 1, 1)], operation_timeout=timeout_s)[name].result(
            timeout=timeout_s * 3
        )
        admin.delete_topics([name], operation_timeout=timeout_s)[name].result(timeout=timeout_s * 3)
    return None  # the Kafka protocol does not report the broker's release


def _rabbitmq(ep: Endpoint, timeout_s: float, deep: bool) -> str | None:
    params = pika.URLParameters(ep.url)
    params.socket_timeout = timeout_s
    params.stack_timeout = timeout_s
    params.blocked_connection_timeout = timeout_s
    params.connection_attempts = 1
    connection = pika.BlockingConnection(params)
    try:
        if deep:
            channel = connection.channel()
            channel.queue_declare(queue="", exclusive=True)  # dropped with the connection
        version = connection._impl.server_properties.get("version")  # no public accessor
        return version.decode() if isinstance(version, bytes) else version
    finally:
        connection.close()


def _redis(ep: Endpoint, timeout_s: float, deep: bool) -> str | None:
    client = redis.Redis.from_url(
        ep.url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
    )
    try:
        client.ping()
        if deep:
            key = f"_lab_ready_{uuid.uuid4().hex[:8]}"
            client.xadd(key, {"probe": "1"})
            client.delete(key)
        return client.info("server").get("redis_version")
    finally:
        client.close()


_PROBES = {"kafka": _kafka, "rabbitmq": _rabbitmq, "redis": _redis}
