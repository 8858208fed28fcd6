"""Network faults on the lab's own hosts (network namespaces): the checker on constructed
histories, cuts, loss and delay seen from inside the hosts, every fault gone after heal(), after
the hosts' cluster goes down, at exit, and after a killed process (found and undone by the next
start); one real partition of a Redis primary, and a lossy and a slow replica link, counted by
the checker."""

import subprocess
import sys
import textwrap
import time

import pytest

from helpers.partitions import links
from helpers.partitions import redis as predis
from helpers.partitions.checker import Write, check, timeline
from helpers.partitions.faults import Network
from lab.brokers import netns, netns_redis, state

WHY_NOT = netns.why_unavailable()
needs_root = pytest.mark.skipif(WHY_NOT is not None, reason=f"network namespaces: {WHY_NOT}")


# --- the checker, on histories made up to hit each case ---------------------------------------


def test_checker_counts_each_case_on_a_constructed_history():
    writes = [
        Write("a", "a1", "ok"), Write("a", "a2", "ok"), Write("a", "a3", "ok"),
        Write("b", "b1", "ok"), Write("b", "b2", "refused"), Write("b", "b3", "unknown"),
        Write("b", "b4", "ok"),
    ]  # fmt: skip
    found = {"a": ["a1", "a3", "a2", "a3"], "b": ["b1", "b3", "x9"]}
    verdict = check(writes, found)
    assert verdict.acknowledged_present == ["a1", "a2", "a3", "b1"]
    assert verdict.acknowledged_lost == ["b4"]
    assert verdict.unacknowledged_present == ["b3"]  # b2 was refused and is absent: not counted
    assert verdict.duplicated == ["a3"]
    assert verdict.order_violations == [("a", "a3", "a2")]
    assert verdict.never_written == ["x9"]
    assert (verdict.refused, verdict.unanswered) == (1, 1)


def test_checker_finds_nothing_wrong_in_a_clean_history():
    writes = [Write("k", f"v{i}", "ok") for i in range(5)] + [Write("k", "v5", "refused")]
    verdict = check(writes, {"k": [f"v{i}" for i in range(5)]})
    assert verdict.counts() == {
        "acknowledged and present": 5, "acknowledged and lost": 0,
        "unacknowledged but present": 0, "duplicated": 0, "order violations": 0,
        "refused": 1, "unanswered": 0,
    }  # fmt: skip


def test_the_timeline_puts_each_write_in_its_step_with_its_fate_and_what_happened():
    writes = [
        Write("k", "v0", "ok", 0.1), Write("k", "v1", "ok", 0.6),
        Write("k", "v2", "unknown", 0.7), Write("k", "v3", "ok", 1.2),
    ]  # fmt: skip
    verdict = check(writes, {"k": ["v0", "v2"]})  # v1 and v3 acknowledged and lost
    steps = timeline(writes, verdict, [(0.55, "cut"), (0.9, "new leader"), (1.4, "heal")])
    assert list(steps.index) == [0.0, 0.5, 1.0]
    assert steps.loc[0.0, "acknowledged, kept"] == 1 and steps.loc[0.0, "event"] == ""
    assert steps.loc[0.5, "acknowledged, lost"] == 1 and steps.loc[0.5, "not acknowledged"] == 1
    assert steps.loc[0.5, "event"] == "cut; new leader"  # two events in one step: both kept
    assert steps.loc[1.0, "acknowledged, lost"] == 1 and steps.loc[1.0, "event"] == "heal"


def test_checker_refuses_values_that_repeat():
    with pytest.raises(ValueError, match="unique value"):
        check([Write("k", "v", "ok"), Write("k", "v", "ok")], {})


# --- faults on the hosts ----------------------------------------------------------------------


def _agreed_primary(timeout_s: float = 60.0) -> int:
    """The primary every Sentinel names, once they agree again after the previous fault (a
    cluster that looked whole can still be flapping for a moment)."""
    deadline = time.monotonic() + timeout_s
    while (primary := predis.agreed_primary()) is None:
        assert time.monotonic() < deadline, f"the Sentinels did not agree within {timeout_s} s"
        netns_redis.wait_whole(timeout_s)
        time.sleep(0.2)
    return primary


