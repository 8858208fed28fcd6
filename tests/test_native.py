"""The native provider's lifecycle, on a Redis of its own (own port, own state folder).

Redis starts in well under a second, so it carries the lifecycle checks that apply to every broker:
idempotent `up`, `down` by pid only, a died broker in `status`, a port taken by someone else.
"""

import os
import signal
import subprocess
import time

import pytest
import redis

from helpers.brokers import (
    ProvisionError,
    down,
    endpoint,
    install,
    native,
    restart,
    state,
    status,
    up,
)
from helpers.brokers.probes import port_is_open
from tests.conftest import USE_TESTCONTAINERS, free_port
from tests.impostor import impostor_server

pytestmark = pytest.mark.skipif(USE_TESTCONTAINERS, reason="native provider only")


@pytest.fixture
def own_redis(tmp_path, monkeypatch):
    """Point the lab at a private state folder and a free Redis port; stop what it started."""
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LAB_BROKERS_BACKEND", "native")
    port = free_port()
    monkeypatch.setenv("REDIS_URL", f"redis://localhost:{port}/0")
    yield port
    native.stop("redis")


def test_up_twice_starts_one_process_and_status_reports_it(own_redis):
    first = {s.broker: s for s in up(("redis",))}["redis"]
    second = {s.broker: s for s in up(("redis",))}["redis"]
    assert first.healthy and first.backend == "native" and first.pid
    assert second.pid == first.pid
    assert first.version and first.version.count(".") == 2
    assert os.path.exists(first.log)


def test_down_stops_only_what_up_started(own_redis, tmp_path):
    up(("redis",))
    bystander_port = free_port()
    bystander = subprocess.Popen(
        ["redis-server", "--port", str(bystander_port), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=bystander_port, socket_connect_timeout=2)
        deadline = time.monotonic() + 10
        while not _pings(client) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert down(("redis",)) == ["redis"]
        assert bystander.poll() is None and _pings(client), (
            "down stopped a process it did not start"
        )
        assert down(("redis",)) == []  # nothing of ours left: a second down is a no-op
    finally:
        bystander.terminate()
        bystander.wait(timeout=10)


def test_pointing_the_endpoint_elsewhere_while_ours_runs_is_refused_at_once(own_redis, monkeypatch):
    pid = up(("redis",))[0].pid
    other = free_port()
    monkeypatch.setenv("REDIS_URL", f"redis://localhost:{other}/0")
    began = time.monotonic()
    with pytest.raises(ProvisionError, match=f"serves localhost:{own_redis}.*localhost:{other}"):
        up(("redis",))
    assert time.monotonic() - began < 5
    report = status(("redis",))[0]
    assert report.backend != "native" and report.pid is None and not report.healthy
    monkeypatch.setenv("REDIS_URL", f"redis://localhost:{own_redis}/0")
    assert status(("redis",))[0].pid == pid


def test_a_died_broker_shows_unhealthy_with_its_log(own_redis):
    pid = up(("redis",))[0].pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while state.running_pid("redis") and time.monotonic() < deadline:
        time.sleep(0.1)
    report = status(("redis",))[0]
    assert not report.healthy and report.pid is None
    assert f"died (pid {pid})" in report.detail and "Ready to accept connections" in report.detail
    assert up(("redis",))[0].healthy, "up did not bring a died broker back"


def test_restart_keeps_acknowledged_writes(own_redis):
    up(("redis",))
    client = redis.Redis(port=own_redis, socket_connect_timeout=2)
    for i in range(100):
        client.xadd("restart-check", {"i": i})
    time.sleep(1.2)  # appendfsync everysec: let the last second reach the disk
    restart("redis")
    assert client.xlen("restart-check") == 100


def test_a_port_taken_by_another_service_stops_up_with_the_port_named(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    with impostor_server() as port:
        monkeypatch.setenv("REDIS_URL", f"redis://localhost:{port}/0")
        with pytest.raises(ProvisionError, match=f"port {port} is taken"):
            up(("redis",))
        assert not status(("redis",))[0].healthy
        assert state.recorded_pid("redis") is None, "a broker was started on a taken port"


def test_an_auxiliary_port_taken_is_named_before_starting(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    with impostor_server() as controller_port:
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"localhost:{controller_port - 1}")
        if port_is_open("127.0.0.1", controller_port - 1):
            pytest.skip("the port below the impostor is in use")
        with pytest.raises(native.BrokerStartError, match=f"port {controller_port} .*controller"):
            native.start(endpoint("kafka"))


def test_a_missing_program_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: nothing is installed
    monkeypatch.setattr(install, "_can_apt_install", lambda: False)
    with pytest.raises(install.MissingProgram, match=r"apt-get install -y redis-server"):
        install.ensure("redis-server")
    with pytest.raises(install.MissingProgram, match=r"apt-get install -y maven"):
        install.ensure("mvn")


def test_java_older_than_17_is_refused_with_the_fix(monkeypatch, tmp_path):
    java_home = tmp_path / "jdk11"
    (java_home / "bin").mkdir(parents=True)
    fake_java = java_home / "bin" / "java"
    fake_java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    fake_java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(java_home))
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"localhost:{free_port()}")
    with pytest.raises(native.BrokerStartError, match=r"needs Java 17 or newer"):
        native.start(endpoint("kafka"))
    assert state.recorded_pid("kafka") is None


def _pings(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False
