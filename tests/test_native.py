"""The native provider's lifecycle, on a Redis of its own (own port, own state folder).

Redis starts in well under a second, so it carries the lifecycle checks that apply to every broker:
idempotent `up`, `down` by pid only, a died broker in `status`, a port taken by someone else.
"""

import contextlib
import fcntl
import ipaddress
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
import redis

from lab.brokers import (
    ProvisionError,
    cluster_nodes,
    crash,
    down,
    endpoint,
    install,
    kafka_broker,
    native,
    process,
    redis_broker,
    restart,
    secure,
    state,
    status,
    up,
)
from lab.brokers.probes import Health, port_is_open
from lab.brokers.process import Launch, reap, spawn
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
    with _redis_we_did_not_start(tmp_path) as (bystander, client):
        assert down(("redis",)) == ["redis"]
        assert bystander.poll() is None and _pings(client), (
            "down stopped a process it did not start"
        )
        assert down(("redis",)) == []  # nothing of ours left: a second down is a no-op


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


@pytest.mark.parametrize("appendonly", ["yes", "no"])
def test_a_crash_keeps_acknowledged_writes_only_with_the_append_only_file(own_redis, appendonly):
    up(("redis",))
    client = redis.Redis(port=own_redis, socket_connect_timeout=2)
    client.config_set("appendonly", appendonly)  # the restart reads redis.conf: AOF on again
    delayed_before = client.info("persistence").get("aof_delayed_fsync", 0)
    for i in range(100):
        client.xadd("crash-check", {"i": i})  # each one acknowledged
    # Under everysec, while the last second's fsync still runs (a busy disk), Redis may put off
    # its write() of the AOF for up to 2 s and keep replying: it counts each such delay.
    delayed = client.info("persistence").get("aof_delayed_fsync", 0) - delayed_before
    crash("redis")  # SIGKILL, no shutdown
    kept = client.xlen("crash-check")
    if appendonly == "yes":
        assert kept == 100 or delayed > 0, f"{kept} of 100 kept, {delayed} AOF writes put off"
    else:
        assert kept == 0
    assert not _blocked_signals(state.running_pid("redis")) & {signal.SIGTERM, signal.SIGINT}


def test_restart_is_a_clean_shutdown_on_the_same_data(own_redis):
    pid = up(("redis",))[0].pid
    client = redis.Redis(port=own_redis, socket_connect_timeout=2)
    for i in range(100):
        client.xadd("restart-check", {"i": i})
    restart("redis")
    assert client.xlen("restart-check") == 100
    assert status(("redis",))[0].pid not in (None, pid)  # a new process


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
    # a service's package, without the packages Debian recommends beside it
    with pytest.raises(install.MissingProgram, match=r"install -y --no-install-recommends prom"):
        install.ensure("promtool", "prometheus", recommends=False)


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
    # The cluster nodes and the secured broker launch Kafka through the same check.
    node = cluster_nodes.KAFKA[0]
    with pytest.raises(native.BrokerStartError, match=r"needs Java 17 or newer"):
        cluster_nodes.launch(node)
    with pytest.raises(native.BrokerStartError, match=r"needs Java 17 or newer"):
        secure._kafka(tmp_path / "secure-kafka")


def test_every_kafka_the_lab_runs_starts_with_one_command_line(tmp_path):
    """One JVM launcher: the same flags for the single node, the cluster nodes and the secured
    broker, each with its own heap, configuration and scratch folder."""
    single = kafka_broker.command(tmp_path / "a.properties", tmp_path / "a")
    node = kafka_broker.command(tmp_path / "b.properties", tmp_path / "b", heap="384m")
    flags = [part for part in single if part.startswith("-XX") or part.startswith("-Dlog4j2")]
    assert flags and all(flag in node for flag in flags)
    assert (
        "-Xmx512m" in single
        and "-Xmx384m" in node
        and single[-2:] == ["kafka.Kafka", str(tmp_path / "a.properties")]
    )


