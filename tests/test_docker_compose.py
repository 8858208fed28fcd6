"""docker-compose.yml cannot run without a Docker engine, so its structure is checked here:
the three services, pinned images, the native brokers' ports and versions, healthchecks, and
Kafka settings that agree with the native server.properties."""

import re
from pathlib import Path

import pytest
import yaml

from lab.brokers import docker, rabbitmq_broker, secure
from lab.brokers.cluster_nodes import NODES
from lab.brokers.config import DEFAULT_URLS, TEMPLATES_DIR, endpoint
from lab.brokers.config import PROJECT_ROOT as ROOT
from lab.brokers.docker import COMPOSE_FILE
from lab.brokers.kafka_broker import version as kafka_version

ALL_SERVICES = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
SERVICES = {k: v for k, v in ALL_SERVICES.items() if not v.get("profiles")}  # the default set
CLUSTER = {k: v for k, v in ALL_SERVICES.items() if "cluster" in v.get("profiles", [])}
SECURE = {k: v for k, v in ALL_SERVICES.items() if "secure" in v.get("profiles", [])}
MONITORING = {k: v for k, v in ALL_SERVICES.items() if "monitoring" in v.get("profiles", [])}
SCHEMAS = {k: v for k, v in ALL_SERVICES.items() if "schemas" in v.get("profiles", [])}
CDC = {k: v for k, v in ALL_SERVICES.items() if "cdc" in v.get("profiles", [])}
PROBED = sorted(set(ALL_SERVICES) - set(SECURE))  # the secured ones are probed with credentials


def test_it_defines_exactly_the_three_brokers_by_default():
    assert set(SERVICES) == {"kafka", "rabbitmq", "redis"}


def test_the_cluster_profile_has_the_native_clusters_nodes():
    assert set(CLUSTER) == {n.name for nodes in NODES.values() for n in nodes}
    profiles = (
        set(SERVICES) | set(CLUSTER) | set(SECURE) | set(MONITORING) | set(SCHEMAS) | set(CDC)
    )
    assert set(ALL_SERVICES) == profiles


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
    release = r"\d+\.\d+$" if name == "postgres" else r"v?\d+\.\d+\.\d+"  # PostgreSQL: 15.18
    assert tag and tag != "latest" and re.match(release, tag), image


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
    native_env = rabbitmq_broker.env(home, *node)  # the secured node's, natively
    expected = {
        k: v.replace(str(tmp_path), root)
        for k, v in native_env.items()
        if k.startswith(("RABBITMQ_", "ERL_")) or k == "HOME"
    }
    assert {k: str(v) for k, v in rabbitmq["environment"].items()} == expected


# A setting whose name says it holds a secret: its value must come from a variable (with no
# default, which would be a committed value) or from a file.
SECRET_SETTING = re.compile(r"PASS|SECRET|COOKIE|TOKEN|CREDENTIAL|PRIVATE|_KEY\b|AUTH", re.I)
# A secret written into a command, an argument or a script, whatever the setting's name.
SECRET_IN_TEXT = re.compile(
    r"requirepass|masterauth|setcookie|erlang[._-]?cookie\s*[=:]|password\s*[=:]|"
    r"PRIVATE KEY|\buser \S+ on\b.*[>#]|--add-scram|-a\s+\S",
    re.I,
)
FROM_VARIABLE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*\}")


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [str(value)]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=value entries
        env = dict(entry.partition("=")[::2] for entry in env)
    return {k: str(v) for k, v in env.items()}


def _secrets_written(definition: dict) -> list[str]:
    """What a service definition commits of a secret: a secret-named setting with a value of
    its own, or a password, cookie or key written into its command or scripts."""
    found = [
        key
        for key, value in _environment(definition).items()
        if SECRET_SETTING.search(key)
        and not (key.endswith("_FILE") or FROM_VARIABLE.fullmatch(value))
    ]
    return found + [s for s in _strings(definition) if SECRET_IN_TEXT.search(s)]


@pytest.mark.parametrize("service", sorted(ALL_SERVICES))
def test_no_secret_is_written_into_the_compose_file(service):
    assert not _secrets_written(ALL_SERVICES[service]), "pass it from a variable or a file"


