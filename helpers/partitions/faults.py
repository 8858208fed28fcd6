"""Cut and degrade the links between the lab's hosts (network namespaces, see
`lab.brokers.netns`), as a partition or a bad switch would:

    net = Network({"redis-1": "10.213.0.1", "redis-2": "10.213.0.2", "redis-3": "10.213.0.3"})
    net.partition({"redis-1"}, {"redis-2", "redis-3"})   # no packet crosses between the sides
    net.isolate("redis-1")                               # the same: one host against the rest
    net.loss("redis-2", "redis-3", 5)                    # 5 % of packets dropped, both ways
    net.delay("redis-1", "redis-2", 200, 20)             # 200 +- 20 ms added each way
    net.heal()                                           # every fault undone
    net.faults()                                         # what the hosts' firewalls hold now

A cut or a loss is a drop rule in the receiving host's own firewall table, so it is silent (no
reset, no "unreachable": the sender's packets vanish, as across a dead link) and it touches
nothing outside the lab's hosts. A delay is made in user space, as this machine's kernel has no
`netem`: each end of the link runs a small proxy (`lab.brokers.netns_delay`), its firewall
redirects the TCP connections arriving from the other end to it, and it holds every chunk of
bytes, both ways, before passing it on; connections made before are reset, so that they
reconnect through it. A program that dials a node still dials its address; only the node sees
the connection come from its own host (Redis replicas therefore announce their address). UDP
and the first handshake are not delayed, only the bytes of TCP connections.
The client (this machine, on the bridge) is never cut or slowed: it stays with whichever side it
was talking to. Every fault is undone by `heal()`, by the hosts' cluster going down, and when
this Python process exits; one left by a killed process is undone by the next start.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterable, Mapping

from lab.brokers import netns

_AT_EXIT: list[object] = []


def _heal_all() -> None:
    """Undo every fault on the lab's hosts (at exit: a fault must not outlive its kernel)."""
    if netns.why_unavailable() is None:
        netns.clear_all_rules()


class Network:
    """The links between `hosts` (host name -> its address), and the faults on them."""

    def __init__(self, hosts: Mapping[str, str]) -> None:
        self.hosts = dict(hosts)
        self._cut: set[frozenset[str]] = set()  # pairs of hosts that cannot talk
        self._loss: dict[frozenset[str], int] = {}  # pairs of hosts -> percent of packets lost
        self._slow: set[frozenset[str]] = set()  # pairs of hosts with a delaying proxy at each end
        if not _AT_EXIT:  # once per process, whatever the number of networks
            _AT_EXIT.append(atexit.register(_heal_all))

    def _pair(self, a: str, b: str) -> frozenset[str]:
        for host in (a, b):
            if host not in self.hosts:
                raise ValueError(f"no host {host!r}; the hosts are {sorted(self.hosts)}")
        if a == b:
            raise ValueError(f"a link joins two hosts, not {a!r} to itself")
        return frozenset((a, b))

    def partition(self, *sides: Iterable[str]) -> None:
        """No packet crosses between hosts on different sides (hosts on no side keep every
        link). Adds to the faults already in force."""
        groups = [set(side) for side in sides]
        if len(groups) < 2:
            raise ValueError("a partition needs at least two sides")
        for i, group in enumerate(groups):
            for other in groups[i + 1 :]:
                if group & other:
                    raise ValueError(f"{sorted(group & other)} cannot be on two sides at once")
                self._cut |= {self._pair(a, b) for a in group for b in other}
        self._apply()

    def isolate(self, host: str) -> None:
        """Cut `host` off from every other host."""
        self.partition({host}, set(self.hosts) - {host})

    def loss(self, a: str, b: str, percent: int) -> None:
        """Drop `percent` % of the packets between `a` and `b`, in each direction, at random."""
        if not 0 <= percent <= 100:
            raise ValueError(f"loss is a percentage, 0-100, not {percent}")
        self._loss[self._pair(a, b)] = percent
        self._apply()

    def delay(self, a: str, b: str, ms: float, jitter_ms: float = 0.0) -> None:
        """Hold every byte crossing the link between `a` and `b` for `ms` +- `jitter_ms`
        (uniform), in each direction: a round trip across it takes at least twice `ms` less the
        jitter. Replaces the link's earlier delay; returns once the link's connections go
        through the proxies (those made before are reset, and their programs reconnect). A link
        whose connections go through running proxies already (`netns_rabbitmq.up(
        through_proxies=True)`) only gets the new figures: nothing is reset."""
        if not 0 <= jitter_ms <= ms <= 60_000:
            raise ValueError(f"a delay needs 0 <= jitter <= ms <= 60000, not {ms} +- {jitter_ms}")
        pair = self._pair(a, b)
        ends = ((a, self.hosts[b]), (b, self.hosts[a]))
        if all(netns.redirected(host, peer_ip) for host, peer_ip in ends) and all(
            [netns.set_delay(host, peer_ip, ms, jitter_ms) for host, peer_ip in ends]
        ):  # the link goes through running proxies already: new figures, no connection reset
            self._slow.add(pair)
            return
        for host, peer_ip in ends:  # both start at once, then both are waited for
            netns.start_delay(host, peer_ip, ms, jitter_ms)
        for host, peer_ip in ends:
            netns.wait_listening(host, peer_ip)
        self._slow.add(pair)
        self._apply()
        for host, peer_ip in ends:
            netns.cut_connections(host, peer_ip)

    def heal(self) -> None:
        """Undo every fault, on every host of the lab (also those this object did not make)."""
        self._cut.clear()
        self._loss.clear()
        self._slow.clear()
        _heal_all()

    def faults(self) -> dict[str, list[str]]:
        """The drop and redirect rules each host's firewall holds now, read back from the
        hosts, and the delaying proxies running there."""
        present, running = set(netns.namespaces()), netns.proxies()
        found = {}
        for host in sorted(self.hosts):
            rules = netns.rules(host) if host in present else []
            proxy = [
                f"proxy {name}"
                for name in running
                if name.startswith(f"{netns.PROXY_PREFIX}{host}-")
            ]
            if rules or proxy:
                found[host] = rules + proxy
        return found

    def _apply(self) -> None:
        for host in self.hosts:
            rules, redirects = [], []
            for other, ip in self.hosts.items():
                pair = frozenset((host, other))
                if pair in self._cut:
                    rules.append(f"ip saddr {ip} drop")
                elif self._loss.get(pair):
                    rules.append(f"ip saddr {ip} numgen random mod 100 < {self._loss[pair]} drop")
                if pair in self._slow:
                    redirects.append(netns.redirect_rule(ip))
            netns.apply_rules(host, rules, redirects)
