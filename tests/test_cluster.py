"""The three-node clusters' provisioning: nodes listed with their roles, one node killed and
started again, paused and resumed, on the real (native) Redis cluster, the quickest to restart;
their shared secrets created private. The Kafka and RabbitMQ clusters are exercised by
notebook 11."""

import os
import re
import resource
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pika.exceptions
import psutil
import pytest

from helpers.failover import rabbitmq as frabbit
from helpers.failover import redis as fre
from helpers.naming import unique_name
from lab.brokers import EnsureError, cluster, ensure, state
from lab.brokers.cluster_nodes import NODES, RABBITMQ, REDIS
from tests.conftest import USE_TESTCONTAINERS

pytestmark = pytest.mark.skipif(USE_TESTCONTAINERS, reason="the native clusters only")


@pytest.fixture(scope="module")
def redis_cluster():
    started = not all(s.healthy for s in cluster.status(("redis",)))
    cluster.up(("redis",))
    fre.wait_until_whole()  # a primary just restarted is a primary until the Sentinels demote it
    yield
    if started:
        cluster.down(("redis",))


def _a_replica() -> int:
    return next(n.index for n in REDIS if n.index != fre.primary_index())


def test_status_names_every_node_with_its_role(redis_cluster):
    roles = {s.node: s.role for s in cluster.status(("redis",))}
    assert sorted(roles) == [f"{k}-{i}" for k in ("redis", "sentinel") for i in (1, 2, 3)]
    assert sorted(r for n, r in roles.items() if n.startswith("redis")) == [
        "primary", "replica", "replica"
    ]  # fmt: skip
    assert {roles[f"sentinel-{i}"] for i in (1, 2, 3)} == {"sentinel"}


def test_a_killed_replica_is_down_until_started_again(redis_cluster):
    replica = _a_replica()
    pid = state.running_pid(f"redis-{replica}")
    cluster.kill_node("redis", replica)
    assert not {s.node: s.healthy for s in cluster.status(("redis",))}[f"redis-{replica}"]
    with pytest.raises(cluster.ClusterError, match="not running"):
        cluster.kill_node("redis", replica)
    with pytest.raises(cluster.ClusterError, match=f"redis-{replica}.*make cluster-up"):
        cluster.require("redis")  # names the node that is down, and the fix
    cluster.start_node("redis", replica)
    assert state.running_pid(f"redis-{replica}") not in (None, pid)  # a new process
    fre.wait_until_whole()  # ...that rejoined as a replica
    cluster.require("redis")


def test_a_paused_node_answers_nothing_until_resumed(redis_cluster):
    """A frozen node costs the status one probe timeout (1 s), not redis-py's default retries
    (several seconds): measured against the same status with every node up, so a slow machine
    slows both."""
    replica = _a_replica()
    began = time.monotonic()
    cluster.status(("redis",))
    all_up_s = time.monotonic() - began
    cluster.pause_node("redis", replica)
    try:
        began = time.monotonic()
        rows = {s.node: s for s in cluster.status(("redis",))}
        one_frozen_s = time.monotonic() - began
        assert not rows[f"redis-{replica}"].healthy
        assert rows[f"redis-{replica}"].role == "frozen (SIGSTOP)"
        assert one_frozen_s - all_up_s < 3 * 1.0  # 3x the one probe's timeout
    finally:
        cluster.resume_node("redis", replica)
    assert {s.node: s.healthy for s in cluster.status(("redis",))}[f"redis-{replica}"]


def test_a_node_left_frozen_is_thawed_by_start_and_by_stop(redis_cluster):
    """A notebook interrupted between pause and resume leaves a node frozen. Starting it must
    thaw the same process (not wait out its deadline), and stopping it must let it shut down
    cleanly on SIGTERM (not be SIGKILLed after the stop timeout)."""
    replica = _a_replica()
    name = f"redis-{replica}"
    pid = state.running_pid(name)
    cluster.pause_node("redis", replica)  # and never resumed
    assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
    cluster.start_node("redis", replica, timeout_s=30)  # raised ClusterError after 30 s before
    assert state.running_pid(name) == pid  # the same process, running again
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED

    cluster.pause_node("redis", replica)
    log_size = state.log_file(name).stat().st_size
    cluster.stop_node("redis", replica)
    with state.log_file(name).open() as log:
        log.seek(log_size)
        assert "ready to exit" in log.read()  # Redis's own last words on SIGTERM
    cluster.start_node("redis", replica)
    fre.wait_until_whole()


