"""Three RabbitMQ nodes on three hosts of the lab's own (network namespaces, see `netns`): host
rabbit-i, address 10.213.0.2i, node `lab@10.213.0.2i` (Erlang long names), AMQP on 5672. The
nodes cluster at first boot from a fixed list, as the shared cluster does, and keep RabbitMQ's
default `cluster_partition_handling = ignore`. Partitions are injected here, never on nodes other
lessons use.

    netns_rabbitmq.up()      # hosts made, nodes started, the three clustered; idempotent
    netns_rabbitmq.down()    # faults undone, nodes stopped, hosts removed

The user `guest` may connect from the bridge (RabbitMQ allows it on loopback only by default):
the bridge carries the lab's subnet alone and no packet leaves the machine.
Not for injecting faults (see helpers.partitions).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time

import pika

from . import install, netns, process, rabbitmq_broker, state

HOSTS = ("rabbit-1", "rabbit-2", "rabbit-3")
PORT = 5672


class RabbitHost(netns.Host):
    FIRST_ADDRESS = 20

    @property
    def node(self) -> str:
        return f"lab@{self.ip}"

    @property
    def name(self) -> str:  # the process name under .brokers/
        return f"netns-rabbit-{self.index}"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.ip}:{PORT}/%2F"


NODES = [RabbitHost(h, i) for i, h in enumerate(HOSTS, start=1)]


def _config(n: RabbitHost) -> str:
    peers = "".join(f"cluster_formation.classic_config.nodes.{k.index} = {k.node}\n" for k in NODES)
    return (
        f"listeners.tcp.default = {n.ip}:{PORT}\nloopback_users = none\n"
        "cluster_formation.peer_discovery_backend = classic_config\n" + peers
        + "disk_free_limit.absolute = 50MB\nlog.console = true\nlog.console.level = info\n"
        "log.file = false\n"
    )  # fmt: skip


def _env(n: RabbitHost, cookie: str) -> dict[str, str]:
    home = state.broker_dir(n.name)
    config = home / "rabbitmq.conf"
    config.write_text(_config(n))
    (home / "enabled_plugins").write_text("[].\n")
    (home / "rabbitmq-env.conf").touch()
    env = rabbitmq_broker.env(home, n.node, PORT, config)
    cookie_file = home / "home" / ".erlang.cookie"
    if not cookie_file.exists():
        descriptor = os.open(cookie_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(descriptor, "w") as out:
            out.write(cookie)
    return {
        **env,
        "RABBITMQ_USE_LONGNAME": "true",
        "RABBITMQ_NODE_IP_ADDRESS": n.ip,
        "RABBITMQ_DIST_PORT": "25672",
        "ERL_EPMD_ADDRESS": n.ip,  # and loopback, which epmd always adds
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface "
        + "{" + n.ip.replace(".", ",") + "}",
    }  # fmt: skip


def _through_proxies() -> bool:
    """The running nodes were started with every link between them through a delaying proxy."""
    names = {f"{netns.PROXY_PREFIX}{a.host}-{b.ip.rsplit('.', 1)[1]}" for a in NODES for b in NODES
             if a != b}  # fmt: skip
    return (state.broker_dir(NODES[0].name) / "through-proxies").exists() and names <= set(
        netns.proxies()
    )


def up(timeout_s: float = 180.0, *, through_proxies: bool = False) -> None:
    """Make the hosts, start every node not running (a new cluster, from nothing, when none
    runs), and wait until the three are clustered and answer AMQP. Faults left behind are undone
    first.

    With `through_proxies`, every link between the nodes goes through a delaying proxy (at 0 ms)
    from the nodes' start, so that a slow link (`Network.delay`) only changes the proxies'
    figures: slowing a link otherwise resets its connections, and RabbitMQ takes the nodes'
    connections dropping and coming back for a network partition (which, with
    `cluster_partition_handling = ignore`, it never heals). Nodes running the other way, or
    reporting a partition, are stopped and started again (half a minute)."""
    server = install.ensure("rabbitmq-server")
    running = any(state.running_pid(n.name) is not None for n in NODES)
    if running and (_through_proxies() != through_proxies or partitioned()):
        down()
        running = False
    netns.claim()  # until down(), or this process exits
    with netns.locked():
        for n in NODES:
            netns.add_host(n.host, 20 + n.index)
        if not (running and through_proxies):  # their proxies stay, connections and all
            netns.clear_all_rules()
        if all(state.running_pid(n.name) is None for n in NODES):
            for n in NODES:
                _stop_leftovers(n.host)
                shutil.rmtree(state.broker_dir(n.name), ignore_errors=True)
            if through_proxies:
                _start_proxies()
        cookie = os.urandom(20).hex().upper()  # used only by nodes made now
        for n in NODES:
            if state.running_pid(n.name) is None:
                state.broker_dir(n.name).mkdir(parents=True, exist_ok=True)
                launch = process.Launch(netns.command(n.host, [server]), _env(n, cookie), 120)
                process.spawn(n.name, launch)
    wait_clustered(timeout_s)


def _start_proxies() -> None:
    """A delaying proxy at 0 ms on each end of every link, the connections redirected to it."""
    for a in NODES:
        for b in NODES:
            if a != b:
                netns.start_delay(a.host, b.ip, 0, 0)
    for a in NODES:
        peers = [b.ip for b in NODES if b != a]
        for ip in peers:
            netns.wait_listening(a.host, ip)
        netns.apply_rules(a.host, [], [netns.redirect_rule(ip) for ip in peers])
    state.broker_dir(NODES[0].name).mkdir(parents=True, exist_ok=True)
    (state.broker_dir(NODES[0].name) / "through-proxies").touch()


def rabbitmqctl(index: int, *args: str, timeout_s: float = 30) -> str:
    """rabbitmqctl against node `index`, run inside its host."""
    n = NODES[index - 1]
    home = state.broker_dir(n.name)
    command = netns.command(n.host, [rabbitmq_broker.script("rabbitmqctl"), "-l", "-n", n.node,
                                     *args])  # fmt: skip
    env = {**rabbitmq_broker.ctl_env(home), "RABBITMQ_USE_LONGNAME": "true"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {n.name}: {done.stderr.strip()}")
    return done.stdout


def partitioned() -> bool:
    """Node 1 reports a network partition (after a cut, or a link's connections reset); with
    `cluster_partition_handling = ignore` it stays so until the nodes restart."""
    try:
        report = json.loads(rabbitmqctl(1, "cluster_status", "--formatter", "json"))
    except (RuntimeError, ValueError, subprocess.TimeoutExpired):
        return False  # not answering: not running, or still starting
    return any(report.get("partitions", {}).values())


def running_nodes(index: int) -> list[str]:
    """The cluster members node `index` sees running (empty if it does not answer)."""
    try:
        report = json.loads(rabbitmqctl(index, "cluster_status", "--formatter", "json"))
    except (RuntimeError, ValueError, subprocess.TimeoutExpired):
        return []
    return sorted(report.get("running_nodes", []))


def answers(n: RabbitHost) -> bool:
    try:
        params = pika.URLParameters(n.url)
        params.socket_timeout = params.stack_timeout = 2
        params.connection_attempts = 1
        pika.BlockingConnection(params).close()
        return True
    except Exception:  # booting
        return False


def wait_clustered(timeout_s: float = 180.0) -> float:
    began = time.monotonic()
    while not all(answers(n) for n in NODES) or len(running_nodes(1)) < 3:
        for n in NODES:
            if state.running_pid(n.name) is None:
                log = state.log_file(n.name)
                raise RuntimeError(f"{n.name} is not running. The end of {log}:\n"
                                   + state.log_tail(n.name))  # fmt: skip
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"the RabbitMQ nodes on the lab's hosts did not cluster in "
                               f"{timeout_s:.0f} s; running: {running_nodes(1)}")  # fmt: skip
        time.sleep(1.0)
    return time.monotonic() - began


def _stop_leftovers(host: str) -> None:
    """SIGTERM whatever still runs inside the host (epmd detaches from the node it serves):
    every process in a namespace of the lab was started by the lab."""
    if host not in netns.namespaces():
        return
    pids = subprocess.run(["ip", "netns", "pids", netns.namespace(host)], capture_output=True,
                          text=True, timeout=10).stdout.split()  # fmt: skip
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGTERM)


def down() -> list[str]:
    """Undo every fault, stop every node (and its port mapper), remove the hosts."""
    names, hosts = [n.name for n in NODES], [n.host for n in NODES]
    return netns.take_down(names, hosts, stop_s=30.0, before_removing=_stop_leftovers)
