"""The golden signals of each broker as the PromQL a team would put on its dashboard: how fast
messages go in and out, how far behind the consumers are, how long a message waits, what is
failing. One function per broker (and one for what the Kafka broker counts itself), naming what
the lesson watches; each returns signal -> PromQL.

Windows are a few seconds because the lab scrapes every second; a team's are minutes.
Not for running the queries (see `prometheus`)."""

from __future__ import annotations

WINDOW = "5s"


def kafka(topic: str, group: str) -> dict[str, str]:
    offsets = f'topic="{topic}"'
    committed = f'consumergroup="{group}",topic="{topic}"'
    consume_rate = f"sum(rate(kafka_consumergroup_current_offset{{{committed}}}[{WINDOW}]))"
    lag = f"sum(kafka_consumergroup_lag{{{committed}}})"
    publish_rate = f"sum(rate(kafka_topic_partition_current_offset{{{offsets}}}[{WINDOW}]))"
    return {
        "publish rate (msg/s)": publish_rate,
        "consume rate (msg/s)": consume_rate,
        "consumer lag (messages)": lag,
        # How long the newest message will wait if the group keeps its pace: lag / drain rate.
        "time to drain the lag (s)": f"{lag} / clamp_min({consume_rate}, 1)",
        "under-replicated partitions": "sum(kafka_topic_partition_under_replicated_partition)",
    }


def kafka_broker(topic: str) -> dict[str, str]:
    """What the Kafka broker itself counts, from its JMX MBeans through the JMX exporter's Java
    agent (job `kafka-broker`): messages appended to `topic`, the whole broker's produce and
    fetch requests, and its under-replicated partitions."""
    broker = 'job="kafka-broker"'
    messages_in = f'{broker},name="MessagesInPerSec",topic="{topic}"'
    requests = f'{broker},name="RequestsPerSec"'
    return {
        "messages in (msg/s)": (
            f"sum(rate(kafka_server_brokertopicmetrics_count{{{messages_in}}}[{WINDOW}]))"
        ),
        "produce requests (per s)": (
            f'sum(rate(kafka_network_requestmetrics_count{{{requests},request="Produce"}}'
            f"[{WINDOW}]))"
        ),
        "fetch requests (per s)": (
            f'sum(rate(kafka_network_requestmetrics_count{{{requests},request="Fetch"}}[{WINDOW}]))'
        ),
        "messages in (total)": f"sum(kafka_server_brokertopicmetrics_count{{{messages_in}}})",
        "under-replicated partitions": (
            f'sum(kafka_server_replicamanager_value{{{broker},name="UnderReplicatedPartitions"}})'
        ),
    }


def rabbitmq(queue: str, dead_letter_queue: str) -> dict[str, str]:
    return {
        "publish rate (msg/s)": f"sum(rate(rabbitmq_global_messages_received_total[{WINDOW}]))",
        "consume rate (msg/s)": f"sum(rate(rabbitmq_global_messages_delivered_total[{WINDOW}]))",
        "queue depth, ready (messages)": (
            f'rabbitmq_detailed_queue_messages_ready{{queue="{queue}"}}'
        ),
        "unacked (messages)": f'rabbitmq_detailed_queue_messages_unacked{{queue="{queue}"}}',
        "dead-lettered on reject (msg/s)": (
            f"sum(rate(rabbitmq_global_messages_dead_lettered_rejected_total[{WINDOW}]))"
        ),
        "waiting in the dead-letter queue": (
            f'rabbitmq_detailed_queue_messages{{queue="{dead_letter_queue}"}}'
        ),
        "failed logins (per s)": f"sum(rate(rabbitmq_auth_attempts_failed_total[{WINDOW}]))",
    }


def redis() -> dict[str, str]:
    return {
        "commands (per s)": f"sum(rate(redis_commands_processed_total[{WINDOW}]))",
        "connected clients": "sum(redis_connected_clients)",
        "rejected connections (total)": "sum(redis_rejected_connections_total)",
        "exporter reaches Redis (1 = yes)": "min(redis_up)",
    }
