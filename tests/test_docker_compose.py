"""docker-compose.yml cannot run without a Docker engine, so its structure is checked here:
the three services, pinned images, the native brokers' ports and versions, healthchecks, and
Kafka settings that agree with the native server.properties."""

import re

import pytest
import yaml

from helpers.brokers import native, secure
from helpers.brokers.cluster_nodes import NODES
from helpers.brokers.config import DEFAULT_URLS, TEMPLATES_DIR, endpoint
from helpers.brokers.docker import COMPOSE_FILE
from helpers.brokers.native import kafka_version

ALL_SERVICES = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
SERVICES = {k: v for k, v in ALL_SERVICES.items() if not v.get("profiles")}  # the default set
CLUSTER = {k: v for k, v in ALL_SERVICES.items() if "cluster" in v.get("profiles", [])}
SECURE = {k: v for k, v in ALL_SERVICES.items() if "secure" in v.get("profiles", [])}
PROBED = sorted(set(ALL_SERVICES) - set(SECURE))  # the secured ones are probed with credentials


def test_it_defines_exactly_the_three_brokers_by_default():
    assert set(SERVICES) == {"kafka", "rabbitmq", "redis"}


def test_the_cluster_profile_has_the_native_clusters_nodes():
    assert set(CLUSTER) == {n.name for nodes in NODES.values() for n in nodes}
    assert set(ALL_SERVICES) == set(SERVICES) | set(CLUSTER) | set(SECURE)


def test_cluster_nodes_listen_where_the_native_ones_do_on_loopback():
    for n in NODES["kafka"]:
        env = CLUSTER[n.name]["environment"]
        assert env["KAFKA_NODE_ID"] == n.index
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{n.address}"
        voters = ",".join(f"{k.index}@localhost:{k.port + 1}" for k in NODES["kafka"])
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
    for n in NODES["rabbitmq"]:
        env = CLUSTER[n.name]["environment"]
        assert env["RABBITMQ_NODENAME"] == n.rabbitmq_node and env["RABBITMQ_NODE_PORT"] == n.port
        assert f"{{port,{n.port + 10000}}}" in env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    for n in NODES["redis"]:
        service = CLUSTER[n.name]
        text = " ".join(map(str, service["command"])) + str(service.get("environment", ""))
        assert str(n.port) in text and "127.0.0.1" in text
    assert all(s["network_mode"] == "host" for s in CLUSTER.values())


def test_cluster_kafka_settings_agree_with_the_native_template():
    native = _properties(TEMPLATES_DIR / "cluster" / "kafka.properties.template")
    for name in ("kafka-1", "kafka-2", "kafka-3"):
        compose = _kafka_env(CLUSTER[name]["environment"])
        compared = [k for k in native if k in compose]
        assert len(compared) >= 12, compared
        assert {k: compose[k] for k in compared} == {k: native[k].lower() for k in compared}


def test_cluster_sentinels_watch_like_the_native_ones():
    native = (TEMPLATES_DIR / "cluster" / "sentinel.conf.template").read_text()
    script = CLUSTER["sentinel-1"]["command"][-1]
    for setting in (
        "down-after-milliseconds lab-primary 1000",
        "failover-timeout lab-primary 5000",
    ):
        assert setting in native and setting in script
    assert "sentinel monitor lab-primary 127.0.0.1 6380 2" in script


@pytest.mark.parametrize("service", sorted(ALL_SERVICES))
def test_images_are_pinned_to_a_release(service):
    image = ALL_SERVICES[service]["image"]
    name, _, tag = image.partition(":")
    assert tag and tag != "latest" and re.match(r"\d+\.\d+\.\d+", tag), image


def test_kafka_image_is_the_same_release_as_the_native_jars(monkeypatch):
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{kafka_version()}"


@pytest.mark.parametrize("service", ["kafka", "rabbitmq", "redis"])
def test_client_ports_match_the_native_defaults(service, monkeypatch):
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "RABBITMQ_URL", "REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    port = endpoint(service).port
    assert f"127.0.0.1:{port}:{port}" in SERVICES[service]["ports"], DEFAULT_URLS[service]


@pytest.mark.parametrize("service", ["kafka", "rabbitmq", "redis"])
def test_ports_are_published_on_loopback_only(service):
    for mapping in SERVICES[service]["ports"]:
        assert str(mapping).startswith("127.0.0.1:"), (
            f"{service} publishes {mapping} to the network"
        )


