"""Hosts of the lab's own, each a Linux network namespace with one address, joined by a bridge that
has no other port: nodes started inside them talk over a network that faults can cut, unlike
loopback, where every node shares one address and one firewall.

    netns.add_host("redis-1", 1)          # namespace labnet-redis-1, address 10.213.0.1
    netns.command("redis-1", ["redis-server", ...])   # a command line that runs inside it
    netns.apply_rules("redis-1", ["ip saddr 10.213.0.2 drop"])   # a fault, in nftables' words
    netns.start_delay("redis-1", "10.213.0.2", 200, 20)  # a proxy holding that link's bytes
    netns.wait_listening("redis-1", "10.213.0.2")
    netns.clear_all_rules()               # every fault undone, including those left behind

Faults are nftables rules in a table of the namespace's own (`inet lab_faults`), never in the
machine's ruleset: traffic of this machine outside the namespaces is never touched, and removing
that table undoes every fault on a host. A slow link (the kernel has no `netem`) is a delaying
proxy in each of its two hosts (`netns_delay`), to which the table redirects the connections
arriving from the other end; the proxies are processes of the lab, stopped with the rules. The
bridge and the namespaces carry only the subnet 10.213.0.0/24; nothing is routed elsewhere.
Needs root (or CAP_NET_ADMIN), `ip`, `ss` and `nft`.
Not for choosing which fault to inject (see helpers.partitions).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar

from . import install, process, state
from .config import state_dir
from .state import private_state_dir

PREFIX = "labnet-"  # every namespace of the lab starts with it; anything else is not ours
BRIDGE = "labnet0"
SUBNET = "10.213.0"
HOST_SIDE = f"{SUBNET}.254"  # the machine's own address on the bridge: clients reach hosts here
TABLE = "lab_faults"
FIX = "run the notebook as root (or with CAP_NET_ADMIN), with `ip` (iproute2) and `nft` installed"


class NetnsError(RuntimeError):
    """A namespace, link or rule could not be set up; the message says why and what to do."""


def why_unavailable() -> str | None:
    """Why the lab cannot make hosts of its own here, or None if it can (checked once)."""
    if not _checked:
        _checked.append(_why_unavailable())
    return _checked[0]


_checked: list[str | None] = []
NET_ADMIN, SYS_ADMIN = 12, 21  # capability bits: links and rules; `ip netns add` mounts


def _why_unavailable() -> str | None:
    if not Path("/proc/self/ns/net").exists():
        return "this system has no Linux network namespaces"
    if os.geteuid() != 0:
        return "network namespaces and firewall rules need root, and this user is not root"
    if shutil.which("ip") is None:
        return "`ip` is missing (install the iproute2 package)"
    status = Path("/proc/self/status").read_text()
    effective = int(
        next(line.split()[1] for line in status.split("\n") if line.startswith("CapEff")), 16
    )
    if not effective >> NET_ADMIN & 1 or not effective >> SYS_ADMIN & 1:
        return "this process lacks CAP_NET_ADMIN or CAP_SYS_ADMIN (a container without them)"
    return None


def namespace(host: str) -> str:
    return f"{PREFIX}{host}"


def address(index: int) -> str:
    if not 1 <= index <= 250:
        raise ValueError(f"host index {index} is outside 1-250")
    return f"{SUBNET}.{index}"


@dataclass(frozen=True)
class Host:
    """One node's host: the namespace's host name (e.g. kafka-1) and the node's index in its
    cluster (1, 2, 3). A cluster's hosts take the addresses from `FIRST_ADDRESS` + 1 on."""

    FIRST_ADDRESS: ClassVar[int] = 0  # each cluster has its own block of the bridge's addresses
    host: str
    index: int

    @property
    def ip(self) -> str:
        return address(self.FIRST_ADDRESS + self.index)