def _connects(host: str, target: str, tries: int = 1, timeout_s: float = 0.5) -> int:
    """How many of `tries` TCP connections from inside `host` to `target`'s Redis succeed."""
    script = textwrap.dedent(f"""
        import socket
        ok = 0
        for _ in range({tries}):
            try:
                socket.create_connection(("{target}", 6379), timeout={timeout_s}).close()
                ok += 1
            except OSError:
                pass
        print(ok)
    """)
    command = netns.command(host, [sys.executable, "-c", script])
    return int(subprocess.run(command, capture_output=True, text=True, timeout=120).stdout)


@pytest.fixture(scope="module")
def hosts():
    if WHY_NOT is not None:
        pytest.skip(f"network namespaces: {WHY_NOT}")
    netns_redis.up()
    net = predis.network()
    yield net
    net.heal()


@needs_root
def test_a_partition_cuts_both_ways_and_heal_restores_every_link(hosts: Network):
    ip = {h: netns_redis.NODES[i].ip for i, h in enumerate(netns_redis.HOSTS)}
    assert _connects("redis-2", ip["redis-1"]) == 1  # before: the link works
    hosts.partition({"redis-1"}, {"redis-2", "redis-3"})
    try:
        assert _connects("redis-2", ip["redis-1"]) == 0
        assert _connects("redis-1", ip["redis-3"]) == 0
        assert _connects("redis-2", ip["redis-3"]) == 1  # same side: untouched
        assert netns_redis.client(1).ping()  # the client on the bridge is never cut
        assert sorted(hosts.faults()) == ["redis-1", "redis-2", "redis-3"]
    finally:
        hosts.heal()
    assert hosts.faults() == {}
    assert _connects("redis-2", ip["redis-1"]) == 1


@needs_root
def test_loss_drops_some_packets_not_all(hosts: Network):
    target = netns_redis.NODES[0].ip
    hosts.loss("redis-1", "redis-2", 40)
    try:
        # a dropped SYN is resent after 1 s: a 0.3 s deadline counts it as lost
        succeeded = _connects("redis-2", target, tries=30, timeout_s=0.3)
    finally:
        hosts.heal()
    assert 3 <= succeeded <= 27, f"{succeeded} of 30 connections under 40 % loss"
    assert _connects("redis-2", target, tries=10, timeout_s=0.3) == 10


ROUND_TRIP = """
import socket, sys, time
link = socket.create_connection((sys.argv[1], 6379), timeout=10)
times = []
for _ in range(5):
    began = time.monotonic()
    link.sendall(b"PING\\r\\n")
    assert link.recv(64) == b"+PONG\\r\\n"
    times.append(time.monotonic() - began)
print(min(times))
"""


def _round_trip_s(host: str, target: str) -> float:
    """The shortest of five Redis PING round trips from inside `host` to `target`'s Redis, on
    one connection made now."""
    command = netns.command(host, [sys.executable, "-c", ROUND_TRIP, target])
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return float(done.stdout)


@needs_root
def test_a_delayed_link_slows_round_trips_across_it_both_ways_and_no_other_link(hosts: Network):
    ip = {h: netns_redis.NODES[i].ip for i, h in enumerate(netns_redis.HOSTS)}
    assert _round_trip_s("redis-2", ip["redis-1"]) < 0.1  # before: a few microseconds
    hosts.delay("redis-1", "redis-2", 150, 10)
    try:
        # 150 +- 10 ms each way: no round trip across the link can take less than 2 x 140 ms
        assert _round_trip_s("redis-2", ip["redis-1"]) >= 0.28
        assert _round_trip_s("redis-1", ip["redis-2"]) >= 0.28  # dialled from the other end
        assert _round_trip_s("redis-3", ip["redis-1"]) < 0.1  # another link: untouched
        assert _round_trip_s("redis-2", ip["redis-3"]) < 0.1
        faults = hosts.faults()
        assert sorted(faults) == ["redis-1", "redis-2"]
        assert all(any("redirect to" in rule for rule in rules) for rules in faults.values())
        assert len(netns.proxies()) == 2
        assert netns_redis.client(1).ping()  # the client on the bridge is never slowed
    finally:
        hosts.heal()
    assert hosts.faults() == {} and netns.proxies() == []
    assert _round_trip_s("redis-2", ip["redis-1"]) < 0.1


