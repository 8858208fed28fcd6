"""The locks that let test files and notebooks run on parallel workers (tests/sharing.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import sharing

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# Calls that stop, crash or alarm a broker every other file shares.
DISRUPTIVE = re.compile(
    r"(?<!def )\b(restart|crash|native\.stop|native\.kill)\(|set_vm_memory_high_watermark"
)


def test_every_file_named_exists():
    present = {p.name for p in [*NOTEBOOKS, *(ROOT / "tests").glob("test_*.py")]}
    assert set(sharing.NEEDS) <= present, set(sharing.NEEDS) - present


@pytest.mark.parametrize("path", [*NOTEBOOKS, *(ROOT / "tests").glob("test_*.py")], ids=str)
def test_a_file_that_disrupts_a_shared_broker_holds_the_brokers_alone(path):
    if path.name == "test_sharing.py":
        pytest.skip("names the calls, makes none")
    if DISRUPTIVE.search(path.read_text()) and "own_redis" not in path.read_text():
        held = sharing.needs(path)
        assert sharing.EXCLUSIVE in {held.get(broker) for broker in sharing.BROKERS}, (
            f"{path.name} stops, crashes or alarms a shared broker: add it to NEEDS"
        )


def test_an_exclusive_holder_keeps_others_out_until_it_leaves(tmp_path, monkeypatch):
    monkeypatch.setattr(sharing, "WAIT_S", 0.3)
    alone, other, third = (sharing.Locks(tmp_path) for _ in range(3))
    alone.enter(Path("05-Redis-Streams.ipynb"))  # crashes Redis: holds the brokers alone
    with pytest.raises(TimeoutError, match="waited 0.3 s for the test lock 'redis'"):
        other.enter(Path("test_kafka.py"))
    alone.leave()
    other.enter(Path("test_kafka.py"))
    third.enter(Path("test_rabbitmq.py"))  # two that share run side by side
    with pytest.raises(TimeoutError):
        alone.enter(Path("05-Redis-Streams.ipynb"))
    other.leave()
    third.leave()
    alone.enter(Path("05-Redis-Streams.ipynb"))
    alone.leave()


def test_a_notebook_holds_the_brokers_its_require_names_and_no_other():
    assert sharing.brokers_used(ROOT / "notebooks" / "03-Kafka-Fundamentals.ipynb") == {"kafka"}
    assert sharing.brokers_used(ROOT / "notebooks" / "00-Start-Here.ipynb") == set(sharing.BROKERS)
    held = sharing.needs(ROOT / "notebooks" / "01-Message-Queue-Fundamentals.ipynb")
    assert held == {"machine": sharing.SHARED, "rabbitmq": sharing.EXCLUSIVE}


def test_a_kafka_notebook_runs_beside_one_that_restarts_rabbitmq(tmp_path, monkeypatch):
    monkeypatch.setattr(sharing, "WAIT_S", 0.3)
    restarts, kafka_only = sharing.Locks(tmp_path), sharing.Locks(tmp_path)
    restarts.enter(ROOT / "notebooks" / "01-Message-Queue-Fundamentals.ipynb")
    kafka_only.enter(ROOT / "notebooks" / "03-Kafka-Fundamentals.ipynb")  # does not wait
    with pytest.raises(TimeoutError, match="'rabbitmq'"):
        sharing.Locks(tmp_path).enter(ROOT / "notebooks" / "02-RabbitMQ-Routing-and-RPC.ipynb")
    restarts.leave()
    kafka_only.leave()


def test_a_worker_is_handed_a_file_that_does_not_wait_for_the_other_worker():
    needs_of = {
        "14.ipynb": {"machine": "shared", "redis": "exclusive"},
        "01.ipynb": {"machine": "shared", "rabbitmq": "exclusive"},
        "05.ipynb": {"machine": "shared", "redis": "exclusive"},
        "test_redis.py": {"machine": "shared", "redis": "shared", "kafka": "shared"},
        "03.ipynb": {"machine": "shared", "kafka": "shared"},
        "test_quiz.py": {"machine": "shared"},
    }.__getitem__
    waiting = ["test_redis.py", "03.ipynb", "05.ipynb", "01.ipynb", "test_quiz.py"]
    # the other worker holds Redis alone: not the file that uses Redis, and not 05, which would
    # wait too; 01 holds RabbitMQ alone and fits, so it goes first while much can run beside it
    assert sharing.next_file(waiting, ["14.ipynb"], needs_of) == "01.ipynb"
    assert sharing.next_file(["test_redis.py", "03.ipynb"], ["14.ipynb"], needs_of) == "03.ipynb"
    # while a file that uses Redis runs, 05 (which crashes it) waits its turn
    assert sharing.next_file(["05.ipynb", "03.ipynb"], ["test_redis.py"], needs_of) == "03.ipynb"
    # nothing fits: the first in the queue, which waits for its locks
    assert sharing.next_file(["05.ipynb", "test_redis.py"], ["14.ipynb"], needs_of) == "05.ipynb"
    assert sharing.next_file(waiting, [], needs_of) == "05.ipynb"


def test_make_test_hands_files_out_by_their_locks(pytestconfig):
    scheduler = sharing.pytest_xdist_make_scheduler(pytestconfig, None)
    dist = pytestconfig.getoption("dist")
    assert isinstance(scheduler, sharing.LockAwareScheduling) == (dist == "loadfile")


def test_locks_are_taken_in_one_order():
    orders = [list(sharing.needs(Path(name))) for name in sharing.NEEDS]
    assert all(order == sorted(order) for order in orders)


BROKER_FIXTURES = {"broker_endpoints", "kafka_ep", "rabbitmq_ep", "redis_ep", "topics", "secured"}


@pytest.mark.parametrize("name", sorted(sharing.NO_BROKERS))
def test_a_file_said_to_use_no_broker_asks_for_no_broker_fixture(name):
    code = (ROOT / "tests" / name).read_text()
    parameters = re.findall(r"^def \w+\(([^)]*)\)", code, flags=re.MULTILINE)
    asked = {p.split(":")[0].strip() for ps in parameters for p in ps.split(",")} & BROKER_FIXTURES
    assert not asked, f"{name} asks for {asked}: remove it from NO_BROKERS"
