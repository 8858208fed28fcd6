"""Schema evolution and retention, on the real registry and brokers: a client for the schema
registry's Confluent-compatible REST API, Avro records in the Confluent wire format (a magic byte
and the schema's id before the Avro body), a consumer group outrun by retention; RabbitMQ's and
Redis's own bounds counted (`expiry`), JSON, Avro and Protobuf measured (`formats`), and a picture
of what the registry holds (`diagram`)."""

from .registry import Attempt, Registry, RegistryError
from .retention import (
    LogRange,
    Resumed,
    catch_up,
    commit_at,
    log_range,
    set_topic_config,
    wait_for_log_start,
)
from .wire import decode, encode, header

__all__ = [
    "Attempt",
    "LogRange",
    "Registry",
    "RegistryError",
    "Resumed",
    "catch_up",
    "commit_at",
    "decode",
    "encode",
    "header",
    "log_range",
    "set_topic_config",
    "wait_for_log_start",
]
