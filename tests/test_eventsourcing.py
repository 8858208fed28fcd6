"""The event store and the BankAccount aggregate: conflicts, ordering, global position, snapshot
equivalence, upcasting, and the outbox relay under a crash (against the real Kafka)."""

import json
import threading
from collections import Counter

import pytest

from helpers import kafka
from helpers.eventsourcing import (
    BANK_EVENTS,
    AccountRepository,
    BankAccount,
    Codec,
    ConcurrencyError,
    DomainError,
    Event,
    EventStore,
    MoneyDeposited,
    StoredEvent,
    relay_once,
    start_relay,
)
from helpers.naming import unique_name


@pytest.fixture
def store(tmp_path):
    return EventStore(tmp_path / "events.db", BANK_EVENTS)


def opened(repo: AccountRepository, account_id: str = "acc-1", deposit: int = 0) -> BankAccount:
    account = BankAccount(account_id)
    account.open("Ada")
    if deposit:
        account.deposit(deposit)
    repo.save(account)
    return account


def test_a_stale_writer_gets_a_concurrency_error_and_writes_nothing(store):
    repo = AccountRepository(store)
    opened(repo, deposit=100)
    first, second = repo.load("acc-1"), repo.load("acc-1")
    first.withdraw(70)
    repo.save(first)
    second.withdraw(70)  # valid against the state it read, which is stale
    with pytest.raises(ConcurrencyError, match="version 3, not 2"):
        repo.save(second)
    assert repo.load("acc-1").balance_cents == 30
    assert [e.version for e in store.read_stream("acc-1")] == [1, 2, 3]


def test_racing_threads_never_lose_an_update(store):
    repo = AccountRepository(store)
    opened(repo)
    accepted, conflicts = Counter(), Counter()

    def deposit_ten_times(name: str) -> None:
        for _ in range(10):
            while True:
                account = repo.load("acc-1")
                account.deposit(1)
                try:
                    repo.save(account)
                    accepted[name] += 1
                    break
                except ConcurrencyError:
                    conflicts[name] += 1  # reload and retry the command

    threads = [threading.Thread(target=deposit_ten_times, args=(n,)) for n in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(accepted.values()) == 40
    assert repo.load("acc-1").balance_cents == 40  # every accepted deposit counted once


def test_rules_are_enforced_before_anything_is_written(store):
    repo = AccountRepository(store)
    account = opened(repo, deposit=50)
    for command, amount in ((account.withdraw, 51), (account.deposit, 0), (account.withdraw, -1)):
        with pytest.raises(DomainError):
            command(amount)
    assert repo.save(account) == [] and store.version("acc-1") == 2


def test_global_position_orders_all_streams(store):
    repo = AccountRepository(store)
    for account_id in ("a", "b", "a"):
        account = repo.load(account_id)
        if not account.is_open:
            account.open(account_id)
        else:
            account.deposit(5)
        repo.save(account)
    everything = store.read_all()
    assert [e.position for e in everything] == [1, 2, 3]
    assert [(e.stream_id, e.version) for e in everything] == [("a", 1), ("b", 1), ("a", 2)]
    assert [e.position for e in store.read_all(after_position=2)] == [3]


def test_a_snapshot_loads_the_same_state_as_the_full_history(store):
    repo = AccountRepository(store, snapshot_every=10)
    account = opened(repo)
    for i in range(1, 36):
        account.deposit(i)
        repo.save(account)
    assert store.latest_snapshot("acc-1")[0] == 30  # taken at versions 10, 20, 30
    with_snapshot, from_history = repo.load("acc-1"), repo.load("acc-1", use_snapshot=False)
    assert with_snapshot.balance_cents == from_history.balance_cents == sum(range(1, 36))
    assert with_snapshot.version == from_history.version == 36


def test_a_v1_deposit_is_read_as_v2_and_stays_v1_in_the_store(store):
    repo = AccountRepository(store)
    opened(repo)
    store.append("acc-1", [StoredEvent("MoneyDeposited", {"amount": 12.1}, schema_version=1)], 1)
    [recorded] = store.read_stream("acc-1", after_version=1)
    assert recorded.event == MoneyDeposited(amount_cents=1210, currency="EUR")  # not 1209.99...
    assert (recorded.schema_version, recorded.data) == (1, {"amount": 12.1})  # as it was written
    assert repo.load("acc-1").balance_cents == 1210


def test_typed_events_round_trip_and_unknown_ones_are_named():
    deposit = MoneyDeposited(amount_cents=500, currency="EUR")
    assert BANK_EVENTS.encode(deposit) == (
        "MoneyDeposited",
        2,
        {"amount_cents": 500, "currency": "EUR"},
    )
    assert BANK_EVENTS.decode(*BANK_EVENTS.encode(deposit)) == deposit
    with pytest.raises(ValueError, match="unknown event type 'Teleported'"):
        BANK_EVENTS.decode("Teleported", 1, {})

    class Renamed(Event):
        version = 3

    with pytest.raises(ValueError, match="no upcaster for Renamed v1"):
        Codec(Renamed).decode("Renamed", 1, {})


def test_outbox_relay_crashes_never_lose_an_event(store, topics, kafka_ep, tmp_path):
    topic = topics.create(unique_name("t-outbox"))
    repo = AccountRepository(store)
    for i in range(5):  # 5 events, each committed with its outbox row
        account = BankAccount(f"acc-{i}")
        account.open(f"owner-{i}")
        repo.save(account, outbox_topic=topic)

    def relay_crashing(at: str) -> int:
        relay = start_relay(store.path, workdir=tmp_path, name=at, url=kafka_ep.url,
                            crash_at=at, crash_after=1)  # fmt: skip
        return relay.wait(timeout_s=60)

    def published() -> list[str]:
        return [json.loads(m.value())["event_id"] for m in kafka.read_all(topic, url=kafka_ep.url)]

    assert relay_crashing("before-publish") == -9
    assert published() == [] and len(store.unsent()) == 5  # committed, unpublished, still queued
    assert relay_crashing("after-publish") == -9
    assert len(published()) == 5 and len(store.unsent()) == 5  # published, not marked sent
    assert relay_once(store, kafka_ep.url) == 5  # the restarted relay republishes
    assert store.unsent() == []
    assert len(published()) == 10 and len(set(published())) == 5  # duplicates, nothing lost
