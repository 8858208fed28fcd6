"""The three-node clusters' provisioning: nodes listed with their roles, one node killed and
started again, paused and resumed, on the real (native) Redis cluster, the quickest to restart.
The Kafka and RabbitMQ clusters are exercised by notebook 11."""

import time

import pytest

from helpers.brokers import cluster, state
from helpers.brokers.cluster_nodes import REDIS
from helpers.failover import redis as fre
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


def test_status_names_every_node_with_its_role(redis_cluster):
    roles = {s.node: s.role for s in cluster.status(("redis",))}
    assert sorted(roles) == [f"{k}-{i}" for k in ("redis", "sentinel") for i in (1, 2, 3)]
    assert sorted(r for n, r in roles.items() if n.startswith("redis")) == [
        "primary", "replica", "replica"
    ]  # fmt: skip
    assert {roles[f"sentinel-{i}"] for i in (1, 2, 3)} == {"sentinel"}


def test_a_killed_replica_is_down_until_started_again(redis_cluster):
    replica = next(n.index for n in REDIS if n.index != fre.primary_index())
    pid = state.running_pid(f"redis-{replica}")
    cluster.kill_node("redis", replica)
    assert not {s.node: s.healthy for s in cluster.status(("redis",))}[f"redis-{replica}"]
    with pytest.raises(cluster.ClusterError, match="not running"):
        cluster.kill_node("redis", replica)
    assert cluster.start_node("redis", replica) > 0
    assert state.running_pid(f"redis-{replica}") not in (None, pid)
    fre.wait_until_whole()


def test_a_paused_node_answers_nothing_until_resumed(redis_cluster):
    replica = next(n.index for n in REDIS if n.index != fre.primary_index())
    cluster.pause_node("redis", replica)
    try:
        began = time.monotonic()
        healthy = {s.node: s.healthy for s in cluster.status(("redis",))}
        assert not healthy[f"redis-{replica}"] and time.monotonic() - began < 10
    finally:
        cluster.resume_node("redis", replica)
    assert {s.node: s.healthy for s in cluster.status(("redis",))}[f"redis-{replica}"]


def test_require_names_the_fix_when_a_cluster_is_missing(redis_cluster, monkeypatch):
    monkeypatch.setattr(
        cluster, "status", lambda clusters: [cluster.NodeStatus("kafka-1", "x", "-", False, None)]
    )
    with pytest.raises(cluster.ClusterError, match="make cluster-up"):
        cluster.require("kafka")