@contextlib.contextmanager
def _redis_we_did_not_start(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, redis.Redis]]:
    """A redis-server on a free port, started by hand as another user of the machine would."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, socket_connect_timeout=2)
        deadline = time.monotonic() + 10
        while not _pings(client) and time.monotonic() < deadline:
            time.sleep(0.1)
        yield process, client
    finally:
        process.terminate()
        process.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


# --- only our own processes are ever signalled --------------------------------------------------


def test_a_recycled_pid_is_not_ours(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        state.broker_dir("redis").mkdir(parents=True)
        state.record_process("redis", bystander.pid)
        assert state.running_pid("redis") == bystander.pid
        started = float(state.pid_file("redis").read_text().split()[1])
        # The same pid, a different start time: what a recycled pid looks like.
        state.pid_file("redis").write_text(f"{bystander.pid} {started - 100}\n")
        assert state.running_pid("redis") is None
        assert down(("redis",)) == [] and bystander.poll() is None, "signalled someone else"
        since_boot = float(state.process_record(bystander.pid).split()[2])
        state.pid_file("redis").write_text(f"{bystander.pid} {started} {since_boot - 100}\n")
        assert state.running_pid("redis") is None
        state.pid_file("redis").write_text(f"{bystander.pid}\n")  # an old record, no start time
        assert state.running_pid("redis") is None
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's boot time")
def test_a_recorded_process_stays_ours_when_the_clock_moves(tmp_path, monkeypatch):
    """Linux reports a boot time computed from the clock, so NTP slewing or stepping the clock
    moves every process's wall-clock start time by a second or more; `down` must still know the
    process it started, and the alarm's owner must still count as alive."""
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    pid = spawn("redis", Launch(["sleep", "60"], dict(os.environ), ready_timeout_s=5))
    try:
        assert state.running_pid("redis") == pid
        owner = state.process_record(os.getpid())  # how the memory alarm's owner is recorded
        booted = psutil.boot_time()
        monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: booted + 1.0)  # the clock moved
        assert psutil.Process(pid).create_time() == pytest.approx(
            float(state.pid_file("redis").read_text().split()[1]) + 1.0
        ), "the moved clock is not what psutil reads"
        assert state.running_pid("redis") == pid
        assert down(("redis",)) == ["redis"]
        assert not _alive(pid), "down left the process it started running"
        assert state.alive_as_recorded(owner) == os.getpid()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        reap(pid)


def test_a_process_that_does_not_lead_its_group_is_signalled_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    # A stand-in for the test runner leads a group of its own, with the recorded process in it:
    # a kill sent to the whole group takes the stand-in too (and fails this test), never the
    # runner itself.
    leader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys; "
            "child = subprocess.Popen(['sleep', '60']); print(child.pid, flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        member = int(leader.stdout.readline())
        assert os.getpgid(member) == leader.pid != member
        state.broker_dir("redis").mkdir(parents=True)
        state.record_process("redis", member)
        assert native.kill("redis")  # SIGKILL: to the group only if the process leads it
        deadline = time.monotonic() + 10
        while _alive(member) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(member), "the recorded process was not killed"
        assert leader.poll() is None, "the kill reached the rest of the process group"
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
        leader.wait(timeout=10)


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, killed but not yet reaped by its parent, is not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_two_ups_at_once_start_one_broker(tmp_path):
    port = free_port()
    env = {**os.environ, "LAB_STATE_DIR": str(tmp_path / "state"), "LAB_BROKERS_BACKEND": "native"}
    env["REDIS_URL"] = f"redis://localhost:{port}/0"
    command = [sys.executable, "-m", "lab.brokers", "up", "redis"]
    ups = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        outputs = [up_.communicate(timeout=60)[0] for up_ in ups]
        assert [up_.returncode for up_ in ups] == [0, 0], outputs
        servers = [
            p
            for p in psutil.process_iter(["cmdline"])
            if f":{port}" in " ".join(p.info["cmdline"] or []) or _serves(p, port)
        ]
        assert len(servers) == 1, servers
    finally:
        subprocess.run([sys.executable, "-m", "lab.brokers", "down", "redis"], env=env, timeout=60)


def test_a_start_that_never_gets_ready_stops_what_it_started(own_redis, monkeypatch):
    monkeypatch.setattr(native, "probe", lambda *a, **k: Health(False, "not ready (simulated)"))
    launch = redis_broker.launch
    monkeypatch.setattr(
        redis_broker,
        "launch",
        lambda ep: Launch(**{**launch(ep).__dict__, "ready_timeout_s": 1}),
    )
    with pytest.raises(native.BrokerStartError, match="did not become ready in time"):
        native.start(endpoint("redis"))
    assert state.recorded_pid("redis") is None
    assert not port_is_open("127.0.0.1", own_redis), "the unready broker was left running"


