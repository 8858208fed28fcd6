"""The Kafka cluster picture follows the cluster: a partition's leader stopped, the leader mark
moves to the broker the cluster elected, and the stopped broker is drawn as down; started again,
it is back in sync; as a timeline, the slider shows each of those moments. On the real (native)
three-node Kafka cluster."""

import html
import re
import time

import pytest

from helpers import diagrams
from helpers.diagrams.kafka_cluster import cluster_topic_state, kafka_cluster_topic
from helpers.failover import kafka as fk
from helpers.naming import unique_name
from lab.brokers import cluster
from lab.brokers.cluster_nodes import bootstrap_servers
from tests.conftest import USE_TESTCONTAINERS

pytestmark = pytest.mark.skipif(USE_TESTCONTAINERS, reason="the native clusters only")

_BROKER = re.compile(r"\bb(\d+) \[label=<.*?<B>([^<]*)</B>(.*?)</TABLE>>")


@pytest.fixture(scope="module")
def kafka_cluster():
    started = not all(s.healthy for s in cluster.status(("kafka",)))
    cluster.up(("kafka",))
    yield
    if started:
        cluster.down(("kafka",))


def drawn(source: str) -> dict[int, tuple[str, str]]:
    """Per broker drawn: (its header, its partition 0 role), read from the picture's source."""
    brokers = {}
    for number, header, rows in _BROKER.findall(source):
        role = re.search(r"partition 0: ([a-z ]+)<", rows)
        brokers[int(number)] = (header, role.group(1) if role else "")
    return brokers


def test_the_leader_mark_moves_to_the_elected_broker(kafka_cluster):
    controller = fk.controller_id()
    leader, follower = [i for i in (1, 2, 3) if i != controller]
    topic = fk.create_topic(unique_name("diagram"), [leader, follower, controller], min_insync=2)
    try:
        steps = [kafka_cluster_topic(topic, url=bootstrap_servers(), title="before")]
        cluster.stop_node("kafka", leader)  # a clean shutdown: it hands leadership over
        try:
            _wait_until_down(topic, leader)
            new_leader, isr = fk.partition(topic, follower)
            steps.append(kafka_cluster_topic(topic, url=bootstrap_servers(), title="stopped"))
        finally:
            cluster.start_node("kafka", leader)
        fk.wait_for(topic, follower, lambda s: len(s[1]) == 3, "the ISR back to 3")
        steps.append(kafka_cluster_topic(topic, url=bootstrap_servers(), title="back"))
    finally:
        fk.delete_topics([topic])
    timeline = diagrams.timeline(steps, title="a leader stopped and started again")
    before, after, back = (drawn(step.source) for step in timeline.steps)
    roles = {leader: "leader", follower: "in sync", controller: "in sync"}
    assert {b: role for b, (_h, role) in before.items()} == roles
    assert not [h for h, _r in before.values() if "down" in h]
    # The mark moved to the broker the cluster reports as leader; the stopped one is down.
    assert new_leader in (follower, controller) and sorted(isr) == sorted([follower, controller])
    assert after[new_leader][1] == "leader"
    assert after[leader] == (f"broker {leader}: down", "out of sync")
    assert [b for b, (_h, role) in after.items() if role == "leader"] == [new_leader]
    # Back: live again, and in sync (a follower now, or the leader once more).
    assert "down" not in back[leader][0] and back[leader][1] in ("in sync", "leader")
    # The slider shows the moment it is moved to: the stopped broker is down at step 2 only.
    controls, picture = timeline.widget.children
    shown = []
    for index in range(3):
        controls.children[0].value = index
        shown.append(f"broker {leader}: down" in html.unescape(picture.value))
    assert shown == [False, True, False]


def _wait_until_down(topic: str, broker: int, timeout_s: float = 30) -> None:
    """Until the cluster's metadata no longer lists `broker` and another replica leads."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = {b.id: b for b in cluster_topic_state(topic, bootstrap_servers())}
        roles = [r.role for b in state.values() if b.live for r in b.replicas]
        if not state[broker].live and "leader" in roles:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"broker {broker} still live or no new leader after {timeout_s} s")
        time.sleep(0.2)
