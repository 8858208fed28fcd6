"""The monitoring lesson's parts: the alert rules (unit-tested by promtool), the services'
launches (loopback only, no secret on a command line) and the Kafka exporter against the broker."""

import re
import subprocess
import uuid

import pytest
import yaml
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from helpers.monitoring import diagram
from helpers.monitoring import prometheus as monitoring
from lab.brokers.config import TEMPLATES_DIR, endpoint
from lab.brokers.services import kafka_exporter, prometheus, redis_exporter

RULES_DIR = TEMPLATES_DIR / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [prometheus.promtool(), *args],
        cwd=RULES_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_promtool_accepts_the_rules_and_their_unit_tests_pass():
    checked = _promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr


def test_a_broken_rule_fails_its_promtool_test(tmp_path):
    """The test above can fail: the same unit tests against a rule whose threshold moved."""
    rules = (RULES_DIR / "alerts.yml").read_text()
    broken = rules.replace("kafka_consumergroup_lag) > 300", "kafka_consumergroup_lag) > 3000")
    assert broken != rules
    (tmp_path / "alerts.yml").write_text(broken)
    (tmp_path / "alerts_test.yml").write_text((RULES_DIR / "alerts_test.yml").read_text())
    done = subprocess.run(
        [prometheus.promtool(), "test", "rules", "alerts_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "KafkaConsumerGroupLagHigh" in done.stdout + done.stderr


def test_every_alert_has_a_unit_test():
    rules = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((RULES_DIR / "alerts_test.yml").read_text())
    tested = {t["alertname"] for case in tests["tests"] for t in case["alert_rule_test"]}
    assert alerts == tested


def test_the_rendered_configuration_is_valid_and_scrapes_loopback_only(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    launch = prometheus.SERVICE.launch()
    assert "--web.listen-address=127.0.0.1:19090" in launch.command
    config = tmp_path / "prometheus" / "prometheus.yml"
    checked = _promtool("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    targets = re.findall(r'targets: \["([^"]+)"\]', config.read_text())
    assert len(targets) == 5 and all(t.startswith("127.0.0.1:") for t in targets)


def test_the_redis_password_reaches_the_exporter_by_environment_only(monkeypatch):
    secret = f"pw-{uuid.uuid4().hex}"
    monkeypatch.setenv("REDIS_URL", f"redis://lab:{secret}@localhost:6379/0")
    launch = redis_exporter.SERVICE.launch()
    assert not any(secret in part for part in launch.command)
    assert "-redis.addr=redis://localhost:6379/0" in launch.command
    assert launch.env["REDIS_PASSWORD"] == secret and launch.env["REDIS_USER"] == "lab"
    assert "-web.listen-address=127.0.0.1:19121" in launch.command


def test_without_a_password_the_exporter_gets_none(monkeypatch):
    monkeypatch.setenv("REDIS_PASSWORD", "left-over-from-the-shell")
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6379/0")
    assert "REDIS_PASSWORD" not in redis_exporter.SERVICE.launch().env


@pytest.fixture
def lagging_group():
    """A topic with 7 messages of which a group committed 3, on the lab's Kafka."""
    url = endpoint("kafka").url
    name = f"test-monitoring-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": url})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(30)
    out = Producer({"bootstrap.servers": url})
    for i in range(7):
        out.produce(name, str(i).encode())
    assert out.flush(30) == 0
    reader = Consumer(
        {
            "bootstrap.servers": url,
            "group.id": name,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    reader.subscribe([name])
    read = []
    while len(read) < 3:
        message = reader.poll(10)
        assert message is not None and not message.error()
        read.append(message)
    reader.commit(message=read[-1], asynchronous=False)  # committed offset 3
    reader.close()
    yield name, admin
    admin.delete_consumer_groups([name])[name].result(30)
    admin.delete_topics([name])[name].result(30)


def test_the_kafka_exporter_reports_lag_from_the_broker(lagging_group):
    name, admin = lagging_group
    lines = list(kafka_exporter.collect(admin))
    labels = f'consumergroup="{name}",topic="{name}",partition="0"'
    assert f"kafka_consumergroup_lag{{{labels}}} 4" in lines
    assert f"kafka_consumergroup_current_offset{{{labels}}} 3" in lines
    assert f'kafka_topic_partition_current_offset{{topic="{name}",partition="0"}} 7' in lines
    assert (
        f'kafka_topic_partition_under_replicated_partition{{topic="{name}",partition="0"}} 0'
        in lines
    )


COMPOSE = yaml.safe_load((TEMPLATES_DIR.parent / "docker-compose.yml").read_text())["services"]


def _scrape_jobs(config: dict) -> dict[str, tuple]:
    return {
        job["job_name"]: (
            job.get("metrics_path", "/metrics"),
            job.get("params"),
            [t for c in job["static_configs"] for t in c["targets"]],
        )
        for job in config["scrape_configs"]
    }


def test_the_compose_prometheus_scrapes_what_the_native_one_does(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    prometheus.SERVICE.launch()
    native = yaml.safe_load((tmp_path / "prometheus" / "prometheus.yml").read_text())
    docker = yaml.safe_load((RULES_DIR / "prometheus-docker.yml").read_text())
    assert _scrape_jobs(docker) == _scrape_jobs(native)
    assert docker["global"] == native["global"]
    assert "127.0.0.1:15692:15692" in COMPOSE["rabbitmq"]["ports"]


@pytest.mark.parametrize(
    ("name", "port"), [("prometheus", 19090), ("redis-exporter", 19121), ("kafka-exporter", 19308)]
)
def test_the_compose_monitoring_services_listen_on_loopback_at_the_native_ports(name, port):
    service = COMPOSE[name]
    assert service["profiles"] == ["monitoring"] and service["network_mode"] == "host"
    assert f"--web.listen-address=127.0.0.1:{port}" in service["command"]
    assert "ports" not in service  # nothing published: the host's network, on loopback


def test_the_compose_images_are_the_native_versions():
    assert COMPOSE["prometheus"]["image"] == f"prom/prometheus:v{prometheus.packaged_version()}"
    exporter = redis_exporter.SERVICE.version()
    assert COMPOSE["redis-exporter"]["image"] == f"oliver006/redis_exporter:v{exporter}-alpine"


def test_rabbitmqs_metrics_plugin_serves_on_loopback_only():
    """The plugin's own default is every interface: the lab pins it to 127.0.0.1 first."""
    import psutil

    from lab.brokers import state
    from lab.brokers.services import rabbitmq_metrics

    if state.running_pid("rabbitmq") is None:
        pytest.skip("the lab did not start this RabbitMQ; its plugin is configured where it runs")
    rabbitmq_metrics.ensure_plugin()
    assert rabbitmq_metrics.serving()
    node = psutil.Process(state.running_pid("rabbitmq"))
    listeners = [
        c.laddr.ip
        for p in [node, *node.children(recursive=True)]
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == rabbitmq_metrics.PORT
    ]
    assert listeners and all(ip in ("127.0.0.1", "::ffff:127.0.0.1") for ip in listeners)


def _box(source: str, header: str) -> str:
    return next(line for line in source.splitlines() if f"<B>{header}</B>" in line)


def test_the_monitoring_picture_draws_each_target_and_rule_as_prometheus_reports_them():
    monitoring.start()
    before = {t["labels"]["job"]: t["health"] for t in monitoring.api("targets")["activeTargets"]}
    source = diagram.monitoring_picture().source
    after = {t["labels"]["job"]: t["health"] for t in monitoring.api("targets")["activeTargets"]}
    steady = {job: health for job, health in before.items() if after.get(job) == health}
    assert steady, "every target changed health while the picture was drawn"
    for job, health in steady.items():
        assert f"health: {health}" in _box(source, job)
    rules = _box(source, "alert rules (alerts.yml)")
    names = [
        r["name"]
        for g in monitoring.api("rules")["groups"]
        for r in g["rules"]
        if r["type"] == "alerting"
    ]
    assert names and all(f"{name}: " in rules for name in names)