def take_down(
    names: Sequence[str],
    hosts: Sequence[str],
    stop_s: float,
    before_removing: Callable[[str], None] | None = None,
) -> list[str]:
    """Undo every fault, stop the named processes (SIGTERM, waiting up to `stop_s` for each),
    then remove the hosts and the bridge; the names that were running. `before_removing` runs
    for each host first (what still runs inside it)."""
    with locked():
        if why_unavailable() is None:
            clear_all_rules()
        stopped = [name for name in names if process.signal_and_wait(name, signal.SIGTERM, stop_s)]
        if why_unavailable() is None:
            for host in hosts:
                if before_removing is not None:
                    before_removing(host)
                remove_host(host)
            remove_bridge()
    release()
    return stopped


def _run(*args: str, check: bool = True, stdin: str | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, input=stdin, timeout=30)
    if check and done.returncode != 0:
        raise NetnsError(f"`{' '.join(args)}` failed: {done.stderr.strip()}. Fix: {FIX}.")
    return done.stdout


def namespaces() -> list[str]:
    """The hosts (namespace names without the prefix) that exist now, ours only."""
    listed = _run("ip", "netns", "list", check=False).split("\n")
    names = [line.split()[0] for line in listed if line.strip()]
    return sorted(n.removeprefix(PREFIX) for n in names if n.startswith(PREFIX))


def _ensure_bridge() -> None:
    if _run("ip", "-br", "link", "show", BRIDGE, check=False).strip():
        return
    _run("ip", "link", "add", BRIDGE, "type", "bridge")
    _run("ip", "addr", "add", f"{HOST_SIDE}/24", "dev", BRIDGE)
    _run("ip", "link", "set", BRIDGE, "up")


def add_host(host: str, index: int) -> str:
    """Make the namespace for `host` with address 10.213.0.<index>, linked to the bridge, if it
    does not exist yet; its address. Idempotent."""
    why = why_unavailable()
    if why:
        raise NetnsError(f"cannot make network namespaces: {why}. Fix: {FIX}.")
    install.ensure("nft")
    _ensure_bridge()
    ns, ip = namespace(host), address(index)
    shown = _run("ip", "-n", ns, "-br", "addr", "show", "eth0", check=False)
    if host in namespaces() and f"{ip}/24" in shown:
        return ip
    remove_host(host)  # half made (an interrupted start): made again from nothing
    _run("ip", "netns", "add", ns)
    _run("ip", "link", "add", _link(host), "type", "veth", "peer", "name", "eth0", "netns", ns)
    _run("ip", "link", "set", _link(host), "master", BRIDGE, "up")
    _run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
    _run("ip", "-n", ns, "link", "set", "eth0", "up")
    _run("ip", "-n", ns, "link", "set", "lo", "up")
    return ip


def _link(host: str) -> str:
    """The bridge's end of the host's link (interface names have at most 15 characters)."""
    return f"ln-{host}"[:15]


def remove_host(host: str) -> None:
    """Delete the host's link (both ends, at once) and its namespace. The kernel frees a deleted
    namespace later, in the background: deleting the link first means a host made again at once
    does not meet the old one's link."""
    _run("ip", "link", "del", _link(host), check=False)
    if host in namespaces():
        _run("ip", "netns", "del", namespace(host))


def remove_bridge() -> None:
    if not namespaces():
        _run("ip", "link", "del", BRIDGE, check=False)


def command(host: str, argv: list[str]) -> list[str]:
    """`argv` run inside the host's namespace (`ip netns exec` execs it: the pid is the same)."""
    return ["ip", "netns", "exec", namespace(host), *argv]


def apply_rules(host: str, rules: list[str], redirects: Sequence[str] = ()) -> None:
    """Replace the host's faults by `rules` (nftables statements matched on the packets it
    receives, e.g. `ip saddr 10.213.0.2 drop`) and `redirects` (statements that send the TCP
    connections arriving from a slow link to its delaying proxy, see `start_delay`): one atomic
    change."""
    script = [
        f"table inet {TABLE} {{}}",
        f"delete table inet {TABLE}",
        f"table inet {TABLE} {{",
        "  chain input {",
        "    type filter hook input priority 0; policy accept;",
        *[f"    {rule}" for rule in rules],
        "  }",
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        *[f"    {rule}" for rule in redirects],
        "  }",
        "}",
    ]
    _run("ip", "netns", "exec", namespace(host), "nft", "-f", "-", stdin="\n".join(script) + "\n")


