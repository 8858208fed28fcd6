"""Prometheus, from Debian's package, run by the lab on 127.0.0.1:19090 with the lab's own
configuration (brokers/prometheus/): a one-second scrape of RabbitMQ's plugin, the Redis and Kafka
exporters, the Kafka broker's JMX exporter agent when it runs, and itself, and the alert rules in
brokers/prometheus/alerts.yml. Its own port, so it never meets a system Prometheus on 9090. Not
for querying it (see helpers.monitoring)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from string import Template

from .. import install, kafka_broker, state
from ..config import TEMPLATES_DIR
from ..process import Launch, render, send
from . import Service, kafka_exporter, probing, rabbitmq_metrics, redis_exporter

PORT = 19090
URL = f"http://127.0.0.1:{PORT}"
RULES = TEMPLATES_DIR / "prometheus" / "alerts.yml"
KAFKA_BROKER_JOB = TEMPLATES_DIR / "prometheus" / "kafka-broker-job.yml.template"


def config_path() -> Path:
    return state.broker_dir("prometheus") / "prometheus.yml"


def render_config(config: Path, kafka_broker_metrics: bool) -> None:
    """Write the configuration: every job, and `kafka-broker` only with `kafka_broker_metrics`
    (the Kafka broker's JMX exporter agent answers on its port)."""
    render(
        "prometheus/prometheus.yml.template",
        config,
        rules=RULES,
        prometheus_port=PORT,
        rabbitmq_port=rabbitmq_metrics.PORT,
        redis_exporter_port=redis_exporter.PORT,
        kafka_exporter_port=kafka_exporter.PORT,
    )
    if kafka_broker_metrics:
        job = Template(KAFKA_BROKER_JOB.read_text())
        with config.open("a") as out:
            out.write(job.substitute(kafka_broker_metrics_port=kafka_broker.METRICS_PORT))


def _install() -> None:
    install.ensure("prometheus", "prometheus", recommends=False)


def _launch() -> Launch:
    # RabbitMQ starts with its metrics plugin; one started before that gets it enabled now (not
    # at install: `make test` installs while the brokers are still starting).
    rabbitmq_metrics.ensure_plugin()
    home = state.broker_dir("prometheus")
    config = config_path()
    render_config(config, kafka_broker.metrics_agent_serving())
    command = [
        install.ensure("prometheus", "prometheus", recommends=False),
        f"--config.file={config}",
        f"--storage.tsdb.path={home / 'data'}",
        "--storage.tsdb.retention.time=1d",  # a lab's history, not a team's
        f"--web.listen-address=127.0.0.1:{PORT}",
    ]
    return Launch(command, dict(os.environ), ready_timeout_s=60)


def _ready() -> str | None:
    return probing.answers(f"{URL}/-/ready")


def _version() -> str:
    return str(probing.get_json(f"{URL}/api/v1/status/buildinfo")["data"]["version"])


def reload() -> bool:
    """Render the configuration again and have our running Prometheus read it and the alert
    rules (SIGHUP): an edited alerts.yml counts without a restart, and the `kafka-broker` job
    follows a Kafka restarted with or without its metrics agent; alerts whose rule did not
    change keep their state. False if the lab's Prometheus is not running."""
    pid = state.running_pid("prometheus")
    if pid is None:
        return False
    render_config(config_path(), kafka_broker.metrics_agent_serving())
    send(pid, signal.SIGHUP, whole_group=False)
    return True


def promtool() -> str:
    """promtool, which comes in the same package: checks and unit-tests the alert rules."""
    install.ensure("prometheus", "prometheus", recommends=False)
    return install.ensure("promtool", "prometheus", recommends=False)


def packaged_version() -> str:
    program = install.ensure("prometheus", "prometheus", recommends=False)
    return probing.program_version([program, "--version"], r"version ([\d.]+)")


SERVICE = Service(
    name="prometheus",
    ports={PORT: "Prometheus's UI and HTTP API"},
    memory_mb=90,
    install=_install,
    launch=_launch,
    ready=_ready,
    version=_version,
    needs=("redis-exporter", "kafka-exporter"),
)
