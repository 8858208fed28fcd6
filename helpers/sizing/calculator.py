"""A sizing calculator: from a load to partitions, queues or streams, consumers, disk, memory and
network per broker, and which broker fits and why.

The arithmetic, per broker, with `peak` = messages/s × headroom and a lane's rate from `figures`
(× the safe factor when the load must survive a crash):
- lanes = ceil(peak ÷ a lane's rate); Kafka also needs a partition per consumer of a group;
- consumers per group = ceil(peak ÷ what one consumer handles: the lane's consume rate, or
  1000 ÷ the work per message in ms, whichever is lower);
- network in = messages/s × size; out = in × fan-out; replication = in × (replicas − 1);
- kept bytes = messages/s × size × retention: on disk × replicas for Kafka, in memory for Redis,
  per subscriber queue for RabbitMQ (and only while unconsumed: an acked message is deleted).
Payload bytes only: keys, headers and each broker's own framing come on top.

Not for measuring (see `measure`) or for reading figures (see `figures`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from .figures import Figures, LaneFigures

# A choice, not a measurement: size for twice the stated rate (spikes, a consumer catching up).
DEFAULT_HEADROOM = 2.0
# An assumption: the RAM one Redis instance may give to retained entries.
REDIS_MEMORY_BUDGET_GB = 25.0


@dataclass(frozen=True)
class Load:
    """What the system must carry. `fan_out`: independent subscribers that each get every
    message; `work_ms`: a consumer's own work per message; `retention_s`: how long messages stay
    readable; `replay`: subscribers must re-read old messages; `durable`: an acknowledged message
    survives a broker crash; `priorities`: some messages jump the queue."""

    messages_per_s: float
    message_bytes: int
    retention_s: float = 0.0
    fan_out: int = 1
    p99_target_ms: float | None = None
    durable: bool = True
    replay: bool = False
    priorities: bool = False
    exactly_once: bool = False
    work_ms: float = 0.0
    replicas: int = 3
    headroom: float = DEFAULT_HEADROOM

    def __post_init__(self) -> None:
        problems = [
            f"messages_per_s must be above 0 (got {self.messages_per_s}): give the peak rate"
            if not self.messages_per_s > 0
            else "",
            f"message_bytes must be at least 1 (got {self.message_bytes}): give the payload size"
            if not self.message_bytes >= 1
            else "",
            f"fan_out must be at least 1 (got {self.fan_out}): one subscriber at least"
            if self.fan_out < 1
            else "",
            f"retention_s must be 0 or more (got {self.retention_s})"
            if not self.retention_s >= 0
            else "",
            f"work_ms must be 0 or more (got {self.work_ms})" if not self.work_ms >= 0 else "",
            f"replicas must be at least 1 (got {self.replicas})" if self.replicas < 1 else "",
            f"headroom must be at least 1 (got {self.headroom}): 1 sizes for the stated rate"
            if not self.headroom >= 1
            else "",
            f"p99_target_ms must be above 0 (got {self.p99_target_ms})"
            if self.p99_target_ms is not None and not self.p99_target_ms > 0
            else "",
        ]
        found = [p for p in problems if p]
        if found:
            raise ValueError("; ".join(found))

    @property
    def peak_msg_s(self) -> float:
        return self.messages_per_s * self.headroom


@dataclass(frozen=True)
class Proposal:
    """One broker's sizing of a load, whether it fits, and why."""

    broker: str
    lane: str
    lanes: int  # in all: RabbitMQ gives each subscriber its own queues
    lanes_per_group: int
    consumers_per_group: int
    groups: int
    lane_msg_s: float  # one lane's rate for this load (safe factor and size applied)
    consumer_msg_s: float  # what one consumer handles
    kept_gb: float  # retained payload: Kafka disk with replicas, Redis RAM, RabbitMQ queues
    in_mb_s: float
    out_mb_s: float
    replication_mb_s: float
    p99_ms: float  # NaN: no figure for this rate
    fits: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def capacity_msg_s(self) -> float:
        """What the proposal carries: its lanes' rate or its consumers', whichever is lower."""
        lanes = self.lanes_per_group * self.lane_msg_s
        return min(lanes, self.consumers_per_group * self.consumer_msg_s)


def lane_rate(load: Load, figures: LaneFigures) -> float:
    """One lane's messages/s for this load: the measured rate, capped by the lane's MB/s for
    messages bigger than those measured, times the safe factor if the load is durable and the
    rate was measured without the safe setting (divided by it in the opposite case)."""
    rate = figures.produce_msg_s.value
    if load.message_bytes > figures.message_bytes:
        rate = min(rate, figures.mb_s.value * 1e6 / load.message_bytes)
    if load.durable != figures.produce_is_safe:
        factor = figures.safe_factor.value
        rate = rate * factor if load.durable else rate / factor
    return rate


def consumer_rate(load: Load, figures: LaneFigures) -> float:
    """What one consumer handles: the lane's consume rate, or its own work, the lower."""
    rate = figures.consume_msg_s.value
    if load.message_bytes > figures.message_bytes:
        rate = min(rate, figures.mb_s.value * 1e6 / load.message_bytes)
    return min(rate, 1000 / load.work_ms) if load.work_ms > 0 else rate