def rules(host: str) -> list[str]:
    """The fault rules in force on the host now (empty when it has none): drops and redirects."""
    listing = _run(
        "ip", "netns", "exec", namespace(host), "nft", "list", "table", "inet", TABLE, check=False
    )
    body = [line.strip() for line in listing.split("\n")]
    return [
        line
        for line in body
        if (line.endswith(("drop", "accept")) or " redirect to " in line) and "policy" not in line
    ]


# --- slow links: a delaying proxy per host and link (`netns_delay`), the link's connections
# redirected to it ------------------------------------------------------------------------------

PROXY = Path(__file__).with_name("netns_delay.py")
PROXY_PREFIX = "netns-delay-"  # process names of the proxies, under the state folder


def delay_port(peer_ip: str) -> int:
    """The port of the proxy, on a host, that connections arriving from `peer_ip` go through."""
    return 40000 + int(peer_ip.rsplit(".", 1)[1])


def redirect_rule(peer_ip: str) -> str:
    return f"ip saddr {peer_ip} meta l4proto tcp redirect to :{delay_port(peer_ip)}"


def _proxy_name(host: str, peer_ip: str) -> str:
    return f"{PROXY_PREFIX}{host}-{peer_ip.rsplit('.', 1)[1]}"


def start_delay(host: str, peer_ip: str, delay_ms: float, jitter_ms: float) -> None:
    """Start (or restart, with new figures) the proxy on `host` that holds the bytes of each
    connection arriving from `peer_ip`, both ways, for `delay_ms` +- `jitter_ms`. Returns at
    once: `wait_listening` waits for it. Its redirect rule (`redirect_rule`) goes in with
    `apply_rules`."""
    name, port = _proxy_name(host, peer_ip), delay_port(peer_ip)
    process.signal_and_wait(name, signal.SIGTERM, 3.0)
    state.broker_dir(name).mkdir(parents=True, exist_ok=True)
    control = _control_file(name)
    control.write_text(f"{delay_ms:g} {jitter_ms:g}\n")
    argv = [sys.executable, "-I", "-S", str(PROXY), str(port), f"{delay_ms:g}", f"{jitter_ms:g}",
            str(control)]  # fmt: skip
    process.spawn(name, process.Launch(command(host, argv), {}, 5.0))


def _control_file(name: str) -> Path:
    return state.broker_dir(name) / "delay"


def set_delay(host: str, peer_ip: str, delay_ms: float, jitter_ms: float) -> bool:
    """Change the delay of the proxy `start_delay` started on `host` for `peer_ip` (and that is
    listening), keeping its connections open; False if it is not running."""
    name = _proxy_name(host, peer_ip)
    pid = state.running_pid(name)
    if pid is None:
        return False
    _control_file(name).write_text(f"{delay_ms:g} {jitter_ms:g}\n")
    os.kill(pid, signal.SIGHUP)
    return True


def redirected(host: str, peer_ip: str) -> bool:
    """The host's firewall sends the connections arriving from `peer_ip` to its proxy now."""
    port = f":{delay_port(peer_ip)}"
    return any("redirect" in rule and rule.endswith(port) for rule in rules(host))


def wait_listening(host: str, peer_ip: str, timeout_s: float = 10.0) -> None:
    """Until the proxy `start_delay` started on `host` for `peer_ip` listens."""
    name, port = _proxy_name(host, peer_ip), delay_port(peer_ip)
    deadline = time.monotonic() + timeout_s
    while not _run("ip", "netns", "exec", namespace(host), "ss", "-Hltn", f"sport = :{port}"):
        if state.running_pid(name) is None or time.monotonic() > deadline:
            raise NetnsError(f"the delaying proxy on {host} did not listen on {port} within "
                             f"{timeout_s:.0f} s. The end of {state.log_file(name)}:\n"
                             f"{state.log_tail(name)}")  # fmt: skip
        time.sleep(0.02)


