"""Session-wide brokers for the tests: testcontainers where a Docker engine answers, else native.

With Docker, each broker runs in a throwaway container built from docker-compose.yml's images and
settings, and the endpoint variables (KAFKA_BOOTSTRAP_SERVERS, ...) point the helpers at it.
Each container publishes its client port on 127.0.0.1 only, at a port Docker chooses. Without
Docker, `lab.brokers.up()` starts (or reuses) the native processes.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator

import pytest
import yaml

from helpers.kafka import Topics
from lab.brokers import BROKERS, Endpoint, endpoint, up
from lab.brokers.config import ENV_VARS
from lab.brokers.docker import COMPOSE_FILE, engine_available

log = logging.getLogger("lab.tests")

USE_TESTCONTAINERS = engine_available()


def pytest_report_header(config: pytest.Config) -> str:
    if USE_TESTCONTAINERS:
        return "brokers: testcontainers (a Docker engine answers)"
    return "brokers: native processes via lab.brokers (no Docker engine)"


@pytest.fixture(scope="session")
def broker_endpoints() -> Iterator[dict[str, Endpoint]]:
    if USE_TESTCONTAINERS:
        log.info("starting brokers with testcontainers")
        yield from _containers()
    else:
        log.info("using native brokers from lab.brokers")
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


@pytest.fixture(scope="module")
def chromium() -> str:
    """Headless Chromium for the browser tests, installed if need be; skipped where it cannot be."""
    from lab.book import browser

    try:
        return browser.ensure()
    except browser.ChromiumUnavailable as exc:
        pytest.skip(f"Chromium is not installed and could not be installed here: {exc}")


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


CLIENT_PORTS = {"kafka": 9092, "rabbitmq": 5672, "redis": 6379}
ADVERTISED_FILE = "/tmp/lab-advertised-listener"
# Kafka must advertise the host port, which Docker chooses when the container starts: the
# container waits (up to a minute) for it in a file, then runs the image's own launcher.
KAFKA_START = (
    f"for i in $(seq 600); do [ -s {ADVERTISED_FILE} ] && break; sleep 0.1; done; "
    f'export KAFKA_ADVERTISED_LISTENERS="$(cat {ADVERTISED_FILE})"; exec /etc/kafka/docker/run'
)


def containers_for(services: dict, docker_client_kw: dict | None = None) -> dict:
    """The three brokers' containers, not started. Each publishes its client port on 127.0.0.1
    only (these brokers have no or well-known passwords), at a port Docker chooses when it
    starts the container: no other process can take it between choosing and binding."""
    from testcontainers.core.container import DockerContainer

    containers = {
        broker: DockerContainer(services[broker]["image"], docker_client_kw=docker_client_kw)
        for broker in BROKERS
    }
    for broker, container in containers.items():
        container.ports[str(CLIENT_PORTS[broker])] = ("127.0.0.1", None)
    for key, value in services["kafka"]["environment"].items():
        containers["kafka"].with_env(key, str(value))
    containers["kafka"].with_command(["sh", "-c", KAFKA_START])
    containers["redis"].with_command(" ".join(services["redis"]["command"]))
    return containers


def _containers() -> Iterator[dict[str, Endpoint]]:
    from testcontainers.core.waiting_utils import wait_for_logs

    containers = containers_for(yaml.safe_load(COMPOSE_FILE.read_text())["services"])
    saved = {var: os.environ.get(var) for var in ENV_VARS.values()}
    try:
        for container in containers.values():
            container.start()
        ports = {b: containers[b].get_exposed_port(CLIENT_PORTS[b]) for b in BROKERS}
        advertised = f"PLAINTEXT://localhost:{ports['kafka']}"
        containers["kafka"].exec(  # whole or not at all: written aside, then renamed
            ["sh", "-c", f"echo {advertised} > {ADVERTISED_FILE}.new && "
             f"mv {ADVERTISED_FILE}.new {ADVERTISED_FILE}"]
        )  # fmt: skip
        wait_for_logs(containers["kafka"], "Kafka Server started", timeout=120)
        wait_for_logs(containers["rabbitmq"], "Server startup complete", timeout=120)
        wait_for_logs(containers["redis"], "Ready to accept connections", timeout=60)
        urls = {
            "kafka": f"localhost:{ports['kafka']}",
            "rabbitmq": f"amqp://guest:guest@localhost:{ports['rabbitmq']}/%2F",
            "redis": f"redis://localhost:{ports['redis']}/0",
        }
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
