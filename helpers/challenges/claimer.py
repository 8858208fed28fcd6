"""Challenge: a Redis Streams claimer.

A consumer of a group reads a batch of entries and is killed before it acks them all: they stay
in the group's pending entries list, owned by a consumer that will never come back. The next
consumer, under a new name, first calls the learner's `fn(r, stream, group, consumer,
min_idle_ms)`, which returns the entries it must now process (entry id and fields, as Redis
returns them), then reads new entries. Effects are the effect log each worker writes before
each XACK.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from .grading import Challenge, ChallengeError, Guarantee, Job, wait_until

BATCH, MIN_IDLE_MS = 5, 100


class Scenario:
    def __init__(self, url: str | None, workdir: Path, name: str, messages: int) -> None:
        from helpers.redis_streams import client, create_group  # here: the worker needs redis
        from lab.brokers import endpoint

        self.url = url or endpoint("redis").url
        self.r = client(self.url)
        self.stream, self.group = f"{workdir.name}.{name}", "workers"
        create_group(self.r, self.stream, self.group)
        self.sent = [f"job-{i:03d}" for i in range(messages)]
        with self.r.pipeline() as pipe:
            for job in self.sent:
                pipe.xadd(self.stream, {"job": job})
            pipe.execute()

    def settings(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "group": self.group,
            "min_idle_ms": MIN_IDLE_MS,
            "client": self.url,
        }

    def before_recovery(self) -> None:
        def idle_enough() -> bool:
            pending = self.r.xpending_range(self.stream, self.group, "-", "+", 1000)
            return all(int(entry["time_since_delivered"]) >= MIN_IDLE_MS for entry in pending)

        wait_until(idle_enough, f"entries of {self.stream} still not idle {MIN_IDLE_MS} ms")

    def effects(self) -> list[str]:
        return []  # in the workers' effect logs

    def clean(self) -> None:
        self.r.delete(self.stream)
        self.r.close()


def work(job: Job) -> None:
    """The worker: the second one first processes what `fn` returns, then both read new
    entries in batches until there are none."""
    settings, fn, crash, effects = job.settings, job.fn, job.crash, job.effect_log()
    import redis

    r = redis.Redis.from_url(settings["client"], decode_responses=True, socket_timeout=30)
    stream, group = settings["stream"], settings["group"]

    def process(entries: list[tuple[str, dict[str, str]]]) -> None:
        for entry_id, fields in entries:
            effects.record("processed", fields["job"])  # the effect, before the ack
            crash.reached("before-ack")
            r.xack(stream, group, entry_id)

    if settings["second"]:  # the worker that takes over from the dead one
        claimed = fn(r, stream, group, job.name, settings["min_idle_ms"])
        if not isinstance(claimed, list) or not all(
            isinstance(e, list | tuple) and len(e) == 2 for e in claimed
        ):
            raise ChallengeError(
                f"it returned {str(claimed)[:80]}: return a list of (entry id, fields) pairs, "
                "as XAUTOCLAIM's second item or XREADGROUP's entries are"
            )
        process(claimed)
    while reply := r.xreadgroup(group, job.name, {stream: ">"}, count=BATCH, block=100):
        [(_stream, entries)] = cast(list[tuple[str, list[tuple[str, dict[str, str]]]]], reply)
        crash.reached("after-read")  # the batch is pending, owned by this consumer
        process(entries)


CHALLENGE = Challenge(
    name="claimer",
    parameters=("r", "stream", "group", "consumer", "min_idle_ms"),
    guarantee=Guarantee("every entry processed at least once"),
    kill_points=("after-read", "before-ack"),
    scenario=Scenario,
    work=work,
    effects_in_file=True,
    library="redis",
)