def proxies() -> list[str]:
    """The delaying proxies running now (process names), including those left by a killed
    process."""
    names = [p.stem for p in state_dir().glob(f"{PROXY_PREFIX}*/{PROXY_PREFIX}*.pid")]
    return sorted(n for n in names if state.running_pid(n) is not None)


def stop_delays() -> list[str]:
    """Stop every delaying proxy (their connections close, and reconnect directly once the
    redirects are gone); the ones that ran."""
    names = [p.stem for p in state_dir().glob(f"{PROXY_PREFIX}*/{PROXY_PREFIX}*.pid")]
    return [n for n in sorted(names) if process.signal_and_wait(n, signal.SIGTERM, 3.0)]


def cut_connections(host: str, peer_ip: str) -> None:
    """Reset the host's TCP connections with `peer_ip` that do not go through its proxy (made
    before the link was slowed): the programs reconnect, and the redirect catches them."""
    keep = delay_port(peer_ip)
    _run("ip", "netns", "exec", namespace(host), "ss", "-K", f"dst {peer_ip} and sport != :{keep}")


def clear_rules(host: str) -> None:
    if host in namespaces():
        apply_rules(host, [])


def clear_all_rules() -> list[str]:
    """Undo every fault on every host of the lab, including those a killed process left
    behind (drops, redirects, and the delaying proxies); the hosts that had any. The
    connections of a slowed link are reset at both ends: a program whose connection went
    through a proxy may not hear it close (nothing to send, its peer's goodbye lost with the
    redirect), and would wait for its own timeout; reset, it reconnects directly at once."""
    had = {host: found for host in namespaces() if (found := rules(host))}
    for host in had:
        clear_rules(host)
    for host, found in had.items():  # before the proxies stop, while their redirects hold
        for peer_ip in sorted(_redirected_peers(found)):
            _run("ip", "netns", "exec", namespace(host), "ss", "-K", f"dst {peer_ip}")
    stop_delays()
    return list(had)


def _redirected_peers(found: list[str]) -> set[str]:
    """The peers whose connections `found` (a host's rules) redirect to a delaying proxy."""
    return {
        rule.split()[2]
        for rule in found
        if rule.startswith("ip saddr ") and " redirect to " in rule
    }


@contextlib.contextmanager
def locked(timeout_s: float = 120.0) -> Iterator[None]:
    """Serialise starting and stopping the nodes on these hosts across processes. A lock of
    their own, not the lab's provisioning lock: a shared cluster starting for minutes must not
    hold them up."""
    with open(private_state_dir() / ".netns.lock", "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another process has held {handle.name} for "
                                       f"{timeout_s:.0f} s; is one stuck?") from None  # fmt: skip
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_claim: list[IO[str]] = []  # the open lock file while this process holds the hosts
CLAIM_WAIT_S = 900.0  # longer than any one user holds them (a soak run: about 4 minutes)


def claim(timeout_s: float = CLAIM_WAIT_S) -> None:
    """Hold the lab's hosts for this process until `release()` or its exit (the kernel drops
    the lock of a process that dies). Faults and `up`/`down` of one user would undo another's:
    a second process waits here, saying so, until the first is done. Re-entrant."""
    if _claim:
        return
    handle = open(private_state_dir() / ".netns-hosts.lock", "a+")  # noqa: SIM115
    began, told = time.monotonic(), False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not told:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                print(f"waiting for {holder} to finish with the lab's network hosts", flush=True)
                told = True
            if time.monotonic() - began > timeout_s:
                handle.close()
                raise TimeoutError(
                    f"the lab's network hosts stayed in use for {timeout_s:.0f} s; is a run "
                    "stuck? Its lock is .netns-hosts.lock in the state folder."
                ) from None
            time.sleep(0.2)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    _claim.append(handle)


def release() -> None:
    """Let another process use the hosts (after `down`)."""
    if _claim:
        handle = _claim.pop()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