def test_a_check_that_never_passes_fails_by_its_deadline_and_stops_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    pid = spawn("sleeper", Launch(["sleep", "60"], dict(os.environ), ready_timeout_s=1))
    began = time.monotonic()
    with pytest.raises(process.StartError) as raised:
        process.wait_until_ready(
            "sleeper", lambda: "no answer (never)", began + 1.0, pid=pid, fix="Fix: the fix."
        )
    assert time.monotonic() - began < 5.0, "the wait overran its deadline"
    message = str(raised.value)
    assert (
        "sleeper (pid" in message and "did not become ready in time (no answer (never))" in message
    )
    assert str(state.log_file("sleeper")) in message and "starting sleeper" in message  # log tail
    assert message.endswith("Fix: the fix.")
    assert state.running_pid("sleeper") is None and not _alive(pid), "it was left running"


def test_a_check_that_passes_later_ends_the_wait_with_the_process_running(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    pid = spawn("sleeper", Launch(["sleep", "60"], dict(os.environ), ready_timeout_s=1))
    calls: list[float] = []

    def ready_on_the_third_look() -> str | None:
        calls.append(time.monotonic())
        return None if len(calls) == 3 else "booting"

    try:
        process.wait_until_ready(
            "sleeper", ready_on_the_third_look, time.monotonic() + 30, pid=pid, fix="", poll_s=0.1
        )
        assert len(calls) == 3 and state.running_pid("sleeper") == pid
    finally:
        process.signal_and_wait("sleeper", signal.SIGKILL, 10.0)


def test_a_process_that_exits_while_starting_ends_the_wait_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    command = ["sh", "-c", "echo no such configuration file; exit 3"]
    pid = spawn("quitter", Launch(command, dict(os.environ), ready_timeout_s=1))
    began = time.monotonic()
    with pytest.raises(process.StartError, match="exited while starting") as raised:
        process.wait_until_ready("quitter", lambda: "booting", began + 30, pid=pid, fix="The fix.")
    assert time.monotonic() - began < 10.0, "waited for the deadline of a process that had exited"
    assert "no such configuration file" in str(raised.value) and "The fix." in str(raised.value)


def test_a_relative_state_dir_is_resolved_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAB_STATE_DIR", "relative-state")
    monkeypatch.setenv("LAB_BROKERS_BACKEND", "native")
    monkeypatch.setenv("REDIS_URL", f"redis://localhost:{free_port()}/0")
    try:
        assert up(("redis",))[0].healthy
        assert state.pid_file("redis") == tmp_path / "relative-state" / "redis" / "redis.pid"
        assert (tmp_path / "relative-state" / "redis" / "data").is_dir()
    finally:
        native.stop("redis")


def test_an_external_broker_is_never_written_to(tmp_path, monkeypatch):
    with _redis_we_did_not_start(tmp_path) as (_external, client):
        monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
        port = client.connection_pool.connection_kwargs["port"]
        monkeypatch.setenv("REDIS_URL", f"redis://localhost:{port}/0")
        assert up(("redis",))[0].backend == "external"
        writes = [c for c in client.info("commandstats") if c in ("cmdstat_xadd", "cmdstat_del")]
        assert writes == [] and client.dbsize() == 0


def test_a_service_on_a_remote_address_is_not_blamed_on_a_local_pid(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    with impostor_server(host="127.0.0.2") as port:
        monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.2:{port}/0")
        with pytest.raises(ProvisionError) as info:
            up(("redis",))
    message = str(info.value)
    assert "answers, but not as redis" in message and "REDIS_URL" in message
    assert "taken by" not in message


def test_a_redis_older_than_7_is_refused_with_the_fix(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "redis-server"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\necho 'Redis server v=6.0.16 sha=00000000:0 malloc=jemalloc-5.2.1'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("REDIS_URL", f"redis://localhost:{free_port()}/0")
    with pytest.raises(native.BrokerStartError, match=r"redis 6\.0\.16 is older than 7\.0"):
        native.start(endpoint("redis"))
    assert state.recorded_pid("redis") is None


def test_the_lab_brokers_listen_on_loopback_only(broker_endpoints):
    listening = {}
    for broker in ("kafka", "rabbitmq", "redis"):
        pid = state.running_pid(broker)
        if pid is None:
            pytest.skip(f"{broker} is not a native broker of this lab")
        tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        for member in tree:
            for conn in member.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    listening[(broker, conn.laddr.port)] = conn.laddr.ip
    assert listening, "no listening sockets found"
    exposed = {
        k: ip
        for k, ip in listening.items()
        if not ipaddress.ip_address(ip.removeprefix("::ffff:")).is_loopback
    }
    assert not exposed, f"listening beyond loopback: {exposed}"


def test_up_exits_non_zero_when_a_broker_is_unhealthy(monkeypatch, capsys):
    from lab.brokers import __main__ as cli
    from lab.brokers.provision import BrokerStatus

    sick = BrokerStatus("redis", "redis://localhost:1/0", "native", False, None, None, None, "died")
    monkeypatch.setattr(cli, "up", lambda brokers: [sick])
    assert cli.main(["up", "redis"]) == 1
    assert "redis: died" in capsys.readouterr().out


def test_a_held_lock_is_a_sentence_not_a_traceback(tmp_path, monkeypatch, capsys):
    from functools import partial

    from lab.brokers import __main__ as cli

    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(state, "locked", partial(state.locked, timeout_s=0.3))
    (tmp_path / "state").mkdir()
    with open(tmp_path / "state" / ".lock", "a+") as held:  # another `up` holds the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        assert cli.main(["up", "redis"]) == 2
    error = capsys.readouterr().err
    assert (
        error.startswith("error: another `brokers up/down` has held") and "Traceback" not in error
    )


def test_a_tool_that_hangs_is_a_sentence_not_a_traceback(monkeypatch, capsys):
    from lab.brokers import __main__ as cli

    def hangs(brokers):
        subprocess.run(["sleep", "5"], timeout=0.2)  # a broker tool that does not answer

    monkeypatch.setattr(cli, "status", hangs)
    assert cli.main(["status", "redis"]) == 2
    error = capsys.readouterr().err
    assert "`sleep 5` did not finish within 0.2 s" in error and "make brokers-status" in error


def _serves(process: psutil.Process, port: int) -> bool:
    try:
        return any(c.laddr and c.laddr.port == port for c in process.net_connections(kind="tcp"))
    except psutil.Error:
        return False


def _blocked_signals(pid: int) -> set[int]:
    """The signals a process has blocked (a broker that blocks SIGTERM cannot be stopped)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk")), 16
    )
    return {number for number in range(1, 65) if mask & (1 << (number - 1))}


@pytest.mark.parametrize(
    ("broker", "old", "new", "why"),
    [
        ("rabbitmq", "3.9.13", "3.10.8", "quorum queue delivery limits"),
        ("redis", "6.2.14", "7.0.15", "XINFO lag and XAUTOCLAIM"),
    ],
)
def test_a_broker_older_than_the_lessons_need_is_named_with_what_it_lacks(broker, old, new, why):
    from lab.brokers.config import too_old

    assert too_old(broker, new) is None and too_old(broker, None) is None
    assert too_old(broker, old) == (
        f"{broker} {old} is older than {'3.10' if broker == 'rabbitmq' else '7.0'}, "
        f"which the lessons need ({why})"
    )


def test_a_file_the_cluster_nodes_share_is_made_once_and_never_read_half_written(tmp_path):
    from lab.brokers.cluster_nodes import _written_once

    def new_id() -> str:
        return os.urandom(16).hex()

    for trial in range(20):  # the three nodes of a cluster start in parallel
        shared = tmp_path / f"id-{trial}"
        with ThreadPoolExecutor(max_workers=8) as pool:
            seen = set(pool.map(_written_once, [shared] * 8, [new_id] * 8))
        assert len(seen) == 1 and len(seen.pop()) == 32  # one value, whole, for every node
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no draft left


def test_a_kafka_cluster_id_never_starts_with_a_dash(monkeypatch):
    """kafka-storage reads an id that starts with "-" as an option and refuses to format; one
    random id in 64 does. The first draw here starts with "-", so the id must be the second."""
    draws = iter([bytes([0xFB]) + bytes(15), bytes(16)])
    monkeypatch.setattr(kafka_broker.uuid, "uuid4", lambda: SimpleNamespace(bytes=next(draws)))
    cluster_id = kafka_broker.cluster_id()
    assert cluster_id == "AAAAAAAAAAAAAAAAAAAAAA" and not cluster_id.startswith("-")


def test_the_provisioning_lock_file_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    with state.locked():
        pass
    assert (tmp_path / "state" / ".lock").stat().st_mode & 0o777 == 0o600
