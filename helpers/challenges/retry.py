"""Challenge: a retry topology with a parking lot (RabbitMQ).

The learner declares the queues, `fn(channel, work, retry, parking_lot, delay_ms)`, with the
default exchange only. The worker consumes `work`: a task that fails is rejected
(`requeue=False`) until its third attempt, then copied to `parking_lot` (a confirmed publish)
and acked. Attempts are counted from the `x-death` header RabbitMQ adds each time it
dead-letters a message, so a rejected task comes back only if the topology routes it back,
after `delay_ms` in `retry`. Tasks 1, 5, 9... fail once; tasks 3, 7, 11... always fail.
Effects: the effect log (a task processed, before its ack) and the parking lot's messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .grading import Challenge, Guarantee, Job, wait_until

MAX_ATTEMPTS, DELAY_MS, IDLE_S = 3, 200, 0.3


def fails(task: str, attempt: int) -> bool:
    """Whether this attempt at `task` fails: every fourth from 1 once, from 3 always."""
    number = int(task.rsplit("-", 1)[1])
    return number % 4 == 3 or (number % 4 == 1 and attempt == 1)


def attempts_so_far(headers: dict[str, Any] | None, work: str) -> int:
    """How many times RabbitMQ dead-lettered this message out of `work` after a reject."""
    for death in (headers or {}).get("x-death", []):
        if death.get("queue") == work and death.get("reason") == "rejected":
            return int(death.get("count", 0))
    return 0


class Scenario:
    def __init__(self, url: str | None, workdir: Path, name: str, messages: int) -> None:
        from helpers.rabbitmq import connect  # here: the worker needs only pika
        from lab.brokers import endpoint

        self.url = url or endpoint("rabbitmq").url
        self.connection = connect(self.url)
        base = f"{workdir.name}.{name}"
        self.queues = {"work": base, "retry": f"{base}.retry", "parking_lot": f"{base}.parked"}
        self.sent = [f"task-{i:03d}" for i in range(messages)]

    def settings(self) -> dict[str, Any]:
        return {**self.queues, "sent": self.sent, "client": self.url}

    def before_recovery(self) -> None:
        """Wait until the broker has closed the dead worker's connection: it then requeued
        the message that worker had not acked."""
        channel = self.connection.channel()

        def no_consumer() -> bool:
            declared = channel.queue_declare(self.queues["work"], passive=True)
            return int(declared.method.consumer_count) == 0

        wait_until(no_consumer, f"the dead worker still consumes from {self.queues['work']}")
        channel.close()

    def effects(self) -> list[str]:
        """The tasks in the parking lot (the processed ones are in the effect logs)."""
        channel, parked = self.connection.channel(), list[str]()
        while True:
            method, _properties, body = channel.basic_get(self.queues["parking_lot"], auto_ack=True)
            if method is None:
                return parked
            parked.append(body.decode())

    def clean(self) -> None:
        if self.connection.is_open:
            channel = self.connection.channel()
            for queue in self.queues.values():
                channel.queue_delete(queue)
            self.connection.close()


def work(job: Job) -> None:
    """The worker: declare with `fn`, publish the tasks (the first worker), then consume until
    the work queue is idle and nothing waits in the retry queue."""
    settings, fn, crash, effects = job.settings, job.fn, job.crash, job.effect_log()
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(settings["client"]))
    channel = connection.channel()

    def retries_waiting() -> int:
        probe = connection.channel()
        try:
            declared = probe.queue_declare(settings["retry"], passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            return 0  # no such queue (the broker closed the probe): nothing can come back
        probe.close()
        return int(declared.method.message_count)

    work_queue, parking_lot = settings["work"], settings["parking_lot"]
    fn(channel, work_queue, settings["retry"], parking_lot, DELAY_MS)
    channel.confirm_delivery()
    for task in [] if settings["second"] else settings["sent"]:
        channel.basic_publish("", work_queue, task.encode(), pika.BasicProperties(delivery_mode=2))
    channel.basic_qos(prefetch_count=1)
    for method, properties, body in channel.consume(work_queue, inactivity_timeout=IDLE_S):
        if method is None:
            if retries_waiting():
                continue
            return
        task, attempt = body.decode(), attempts_so_far(properties.headers, work_queue) + 1
        if not fails(task, attempt):
            effects.record("processed", task)  # the effect, before the ack
        elif attempt < MAX_ATTEMPTS:
            channel.basic_reject(method.delivery_tag, requeue=False)  # to wherever it routes
            crash.reached("after-reject")
            continue
        else:
            parked = pika.BasicProperties(delivery_mode=2, headers={"x-attempts": attempt})
            channel.basic_publish("", parking_lot, body, parked)  # confirmed
        crash.reached("before-ack")  # processed, or parked: not yet acked
        channel.basic_ack(method.delivery_tag)


CHALLENGE = Challenge(
    name="retry",
    parameters=("channel", "work", "retry", "parking_lot", "delay_ms"),
    guarantee=Guarantee("every task processed or parked, none lost"),
    kill_points=("after-reject", "before-ack"),
    scenario=Scenario,
    work=work,
    effects_in_file=True,
    ordered=False,  # processed tasks in the logs, parked ones in a queue: no one order
    library="pika",
)