HELD_OPEN = """
import socket, sys, time
link = socket.create_connection((sys.argv[1], 6379), timeout=30)
def round_trip():
    times = []
    for _ in range(5):
        began = time.monotonic()
        link.sendall(b"PING\\r\\n")
        assert link.recv(64) == b"+PONG\\r\\n"
        times.append(time.monotonic() - began)
    return min(times)
print(round_trip(), flush=True)
sys.stdin.readline()
print(round_trip(), flush=True)
"""


@needs_root
@pytest.mark.soak  # a proxy per link on a loaded machine: make soak, not every run
def test_a_slow_link_slowed_again_keeps_its_connections_and_takes_the_new_delay(hosts: Network):
    """A link already through running proxies gets new figures without a reset (RabbitMQ takes
    a reset link for a partition): one connection, made before, sees the new delay."""
    target = netns_redis.NODES[0].ip
    hosts.delay("redis-1", "redis-2", 10, 0)
    try:
        command = netns.command("redis-2", [sys.executable, "-c", HELD_OPEN, target])
        probe = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert probe.stdin is not None and probe.stdout is not None
        before = float(probe.stdout.readline())
        pids = {name: state.running_pid(name) for name in netns.proxies()}
        hosts.delay("redis-1", "redis-2", 150, 0)
        probe.stdin.write("\n")
        probe.stdin.flush()
        after = float(probe.stdout.readline() or "nan")  # nan: the connection was reset
        assert probe.wait(30) == 0
        assert {name: state.running_pid(name) for name in netns.proxies()} == pids
    finally:
        hosts.heal()
    assert 0.02 <= before < 0.1  # 2 x 10 ms
    assert after >= 0.3  # 2 x 150 ms, on the same connection


IN_ORDER = """
import socket, sys, time
link = socket.create_connection((sys.argv[1], 6379), timeout=30)
key = sys.argv[2]
for i in range(40):  # one chunk each, a few ms apart: each is held for its own random time
    link.sendall(f"*3\\r\\n$5\\r\\nRPUSH\\r\\n${len(key)}\\r\\n{key}\\r\\n${len(str(i))}\\r\\n{i}\\r\\n".encode())
    time.sleep(0.005)
link.sendall(f"*4\\r\\n$6\\r\\nLRANGE\\r\\n${len(key)}\\r\\n{key}\\r\\n$1\\r\\n0\\r\\n$2\\r\\n-1\\r\\n".encode())
reply = b""
while not reply.endswith(b"$2\\r\\n39\\r\\n") and len(reply) < 10000:  # LRANGE's last
    reply += link.recv(10000)
print(" ".join(line for line in reply.decode().split("\\r\\n")[40:] if line[:1].isdigit()))
"""


@needs_root
@pytest.mark.soak  # a proxy per link on a loaded machine: make soak, not every run
def test_a_jittery_link_keeps_each_connections_bytes_in_order(hosts: Network):
    """40 writes sent a few ms apart through a link whose hold varies from 0 to 100 ms: were
    each chunk held on its own, later ones would overtake earlier ones, and the list (or the
    protocol) would come out scrambled."""
    key = f"order-{time.monotonic_ns()}"
    primary = _agreed_primary()
    other = f"redis-{primary % 3 + 1}"
    hosts.delay(f"redis-{primary}", other, 50, 50)
    try:
        target = netns_redis.NODES[primary - 1].ip
        command = netns.command(other, [sys.executable, "-c", IN_ORDER, target, key])
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        hosts.heal()
    netns_redis.client(primary).delete(key)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(i) for i in range(40)]