# --- the RabbitMQ failover helpers: no connection left open, no wait without an end -------------


@pytest.fixture(scope="module")
def rabbitmq_cluster():
    started = not all(s.healthy for s in cluster.status(("rabbitmq",)))
    cluster.up(("rabbitmq",))
    yield
    if started:
        cluster.down(("rabbitmq",))


def _connections_to(port: int) -> int:
    """This process's open TCP connections to a local port."""
    return sum(
        1 for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )  # fmt: skip


def test_declare_refused_closes_its_connection(rabbitmq_cluster):
    port, missing = RABBITMQ[0].port, unique_name("never-declared")
    before = _connections_to(port)
    assert frabbit.declare_refused(missing, via=1).startswith("404 NOT_FOUND")
    with frabbit.opened(1) as ch:
        ch.queue_declare(missing, auto_delete=True)
        assert frabbit.declare_refused(missing, via=1) is None
    assert _connections_to(port) == before  # the refused probe's and the found one's closed


def test_a_frozen_node_is_given_up_on_by_heartbeat(rabbitmq_cluster):
    """A node that hangs closes no socket: only heartbeats tell. The helpers' connections give
    up 10 to 20 s after the node's last frame (pika's default, the broker's 60 s heartbeat,
    takes 65 to 130 s): bounded at 60 s, 3x the longest expected."""
    with frabbit.opened(3) as ch:
        cluster.pause_node("rabbitmq", 3)
        began = time.monotonic()
        try:
            with pytest.raises(pika.exceptions.AMQPHeartbeatTimeout):
                ch.queue_declare(unique_name("frozen"), auto_delete=True)  # no answer comes
            given_up_s = time.monotonic() - began
        finally:
            cluster.resume_node("rabbitmq", 3)
    assert given_up_s < 60
    cluster.require("rabbitmq")


# --- the shared secrets: private from their first byte ------------------------------------------

WRITE_SECRETS = """
import sys
from pathlib import Path
from lab.brokers import cluster_nodes
for write in (cluster_nodes._cluster_id, lambda: cluster_nodes._shared_cookie(Path(sys.argv[1]))):
    try:
        write()
        print("written")
    except OSError as exc:
        print(type(exc).__name__)
"""


def _write_secrets(state_dir: Path, cookie: Path, room: bool) -> list[str]:
    """Write the Kafka cluster id and the Erlang cookies in a child process; with no `room`, any
    write of a byte fails (RLIMIT_FSIZE 0, as on a full disk) after the file was created, which
    shows the mode each file was created with."""

    def no_room() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # Python ignores SIGXFSZ: EFBIG

    done = subprocess.run(
        [sys.executable, "-c", WRITE_SECRETS, str(cookie)],
        env={**os.environ, "LAB_STATE_DIR": str(state_dir)},
        preexec_fn=None if room else no_room,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.split()


def _modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_file()}


def test_cluster_secrets_are_private_and_shared(tmp_path):
    cookie = tmp_path / "home" / ".erlang.cookie"
    cookie.parent.mkdir()
    assert _write_secrets(tmp_path, cookie, room=True) == ["written", "written"]
    shared = (tmp_path / "rabbitmq-cluster.cookie").read_text()
    assert cookie.read_text() == shared and len(shared) == 40
    assert _modes(tmp_path) == {
        "kafka-cluster.id": 0o600, "rabbitmq-cluster.cookie": 0o400, ".erlang.cookie": 0o400
    }  # fmt: skip
    cookie.chmod(0o600)
    cookie.write_text("another lab's cookie")
    cookie.chmod(0o400)
    assert _write_secrets(tmp_path, cookie, room=True) == ["written", "written"]
    assert cookie.read_text() == shared  # replaced by the lab's own
    assert _modes(tmp_path)[".erlang.cookie"] == 0o400


