"""The transactional consume-transform-produce loop in plain confluent-kafka, as notebook 10
shows it: each transaction carries a batch of outputs *and* the consumer offsets they came from,
so a `read_committed` reader and the group's next member see both or neither. `copy_timed` runs
it to measure what a transaction costs per size.

In one process, without crashes: the exactly-once worker that is SIGKILLed mid-batch (notebook
04) runs the same steps in the lab's consume loop (`loop.process_batch`).
"""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from helpers.naming import unique_name

from .clients import consumer, producer


def copy_in_transactions(
    source: Consumer, sink: Producer, output: str, count: int, per_transaction: int
) -> int:
    sink.init_transactions(30)  # fences an older producer with this transactional.id
    copied, deadline = 0, time.monotonic() + 60
    while copied < count and time.monotonic() < deadline:
        batch = source.consume(min(per_transaction, count - copied), timeout=1)
        batch = [message for message in batch if message.error() is None]
        if batch:
            sink.begin_transaction()
            try:
                for message in batch:
                    sink.produce(output, message.value(), message.key())
                offsets = source.position(source.assignment())  # the next offsets to read
                sink.send_offsets_to_transaction(offsets, source.consumer_group_metadata(), 30)
                sink.commit_transaction(30)  # the outputs and the offsets, or neither
            except KafkaException:
                sink.abort_transaction(30)  # neither: read_committed readers never see them
                raise
            copied += len(batch)
    return copied


def copy_timed(
    input_topic: str, output: str, count: int, per_transaction: int, url: str | None = None
) -> dict[str, float]:
    """Copy the first `count` messages of `input_topic` (one partition) to `output` with
    `copy_in_transactions`, as a group of its own with a transactional.id of its own; the
    messages copied per second. Raises TimeoutError if fewer than `count` were copied."""
    name = unique_name("copier")
    source = consumer(name, url)  # its own group: the offsets go into each transaction
    source.assign([TopicPartition(input_topic, 0, OFFSET_BEGINNING)])
    # The coordinator answers CONCURRENT_TRANSACTIONS to the offsets of a transaction that
    # starts while the previous one's markers are still being written; librdkafka asks again
    # after retry.backoff.ms, 100 ms by default: more than a small transaction takes.
    sink = producer(url, {"transactional.id": name, "retry.backoff.ms": 10})
    try:
        began = time.monotonic()
        copied = copy_in_transactions(source, sink, output, count, per_transaction)
        seconds = time.monotonic() - began
    finally:
        source.close()
    if copied < count:
        raise TimeoutError(f"copied {copied} of {count} messages from {input_topic} in 60 s")
    return {
        "per_transaction": per_transaction,
        "throughput_msg_s": copied / seconds,
    }
