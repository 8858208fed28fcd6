"""Secured variants of the three brokers (notebook 13), on ports of their own beside the lab's
brokers, never disturbing them: `python -m lab.brokers up --secure`, or `make secure-up`.

- Kafka: SCRAM-SHA-512 over TLS (`SASL_SSL`), TLS alone (`SSL`), and an ACL authorizer
  (`StandardAuthorizer`); `admin` is the only super user.
- RabbitMQ: AMQP over TLS; users confined to a virtual host each, with permission patterns;
  no `guest`.
- Redis: TLS, `protected-mode`, and ACL users: a writer that may only XADD to `stream:*` keys and
  a read-only reader.

Each also listens without TLS on one more port, only so a notebook can measure what TLS costs.
Certificates and passwords come from `credentials` (mode 0600, never printed). Each broker is a
native process under `.brokers/<name>/`, recognised by its pid and start time like the others;
where a Docker engine answers (and no native one runs), the compose `secure` profile runs the same
rendered configurations in containers instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from string import Template
from typing import Any

import pika
import redis
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from . import (
    credentials,
    docker,
    install,
    kafka_broker,
    leaks,
    native,
    process,
    rabbitmq_broker,
    state,
)
from .config import TEMPLATES_DIR, LabError, mask_password
from .probes import ONE_TRY, port_is_open

BROKERS = ("kafka", "rabbitmq", "redis")
FIX_UP = "make secure-up  (or: python -m lab.brokers up --secure)"
SCRAM_ITERATIONS = 8192
DOCKER_KAFKA_CLASSPATH = "/opt/kafka/libs/*"  # in the apache/kafka image


@dataclass(frozen=True)
class SecureBroker:
    broker: str
    tls_port: int  # Kafka: SASL_SSL
    plain_port: int  # the same authentication without TLS: to measure what TLS costs
    extra_ports: tuple[int, ...] = ()  # Kafka: SSL, controller; RabbitMQ: Erlang distribution

    @property
    def name(self) -> str:
        return f"{self.broker}-secure"

    def ports(self) -> tuple[int, ...]:
        return (self.tls_port, self.plain_port, *self.extra_ports)


KAFKA = SecureBroker("kafka", tls_port=9292, plain_port=9294, extra_ports=(9293, 9295))
KAFKA_SSL_PORT, KAFKA_CONTROLLER_PORT = KAFKA.extra_ports
RABBITMQ = SecureBroker("rabbitmq", tls_port=5671, plain_port=5674, extra_ports=(25674,))
RABBITMQ_NODE = "lab-rabbit-secure@localhost"
REDIS = SecureBroker("redis", tls_port=6390, plain_port=6391)
SECURE = {b.broker: b for b in (KAFKA, RABBITMQ, REDIS)}
VHOSTS = {"orders-app": "orders", "billing-app": "billing"}  # RabbitMQ: user -> its vhost


class SecureError(LabError):
    """A secured broker could not be started or is not running; the message says what to do."""


# --- clients: what a notebook connects with ------------------------------------------------------


def kafka_config(user: str = "admin", *, tls: bool = True, ca: Path | None = None,
                 password: str | None = None) -> dict[str, Any]:  # fmt: skip
    """confluent-kafka settings for `user` over SCRAM-SHA-512, with TLS (trusting `ca`, the lab's
    authority by default) or without. A wrong `password` is for showing a refusal."""
    settings: dict[str, Any] = {
        "bootstrap.servers": f"localhost:{KAFKA.tls_port if tls else KAFKA.plain_port}",
        "security.protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": credentials.password(user) if password is None else password,
    }
    if tls:
        settings["ssl.ca.location"] = str(ca or credentials.ensure().ca)
    return settings


def rabbitmq_parameters(user: str, vhost: str, *, tls: bool = True, ca: Path | None = None,
                        password: str | None = None) -> pika.ConnectionParameters:  # fmt: skip
    secret = credentials.password(user) if password is None else password
    options = None
    if tls:  # trust only the lab's authority (or `ca`), and check the server's name
        context = ssl.create_default_context(cafile=ca or credentials.ensure().ca)
        options = pika.SSLOptions(context, server_hostname="localhost")
    return pika.ConnectionParameters(
        "localhost", RABBITMQ.tls_port if tls else RABBITMQ.plain_port, vhost,
        pika.PlainCredentials(user, secret), ssl_options=options,
        connection_attempts=1, socket_timeout=5, blocked_connection_timeout=30,
    )  # fmt: skip


def redis_client(user: str | None, *, tls: bool = True, ca: Path | None = None,
                 password: str | None = None) -> redis.Redis:  # fmt: skip
    """A client for `user` (None: the `default` user, whose password is the administrator's)."""
    secret = credentials.password(user or "admin") if password is None else password
    tls_options: dict[str, Any] = {}
    if tls:
        tls_options = {"ssl": True, "ssl_ca_certs": str(ca or credentials.ensure().ca)}
    # ONE_TRY: a refused password or certificate shows at once, not after redis-py's retries
    return redis.Redis(port=REDIS.tls_port if tls else REDIS.plain_port, username=user,
                       password=secret, decode_responses=True, socket_timeout=5,
                       socket_connect_timeout=5, retry=ONE_TRY, **tls_options)  # fmt: skip


# --- start, stop, status ------------------------------------------------------------------------


def up(brokers: tuple[str, ...] = BROKERS, timeout_s: float = 180.0) -> list[SecureStatus]:
    """Start every named secured broker that is not running, and wait until each answers with
    its credentials over TLS. Idempotent."""
    credentials.ensure()
    deadline = time.monotonic() + timeout_s
    if _on_docker():
        _start_on_docker([SECURE[b] for b in brokers], deadline)
        return status(brokers)
    with state.locked(), ThreadPoolExecutor(max_workers=len(brokers)) as pool:
        list(pool.map(lambda b: _start(SECURE[b], deadline), brokers))
    return status(brokers)


def down(brokers: tuple[str, ...] = BROKERS) -> list[str]:
    if _on_docker():
        docker.secure("stop", *(SECURE[b].name for b in brokers))
        return [SECURE[b].name for b in brokers]
    with state.locked(), ThreadPoolExecutor(max_workers=len(brokers)) as pool:
        stopped = list(pool.map(lambda b: native.stop(SECURE[b].name), brokers))
    return [SECURE[b].name for b, was in zip(brokers, stopped, strict=True) if was]


@dataclass
class SecureStatus:
    broker: str
    tls_port: int
    plain_port: int
    healthy: bool
    pid: int | None
    detail: str


def status(brokers: tuple[str, ...] = BROKERS) -> list[SecureStatus]:
    rows = []
    for b in (SECURE[name] for name in brokers):
        why = _answers(b)
        pid = state.running_pid(b.name)
        rows.append(SecureStatus(b.name, b.tls_port, b.plain_port, why is None, pid, why or "ok"))
    return rows


def require(*brokers: str) -> None:
    """Raise SecureError, naming the fix, unless every named secured broker answers."""
    down_ = [f"{s.broker} ({s.detail})" for s in status(brokers or BROKERS) if not s.healthy]
    if down_:
        raise SecureError(f"secured brokers not running: {', '.join(down_)}. Fix: `{FIX_UP}`.")


def _start(b: SecureBroker, deadline: float) -> None:
    pid = state.running_pid(b.name)
    if b.broker == "kafka":
        _refuse_stale_kafka_users()
    if pid is None:
        for port in b.ports():
            if port_is_open("127.0.0.1", port, timeout_s=0.5):
                raise SecureError(f"cannot start {b.name}: port {port} is taken by "
                                  f"{state.who_listens(port)}. Stop it first.")  # fmt: skip
        home = state.broker_dir(b.name)
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        pid = process.spawn(b.name, _LAUNCHERS[b.broker](home))
    elif b.broker == "redis":  # running: it takes the users of the configuration rendered now
        _render_redis(state.broker_dir(b.name))
        _redis_users()
    if b.broker == "rabbitmq":  # users and vhosts need the node up, not yet answering AMQP
        _await(_rabbitmq_booted, b, pid, deadline)
        _rabbitmq_users()
    _await(lambda: _answers(b), b, pid, deadline)
    if b.broker == "kafka":  # the administrator logged in: it gives the others the file's
        _kafka_users()
    _record_users(b)


def _on_docker() -> bool:
    return docker.preferred_for(b.name for b in SECURE.values())


def _start_on_docker(brokers: list[SecureBroker], deadline: float) -> None:
    """The `secure` compose profile: the same rendered configurations, in containers that mount
    the state folder at the same path (see docker-compose.yml)."""
    for b in brokers:
        home = state.broker_dir(b.name)
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        if b.broker == "kafka":
            _refuse_stale_kafka_users()
            config = _render_kafka(home)
            if not (home / "data" / "meta.properties").exists():  # the container formats it
                _format_argfile(home, DOCKER_KAFKA_CLASSPATH, config)
                _record_users(KAFKA)
        else:
            (_render_rabbitmq if b.broker == "rabbitmq" else _render_redis)(home)
    docker.secure("up", *(b.name for b in brokers))
    for b in brokers:
        if b.broker == "rabbitmq":
            _await(_rabbitmq_booted, b, None, deadline)
            _rabbitmq_users()
        _await(partial(_answers, b), b, None, deadline)
        if b.broker == "redis":  # if it was running already: the users rendered now
            _redis_users()
        elif b.broker == "kafka":
            _kafka_users()
        _record_users(b)


def _await(
    check: Callable[[], str | None], b: SecureBroker, pid: int | None, deadline: float
) -> None:
    """Until `check` says nothing is wrong; `pid` None: a container (no process to watch)."""

    def ready() -> str | None:
        try:
            why = check()
        except Exception as exc:  # still booting
            why = _shown(exc)
        if why is not None and _refused_login(why) and _users_changed(b):
            raise SecureError(_stale_users(b))  # waiting won't help
        return why

    fix = f"See `docker compose logs {b.name}`." if pid is None else f"Fix it, then `{FIX_UP}`."
    process.wait_until_ready(b.name, ready, deadline, pid=pid, fix=fix, error=SecureError)


def _answers(b: SecureBroker) -> str | None:
    """None if the broker answers the administrator over TLS, else why not."""
    try:
        if b.broker == "kafka":
            admin = AdminClient({**kafka_config("admin"), "log_level": 0})
            admin.list_topics(timeout=3)
        elif b.broker == "rabbitmq":
            pika.BlockingConnection(rabbitmq_parameters("orders-app", "orders")).close()
        else:
            redis_client(None).ping()
    except Exception as exc:
        return _shown(exc)
    return None


def _shown(error: Exception) -> str:
    """An error as status and messages show it: no secret of the lab, no URL's password."""
    return mask_password(leaks.redact(f"{type(error).__name__}: {error}"))[:200]


# --- the users each broker stores, and the password file ----------------------------------------

# The users whose passwords a broker keeps in its own data (Kafka: SCRAM credentials in its
# metadata; RabbitMQ: its user database). Redis keeps none: its configuration is rendered at
# every start, and a running one is given the users again (`_redis_users`).
STORED_USERS = {"kafka": ("admin", "writer", "reader"), "rabbitmq": tuple(VHOSTS)}
LOGIN_REFUSED = (
    "invalid credentials",  # Kafka, SCRAM
    "Authentication failed",
    "ACCESS_REFUSED",  # RabbitMQ
    "AuthenticationError",  # pika's and redis-py's
    "WRONGPASS",  # Redis
    "invalid username-password pair",
)


def _users_file(b: SecureBroker) -> Path:
    """Digests of the passwords the broker's stored users were made with (not the passwords)."""
    return state.broker_dir(b.name) / "users.json"


def _changed_users(b: SecureBroker) -> set[str]:
    """The broker's stored users whose passwords the file has changed since they were made
    (none if that is not known: made before the lab recorded it)."""
    users = STORED_USERS.get(b.broker, ())
    try:
        recorded = json.loads(_users_file(b).read_text())
    except (OSError, ValueError):
        return set()
    now = credentials.digests(users)
    return {u for u in users if recorded.get(u) != now[u]}


def _users_changed(b: SecureBroker) -> bool:
    """True if a refused login is explained by a password file newer than the broker's users:
    Kafka's administrator (nobody else can change a SCRAM user), any RabbitMQ user, and a
    running Redis's administrator (it refuses only that one before it is given the users)."""
    if b.broker == "redis":
        return True
    changed = _changed_users(b)
    return "admin" in changed if b.broker == "kafka" else bool(changed)


def _record_users(b: SecureBroker) -> None:
    """After the broker accepted the file's passwords: they are the ones its users have."""
    if b.broker in STORED_USERS:
        digests = credentials.digests(STORED_USERS[b.broker])
        credentials.write_private(_users_file(b), json.dumps(digests))


def _refused_login(why: str) -> bool:
    return any(sign in why for sign in LOGIN_REFUSED)


def _stale_users(b: SecureBroker) -> str:
    passwords = credentials.passwords_file()
    if b.broker == "redis":
        return (
            f"{b.name} refuses the administrator's password in {passwords}: it runs with older "
            f"passwords. Restart it: `make secure-down` then `{FIX_UP}`."
        )
    return (
        f"{b.name}'s users were made with another administrator's password than the one in "
        f"{passwords} (the file was made again since), and only the administrator may change "
        f"them. Put the old file back, or start {b.name} afresh: `make secure-down`, delete "
        f"{state.broker_dir(b.name)} (its topics and ACLs go with it), then `{FIX_UP}`."
    )


def _refuse_stale_kafka_users() -> None:
    """Kafka's SCRAM users live in its metadata, and only the administrator may change them:
    if the file changed the administrator's own password, nobody can log in to do it (not even
    the broker itself, between its listeners). Refuse at once, naming the fix."""
    formatted = (state.broker_dir(KAFKA.name) / "data" / "meta.properties").exists()
    if formatted and _users_changed(KAFKA):
        raise SecureError(_stale_users(KAFKA))


def _kafka_users() -> None:
    """Give Kafka's SCRAM users whose passwords the file changed (the administrator's did not)
    their new passwords, as the administrator."""
    changed = sorted(_changed_users(KAFKA))
    if not changed:
        return
    administrator = AdminClient({**kafka_config("admin"), "log_level": 0})
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(u, info, credentials.password(u).encode()) for u in changed
    ]
    for future in administrator.alter_user_scram_credentials(upserts).values():
        future.result(timeout=30)


