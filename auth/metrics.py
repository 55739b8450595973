"""The portal's Prometheus metrics, defined once for every module that counts something.

Under gunicorn each worker is a process, so the counters are written through prometheus-client's
multiprocess mode when `PROMETHEUS_MULTIPROC_DIR` is set (gunicorn.conf.py sets it up) and summed
when `/metrics` is scraped; a single process (`portal serve`, tests) keeps them in memory.
"""

from __future__ import annotations

from functools import lru_cache

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

REQUESTS = Counter(
    "portal_requests_total",
    "Requests answered, by product (or portal) and status.",
    ["product", "status"],
)
LATENCY = Histogram(
    "portal_request_seconds",
    "Time to answer a request, by product (or portal).",
    ["product"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GATE_DECISIONS = Counter(
    "portal_gate_decisions_total",
    "What the Gate decided: allowed, redirected (to sign-in), unauthenticated, denied, blocked, "
    "removed (a path PORTAL_BLOCK removed).",
    ["product", "tier", "decision"],
)
LOGINS = Counter("portal_logins_total", "Sign-ins at the callback, by result.", ["result"])
WEBSOCKETS_OPEN = Gauge(
    "portal_websockets_open",
    "Websockets open now, by product.",
    ["product"],
    multiprocess_mode="livesum",
)
SYNC_RUNS = Counter(
    "portal_sync_runs_total", "User syncs with Auth0, by mode and status.", ["mode", "status"]
)
SYNC_USERS = Counter("portal_sync_users_total", "Users handled by syncs, by outcome.", ["outcome"])
BROKEN_PRODUCTS = Gauge(
    "portal_broken_products", "Products that failed to load.", multiprocess_mode="max"
)


@lru_cache(maxsize=4096)
def labelled(metric: MetricWrapperBase, *labels: str) -> MetricWrapperBase:
    """`metric.labels(*labels)`, remembered: `labels()` checks its arguments and takes a lock on
    every call, and each request asks for the same few children (a product, a status) again.
    The portal never removes a child, so a remembered one stays the one being counted."""
    return metric.labels(*labels)
