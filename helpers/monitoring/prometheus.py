"""Ask the lab's Prometheus (127.0.0.1:19090) over its HTTP API: instant and range PromQL
queries, its scrape targets, its alerts, and waits for a condition with a deadline.

Everything here reads what Prometheus itself recorded; an alert counts as fired only if
Prometheus says so (its /api/v1/alerts or its ALERTS series). Not for starting Prometheus
(see `lab.brokers.services`) or for the alert rules (brokers/prometheus/alerts.yml)."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from lab.brokers import services
from lab.brokers.services import prometheus as prometheus_service
from lab.brokers.services import rabbitmq_metrics

URL = prometheus_service.URL
T = TypeVar("T")


class PrometheusError(RuntimeError):
    """Prometheus refused a query or did not answer; the message says which and why."""


def start(timeout_s: float = 60.0) -> dict[str, str]:
    """Make sure Prometheus and its exporters run and RabbitMQ serves its metrics, then wait
    until every target has been scraped successfully. Returns job -> health."""
    services.ensure("prometheus")
    prometheus_service.reload()  # alerts.yml as it is now; the Kafka broker job if it serves
    rabbitmq_metrics.ensure_plugin()  # a restarted RabbitMQ forgets the plugin
    return wait_until(_all_up, timeout_s, "every scrape target up")


def _all_up() -> dict[str, str] | None:
    health = target_health()
    return health if health and set(health.values()) == {"up"} else None


def api(path: str, **params: str) -> Any:
    """GET /api/v1/<path>; its `data`, or PrometheusError with Prometheus's own error."""
    url = f"{URL}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10.0) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        answer = json.load(exc)
        raise PrometheusError(f"{path}: {answer.get('error', exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise PrometheusError(
            f"Prometheus at {URL} does not answer ({exc}). Start it with "
            "lab.brokers.services.ensure('prometheus')."
        ) from None
    return answer["data"]


def target_health() -> dict[str, str]:
    """job -> "up" / "down" / "unknown", as Prometheus last scraped it."""
    return {t["labels"]["job"]: t["health"] for t in api("targets")["activeTargets"]}


def targets() -> pd.DataFrame:
    rows = [
        {
            "job": t["labels"]["job"],
            "scrape_url": t["scrapeUrl"],
            "health": t["health"],
            "last_scrape_ms": round(1000 * t["lastScrapeDuration"], 1),
            "last_error": t["lastError"],
        }
        for t in api("targets")["activeTargets"]
    ]
    return pd.DataFrame(rows).sort_values("job").set_index("job")


def query(promql: str) -> list[dict[str, Any]]:
    """An instant query: one {labels..., "value": float} per series."""
    return [
        {**s["metric"], "value": float(s["value"][1])} for s in api("query", query=promql)["result"]
    ]


def value(promql: str) -> float | None:
    """The one number an instant query returns (None when it returns no series)."""
    found = query(promql)
    if len(found) > 1:
        raise PrometheusError(f"{promql} returned {len(found)} series; aggregate it to one")
    return found[0]["value"] if found else None


def query_range(promql: str, start: float, end: float, step_s: float = 1.0) -> pd.DataFrame:
    """A range query: one row per (time, series); `t_s` is seconds since `start`. The steps are
    counted back from `end`, so the last row is the newest sample Prometheus has."""
    first = end - math.floor((end - start) / step_s) * step_s
    data = api(
        "query_range", query=promql, start=f"{first:.3f}", end=f"{end:.3f}", step=f"{step_s:g}s"
    )
    rows = [
        {**s["metric"], "t_s": round(float(t) - start, 3), "value": float(v)}
        for s in data["result"]
        for t, v in s["values"]
    ]
    labels = {k for s in data["result"] for k in s["metric"]}
    return pd.DataFrame(rows, columns=["t_s", "value", *sorted(labels)])


def alert_state(name: str, **labels: str) -> str:
    """ "firing", "pending" or "inactive": what Prometheus's /api/v1/alerts says of the alert
    `name` with these labels right now."""
    states = [
        a["state"]
        for a in api("alerts")["alerts"]
        if a["labels"]["alertname"] == name
        and all(a["labels"].get(k) == v for k, v in labels.items())
    ]
    return "firing" if "firing" in states else states[0] if states else "inactive"


def firing_times(name: str, start: float, end: float, **labels: str) -> list[float]:
    """The seconds (since `start`, one per second) at which Prometheus's own ALERTS series shows
    `name` with these labels firing."""
    matchers = "".join(f',{k}="{v}"' for k, v in labels.items())
    series = query_range(f'ALERTS{{alertname="{name}",alertstate="firing"{matchers}}}', start, end)
    return sorted(set(series["t_s"]))


def firing_seconds(name: str, start: float, end: float, **labels: str) -> float:
    """How many seconds Prometheus's ALERTS series shows `name` firing between two times."""
    return float(len(firing_times(name, start, end, **labels)))


def wait_until(
    check: Callable[[], T | None], timeout_s: float, what: str, progress_every_s: float = 5.0
) -> T:
    """Call `check` until it returns something other than None (returned), or raise
    TimeoutError naming `what` after `timeout_s`. Says every few seconds that it still waits."""
    began = time.monotonic()
    said = began
    while (found := check()) is None:
        now = time.monotonic()
        if now - began > timeout_s:
            raise TimeoutError(f"waited {timeout_s:.0f} s for {what}; it did not happen")
        if now - said >= progress_every_s:
            print(f"  ... still waiting for {what} ({now - began:.0f} s)", flush=True)
            said = now
        time.sleep(0.25)
    return found


def wait_for_alert(name: str, state: str, timeout_s: float, **labels: str) -> float:
    """Wait until Prometheus reports `name` (with `labels`) in `state`; the seconds it took."""
    began = time.monotonic()
    wait_until(
        lambda: True if alert_state(name, **labels) == state else None,
        timeout_s,
        f"{name} {state}",
    )
    return time.monotonic() - began


def wait_for_value(
    promql: str, wanted: Callable[[float], bool], timeout_s: float, what: str
) -> float:
    """Wait until the instant query `promql` returns one number that `wanted` accepts."""

    def accepted() -> float | None:
        found = value(promql)
        return found if found is not None and wanted(found) else None

    return wait_until(accepted, timeout_s, what)


def range_frame(queries: dict[str, str], start: float, end: float) -> pd.DataFrame:
    """One column per named query (each must return one series), one row per second since
    `start`: what a dashboard panel of these queries would draw."""
    columns = {}
    for name, promql in queries.items():
        series = query_range(promql, start, end)
        columns[name] = series.set_index("t_s")["value"]
    return pd.DataFrame(columns).rename_axis("t_s").reset_index()