def _redis_users() -> None:
    """Give a running secured Redis the users (passwords and rules) of its configuration as
    rendered now: ACL SETUSER as the administrator. Refused if the administrator's own password
    changed: then it must restart."""
    config = state.broker_dir(REDIS.name) / "redis.conf"
    try:
        admin = redis_client(None)
        for line in config.read_text().splitlines():
            if line.startswith("user "):
                _, name, *rules = line.split()
                admin.execute_command("ACL", "SETUSER", name, "reset", *rules)  # type: ignore[no-untyped-call]
    except redis.AuthenticationError as exc:
        raise SecureError(_stale_users(REDIS)) from exc


# --- launching each broker ----------------------------------------------------------------------


def _render_private(template: str, target: Path, **values: object) -> None:
    """Render a configuration that may hold passwords: 0600 from its first byte."""
    text = Template((TEMPLATES_DIR / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_private(target, text)


def _render_kafka(home: Path) -> Path:
    m = credentials.ensure()
    config = home / "server.properties"
    _render_private(
        "secure/kafka.properties.template", config, data_dir=home / "data",
        sasl_ssl_port=KAFKA.tls_port, ssl_port=KAFKA_SSL_PORT, sasl_plaintext_port=KAFKA.plain_port,
        controller_port=KAFKA_CONTROLLER_PORT, bundle=m.bundle, ca=m.ca,
        admin_password=credentials.password("admin"),
        controller_password=credentials.password("controller"),
    )  # fmt: skip
    return config


def _format_argfile(home: Path, classpath: str, config: Path) -> Path:
    """The arguments that format the log directory with the SCRAM users (they are written into
    the metadata log then), in a 0600 file for `java @file`: no password in the process list.
    Whoever runs it deletes it."""
    users = ["admin", "writer", "reader"]
    scram = [f"SCRAM-SHA-512=[name={u},password={credentials.password(u)}]" for u in users]
    args = ["-cp", classpath, "kafka.tools.StorageTool", "format", "--standalone", "-t",
            kafka_broker.cluster_id(), "-c", str(config)]  # fmt: skip
    for entry in scram:
        args += ["--add-scram", entry]
    argfile = home / "format.args"
    credentials.write_private(argfile, "\n".join(f'"{a}"' for a in args) + "\n")
    return argfile


def _kafka(home: Path) -> process.Launch:
    java = kafka_broker.java()  # Kafka's Java check, as for every Kafka the lab runs
    config, data, tmp = _render_kafka(home), home / "data", home / "tmp"
    tmp.mkdir(exist_ok=True)
    classpath = f"{kafka_broker.lib_dir()}/*"
    if not (data / "meta.properties").exists():
        argfile = _format_argfile(home, classpath, config)
        try:
            process.run_checked([java, f"@{argfile}"], "formatting kafka-secure's log directory")
        finally:
            argfile.unlink(missing_ok=True)
        _record_users(KAFKA)  # the SCRAM users now hold these passwords
    return process.Launch(kafka_broker.command(config, tmp), dict(os.environ), 120)


def _render_rabbitmq(home: Path) -> Path:
    m = credentials.ensure()
    config = home / "rabbitmq.conf"
    _render_private("secure/rabbitmq.conf.template", config, tls_port=RABBITMQ.tls_port,
                    plain_port=RABBITMQ.plain_port, ca=m.ca, certificate=m.certificate,
                    key=m.key)  # fmt: skip
    (home / "enabled_plugins").write_text("[].\n")
    (home / "rabbitmq-env.conf").touch()  # not the system-wide one
    (home / "home").mkdir(exist_ok=True)  # the Erlang cookie's
    return config


def _rabbitmq(home: Path) -> process.Launch:
    server, config = install.ensure("rabbitmq-server"), _render_rabbitmq(home)
    env = rabbitmq_broker.env(home, RABBITMQ_NODE, RABBITMQ.plain_port, config)
    return process.Launch([server], env, ready_timeout_s=120)


def _rabbitmqctl(*args: str, stdin: str | None = None, timeout_s: float = 60) -> str:
    if _on_docker():
        try:
            return docker.secure_exec(RABBITMQ.name, ["rabbitmqctl", "-n", RABBITMQ_NODE, *args],
                                      stdin=stdin)  # fmt: skip
        except docker.DockerError as exc:
            raise SecureError(f"rabbitmqctl {args[0]} on {RABBITMQ.name}: {exc}") from exc
    home = state.broker_dir(RABBITMQ.name)
    try:
        return rabbitmq_broker.run_ctl(
            RABBITMQ_NODE, home, list(args), stdin=stdin, timeout_s=timeout_s
        )
    except rabbitmq_broker.CtlError as exc:
        raise SecureError(f"{exc} ({RABBITMQ.name})") from None


def rabbitmqctl(*args: str, timeout_s: float = 60) -> str:
    """`rabbitmqctl ARGS` on the secured node (no secret on its command line): its output."""
    return _rabbitmqctl(*args, timeout_s=timeout_s)


def _rabbitmq_booted() -> None:
    _rabbitmqctl("await_startup", timeout_s=10)  # raises until the node has booted


def _rabbitmq_users() -> None:
    """One virtual host per application, each user confined to its own: configure only the
    resources named after it, write and read anything in it. No `guest`: loopback-only by
    default, but with a password everyone knows. Idempotent."""
    existing = _rabbitmqctl("list_users", "--silent")
    if "guest" in existing.split():
        _rabbitmqctl("delete_user", "guest")
    stale = _changed_users(RABBITMQ)  # the file changed their passwords since they were made
    for user, vhost in VHOSTS.items():
        _rabbitmqctl("add_vhost", vhost)  # succeeds if it exists
        secret = credentials.password(user) + "\n"  # on stdin, never on a command line
        if user not in existing.split():
            _rabbitmqctl("add_user", user, stdin=secret)
        elif user in stale:
            _rabbitmqctl("change_password", user, stdin=secret)
        _rabbitmqctl("set_permissions", "-p", vhost, user, f"^{vhost}\\.", ".*", ".*")


def _render_redis(home: Path) -> Path:
    m = credentials.ensure()
    config, data = home / "redis.conf", home / "data"
    data.mkdir(exist_ok=True)

    def sha256(user: str) -> str:
        return hashlib.sha256(credentials.password(user).encode()).hexdigest()

    _render_private("secure/redis.conf.template", config, tls_port=REDIS.tls_port,
                    plain_port=REDIS.plain_port, certificate=m.certificate, key=m.key, ca=m.ca,
                    data_dir=data, admin_hash=sha256("admin"), writer_hash=sha256("writer"),
                    reader_hash=sha256("reader"))  # fmt: skip
    return config


def _redis(home: Path) -> process.Launch:
    program, config = install.ensure("redis-server"), _render_redis(home)
    return process.Launch([program, str(config)], dict(os.environ), ready_timeout_s=30)


_LAUNCHERS = {"kafka": _kafka, "rabbitmq": _rabbitmq, "redis": _redis}
