"""More of helpers.diagrams against the real brokers: where a RabbitMQ backlog waits (a consumer
that holds messages, then goes), and who may do what on the secured brokers (a grant appears as
an edge, and goes when it is revoked). Each picture must follow the state it is drawn from."""

import re

import pytest
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from helpers import diagrams
from helpers.diagrams.permissions import Broker, Grant, draw
from helpers.naming import unique_name
from helpers.rabbitmq import connect
from helpers.security import kafka as kafka_security
from lab.brokers import secure
from tests.conftest import USE_TESTCONTAINERS

EDGE = re.compile(r"^\s*(\w+) -> (\w+) \[label=<(.*?)>(?:\s\w+=.*)?\]$", re.M)
NODE = re.compile(r"^\s*(\w+) \[label=<(.*?)>(?:\s\w+=.*)?\]$", re.M)


def edges(source: str) -> set[tuple[str, str, str]]:
    """(tail's label, head's label, edge label) of every edge, as the picture names them."""
    names = {node: _header(label) for node, label in NODE.findall(source)}
    return {(names.get(t, t), names.get(h, h), label) for t, h, label in EDGE.findall(source)}


def _header(label: str) -> str:
    """A node's text; for a table, its bold header."""
    header = re.search(r"<B>(.*?)</B>", label) if label.startswith("<TABLE") else None
    return header.group(1) if header else label


def cells(source: str) -> list[str]:
    return re.findall(r"<TD[^>]*>(?:<B>)?([^<]*)", source)


# --- where the backlog waits ----------------------------------------------------------------


def test_the_backlog_moves_from_the_consumer_to_the_queue_when_it_goes(rabbitmq_ep):
    run = unique_name("diagram-backlog")
    queues = [f"{run}.limited", f"{run}.unlimited"]
    publisher = connect(rabbitmq_ep.url).channel()
    publisher.confirm_delivery()
    holders = []
    try:
        for queue, prefetch in zip(queues, (5, 0), strict=True):
            publisher.queue_declare(queue)
            for i in range(30):
                publisher.basic_publish("", queue, str(i).encode())
            holder = connect(rabbitmq_ep.url).channel()
            holder.basic_qos(prefetch_count=prefetch)
            holder.basic_consume(queue, lambda *_delivery: None)  # never acknowledges
            holders.append(holder)
        limited, unlimited = diagrams.backlogs(queues, url=rabbitmq_ep.url)
        assert "ready 25" in cells(limited.source)
        assert edges(limited.source) == {
            ("queue limited", "consumer<BR/>prefetch 5", "holds 5 unacked")
        }
        assert "ready 0" in cells(unlimited.source)
        [(_queue, consumer, held)] = edges(unlimited.source)
        assert consumer == "consumer<BR/>no prefetch limit" and held == "holds 30 unacked"
        holders.pop(0).connection.close()  # what it held goes back to the queue
        gone = diagrams.backlog(queues[0], url=rabbitmq_ep.url)
        assert "ready 30" in cells(gone.source) and "consumers 0" in cells(gone.source)
        assert edges(gone.source) == set()
        assert "<svg" in gone.svg
    finally:
        for holder in holders:
            holder.connection.close()
        for queue in queues:
            publisher.queue_delete(queue)
        publisher.connection.close()


def test_a_queue_that_is_not_there_is_named():
    with pytest.raises(LookupError, match="no queue 'diagram-nowhere'"):
        diagrams.backlog("diagram-nowhere", settle_s=0)


# --- who may do what ---------------------------------------------------------------------------


def test_a_denied_grant_is_drawn_apart_and_users_without_grants_still_appear():
    brokers = [
        Broker(
            "Kafka",
            {"User:alice": "SCRAM", "User:bob": "SCRAM"},
            [Grant("User:alice", "topic orders (literal)", "READ", allow=False)],
        )
    ]
    source = draw(brokers, "test").source
    assert edges(source) == {("User:alice<BR/>SCRAM", "topic orders (literal)", "DENY READ")}
    assert "User:bob<BR/>SCRAM" in dict(NODE.findall(source)).values()


@pytest.fixture(scope="module")
def secured():
    # Started (and then stopped) here if they were not running, as tests/test_security.py does.
    if USE_TESTCONTAINERS:
        pytest.skip("the native secured brokers only")
    started = not all(s.healthy for s in secure.status())
    secure.up()
    yield
    if started:
        secure.down()


def test_each_grant_is_an_edge_until_it_is_revoked(secured):
    run = unique_name("diagram-acl")
    admin = AdminClient({**secure.kafka_config("admin"), "log_level": 0})
    acl = AclBinding(
        ResourceType.TOPIC,
        run,
        ResourcePatternType.PREFIXED,
        "User:reader",
        "*",
        AclOperation.DESCRIBE,
        AclPermissionType.ALLOW,
    )
    vhost, redis_user = f"{run}-vhost", f"{run}-user"
    redis_admin = secure.redis_client(None)
    try:
        for future in admin.create_acls([acl]).values():
            future.result(timeout=30)
        secure.rabbitmqctl("add_vhost", vhost)
        secure.rabbitmqctl("set_permissions", "-p", vhost, "billing-app", "^billing\\.", "", ".*")
        redis_admin.execute_command("ACL", "SETUSER", redis_user, "on", "~audit:*", "+xlen")
        drawn = diagrams.permissions(kafka=admin, redis_client=redis_admin)
        granted = edges(drawn.source)
        assert ("User:reader<BR/>SCRAM", f"topic {run} (prefixed)", "DESCRIBE") in granted
        rabbit = (
            "billing-app",
            f"vhost {vhost}",
            "configure ^billing\\.<BR/>write (none)<BR/>read .*",
        )
        assert rabbit in granted
        assert (redis_user, "keys audit:*", "-@all +xlen") in granted
        assert "super users (super.users): withheld by the broker" in drawn.source
    finally:
        kafka_security.revoke([acl])
        secure.rabbitmqctl("delete_vhost", vhost)
        redis_admin.execute_command("ACL", "DELUSER", redis_user)
    revoked = diagrams.permissions(kafka=admin, redis_client=redis_admin).source
    assert not any(run in tail + head for tail, head, _label in edges(revoked))
    assert redis_user not in revoked and vhost not in revoked
    assert not re.search(r"[0-9a-f]{64}", revoked)  # no password hash, from Redis or RabbitMQ
