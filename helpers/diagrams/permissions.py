"""Who may do what on the lab's secured brokers, as each broker answers now:

- Kafka: SCRAM users (`describe_user_scram_credentials`) and ACLs (`describe_acls`); its super
  users only if it discloses them (`describe_configs` reports `super.users` as sensitive and
  withholds its value, which the picture says);
- RabbitMQ: users with their tags and permissions per virtual host, from the node's own export
  (`rabbitmqctl export_definitions`: the secured node runs no management plugin);
- Redis: ACL users with their key patterns and command rules (`ACL LIST`).

An edge is a grant: user → resource, labelled with what it allows. Password hashes, which
RabbitMQ's export and Redis's rules include, are never drawn. Not for granting or revoking (see
`helpers.security`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import redis
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    ResourcePatternType,
    ResourceType,
)

from lab.brokers import secure

from .picture import DEAD, DONE, MEMBER, MUTED, Diagram, new_graph, text

TIMEOUT_S = 30.0
ANY_NAME: Any = None  # in a filter, None matches every name, principal and host
EVERY_ACL = AclBindingFilter(
    ResourceType.ANY,
    ANY_NAME,
    ResourcePatternType.ANY,
    ANY_NAME,
    ANY_NAME,
    AclOperation.ANY,
    AclPermissionType.ANY,
)


@dataclass(frozen=True)
class Grant:
    """`who` may do `may` on `what` (or is refused it, `allow` False)."""

    who: str
    what: str
    may: str
    allow: bool = True


@dataclass(frozen=True)
class Broker:
    """One broker's answer: its users (with a note: tags, off) and their grants."""

    name: str
    users: dict[str, str]
    grants: list[Grant]
    notes: list[str] = field(default_factory=list)  # what the broker would not say


def kafka_access(admin: AdminClient) -> Broker:
    """SCRAM users, super users (`super.users` of the broker answering) and every ACL."""
    acls: list[AclBinding] = admin.describe_acls(EVERY_ACL).result(timeout=TIMEOUT_S)
    every_user: Future[dict[str, Any]] = admin.describe_user_scram_credentials()  # type: ignore[assignment]
    scram = every_user.result(timeout=TIMEOUT_S)
    users = {f"User:{name}": "SCRAM" for name in scram}
    broker_id = str(admin.describe_cluster().result(timeout=TIMEOUT_S).nodes[0].id)
    resource = ConfigResource(ResourceType.BROKER, broker_id)
    config = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
    entry, notes, grants = config.get("super.users"), [], []
    if entry is not None and entry.value is None:  # Kafka 4 reports it as sensitive: withheld
        notes.append("super users (super.users): withheld by the broker, a sensitive setting")
    elif entry is not None:
        supers = [who for who in entry.value.split(";") if who]
        grants = [Grant(who, "the whole cluster", "every operation (super user)") for who in supers]
    for acl in acls:
        users.setdefault(acl.principal, "")
        pattern = _name(acl.resource_pattern_type).lower()
        what = f"{_name(acl.restype).lower()} {acl.name} ({pattern})"
        host = "" if acl.host == "*" else f" from {acl.host}"
        allow = acl.permission_type == AclPermissionType.ALLOW
        grants.append(Grant(acl.principal, what, _name(acl.operation) + host, allow))
    return Broker("Kafka", users, grants, notes)


def _name(value: object) -> str:
    """An enum member's name (READ, TOPIC, PREFIXED)."""
    return str(getattr(value, "name", value))


def rabbitmq_access(rabbitmqctl: Callable[..., str]) -> Broker:
    """Users with their tags, and each user's permissions per virtual host, from the node's
    export of its definitions (`rabbitmqctl` runs the command on the node asked)."""
    definitions = json.loads(rabbitmqctl("export_definitions", "-", "--silent"))
    users = {u["name"]: " ".join(_tags(u.get("tags"))) for u in definitions.get("users", [])}
    grants = [
        Grant(
            p["user"],
            f"vhost {p['vhost']}",
            "\n".join(f"{k} {p[k] or '(none)'}" for k in ("configure", "write", "read")),
        )
        for p in definitions.get("permissions", [])
    ]
    return Broker("RabbitMQ", users, grants)


