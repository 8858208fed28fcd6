"""Session-wide brokers for the tests: testcontainers where a Docker engine answers, else native.

With Docker, each broker runs in a throwaway container built from docker-compose.yml's images and
settings, and the endpoint variables (KAFKA_BOOTSTRAP_SERVERS, ...) point the helpers at it.
Without Docker, `helpers.brokers.up()` starts (or reuses) the native processes.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator

import pytest
import yaml

from helpers.brokers import BROKERS, Endpoint, endpoint, up
from helpers.brokers.config import ENV_VARS
from helpers.brokers.docker import COMPOSE_FILE, engine_available
from helpers.kafka import Topics

log = logging.getLogger("lab.tests")

USE_TESTCONTAINERS = engine_available()


def pytest_report_header(config: pytest.Config) -> str:
    if USE_TESTCONTAINERS:
        return "brokers: testcontainers (a Docker engine answers)"
    return "brokers: native processes via helpers.brokers (no Docker engine)"


@pytest.fixture(scope="session")
def broker_endpoints() -> Iterator[dict[str, Endpoint]]:
    if USE_TESTCONTAINERS:
        log.info("starting brokers with testcontainers")
        yield from _containers()
    else:
        log.info("using native brokers from helpers.brokers")
        up()
        yield {b: endpoint(b) for b in BROKERS}


@pytest.fixture(scope="session")
def kafka_ep(broker_endpoints: dict[str, Endpoint]) -> Endpoint:
    return broker_endpoints["kafka"]


@pytest.fixture(scope="session")
def rabbitmq_ep(broker_endpoints: dict[str, Endpoint]) -> Endpoint:
    return broker_endpoints["rabbitmq"]


@pytest.fixture(scope="session")
def redis_ep(broker_endpoints: dict[str, Endpoint]) -> Endpoint:
    return broker_endpoints["redis"]


@pytest.fixture
def topics(kafka_ep: Endpoint):
    """Kafka topics for one test, all deleted after it."""
    created = Topics(kafka_ep.url)
    yield created
    created.delete_all()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _containers() -> Iterator[dict[str, Endpoint]]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    ports = {b: free_port() for b in BROKERS}
    kafka_env = dict(services["kafka"]["environment"])
    # Clients must be told the host port the container is published on.
    kafka_env["KAFKA_ADVERTISED_LISTENERS"] = f"PLAINTEXT://localhost:{ports['kafka']}"
    containers = {
        "kafka": DockerContainer(services["kafka"]["image"]).with_bind_ports(9092, ports["kafka"]),
        "rabbitmq": DockerContainer(services["rabbitmq"]["image"]).with_bind_ports(
            5672, ports["rabbitmq"]
        ),
        "redis": DockerContainer(services["redis"]["image"])
        .with_bind_ports(6379, ports["redis"])
        .with_command(" ".join(services["redis"]["command"])),
    }
    for key, value in kafka_env.items():
        containers["kafka"].with_env(key, str(value))
    urls = {
        "kafka": f"localhost:{ports['kafka']}",
        "rabbitmq": f"amqp://guest:guest@localhost:{ports['rabbitmq']}/%2F",
        "redis": f"redis://localhost:{ports['redis']}/0",
    }
    saved = {var: os.environ.get(var) for var in ENV_VARS.values()}
    try:
        for container in containers.values():
            container.start()
        wait_for_logs(containers["kafka"], "Kafka Server started", timeout=120)
        wait_for_logs(containers["rabbitmq"], "Server startup complete", timeout=120)
        wait_for_logs(containers["redis"], "Ready to accept connections", timeout=60)
        for broker, url in urls.items():
            os.environ[ENV_VARS[broker]] = url
        yield {b: endpoint(b) for b in BROKERS}
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        for container in containers.values():
            container.stop()
