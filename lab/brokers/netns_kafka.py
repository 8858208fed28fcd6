"""Three Kafka nodes (KRaft, each broker and controller, static voters) on three hosts of the lab's
own (network namespaces, see `netns`): host kafka-i, address 10.213.0.1i, clients on 9092 and the
controller on 9093. The same settings as the shared cluster (`brokers/cluster/
kafka.properties.template`: fenced after 3 s without heartbeats, out of the ISR after 5 s), but
on links that faults can cut. Partitions are injected here, never on nodes other lessons use.

    netns_kafka.up()      # hosts made, nodes started, three brokers registered; idempotent
    netns_kafka.down()    # faults undone, nodes stopped, hosts removed

Not for injecting faults (see helpers.partitions).
"""

from __future__ import annotations

import os
import shutil
import time

from confluent_kafka.admin import AdminClient

from . import install, kafka_broker, netns, process, state

HOSTS = ("kafka-1", "kafka-2", "kafka-3")
PORT, CONTROLLER_PORT = 9092, 9093
HEAP = "384m"


class KafkaHost(netns.Host):  # index: the node.id
    FIRST_ADDRESS = 10

    @property
    def address(self) -> str:
        return f"{self.ip}:{PORT}"

    @property
    def name(self) -> str:  # the process name under .brokers/
        return f"netns-kafka-{self.index}"


NODES = [KafkaHost(h, i) for i, h in enumerate(HOSTS, start=1)]


def bootstrap_servers(nodes: list[KafkaHost] | None = None) -> str:
    return ",".join(n.address for n in nodes or NODES)


def _launch(n: KafkaHost, cluster_id: str) -> process.Launch:
    java = install.ensure("java")
    home = state.broker_dir(n.name)
    config, data, tmp = home / "server.properties", home / "data", home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    voters = ",".join(f"{k.index}@{k.ip}:{CONTROLLER_PORT}" for k in NODES)
    process.render(
        "cluster/kafka.properties.template", config, node_id=n.index, voters=voters,
        port=PORT, controller_port=CONTROLLER_PORT, data_dir=data,
    )  # fmt: skip
    config.write_text(config.read_text().replace("localhost:", f"{n.ip}:"))
    classpath = f"{kafka_broker.lib_dir()}/*"
    if not (data / "meta.properties").exists():
        process.run_checked(
            [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id,
             "-c", str(config)],
            f"formatting {n.name}'s log directory",
        )  # fmt: skip
    command = [java, f"-Xms{HEAP}", f"-Xmx{HEAP}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
               f"-Djava.io.tmpdir={tmp}", "-cp", classpath, "kafka.Kafka", str(config)]  # fmt: skip
    return process.Launch(netns.command(n.host, command), dict(os.environ), 120)


def up(timeout_s: float = 180.0) -> None:
    """Make the hosts, start every node not running (a new cluster, on fresh log directories,
    when none runs), and wait until the three brokers are registered. Faults left behind are
    undone first."""
    netns.claim()  # until down(), or this process exits
    with netns.locked():
        for n in NODES:
            netns.add_host(n.host, 10 + n.index)
        netns.clear_all_rules()
        if all(state.running_pid(n.name) is None for n in NODES):
            for n in NODES:
                shutil.rmtree(state.broker_dir(n.name), ignore_errors=True)
        cluster_id = kafka_broker.cluster_id()  # used only by nodes formatted now
        for n in NODES:
            if state.running_pid(n.name) is None:
                state.broker_dir(n.name).mkdir(parents=True, exist_ok=True)
                process.spawn(n.name, _launch(n, cluster_id))
    wait_registered(timeout_s)


def registered() -> int:
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap_servers(), "log_level": 0})
        return len(admin.list_topics(timeout=2).brokers)
    except Exception:  # booting
        return 0


def wait_registered(timeout_s: float = 180.0) -> float:
    began = time.monotonic()
    while registered() < 3:
        for n in NODES:
            if state.running_pid(n.name) is None:
                log = state.log_file(n.name)
                raise RuntimeError(f"{n.name} is not running. The end of {log}:\n"
                                   + state.log_tail(n.name))  # fmt: skip
        if time.monotonic() - began > timeout_s:
            log = state.log_file(NODES[0].name)
            raise TimeoutError(f"3 Kafka brokers on the lab's hosts not registered after "
                               f"{timeout_s:.0f} s; see {log}")  # fmt: skip
        time.sleep(0.5)
    return time.monotonic() - began


def down() -> list[str]:
    """Undo every fault, stop every node, remove the hosts; the nodes that were running."""
    return netns.take_down([n.name for n in NODES], [n.host for n in NODES], stop_s=8.0)
