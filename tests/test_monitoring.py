"""The monitoring lesson's parts: the alert rules (unit-tested by promtool), the services'
launches (loopback only, no secret on a command line), the Kafka exporter against the broker, the
Kafka broker's own metrics from the JMX exporter agent, and RedisDown through a real SIGKILL of the
lab's Redis (which this file therefore holds alone)."""

import http.server
import re
import subprocess
import threading
import urllib.request
import uuid

import pytest
import yaml
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from helpers.monitoring import diagram
from helpers.monitoring import prometheus as monitoring
from lab.brokers import kafka_broker, state
from lab.brokers.config import TEMPLATES_DIR, Endpoint, endpoint
from lab.brokers.services import kafka_exporter, prometheus, redis_exporter
from tests.conftest import free_port

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
    for with_agent, jobs in ((False, 5), (True, 6)):
        config = tmp_path / f"prometheus-{with_agent}.yml"
        prometheus.render_config(config, kafka_broker_metrics=with_agent)
        checked = _promtool("check", "config", str(config))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        targets = re.findall(r'targets: \["([^"]+)"\]', config.read_text())
        assert len(targets) == jobs and all(t.startswith("127.0.0.1:") for t in targets)
        assert ("127.0.0.1:19404" in targets) == with_agent


@pytest.fixture
def not_kafka_metrics():
    """An HTTP server on a free loopback port whose /metrics is not a Kafka broker's."""

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"up 1\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def _jobs(config_dir) -> set[str]:
    config = yaml.safe_load((config_dir / "prometheus" / "prometheus.yml").read_text())
    return {job["job_name"] for job in config["scrape_configs"]}


def test_the_kafka_broker_job_is_absent_when_no_agent_answers(
    tmp_path, monkeypatch, not_kafka_metrics
):
    """Nothing on the agent's port, or something that is not a Kafka broker's agent: no job,
    so a Kafka without the agent (a user's own) leaves no target down."""
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    for port in (free_port(), not_kafka_metrics):
        monkeypatch.setattr(kafka_broker, "METRICS_PORT", port)
        assert not kafka_broker.metrics_agent_serving()
        prometheus.SERVICE.launch()
        assert "kafka-broker" not in _jobs(tmp_path) and "kafka" in _jobs(tmp_path)


def _lab_kafka_with_agent() -> int:
    """The pid of the lab's own Kafka, which must serve its metrics through the agent."""
    pid = state.running_pid("kafka")
    if pid is None or kafka_broker.metrics_port(endpoint("kafka")) is None:
        pytest.skip("the lab did not start this Kafka at its default port: it has no agent")
    assert kafka_broker.metrics_agent_serving(), (
        "the lab's Kafka has no JMX exporter agent on 127.0.0.1:19404: it was started before "
        "the agent was added; restart it with `make brokers-down brokers-up`"
    )
    return pid


def test_the_kafka_broker_job_is_rendered_when_the_agent_answers(tmp_path, monkeypatch):
    _lab_kafka_with_agent()
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    prometheus.SERVICE.launch()
    assert "kafka-broker" in _jobs(tmp_path)


def test_only_the_single_kafka_gets_the_agent_on_loopback(tmp_path):
    single = kafka_broker.command(tmp_path / "a.properties", tmp_path / "a", metrics_port=19404)
    [agent] = [part for part in single if part.startswith("-javaagent:")]
    assert agent.endswith(f"=127.0.0.1:19404:{kafka_broker.METRICS_RULES}")
    node = kafka_broker.command(tmp_path / "b.properties", tmp_path / "b", heap="384m")
    assert not any(part.startswith("-javaagent:") for part in node)
    # The lab's Kafka at its default address gets it; one moved to another port does not.
    default = Endpoint("kafka", "localhost:9092", "localhost", 9092, "default")
    moved = Endpoint("kafka", "localhost:9192", "localhost", 9192, "KAFKA_BOOTSTRAP_SERVERS")
    assert kafka_broker.metrics_port(default) == 19404 and 19404 in kafka_broker.ports(default)
    assert kafka_broker.metrics_port(moved) is None and 19404 not in kafka_broker.ports(moved)


def test_the_kafka_metrics_agent_listens_on_loopback_only():
    import psutil

    broker = psutil.Process(_lab_kafka_with_agent())
    listeners = [
        c.laddr.ip
        for c in broker.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == kafka_broker.METRICS_PORT
    ]
    assert listeners and all(ip in ("127.0.0.1", "::ffff:127.0.0.1") for ip in listeners)


def _agent_series() -> dict[str, float]:
    url = f"http://127.0.0.1:{kafka_broker.METRICS_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("kafka_")
    }


def test_the_broker_metrics_come_from_the_agent_and_follow_traffic(topics):
    """Produce N records to a new topic: the broker's MessagesInPerSec count for it is N, its
    total grew by at least N, and its Produce requests grew; the agent serves only the lesson's
    metrics, and Prometheus has them under the kafka-broker job."""
    _lab_kafka_with_agent()
    records = 120
    name = topics.create(f"test-broker-metrics-{uuid.uuid4().hex[:8]}", partitions=1)
    total = 'kafka_server_brokertopicmetrics_count{name="MessagesInPerSec"}'
    per_topic = f'kafka_server_brokertopicmetrics_count{{name="MessagesInPerSec",topic="{name}"}}'
    produce = 'kafka_network_requestmetrics_count{name="RequestsPerSec",request="Produce",'
    before = _agent_series()
    out = Producer({"bootstrap.servers": endpoint("kafka").url})
    for i in range(records):
        out.produce(name, str(i).encode())
        out.poll(0)
    assert out.flush(30) == 0
    after = _agent_series()
    assert per_topic not in before and after[per_topic] == records
    assert after[total] - before[total] >= records
    requests = [
        sum(v for k, v in series.items() if k.startswith(produce)) for series in (before, after)
    ]
    assert requests[1] > requests[0]
    names = {series.partition("{")[0] for series in after}
    assert names == {
        "kafka_server_brokertopicmetrics_count",
        "kafka_network_requestmetrics_count",
        "kafka_server_replicamanager_value",
    }
    monitoring.start()
    seen = monitoring.wait_for_value(
        f'kafka_server_brokertopicmetrics_count{{job="kafka-broker",topic="{name}"}}',
        lambda n: n == records,
        20,
        "the topic's MessagesInPerSec count in Prometheus",
    )
    assert seen == records


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
    # The compose Kafka runs without the JMX exporter agent, so its Prometheus has no
    # kafka-broker job: the native one without the agent.
    config = tmp_path / "prometheus-without-agent.yml"
    prometheus.render_config(config, kafka_broker_metrics=False)
    native = yaml.safe_load(config.read_text())
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
