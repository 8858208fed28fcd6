"""A broker killed while Prometheus watches: the lab's own Redis is SIGKILLed and kept down,
and RedisDown fires and resolves while its exporter keeps answering. These tests hold the shared
Redis alone (tests/sharing.py), so they live apart from the other monitoring tests."""

import time

import pytest
import redis

from helpers.monitoring import incidents
from helpers.monitoring import prometheus as monitoring
from lab.brokers import ProvisionError, state
from lab.brokers.config import endpoint
from tests.conftest import free_port


def test_redis_down_fires_while_the_lab_redis_is_killed_and_resolves_after():
    """A real SIGKILL of the lab's Redis: RedisDown goes inactive -> firing -> inactive in
    Prometheus, while the exporter keeps answering (`up` 1, TargetDown inactive). After it Redis
    is a new process (its run_id changed), started again by the lab."""
    if not incidents.lab_runs("redis"):
        pytest.skip("the lab did not start this Redis: it is not killed from a test")
    monitoring.start()
    target = {"job": "redis"}
    client = redis.Redis.from_url(endpoint("redis").url, socket_timeout=5)
    run_id = client.info("server")["run_id"]
    assert monitoring.alert_state("RedisDown", **target) == "inactive"
    assert monitoring.value('redis_up{job="redis"}') == 1
    began = time.time()
    with incidents.killed("redis"):
        with pytest.raises(redis.ConnectionError):
            client.ping()  # nothing listens: the process is gone
        monitoring.wait_for_alert("RedisDown", "firing", 20, **target)
        # the exporter itself still answers (one scrape may time out on a busy machine)
        assert monitoring.value('max_over_time(up{job="redis"}[5s])') == 1
        assert monitoring.alert_state("TargetDown", **target) == "inactive"
    monitoring.wait_for_alert("RedisDown", "inactive", 20, **target)
    assert monitoring.firing_seconds("RedisDown", began, time.time(), **target) > 0
    assert monitoring.value('redis_up{job="redis"}') == 1
    assert client.info("server")["run_id"] != run_id  # a new Redis process, not the old one


def test_a_redis_the_lab_did_not_start_is_never_killed(monkeypatch):
    """Pointed at another Redis (here: nothing on a free port), `killed` refuses with a sentence
    naming the fix, and the lab's own Redis keeps running."""
    pid = state.running_pid("redis")
    monkeypatch.setenv("REDIS_URL", f"redis://localhost:{free_port()}/0")
    assert not incidents.lab_runs("redis")
    refused = pytest.raises(ProvisionError, match="not started by this lab.*REDIS_URL unset")
    with refused, incidents.killed("redis"):
        pytest.fail("the block ran: the Redis was killed")
    assert state.running_pid("redis") == pid
