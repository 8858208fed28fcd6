"""What TLS costs, on the same secured broker and the same user, with and without TLS: the time to
connect (TCP, the TLS handshake, the login), throughput of a plain loop, and the median round
trip of one write waiting for its acknowledgement. Simple loops, one process: a figure for the
comparison, not a benchmark of the broker (notebook 09 has those)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import pika
from confluent_kafka import KafkaError, Producer

from helpers.kafka.clients import flush_or_raise, report_error
from lab.brokers import secure

BODY = b"x" * 100


BROKER_DEADLINE_S = 60.0  # for the broker to hold every message of one run


def measure(broker: str, *, tls: bool, messages: int, samples: int, target: str) -> dict[str, Any]:
    """One row: broker, tls, connect_ms, throughput_msg_s, p50_round_trip_ms, and `stored`: how
    many messages the broker acknowledged or holds (counted from it, not from the loop)."""
    run = {"kafka": _kafka, "rabbitmq": _rabbitmq, "redis": _redis}[broker]
    connect_s, throughput, round_trips, stored = run(tls, messages, samples, target)
    return {
        "broker": broker,
        "tls": tls,
        "connect_ms": connect_s * 1000,
        "throughput_msg_s": throughput,
        "p50_round_trip_ms": statistics.median(round_trips) * 1000,
        "stored": stored,
    }


def _timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


Figures = tuple[float, float, list[float], int]  # connect s, messages/s, round trips, stored


def _kafka(tls: bool, messages: int, samples: int, topic: str) -> Figures:
    acknowledged = [0]

    def count(error: KafkaError | None, _message: object) -> None:
        acknowledged[0] += error is None

    config = {
        **secure.kafka_config("writer", tls=tls),
        "acks": "all",
        "linger.ms": 5,
        "log_level": 0,
        "error_cb": report_error,
        "on_delivery": count,
    }
    producer = Producer(config)
    connect_s = _timed(lambda: producer.list_topics(topic, timeout=10))  # login + metadata

    def one_acknowledged() -> None:
        producer.produce(topic, BODY)
        flush_or_raise(producer, 10)

    round_trips = [_timed(one_acknowledged) for _ in range(samples)]
    began = time.perf_counter()
    for _ in range(messages):
        producer.produce(topic, BODY)
        producer.poll(0)
    flush_or_raise(producer, 30)
    return connect_s, messages / (time.perf_counter() - began), round_trips, acknowledged[0]


def _rabbitmq(tls: bool, messages: int, samples: int, queue: str) -> Figures:
    parameters = secure.rabbitmq_parameters("orders-app", "orders", tls=tls)
    began = time.perf_counter()
    connection = pika.BlockingConnection(parameters)
    connect_s = time.perf_counter() - began
    channel = connection.channel()
    channel.queue_declare(queue)
    channel.confirm_delivery()
    round_trips = [_timed(lambda: channel.basic_publish("", queue, BODY)) for _ in range(samples)]
    unconfirmed = connection.channel()
    began = time.perf_counter()
    for _ in range(messages):
        unconfirmed.basic_publish("", queue, BODY)
    deadline, expected = time.monotonic() + BROKER_DEADLINE_S, samples + messages
    while (held := unconfirmed.queue_declare(queue, passive=True).method.message_count) < expected:
        if time.monotonic() > deadline:
            channel.queue_delete(queue)  # nothing left behind
            connection.close()
            raise TimeoutError(
                f"{queue} holds {held} of {expected} messages after {BROKER_DEADLINE_S:.0f} s: "
                "is the broker blocking publishers (a memory or disk alarm)?"
            )
        time.sleep(0.001)  # until the broker has every one
    throughput = messages / (time.perf_counter() - began)
    channel.queue_delete(queue)
    connection.close()
    return connect_s, throughput, round_trips, held


def _redis(tls: bool, messages: int, samples: int, stream: str) -> Figures:
    client = secure.redis_client("writer", tls=tls)
    connect_s = _timed(client.ping)  # the pool connects (and logs in) on first use
    round_trips = [_timed(lambda: client.xadd(stream, {"b": BODY})) for _ in range(samples)]
    began = time.perf_counter()
    for start in range(0, messages, 100):  # pipelined, 100 commands per round trip
        with client.pipeline(transaction=False) as pipe:
            for _ in range(min(100, messages - start)):
                pipe.xadd(stream, {"b": BODY})
            pipe.execute()
    throughput = messages / (time.perf_counter() - began)
    administrator = secure.redis_client(None, tls=tls)  # the writer may not even count them
    stored = administrator.xlen(stream)
    administrator.delete(stream)
    return connect_s, throughput, round_trips, stored


def compare(
    targets: dict[str, str], *, messages: int, samples: int, repeats: int = 3
) -> pd.DataFrame:
    """Each broker without and with TLS, alternately, `repeats` times; the median of each figure,
    TLS's figure as a ratio of the plain one, and the fewest messages the broker stored in any
    run."""
    rows = [
        measure(broker, tls=tls, messages=messages, samples=samples, target=target)
        for _ in range(repeats)
        for broker, target in targets.items()
        for tls in (False, True)
    ]
    medians = pd.DataFrame(rows).groupby(["broker", "tls"]).median()
    columns: dict[tuple[str, str], pd.Series] = {
        ("stored", "fewest"): pd.DataFrame(rows).groupby("broker")["stored"].min()
    }
    for figure in ("connect_ms", "throughput_msg_s", "p50_round_trip_ms"):
        plain, tls = medians[figure].xs(False, level="tls"), medians[figure].xs(True, level="tls")
        columns |= {
            (figure, "plain"): plain,
            (figure, "tls"): tls,
            (figure, "tls/plain"): tls / plain,
        }
    return pd.DataFrame(columns)
