"""RabbitMQ, as the lab runs it natively: each node's environment (everything under its own
folder, on loopback only), the single node's configuration and ports, the one way the lab runs
`rabbitmqctl` on a node it started, the variable that sets its endpoint and how that is parsed,
its protocol probe and its resource alarms. Templates: brokers/rabbitmq/.
Not for starting or stopping it (see `native`) or for clients (see `helpers.rabbitmq`).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pika

from . import install, state
from .base import TEMPLATES_DIR, Endpoint, LabError, parse_url
from .process import Launch, render

ENV_VAR = "RABBITMQ_URL"
DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"

METRICS_PORT = 15692  # rabbitmq_prometheus, enabled with the management plugin


def parse(value: str, var: str) -> tuple[str, int]:
    """Host and port of the AMQP URL `value` (set by `var`)."""
    return parse_url(value, var, ("amqp", "amqps"), 5672, DEFAULT_URL)


def probe(ep: Endpoint, timeout_s: float, deep: bool) -> str | None:
    """An AMQP handshake (and, when `deep`, a queue declared); the server's version. Raises if
    the broker does not answer."""
    params = pika.URLParameters(ep.url)
    params.socket_timeout = timeout_s
    params.stack_timeout = timeout_s
    params.blocked_connection_timeout = timeout_s
    params.connection_attempts = 1
    connection = pika.BlockingConnection(params)
    try:
        if deep:
            channel = connection.channel()
            channel.queue_declare(queue="", exclusive=True)  # dropped with the connection
        version = connection._impl.server_properties.get("version")  # no public accessor
        return version.decode() if isinstance(version, bytes) else version
    finally:
        connection.close()


def alarms(ep: Endpoint, timeout_s: float = 1.5) -> list[str] | None:
    """The resource alarms in effect on RabbitMQ's nodes ("memory on rabbit@host"), read live
    (not from the statistics, which lag by seconds) from the management API's alarm check, on
    RABBITMQ_MANAGEMENT_PORT of the broker's host with the URL's user. None if that API does not
    answer: a broker without the management plugin, or a user who may not read it."""
    params = pika.URLParameters(ep.url)
    user = getattr(params.credentials, "username", "")
    password = getattr(params.credentials, "password", "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    scheme = "https" if ep.url.startswith("amqps:") else "http"
    url = f"{scheme}://{ep.host}:{management_port()}/api/health/checks/alarms"
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code != 503:  # 503 is the check failing: the alarms are listed in the body
            return None
        answer = json.load(exc)
    except (OSError, ValueError):
        return None
    return [f"{a.get('resource')} on {a.get('node')}" for a in answer.get("alarms", [])]


def management_port() -> int:
    """The management UI's port: RABBITMQ_MANAGEMENT_PORT, else 15672."""
    return int(os.environ.get("RABBITMQ_MANAGEMENT_PORT", "15672"))


def launch(ep: Endpoint) -> Launch:
    """Render the single node's configuration and plugins and say how to start it."""
    server = install.ensure("rabbitmq-server")
    home = state.broker_dir("rabbitmq")
    config = home / "rabbitmq.conf"
    render(
        "rabbitmq/rabbitmq.conf.template",
        config,
        port=ep.port,
        management_port=management_port(),
    )
    # Writing the plugins file is exactly what `rabbitmq-plugins --offline enable` does.
    shutil.copyfile(TEMPLATES_DIR / "rabbitmq" / "enabled_plugins", home / "enabled_plugins")
    # So the system-wide /etc/rabbitmq/rabbitmq-env.conf is not read.
    (home / "rabbitmq-env.conf").touch()
    return Launch([server], env(home, node_name(ep), ep.port, config), ready_timeout_s=90)


def node_name(ep: Endpoint) -> str:
    """The Erlang node name of the single node serving `ep`."""
    return f"lab-rabbit-{ep.port}@localhost"


def env(home: Path, node_name: str, port: int, config: Path) -> dict[str, str]:
    """The environment of a RabbitMQ node that keeps everything under `home` (its
    rabbitmq-env.conf and enabled_plugins included) and listens on `port` and 20000 above it
    (Erlang distribution), on loopback only."""
    (home / "home").mkdir(parents=True, exist_ok=True)  # Erlang will not create it
    return {
        **os.environ,
        "HOME": str(home / "home"),  # the Erlang cookie is created and read here
        "RABBITMQ_NODENAME": node_name,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(port + 20000),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(config),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(home / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
        "RABBITMQ_PID_FILE": str(home / "beam.pid"),
        # Loopback only: the port mapper and the inter-node (distribution) listener too.
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


class CtlError(LabError):
    """rabbitmqctl failed on a node of the lab; the message is rabbitmqctl's own."""


def script(tool: str) -> str:
    """rabbitmqctl, rabbitmq-diagnostics, ...: beside the rabbitmq-server the lab runs (Debian's
    /usr/sbin wrappers would switch to the rabbitmq user, who cannot read the lab's cookie)."""
    server = install.find("rabbitmq-server")
    script = Path(server).with_name(tool) if server else None
    if script and os.access(script, os.X_OK):
        return str(script)
    found = shutil.which(tool)
    if found:
        return found
    raise CtlError(
        f"{tool} is not installed; it comes with RabbitMQ: "
        f"{install.install_command('rabbitmq-server')}"
    )


def ctl_env(home: Path) -> dict[str, str]:
    """The environment a CLI tool needs for the node whose state is under `home`: its Erlang
    cookie (HOME) and its own env file and plugins, not the system-wide ones."""
    return {
        **os.environ,
        "HOME": str(home / "home"),
        "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
    }


def run_ctl(
    node: str, home: Path, args: list[str], *, stdin: str | None = None, timeout_s: float = 60
) -> str:
    """The one way the lab runs `rabbitmqctl -n NODE ARGS` on a node it started (the single
    node, a cluster node, the secured node): its output, or CtlError with rabbitmqctl's
    own message. The cookie comes from `home`, never from the command line."""
    command = [script("rabbitmqctl"), "-n", node, *args]
    done = subprocess.run(
        command,
        input=stdin,
        env=ctl_env(home),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        raise CtlError(f"rabbitmqctl {' '.join(args)} on {node}: {done.stderr.strip()}")
    return done.stdout


def ports(ep: Endpoint) -> dict[int, str]:
    """Every local port the single node binds, with what it is for."""
    return {
        ep.port: f"rabbitmq clients ({ENV_VAR})",
        ep.port + 20000: "Erlang distribution",
        management_port(): "the management UI (RABBITMQ_MANAGEMENT_PORT)",
        METRICS_PORT: "the broker's Prometheus metrics (rabbitmq_prometheus)",
    }