ON_HOLD = """
import errno, socket, sys
link = socket.create_connection((sys.argv[1], 6379), timeout=10)
link.sendall(b"PING\\r\\n")
assert link.recv(64) == b"+PONG\\r\\n"
print("connected", flush=True)
sys.stdin.readline()  # the test has healed the network
try:
    link.sendall(b"PING\\r\\n")
    print(link.recv(64).decode().strip() or "closed by the other end")
except OSError as exc:
    print(errno.errorcode[exc.errno])
"""


@needs_root
def test_heal_resets_a_slowed_links_connections_at_both_ends_and_no_other(hosts: Network):
    """A program holding a connection across a slowed link, with nothing to send, finds it
    reset at its own end by the heal (not waiting for its timeout to learn that the proxy is
    gone); a connection on another link is left alone."""
    primary_ip = netns_redis.NODES[0].ip
    hosts.delay("redis-1", "redis-2", 20, 0)
    holders = {}
    try:
        for host in ("redis-2", "redis-3"):  # across the slow link; across an untouched one
            holders[host] = subprocess.Popen(
                netns.command(host, [sys.executable, "-c", ON_HOLD, primary_ip]),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert holders[host].stdout.readline().strip() == "connected"
    finally:
        hosts.heal()
    outcome = {host: p.communicate("\n", timeout=30)[0].strip() for host, p in holders.items()}
    assert outcome == {"redis-2": "ECONNABORTED", "redis-3": "+PONG"}


@needs_root
def test_a_delay_resets_the_links_connections_so_they_come_back_through_the_proxy(
    hosts: Network,
):
    """The replica's replication connection, made before the delay, is made again through the
    proxy: the primary then sees it come from its own host, and lists the replica by the
    address the replica announces."""
    primary = _agreed_primary()
    replica = min(n.index for n in netns_redis.NODES if n.index != primary)
    assert not predis.replica_through_proxy(primary, replica)  # before: a direct connection
    hosts.delay(f"redis-{primary}", f"redis-{replica}", 100, 0)
    try:
        deadline = time.monotonic() + 30
        while not predis.replica_through_proxy(primary, replica):
            assert time.monotonic() < deadline, "the replica did not reconnect through the proxy"
            time.sleep(0.1)
        listed = netns_redis.client(primary).info("replication")
        ips = {v["ip"] for k, v in listed.items() if k.startswith("slave") and isinstance(v, dict)}
        assert ips == {n.ip for n in netns_redis.NODES if n.index != primary}
    finally:
        hosts.heal()
    netns_redis.wait_whole()
    assert not predis.replica_through_proxy(primary, replica)  # healed: direct again


@needs_root
def test_bad_faults_are_refused_with_a_reason(hosts: Network):
    with pytest.raises(ValueError, match="two sides"):
        hosts.partition({"redis-1", "redis-2"}, {"redis-2"})
    with pytest.raises(ValueError, match="no host"):
        hosts.isolate("redis-9")
    with pytest.raises(ValueError, match="0-100"):
        hosts.loss("redis-1", "redis-2", 120)
    with pytest.raises(ValueError, match="jitter <= ms"):
        hosts.delay("redis-1", "redis-2", 10, 20)
    with pytest.raises(ValueError, match="itself"):
        hosts.delay("redis-1", "redis-1", 10)
    with pytest.raises(ValueError, match="run it alone"):
        predis.partition_primary("none", "min-replicas")
    assert hosts.faults() == {}


FAULT_AND_EXIT = """
import os, signal, sys
from helpers.partitions.faults import Network
from lab.brokers import netns_redis
mode, fault, a, b = sys.argv[1:]
net = Network({n.host: n.ip for n in netns_redis.NODES})
if fault == "cut":
    net.isolate(a)
else:
    net.delay(a, b, 150, 10)
print("done", flush=True)
if mode == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _fault_and_exit(how: str, fault: str) -> tuple[subprocess.CompletedProcess[str], str, str]:
    """Run FAULT_AND_EXIT on a replica's host `a` (cut off, or its link to host `b` slowed):
    a cut primary would be failed over, and the run would wait for that to settle."""
    primary = _agreed_primary()
    a, b = [h for i, h in enumerate(netns_redis.HOSTS, start=1) if i != primary]
    done = subprocess.run([sys.executable, "-c", FAULT_AND_EXIT, how, fault, a, b],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return done, a, b


def _fault_holds(fault: str, a: str, b: str) -> bool:
    """The fault that FAULT_AND_EXIT made is in force: `b` cannot reach `a`'s Redis, or reaches
    it no faster than the delay allows."""
    target = netns_redis.NODES[netns_redis.HOSTS.index(a)].ip
    if fault == "cut":
        return _connects(b, target) == 0
    return _round_trip_s(b, target) >= 0.28


@needs_root
@pytest.mark.parametrize("fault", ["cut", "delay"])
def test_a_fault_is_undone_at_exit(hosts: Network, fault: str):
    done, a, b = _fault_and_exit("exit", fault)
    assert done.stdout.strip() == "done", done.stderr
    assert hosts.faults() == {} and netns.proxies() == []
    assert not _fault_holds(fault, a, b)


@needs_root
@pytest.mark.parametrize("fault", ["cut", "delay"])
def test_a_fault_left_by_a_killed_process_is_undone_by_the_next_start(hosts: Network, fault: str):
    done, a, b = _fault_and_exit("kill", fault)
    assert done.returncode == -9 and done.stdout.strip() == "done", done.stderr
    left = sorted(netns_redis.HOSTS) if fault == "cut" else sorted((a, b))
    assert sorted(hosts.faults()) == left  # left behind, and still in force
    assert _fault_holds(fault, a, b)
    netns_redis.up()
    assert hosts.faults() == {} and netns.proxies() == []
    assert not _fault_holds(fault, a, b)


# --- a real partition, counted ------------------------------------------------------------------


@needs_root
def test_a_partitioned_redis_primary_loses_acknowledged_writes_and_the_checker_counts_them(
    hosts: Network,
):
    run, waited = predis.partition_primary(
        "none", "wait", per_s=200, before_s=0.5, after_failover_s=1.0
    )
    counts = run.verdict.counts()
    assert run.new_primary != run.old_primary
    assert counts["acknowledged and lost"] > 0  # written to the old primary after the cut
    assert counts["acknowledged and present"] > 0  # written before it
    assert counts["refused"] == 0 and counts["duplicated"] == 0
    assert counts["order violations"] == 0
    lost = set(run.verdict.acknowledged_lost)
    cut_at = next(t for t, text in run.events if "cut off" in text)
    assert all(w.at_s > cut_at - 0.25 for w in run.writes if w.value in lost)  # none well before
    # the second client, beside it, took a write as done only once WAIT saw it on a replica
    assert waited.verdict.counts()["acknowledged and lost"] == 0
    assert waited.verdict.refused > 0 and waited.verdict.acknowledged_present
    assert run.verdict.never_written == [] and waited.verdict.never_written == []  # apart
    assert hosts.faults() == {}


@needs_root
def test_a_lossy_replica_link_makes_wait_time_out_and_loses_nothing(hosts: Network):
    run = predis.replicate_across("loss", writes=30, loss_pct=20)
    counts, timed_out = run.verdict.counts(), run.verdict.refused
    assert timed_out > 0  # some writes were not on the lossy replica within WAIT's 100 ms
    assert sum(run.one_replica) > len(run.writes) - timed_out  # the other replica had more
    assert counts["acknowledged and lost"] == 0  # TCP resent what was dropped: nothing lost
    assert counts["unacknowledged but present"] == timed_out  # the replica got them later
    assert counts["duplicated"] == 0 and counts["order violations"] == 0
    assert hosts.faults() == {}


@needs_root
def test_a_slow_replica_link_makes_every_wait_for_it_time_out_and_loses_nothing(hosts: Network):
    clean = predis.replicate_across("none", writes=10)
    slow = predis.replicate_across("delay", writes=10, delay_ms=150, jitter_ms=10)
    assert slow.both_s >= 0.28  # the slow replica confirms no sooner than 2 x (150 - 10) ms
    assert clean.both_s < 0.14  # and without the delay, in less than half of that
    assert slow.verdict.refused == len(slow.writes)  # WAIT 2 100 cannot outlast 280 ms
    assert sum(slow.one_replica) > len(slow.writes) // 2  # WAIT 1: the other replica, fast
    assert clean.verdict.refused < len(clean.writes) // 2
    assert slow.verdict.counts()["unacknowledged but present"] == len(slow.writes)
    assert slow.verdict.counts()["acknowledged and lost"] == 0
    assert hosts.faults() == {} and netns.proxies() == []


@needs_root
def test_down_undoes_every_fault_and_removes_the_hosts(hosts: Network):
    hosts.isolate("redis-2")
    hosts.delay("redis-1", "redis-3", 50, 0)
    assert hosts.faults() and netns.proxies()
    stopped = netns_redis.down()
    assert "netns-redis-2" in stopped
    assert netns.namespaces() == []
    assert netns.clear_all_rules() == [] and netns.proxies() == []


# --- Kafka: three more JVMs, about a minute to start on a busy machine: a soak test --------------


@needs_root
@pytest.mark.soak
def test_an_isolated_kafka_leader_loses_acks_1_writes_and_no_acks_all_write():
    from helpers.partitions import kafka as pkafka
    from lab.brokers import netns_kafka

    try:
        one = pkafka.partition_leader("1", per_s=200)
        every = pkafka.partition_leader("all", per_s=200)
    finally:
        netns_kafka.down()
    assert one.new_leader != one.old_leader and every.new_leader != every.old_leader
    assert one.verdict.counts()["acknowledged and lost"] > 0  # the old leader kept acknowledging
    assert one.verdict.acknowledged_present  # and what it had replicated before the cut is kept
    assert every.verdict.counts()["acknowledged and lost"] == 0
    assert every.verdict.unanswered > 0  # the cut-off leader could not get its copies: timeouts
    # whose log survived: the new leader's epoch began at its log end offset; the old leader
    # took that epoch on (its checkpoint ends the same) and lost what it had from there on
    epoch, first = one.new_epoch()
    assert one.lost_offsets() and min(one.lost_offsets()) >= first
    assert one.epochs[one.old_leader][-1] == (epoch, first) > one.epochs[one.old_leader][0]
    assert every.lost_offsets() == []
    assert not one.verdict.duplicated and not one.verdict.order_violations
    steps = pkafka.timeline(one)  # per half second, beside the cut, the new leader, the heal
    assert steps["acknowledged, lost"].sum() == len(one.verdict.acknowledged_lost)
    assert (steps["event"] != "").sum() >= 2
    # the producer is not idempotent: librdkafka resends a timed-out write, and the leader may
    # append both copies, or the resent one after later writes (seen in two of three runs here)
    print("acks=all: duplicated", len(every.verdict.duplicated), "order violations",
          len(every.verdict.order_violations))  # fmt: skip


@needs_root
@pytest.mark.soak
def test_a_quorum_queue_cut_from_its_leader_loses_nothing_confirmed_and_the_minority_waits():
    from helpers.partitions import rabbitmq as prabbit
    from lab.brokers import netns_rabbitmq

    try:
        run = prabbit.partition_quorum_leader(per_s=50)
    finally:
        netns_rabbitmq.down()
    at = {
        text.split(" ")[0]: t for t, text in run.events if text.startswith(("rabbit-1", "healed"))
    }
    cut_s = at["healed"] - at["rabbit-1's"]
    assert run.verdict.counts()["acknowledged and lost"] == 0
    assert run.verdict.refused == 0 and run.verdict.unanswered == 0  # nobody was told no
    assert run.longest_wait_s("minority") > cut_s - 1  # it waited out the whole cut
    assert not run.verdict.duplicated and not run.verdict.order_violations
    assert run.new_leader and run.new_leader != run.old_leader
    assert run.longest_wait_s("majority") < cut_s  # it went on after its election
    after = [w for w in run.sides["majority"].writes if w.at_s > at["rabbit-1's"] + 1]
    assert len(after) > 10
    steps = prabbit.timeline(run)  # both sides' publishes per half second, beside the events
    fates = steps.drop(columns="event").to_numpy().sum()
    assert fates == sum(len(side.writes) for side in run.sides.values())
    assert (steps["event"] != "").sum() >= 2


# --- slow and lossy links on the Kafka and RabbitMQ hosts: soak tests, as their nodes start slowly


def _assert_latency_follows_the_delay(runs: dict[float, links.LinkRun]) -> None:
    """The acknowledgement needs a follower's answer, which crosses a slowed link twice (there
    and back): no sooner than twice the delay at the median; on healthy links, far sooner."""
    largest = max(runs)
    assert runs[largest].percentile_ms(0.5) >= 2 * largest * 0.95, runs[largest].latencies_s
    assert runs[0].percentile_ms(0.5) < largest, runs[0].latencies_s  # well under 2 x largest
    for run in runs.values():
        assert run.verdict.counts()["acknowledged and lost"] == 0
        assert run.verdict.unanswered == 0 and run.verdict.refused == 0


def _assert_loss_loses_nothing_acknowledged(runs: dict[float, links.LinkRun]) -> None:
    for run in runs.values():
        counts = run.verdict.counts()
        assert counts["acknowledged and present"] >= run.acknowledged > 0
        assert counts["acknowledged and lost"] == 0
        assert not run.verdict.order_violations
    print(links.throughput_table(list(runs.values())))


@needs_root
@pytest.mark.soak
def test_kafka_acks_all_waits_twice_the_delay_on_the_leaders_links_and_loss_loses_nothing():
    from helpers.partitions import kafka as pkafka
    from lab.brokers import netns_kafka

    try:
        slow = {ms: pkafka.across_leader_links("delay", ms, count=20) for ms in (0, 50)}
        lossy = {pct: pkafka.across_leader_links("loss", pct, window_s=2.0) for pct in (0, 5)}
    finally:
        netns_kafka.down()
    print(links.latency_table(list(slow.values())))
    _assert_latency_follows_the_delay(slow)
    _assert_loss_loses_nothing_acknowledged(lossy)
    assert all("then" not in r.leader for r in slow.values())  # the leader stayed put


@needs_root
@pytest.mark.soak
def test_a_quorum_queue_confirm_waits_twice_the_delay_and_loss_loses_nothing():
    from helpers.partitions import rabbitmq as prabbit
    from lab.brokers import netns_rabbitmq

    try:
        lossy = {pct: prabbit.across_links("loss", pct, window_s=2.0) for pct in (0, 5)}
        slow = {ms: prabbit.across_links("delay", ms, count=20) for ms in (0, 50)}
        assert netns_rabbitmq.running_nodes(1) == sorted(n.node for n in netns_rabbitmq.NODES)
    finally:
        netns_rabbitmq.down()
    print(links.latency_table(list(slow.values())))
    _assert_latency_follows_the_delay(slow)
    _assert_loss_loses_nothing_acknowledged(lossy)


@needs_root
@pytest.mark.soak
def test_a_classic_queue_cut_off_with_its_node_holds_the_other_sides_publisher_and_loses_nothing():
    from helpers.partitions import rabbitmq as prabbit
    from lab.brokers import netns_rabbitmq

    try:
        run = prabbit.partition_classic(per_s=50, cut_s=6.0)
    finally:
        netns_rabbitmq.down()
    waits = {side: round(run.longest_wait_s(side), 2) for side in run.sides}
    print(run.handling, "partitioned:", run.partitioned, run.verdict.counts(), waits)
    assert run.handling == "ignore"  # as the nodes are configured: RabbitMQ's default
    assert run.verdict.counts()["acknowledged and lost"] == 0
    assert run.verdict.refused == 0 and not run.verdict.duplicated
    assert waits["majority"] > 5  # its publish to the queue across the cut waited for the heal
    assert waits["minority"] < 1  # the queue's own node went on as if nothing had happened
    assert not run.partitioned  # 6 s of silence is far below net_ticktime (60 s): no nodedown