def test_rabbitmq_publishes_the_management_ui():
    assert "127.0.0.1:15672:15672" in SERVICES["rabbitmq"]["ports"]
    assert SERVICES["rabbitmq"]["image"].endswith("-management")


@pytest.mark.parametrize("service", PROBED)
def test_every_service_has_a_healthcheck(service):
    check = ALL_SERVICES[service]["healthcheck"]
    assert check["test"] and check["interval"] and check["retries"] >= 3


def test_kafka_env_is_a_complete_kraft_single_node():
    env = SERVICES["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    node = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node}@localhost:9093"
    assert "CONTROLLER://:9093" in env["KAFKA_LISTENERS"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://localhost:9092"
    # Kafka cluster ids are 16 bytes in URL-safe base64 without padding.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    assert env["KAFKA_HEAP_OPTS"] == "-Xms512m -Xmx512m"


def _properties(path) -> dict[str, str]:
    native = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "${" not in line:
            key, _, value = line.partition("=")
            native[key] = value
    return native


def _kafka_env(env: dict) -> dict[str, str]:
    return {
        k[len("KAFKA_") :].lower().replace("_", "."): str(v).lower()
        for k, v in env.items()
        if k.startswith("KAFKA_")
    }


def test_kafka_env_agrees_with_the_native_server_properties():
    native = _properties(TEMPLATES_DIR / "kafka" / "server.properties.template")
    compose = _kafka_env(SERVICES["kafka"]["environment"])
    compared = [k for k in native if k in compose]
    assert len(compared) >= 12, compared  # the replication, group and topic settings at least
    mismatched = {k: (native[k], compose[k]) for k in compared if native[k].lower() != compose[k]}
    assert not mismatched


def test_redis_keeps_the_append_only_file_like_the_native_one():
    command = SERVICES["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    native = (TEMPLATES_DIR / "redis" / "redis.conf.template").read_text()
    assert "appendonly yes" in native and "appendfsync everysec" in native
    assert command[command.index("--appendfsync") + 1] == "everysec"


def test_cluster_redis_nodes_are_configured_like_the_native_ones():
    native = (TEMPLATES_DIR / "cluster" / "redis.conf.template").read_text()
    settings = [line.split() for line in native.splitlines() if line.startswith("repl")]
    assert settings, "the native template's replication settings"
    for n in (n for n in NODES["redis"] if n.kind == "redis"):  # not the Sentinels
        command = " ".join(map(str, CLUSTER[n.name]["command"]))
        assert all(f"--{key} {value}" in command for key, value in settings), n.name


def test_the_secure_profile_has_the_native_secured_brokers():
    assert set(SECURE) == {b.name for b in secure.SECURE.values()}
    for service in SECURE.values():
        assert service["network_mode"] == "host"  # the rendered configurations bind to loopback
        assert service["user"].startswith("${LAB_UID")  # the owner of the 0600 files
        [volume] = service["volumes"]
        host, container = volume.split(":${")
        assert host == "${" + container  # the state folder at the same path inside
        assert "LAB_STATE_DIR" in host


def test_secure_services_run_what_the_native_ones_render(tmp_path):
    root = "${LAB_STATE_DIR:-/run-make-secure-up}"
    kafka, rabbitmq, redis = (SECURE[f"{b}-secure"] for b in ("kafka", "rabbitmq", "redis"))
    assert kafka["environment"]["HOME"] == f"{root}/kafka-secure"
    assert "@format.args" in kafka["command"][0] and "rm -f format.args" in kafka["command"][0]
    assert "server.properties" in kafka["command"][0]
    assert redis["command"] == [f"{root}/redis-secure/redis.conf"]
    home = tmp_path / "rabbitmq-secure"
    node = secure.RABBITMQ_NODE, secure.RABBITMQ.plain_port, home / "rabbitmq.conf"
    native_env = native.rabbitmq_env(home, *node)  # the secured node's, natively
    expected = {
        k: v.replace(str(tmp_path), root)
        for k, v in native_env.items()
        if k.startswith(("RABBITMQ_", "ERL_")) or k == "HOME"
    }
    assert {k: str(v) for k, v in rabbitmq["environment"].items()} == expected


def test_no_secret_is_written_into_the_compose_file():
    text = COMPOSE_FILE.read_text()
    assert "password" not in "".join(str(s) for s in SECURE.values()).lower()
    assert "PRIVATE KEY" not in text
