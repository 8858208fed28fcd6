"""Fixed-rate sending without coordinated omission.

Message i is *intended* to leave at `start + i / rate`. The sender waits for that moment, but
never skips a message and never moves the schedule: after a stall it sends the backlog at once,
and every message carries its intended time. Latency measured from the intended time then
includes the stall for every message the stall delayed, as a user of the system would see it;
measured from the actual send time, a stall shows up in one message only (coordinated
omission: the load generator politely stopped sending while the system was stuck).

Clock and sleep are parameters so that a test can drive the pacer with a fake clock.
Not for recording latencies (see `histogram`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

# time.sleep overshoots by tens of microseconds; the last stretch before a send is spun instead,
# so the harness's own lateness stays well below the latencies it measures. The spin burns the
# CPU of the machine being measured, so it is at most SPIN_SHARE of the period (20 µs at
# 5,000 msg/s instead of 100 µs, half a core): latency rows report the producers' CPU.
SPIN_NS = 100_000
SPIN_SHARE = 0.1


class FixedRate:
    def __init__(
        self,
        rate_per_s: float,
        clock: Callable[[], int] = time.monotonic_ns,
        sleep: Callable[[float], None] = time.sleep,
        spin_ns: int = SPIN_NS,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.period_ns = 1e9 / rate_per_s
        self.clock, self.sleep = clock, sleep
        self.spin_ns = min(spin_ns, SPIN_SHARE * self.period_ns)
        self.start_ns = clock()

    def intended_ns(self, i: int) -> int:
        return self.start_ns + round(i * self.period_ns)

    def wait(self, i: int) -> int:
        """Block until message i is due (at once if it is overdue); return its intended time."""
        due = self.intended_ns(i)
        remaining = due - self.clock()
        if remaining > self.spin_ns:
            self.sleep((remaining - self.spin_ns) / 1e9)
        while self.clock() < due:
            pass
        return due


class FakeClock:
    """Time that moves only when someone sleeps: for demonstrating the pacer without waiting."""

    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def now(self) -> int:
        return self.ns

    def sleep(self, seconds: float) -> None:
        self.ns += round(seconds * 1e9)


def simulated_stall(
    rate: float = 1000, count: int = 2000, stall_at: int = 500, stall_ms: float = 100
) -> tuple[list[float], list[float]]:
    """A send loop at `rate`/s on a fake clock where every send takes 0.05 ms except send
    `stall_at`, which takes `stall_ms`. Returns the latencies (ms) timed from each message's
    intended send time, and the same timed from its actual send time."""
    clock = FakeClock()
    pacer = FixedRate(rate, clock=clock.now, sleep=clock.sleep, spin_ns=0)
    from_intended, from_actual = [], []
    for i in range(count):
        intended = pacer.wait(i)
        started = clock.now()
        clock.sleep(stall_ms / 1000 if i == stall_at else 0.00005)  # the "send"
        from_intended.append((clock.now() - intended) / 1e6)
        from_actual.append((clock.now() - started) / 1e6)
    return from_intended, from_actual
