"""Topics for the lessons: create them with names unique per run, wait until their metadata is
ready, and delete them all at the end. Not for producing or consuming (see `clients`)."""

from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from lab.brokers import endpoint, kafka_config

from .clients import Config, report_error


def admin_client(url: str | None = None) -> AdminClient:
    settings: Config = {**kafka_config(url), "error_cb": report_error}
    return AdminClient(settings)


class Topics:
    """Creates topics and remembers them, so `delete_all` can remove every one."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or endpoint("kafka").url
        self.admin = admin_client(self.url)
        self.created: list[str] = []

    def create(
        self,
        name: str,
        partitions: int = 1,
        config: dict[str, object] | None = None,
        replication_factor: int = -1,
    ) -> str:
        """Create `name` and wait until every partition has a leader (ready to produce to).

        The replication factor defaults to the cluster's `default.replication.factor` (-1).
        """
        settings = {k: str(v) for k, v in (config or {}).items()}
        future = self.admin.create_topics(
            [NewTopic(name, partitions, replication_factor, config=settings)],
            operation_timeout=10,
        )[name]
        future.result(timeout=30)
        self.created.append(name)
        wait_until_ready(self.admin, name, partitions)
        return name

    def delete_all(self) -> None:
        if self.created:
            for future in self.admin.delete_topics(self.created, operation_timeout=10).values():
                try:
                    future.result(timeout=30)
                except KafkaException as exc:  # already gone is fine: clean-up is idempotent
                    if "UNKNOWN_TOPIC" not in str(exc):
                        raise
        self.created.clear()


def wait_until_ready(
    admin: AdminClient, topic: str, partitions: int, timeout_s: float = 30
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        metadata = admin.list_topics(topic, timeout=5).topics.get(topic)
        if (
            metadata is not None
            and not metadata.error
            and len(metadata.partitions) == partitions
            and all(p.leader >= 0 for p in metadata.partitions.values())
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topic {topic} had no leader for every partition after {timeout_s} s")