def _tags(tags: object) -> list[str]:
    if isinstance(tags, str):  # "administrator,monitoring" in older exports
        return [t for t in tags.split(",") if t]
    return [str(t) for t in tags] if isinstance(tags, list) else []


def redis_access(client: redis.Redis) -> Broker:
    """Every ACL user with its key patterns and command rules, as `ACL LIST` writes them."""
    users, grants = {}, []
    for line in client.acl_list():
        rule = line.decode() if isinstance(line, bytes) else str(line)
        name, on_off, *words = rule.split()[1:]
        users[name] = on_off
        keys = [w for w in words if w.startswith(("~", "%")) or w == "allkeys"]
        commands = [w for w in words if w[:1] in "+-" or w in ("allcommands", "nocommands")]
        what = "keys " + " ".join(k.lstrip("~") if k.startswith("~") else k for k in keys)
        grants.append(Grant(name, what if keys else "no keys", _wrapped(commands)))
    return Broker("Redis", users, grants)


def _wrapped(words: list[str], per_line: int = 4) -> str:
    lines = [" ".join(words[i : i + per_line]) for i in range(0, len(words), per_line)]
    return "\n".join(lines) or "no commands"


def permissions(
    *,
    kafka: AdminClient | None = None,
    rabbitmqctl: Callable[..., str] | None = None,
    redis_client: redis.Redis | None = None,
    title: str = "Who may do what on the secured brokers",
) -> Diagram:
    """Users → resources, each edge a grant, one box per broker, as the brokers answer now;
    by default the lab's secured brokers, asked as their administrators."""
    admin = kafka or AdminClient({**secure.kafka_config("admin"), "log_level": 0})
    redis_admin = redis_client or secure.redis_client(None)
    brokers = [
        kafka_access(admin),
        rabbitmq_access(rabbitmqctl or secure.rabbitmqctl),
        redis_access(redis_admin),
    ]
    return draw(brokers, title)


def draw(brokers: list[Broker], title: str) -> Diagram:
    """One box per broker: its users (a principal with grants but no user of its own too), the
    resources granted, and an edge per grant (red: a DENY)."""
    graph = new_graph(title)
    for b, broker in reversed(list(enumerate(brokers))):  # Graphviz stacks them bottom-up
        users = dict(sorted(broker.users.items()))
        users |= {g.who: "" for g in broker.grants if g.who not in users}
        user_ids = {user: f"b{b}u{u}" for u, user in enumerate(users)}
        resources = list(dict.fromkeys(g.what for g in broker.grants))
        with graph.subgraph(name=f"cluster_{b}") as box:
            box.attr(label=broker.name, style="rounded", color="#999999")
            for user, note in users.items():
                off, listed = note == "off", user in broker.users
                box.node(
                    user_ids[user],
                    text(user, note) if note and note != "on" else text(user),
                    style="rounded,filled",
                    fillcolor=MEMBER if listed and not off else "white",
                    fontcolor=MUTED if off else "black",
                )
            for n, note in enumerate(broker.notes):
                box.node(f"b{b}n{n}", text(note), shape="note", color=MUTED, fontcolor=MUTED)
            for r, resource in enumerate(resources):
                box.node(
                    f"b{b}r{r}", text(resource), shape="folder", style="filled", fillcolor=DONE
                )
        for grant in broker.grants:
            colour = "black" if grant.allow else DEAD
            label = grant.may if grant.allow else f"DENY {grant.may}"
            graph.edge(
                user_ids[grant.who],
                f"b{b}r{resources.index(grant.what)}",
                text(*label.split("\n")),
                color=colour,
                fontcolor=colour,
            )
    return Diagram(graph, title)
