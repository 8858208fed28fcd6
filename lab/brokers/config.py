"""Where each broker is: endpoints from environment variables or the local defaults. Each broker's
own module (`kafka_broker`, `rabbitmq_broker`, `redis_broker`) says which variable sets it, its
default and how the setting is parsed; this module lists them.

Not for starting anything (see `native` and `docker`) or for checking health (see `probes`).
"""

from __future__ import annotations

import os
from typing import Protocol

from . import kafka_broker, rabbitmq_broker, redis_broker
from .base import (
    FIX_UP,
    LOCAL_HOSTS,
    MINIMUM_VERSIONS,
    PROJECT_ROOT,
    TEMPLATES_DIR,
    BrokerConfigError,
    Endpoint,
    LabError,
    cache_dir,
    mask_password,
    state_dir,
    too_old,
    version_tuple,
)
from .kafka_broker import KAFKA_CONFIG_VAR, kafka_client_settings
from .process import Launch

__all__ = [
    "BROKERS",
    "BROKER_MODULES",
    "DEFAULT_URLS",
    "ENV_VARS",
    "FIX_UP",
    "KAFKA_CONFIG_VAR",
    "LOCAL_HOSTS",
    "MINIMUM_VERSIONS",
    "PROJECT_ROOT",
    "TEMPLATES_DIR",
    "BrokerConfigError",
    "BrokerModule",
    "Endpoint",
    "LabError",
    "cache_dir",
    "endpoint",
    "endpoints",
    "kafka_client_settings",
    "kafka_config",
    "mask_password",
    "state_dir",
    "too_old",
    "version_tuple",
]


class BrokerModule(Protocol):
    """What each broker's own module says: the variable that sets its endpoint and the default,
    how that setting is parsed and the broker probed, the ports it binds and how to launch it."""

    ENV_VAR: str
    DEFAULT_URL: str

    def parse(self, value: str, var: str) -> tuple[str, int]: ...
    def probe(self, ep: Endpoint, timeout_s: float, deep: bool) -> str | None: ...
    def ports(self, ep: Endpoint) -> dict[int, str]: ...
    def launch(self, ep: Endpoint) -> Launch: ...


# Each broker's own module: its endpoint, probe, ports and launch.
BROKER_MODULES: dict[str, BrokerModule] = {
    "kafka": kafka_broker,
    "rabbitmq": rabbitmq_broker,
    "redis": redis_broker,
}
BROKERS = tuple(BROKER_MODULES)
ENV_VARS = {name: module.ENV_VAR for name, module in BROKER_MODULES.items()}
DEFAULT_URLS = {name: module.DEFAULT_URL for name, module in BROKER_MODULES.items()}


def endpoint(broker: str) -> Endpoint:
    """The endpoint of one broker, validated; raises BrokerConfigError naming the variable."""
    if broker not in BROKERS:
        raise ValueError(f"unknown broker {broker!r}; choose from {', '.join(BROKERS)}")
    var = ENV_VARS[broker]
    raw = os.environ.get(var, "").strip()
    url, source = (raw, var) if raw else (DEFAULT_URLS[broker], "default")
    host, port = BROKER_MODULES[broker].parse(url, var)
    return Endpoint(broker=broker, url=url, host=host, port=port, source=source)


def endpoints(*brokers: str) -> dict[str, Endpoint]:
    """Endpoints of the named brokers (all three when none is named)."""
    return {b: endpoint(b) for b in (brokers or BROKERS)}


def kafka_config(url: str | None = None) -> dict[str, str]:
    """The settings every Kafka client of the lab starts from: bootstrap servers (`url`, or the
    endpoint) plus the KAFKA_CONFIG properties."""
    return {"bootstrap.servers": url or endpoint("kafka").url, **kafka_client_settings()}