def test_a_secret_half_written_is_never_readable_by_others(tmp_path):
    """With no room for a byte, each file is created and its first write refused: the mode it
    was created with shows, and nothing may be left behind (a draft created 0644, then chmod-ed,
    stayed readable by everyone)."""
    cookie = tmp_path / "home" / ".erlang.cookie"
    cookie.parent.mkdir()
    assert _write_secrets(tmp_path, cookie, room=False) == ["OSError", "OSError"]
    assert _modes(tmp_path) == {}


def test_a_node_cookie_is_replaced_whole_or_not_at_all(tmp_path):
    cookie = tmp_path / "home" / ".erlang.cookie"
    cookie.parent.mkdir()
    assert _write_secrets(tmp_path, cookie, room=True) == ["written", "written"]
    cookie.chmod(0o600)
    cookie.write_text("another lab's cookie")
    cookie.chmod(0o400)
    # The shared files exist (only read now); the node's copy cannot be written.
    assert _write_secrets(tmp_path, cookie, room=False) == ["written", "OSError"]
    assert cookie.read_text() == "another lab's cookie"  # not emptied, not half-replaced
    assert sorted(_modes(tmp_path)) == [".erlang.cookie", "kafka-cluster.id",
                                        "rabbitmq-cluster.cookie"]  # no draft left  # fmt: skip


def test_ensure_starts_nothing_when_the_cluster_answers(redis_cluster, capsys):
    pids = {n.name: state.running_pid(n.name) for n in NODES["redis"]}
    began = time.monotonic()
    ensure("redis-cluster")
    assert time.monotonic() - began < 5
    assert capsys.readouterr().out == ""  # nothing said, nothing started
    assert {n.name: state.running_pid(n.name) for n in NODES["redis"]} == pids


def test_ensure_starts_a_stopped_node_again_and_says_so(redis_cluster, capsys):
    replica = _a_replica()
    others = [n.name for n in NODES["redis"] if n.name != f"redis-{replica}"]
    pids = {name: state.running_pid(name) for name in others}
    cluster.stop_node("redis", replica)
    try:
        ensure("redis-cluster", timeout_s=60)
    finally:  # the cluster stays whole for what runs next, whatever happened
        cluster.up(("redis",))
        fre.wait_until_whole()
    said = capsys.readouterr().out.splitlines()
    # One sentence first: what does not answer, what starts, and its memory.
    assert said[0].startswith(f"redis-{replica} of the Redis cluster")
    assert "does not answer: starting it now, about " in said[0] and " MB of memory" in said[0]
    # A line when it answers; the rest were left alone.
    assert any(line.strip().startswith(f"redis-{replica} started, answers") for line in said)
    assert not [line for line in said if any(f"{name} started" in line for name in others)]
    assert {name: state.running_pid(name) for name in others} == pids
    # The memory its processes use, measured once up.
    used = re.search(r"the 6 processes of .* use (\d+) MB now", said[-1])
    assert used and int(used.group(1)) > 0
    assert {s.node: s.healthy for s in cluster.status(("redis",))}[f"redis-{replica}"]


def test_ensure_names_cause_and_fix_when_a_node_cannot_start(redis_cluster, capsys):
    replica = _a_replica()
    port = REDIS[replica - 1].port
    cluster.stop_node("redis", replica)
    squatter = socket.create_server(("127.0.0.1", port))  # another program took its port
    try:
        began = time.monotonic()
        with pytest.raises(EnsureError) as failed:
            ensure("redis-cluster", timeout_s=30)
        assert time.monotonic() - began < 30
    finally:
        squatter.close()
        cluster.up(("redis",))
        fre.wait_until_whole()
    assert f"port {port}" in str(failed.value) and "taken by" in str(failed.value)
    assert "Stop it" in str(failed.value)  # and what to do about it
    assert capsys.readouterr().out.startswith(f"redis-{replica} of the Redis cluster")