@pytest.mark.parametrize(
    "definition",
    [
        {"environment": {"RABBITMQ_ERLANG_COOKIE": "lab-cluster-cookie"}},  # this file's, once
        {"environment": {"RABBITMQ_DEFAULT_PASS": "${PASS:-guest}"}},  # a default is a value
        {"environment": ["KAFKA_SSL_KEY_PASSWORD=changeit"]},
        {"command": ["redis-server", "--requirepass", "s3cret"]},
        {"command": ["sh", "-c", "erl -setcookie abc"]},
        {"environment": {"KAFKA_OPTS": "-Djavax.net.ssl.keyStorePassword=s3cret"}},
    ],
)
def test_the_secret_check_finds_a_committed_secret(definition):
    assert _secrets_written(definition)


RABBITMQ_ON_HOST = {
    name: s
    for name, s in ALL_SERVICES.items()
    if s["image"].startswith("rabbitmq:") and s.get("network_mode") == "host"
}


@pytest.mark.parametrize("service", sorted(RABBITMQ_ON_HOST))
def test_host_network_rabbitmq_keeps_its_erlang_distribution_on_loopback(service):
    """On the host's network a node's Erlang distribution port runs code for anyone holding the
    cookie: it and the port mapper listen on loopback only."""
    env = _environment(RABBITMQ_ON_HOST[service])
    assert env["ERL_EPMD_ADDRESS"] == "127.0.0.1"
    erl_args = " ".join(env.get("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "").split())
    assert "-kernel inet_dist_use_interface {127,0,0,1}" in erl_args, erl_args


def test_every_rabbitmq_node_on_the_host_network_is_checked():
    assert set(RABBITMQ_ON_HOST) == {"rabbitmq-1", "rabbitmq-2", "rabbitmq-3", "rabbitmq-secure"}


@pytest.mark.parametrize("service", ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"])
def test_cluster_nodes_read_the_labs_own_cookie_from_the_state_folder(service):
    """No cookie in this file: each node mounts its copy of the lab's cookie (made once per lab,
    as for the native nodes) from the state folder, which git ignores."""
    definition = CLUSTER[service]
    assert "RABBITMQ_ERLANG_COOKIE" not in _environment(definition)
    [mount] = definition["volumes"]
    assert mount["source"] == (
        "${LAB_STATE_DIR:-/run-make-cluster-up}/" + f"{service}/home/.erlang.cookie"
    )
    assert mount["read_only"] and mount["bind"]["create_host_path"] is False
    script = " ".join(definition["command"])
    assert f"{mount['target']} /var/lib/rabbitmq/.erlang.cookie" in script
    assert "install -m 0400 -o rabbitmq" in script
    assert ".brokers/" in (ROOT / ".gitignore").read_text().split()


def test_testcontainers_publish_on_loopback_at_a_port_docker_chooses():
    """The containers of a test run (tests/conftest.py) as Docker is asked to create them: each
    client port bound to 127.0.0.1 (never every interface: these brokers have no or well-known
    passwords), its host port left empty for Docker to choose."""
    from docker.utils import convert_port_bindings

    from tests.conftest import CLIENT_PORTS, containers_for

    containers = containers_for(ALL_SERVICES, docker_client_kw={"version": "1.44"})  # not started
    for broker, port in CLIENT_PORTS.items():
        assert convert_port_bindings(containers[broker].ports) == {
            f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]
        }, broker
    command = " ".join(containers["kafka"]._command)
    assert "KAFKA_ADVERTISED_LISTENERS" in command and "/etc/kafka/docker/run" in command


def test_the_lab_writes_each_nodes_cookie_where_its_service_mounts_it(tmp_path, monkeypatch):
    root = tmp_path / "state"  # a new lab's
    monkeypatch.setenv("LAB_STATE_DIR", str(root))
    written = docker.cluster_cookies(sorted(CLUSTER))
    mounted = [
        Path(CLUSTER[s]["volumes"][0]["source"].replace(STATE_DEFAULT, str(root)))
        for s in ("rabbitmq-1", "rabbitmq-2", "rabbitmq-3")
    ]
    assert sorted(written) == sorted(mounted)
    assert {p.stat().st_mode & 0o777 for p in written} == {0o400}  # as Erlang demands
    assert len({p.read_text() for p in written}) == 1  # one cookie: the nodes can cluster
    assert root.stat().st_mode & 0o777 == 0o700  # in a folder only its owner can enter


STATE_DEFAULT = "${LAB_STATE_DIR:-/run-make-cluster-up}"
