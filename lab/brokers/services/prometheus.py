"""Prometheus, from Debian's package, run by the lab on 127.0.0.1:19090 with the lab's own
configuration (brokers/prometheus/): a one-second scrape of RabbitMQ's plugin, the Redis and Kafka
exporters and itself, and the alert rules in brokers/prometheus/alerts.yml. Its own port, so it
never meets a system Prometheus on 9090. Not for querying it (see helpers.monitoring)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request

from .. import install, state
from ..config import TEMPLATES_DIR
from ..process import Launch, render, send
from . import Service, kafka_exporter, rabbitmq_metrics, redis_exporter

PORT = 19090
URL = f"http://127.0.0.1:{PORT}"
RULES = TEMPLATES_DIR / "prometheus" / "alerts.yml"


def _install() -> None:
    install.ensure("prometheus", "prometheus", recommends=False)


def _launch() -> Launch:
    # RabbitMQ starts with its metrics plugin; one started before that gets it enabled now (not
    # at install: `make test` installs while the brokers are still starting).
    rabbitmq_metrics.ensure_plugin()
    home = state.broker_dir("prometheus")
    config = home / "prometheus.yml"
    render(
        "prometheus/prometheus.yml.template",
        config,
        rules=RULES,
        prometheus_port=PORT,
        rabbitmq_port=rabbitmq_metrics.PORT,
        redis_exporter_port=redis_exporter.PORT,
        kafka_exporter_port=kafka_exporter.PORT,
    )
    command = [
        install.ensure("prometheus", "prometheus", recommends=False),
        f"--config.file={config}",
        f"--storage.tsdb.path={home / 'data'}",
        "--storage.tsdb.retention.time=1d",  # a lab's history, not a team's
        f"--web.listen-address=127.0.0.1:{PORT}",
    ]
    return Launch(command, dict(os.environ), ready_timeout_s=60)


def _ready() -> str | None:
    try:
        with urllib.request.urlopen(f"{URL}/-/ready", timeout=2.0) as response:
            return None if response.status == 200 else f"/-/ready answered {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{URL}/-/ready does not answer yet ({exc})"


def _version() -> str:
    with urllib.request.urlopen(f"{URL}/api/v1/status/buildinfo", timeout=2.0) as response:
        return str(json.load(response)["data"]["version"])


def reload_rules() -> bool:
    """Have our running Prometheus read its configuration and alert rules again (SIGHUP), so an
    edited alerts.yml counts without a restart; alerts whose rule did not change keep their
    state. False if the lab's Prometheus is not running."""
    pid = state.running_pid("prometheus")
    if pid is None:
        return False
    send(pid, signal.SIGHUP, whole_group=False)
    return True


def promtool() -> str:
    """promtool, which comes in the same package: checks and unit-tests the alert rules."""
    install.ensure("prometheus", "prometheus", recommends=False)
    return install.ensure("promtool", "prometheus", recommends=False)


def packaged_version() -> str:
    out = subprocess.run(
        [install.ensure("prometheus", "prometheus", recommends=False), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    found = re.search(r"version ([\d.]+)", out.stdout + out.stderr)
    return found.group(1) if found else "unknown"


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
