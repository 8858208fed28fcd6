"""RabbitMQ's metrics come from the broker itself: its `rabbitmq_prometheus` plugin (shipped with
RabbitMQ 3.10) serves /metrics on port 15692. The lab's node starts with it, on loopback
(brokers/rabbitmq/). A node started before that, without it, gets it enabled while it runs, its
listener first pinned to loopback (the plugin's default is every interface).
Not a process of its own: nothing to stop."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from .. import state, tools
from ..process import StartError

PORT = 15692
METRICS_URL = f"http://127.0.0.1:{PORT}/metrics"
# Persistent: loading the plugin's application later must not reset it to its default.
LOOPBACK_ONLY = (
    "application:set_env(rabbitmq_prometheus, tcp_config, "
    f'[{{ip, "127.0.0.1"}}, {{port, {PORT}}}], [{{persistent, true}}]).'
)


def serving() -> bool:
    try:
        with urllib.request.urlopen(METRICS_URL, timeout=2.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def ensure_plugin() -> None:
    """Make sure RabbitMQ serves its metrics on 127.0.0.1:15692, enabling the plugin on the
    lab's own node when it does not."""
    if serving():
        return
    if state.running_pid("rabbitmq") is None:
        raise StartError(
            f"RabbitMQ serves no metrics at {METRICS_URL}, and the lab did not start that "
            "RabbitMQ. Enable the plugin where it runs: rabbitmq-plugins enable "
            "rabbitmq_prometheus (the Docker image has it enabled)."
        )
    ctl = tools.command("rabbitmqctl", ["eval", LOOPBACK_ONLY])
    plugins = str(Path(ctl.argv[0]).with_name("rabbitmq-plugins"))
    node = ctl.argv[1:3]  # -n <the lab's node>
    for argv, what in (
        (ctl.argv, "pinning the metrics listener to loopback"),
        ([plugins, *node, "enable", "rabbitmq_prometheus"], "enabling rabbitmq_prometheus"),
    ):
        done = subprocess.run(argv, env=ctl.env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise StartError(f"{what} failed:\n{(done.stdout + done.stderr)[-800:]}")
    print("[services] enabled RabbitMQ's rabbitmq_prometheus plugin on 127.0.0.1:15692")