def size(load: Load, figures: LaneFigures) -> Proposal:
    """The proposal of one broker for `load`."""
    lane_msg_s, consumer_msg_s = lane_rate(load, figures), consumer_rate(load, figures)
    consumers = math.ceil(load.peak_msg_s / consumer_msg_s)
    lanes = math.ceil(load.peak_msg_s / lane_msg_s)
    if figures.broker == "kafka":
        lanes = max(lanes, consumers)  # one partition per consumer of a group, at most
    in_mb_s = load.messages_per_s * load.message_bytes / 1e6
    kept_gb = in_mb_s * load.retention_s / 1e3
    kept_gb *= {"kafka": load.replicas, "rabbitmq": load.fan_out, "redis": 1}[figures.broker]
    per_lane = load.peak_msg_s / lanes
    p99 = figures.p99_ms.value if per_lane <= figures.p99_rate_msg_s else math.nan
    fits, reasons = _judge(load, figures, kept_gb, p99)
    return Proposal(
        broker=figures.broker,
        lane=figures.lane,
        lanes=lanes * (load.fan_out if figures.broker == "rabbitmq" else 1),
        lanes_per_group=lanes,
        consumers_per_group=consumers,
        groups=load.fan_out,
        lane_msg_s=lane_msg_s,
        consumer_msg_s=consumer_msg_s,
        kept_gb=kept_gb,
        in_mb_s=in_mb_s,
        out_mb_s=in_mb_s * load.fan_out,
        replication_mb_s=in_mb_s * (load.replicas - 1),
        p99_ms=p99,
        fits=fits,
        reasons=reasons,
    )


def _judge(load: Load, figures: LaneFigures, kept_gb: float, p99: float) -> tuple[bool, list[str]]:
    broker, against, notes = figures.broker, [], []
    if load.replay and broker == "rabbitmq":
        against.append("a classic queue deletes a message once it is acknowledged: no replay")
    if load.priorities and broker != "rabbitmq":
        against.append("no per-message priority: one log is read in order")
    if broker == "redis" and kept_gb > REDIS_MEMORY_BUDGET_GB:
        against.append(
            f"{kept_gb:,.0f} GB retained in RAM, above the {REDIS_MEMORY_BUDGET_GB:g} GB "
            "assumed per instance"
        )
    if load.p99_target_ms is not None and not math.isnan(p99) and p99 > load.p99_target_ms:
        against.append(f"p99 {p99:.1f} ms above the {load.p99_target_ms:g} ms target")
    if load.p99_target_ms is not None and math.isnan(p99):
        notes.append("p99 not checked: no figure at this rate per lane (run `make bench`)")
    if load.exactly_once:
        notes.append(
            "transactions: exactly-once from topic to topic"
            if broker == "kafka"
            else "no transactions: at-least-once plus an idempotent consumer"
        )
    if broker == "rabbitmq" and load.retention_s > 0 and not load.replay:
        notes.append("kept_gb only while unread: a queue deletes what is acknowledged")
    if load.fan_out > 1 and broker == "rabbitmq":
        notes.append(f"a fanout exchange enqueues every message in {load.fan_out} queues")
    return not against, against + notes


def propose(load: Load, figures: Figures) -> list[Proposal]:
    """Every broker's proposal for `load`."""
    return [size(load, lane_figures) for lane_figures in figures.brokers.values()]


def table(proposals: list[Proposal]) -> pd.DataFrame:
    """The proposals side by side, units in the column names."""
    rows = [
        {
            "broker": p.broker,
            "fits": p.fits,
            "lanes": f"{p.lanes} {p.lane}{'s' if p.lanes > 1 else ''}",
            "consumers_per_group": p.consumers_per_group,
            "groups": p.groups,
            "lane_msg_s": round(p.lane_msg_s),
            "kept_gb": round(p.kept_gb, 2),
            "in_mb_s": round(p.in_mb_s, 2),
            "out_mb_s": round(p.out_mb_s, 2),
            "p99_ms": p.p99_ms,
            "why": "; ".join(p.reasons) or "-",
        }
        for p in proposals
    ]
    return pd.DataFrame(rows).set_index("broker")


def recommend(load: Load, proposals: list[Proposal]) -> tuple[str, str]:
    """The broker to choose among those that fit, and why, in one sentence."""
    order, why = _preference(load)
    fitting = {p.broker for p in proposals if p.fits}
    for broker in order:
        if broker in fitting:
            return broker, why
    return "", "no broker fits with these figures: relax a requirement or split the load"


def _preference(load: Load) -> tuple[list[str], str]:
    if load.priorities:
        return ["rabbitmq"], "only RabbitMQ delivers by per-message priority (x-max-priority)"
    if load.replay or load.exactly_once:
        return (
            ["kafka", "redis"],
            "a retained, replicated log that groups re-read by offset; transactions for "
            "exactly-once between topics",
        )
    if load.retention_s == 0 and load.fan_out == 1:
        return (
            ["rabbitmq", "redis", "kafka"],
            "a work queue: per-message acks, redelivery and dead-lettering, nothing to retain",
        )
    return ["kafka", "redis", "rabbitmq"], "fan-out by offsets: every group reads one copy"
