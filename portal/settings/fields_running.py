"""The settings of what the portal runs and where: products, nodes, deadlines, proxies,
gunicorn, monitoring, files and the development identity provider (see `portal.settings.fields`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic_settings import NoDecode

from auth.product_paths import BlockPattern
from portal.forward_auth_sources import LOOPBACK
from portal.settings.fields import (
    DEADLINES,
    DEVELOPMENT,
    GUNICORN,
    MONITORING,
    NODES,
    PRODUCTS,
    PROJECT_ROOT,
    PROXY,
    RUNTIME,
    Count,
    Deadline,
    Declared,
    Positive,
    Seconds,
    Words,
    setting,
)


class RunningSettings(Declared):
    """What the portal runs and where."""

    # --- Products
    apps_dir: Path = setting(
        PROJECT_ROOT / "apps",
        "PORTAL_APPS_DIR",
        "Where products are discovered (the image sets /srv/portal/apps).",
        PRODUCTS,
        shown_default="apps/ in the project",
    )
    apps_patterns: Words = setting(
        (),
        "PORTAL_APPS",
        "Include/exclude patterns, e.g. `stable/* ea/*` or `!devel/experimental`; unset: "
        "everything.",
        PRODUCTS,
    )
    blocked_paths: Annotated[tuple[BlockPattern, ...], NoDecode] = setting(
        (),
        "PORTAL_BLOCK",
        "Paths this deployment removes (404 for everyone, as if they did not exist), "
        "space-separated <tier>/<name>/<path> globs, e.g. "
        "`devel/seistech/svc_hazard/* ea/disagg/api/export`.",
        PRODUCTS,
    )
    websocket_origins: Words = setting(
        (),
        "PORTAL_WEBSOCKET_ORIGINS",
        "Other origins (space-separated) whose pages may open websockets; the portal's own "
        "always may.",
        PRODUCTS,
    )
    apps_recheck_seconds: Seconds | None = setting(
        None,
        "PORTAL_APPS_RECHECK_SECONDS",
        "How often (seconds) the apps folder is checked for new, removed, moved and edited "
        "products.",
        PRODUCTS,
        shown_default="10 in production, 1 in development",
    )
    import_timeout_seconds: Seconds = setting(
        10.0,
        "PORTAL_IMPORT_TIMEOUT_SECONDS",
        "How long (seconds) one product's import may take before it is marked broken.",
        PRODUCTS,
    )
    ready_deadline_seconds: Deadline = setting(
        0.8,
        "PORTAL_READY_DEADLINE_SECONDS",
        "How long (seconds) /readyz waits for its checks; keep it under the load balancer's "
        "probe timeout.",
        PRODUCTS,
    )

    # --- Several nodes
    redis_url: str = setting(
        "",
        "REDIS_URL",
        "Cache invalidation and websocket broadcasts between workers and nodes, e.g. "
        "redis://redis.internal:6379/0 (docker compose sets redis://redis:6379/0); unset: "
        "within one process only.",
        NODES,
        secret=True,
    )
    broadcast_prefix: str = setting(
        "portal",
        "PORTAL_BROADCAST_PREFIX",
        "Keeps two portals sharing one Redis apart (e.g. staging and production).",
        NODES,
    )
    redis_timeout: Deadline = setting(
        1.0,
        "PORTAL_REDIS_TIMEOUT",
        "Seconds any Redis call may take; past it the portal carries on without Redis.",
        NODES,
    )

    # --- Deadlines
    database_connect_timeout: Deadline = setting(
        5.0,
        "PORTAL_DATABASE_CONNECT_TIMEOUT",
        "MariaDB: connecting, and waiting for a pooled connection.",
        DEADLINES,
    )
    database_read_timeout: Deadline = setting(
        10.0, "PORTAL_DATABASE_READ_TIMEOUT", "MariaDB: each read.", DEADLINES
    )
    database_write_timeout: Deadline = setting(
        10.0, "PORTAL_DATABASE_WRITE_TIMEOUT", "MariaDB: each write.", DEADLINES
    )
    idp_timeout: Deadline = setting(
        5.0,
        "PORTAL_IDP_TIMEOUT",
        "Each call to the identity provider (discovery, keys, token, refresh).",
        DEADLINES,
    )
    management_timeout: Deadline = setting(
        10.0, "PORTAL_MANAGEMENT_TIMEOUT", "Each call to the Auth0 Management API.", DEADLINES
    )

    # --- Behind a proxy
    trusted_proxies: Count = setting(
        0,
        "PORTAL_TRUSTED_PROXIES",
        "Proxies in front whose X-Forwarded-* headers are trusted (docker compose: 1, its nginx).",
        PROXY,
    )
    forwarded_allow_ips: str = setting(
        "127.0.0.1",
        "FORWARDED_ALLOW_IPS",
        "Where gunicorn accepts forwarded headers from: IP addresses or networks (CIDR), "
        "comma-separated (docker compose: the network only nginx and the replicas are on).",
        PROXY,
    )
    forward_auth_sources: Words = setting(
        LOOPBACK,
        "PORTAL_FORWARD_AUTH_SOURCES",
        "Addresses (CIDR, space-separated) of the proxies whose /auth/check questions the "
        "portal answers (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth); others "
        "get 403.",
        PROXY,
    )
    identity_header_names: Words = setting(
        (),
        "PORTAL_IDENTITY_HEADERS",
        "Identity headers your products read beyond the maintained list, comma-separated, `*` "
        "globs allowed: removed from every request before a product sees it.",
        PROXY,
    )

    # --- gunicorn
    bind: str = setting(
        "127.0.0.1:8000",
        "PORTAL_BIND",
        "gunicorn's address (the image and docker compose use 0.0.0.0:8000); no product may "
        "name it as its server.",
        GUNICORN,
    )
    workers: Positive = setting(
        2, "PORTAL_WORKERS", "gunicorn's worker processes (about one per core).", GUNICORN
    )
    threads: Positive = setting(
        256,
        "PORTAL_THREADS",
        "On the gthread worker only: threads per worker (open websockets + headroom).",
        GUNICORN,
    )
    worker_timeout: Count = setting(
        60,
        "PORTAL_WORKER_TIMEOUT",
        "Seconds a worker may go without a heartbeat before gunicorn restarts it.",
        GUNICORN,
    )
    graceful_timeout: Count = setting(
        30,
        "PORTAL_GRACEFUL_TIMEOUT",
        "Seconds a stopping worker waits for its open requests.",
        GUNICORN,
    )
    gunicorn_accesslog: str = setting(
        "",
        "PORTAL_GUNICORN_ACCESSLOG",
        "gunicorn's own access log (`-` for stderr); the portal already logs every request.",
        GUNICORN,
    )

    # --- Monitoring and logs
    metrics_allow: Words = setting(
        ("127.0.0.1/32", "::1/128"),
        "PORTAL_METRICS_ALLOW",
        "Networks (space-separated) that may scrape /metrics, e.g. the monitoring host's.",
        MONITORING,
    )
    metrics_token: str = setting(
        "",
        "PORTAL_METRICS_TOKEN",
        "A bearer token that may scrape /metrics from anywhere; unset: address check only.",
        MONITORING,
        random=True,
    )
    log_format: Literal["", "json", "text"] = setting(
        "",
        "PORTAL_LOG_FORMAT",
        "`json` (one object per line, with request id, user id and product) or `text`.",
        MONITORING,
        shown_default="json in production, text in development",
    )
    metrics_folder: str = setting(
        "",
        "PROMETHEUS_MULTIPROC_DIR",
        "Where every worker keeps its metrics, summed by /metrics (prometheus-client's "
        "multiprocess mode); gunicorn.conf.py sets a fresh folder for each start when unset.",
        MONITORING,
        shown_default="a temporary folder under gunicorn; none under portal serve",
    )

    # --- Runtime files
    instance_path: Path = setting(
        PROJECT_ROOT / "instance",
        "PORTAL_INSTANCE_PATH",
        "The instance folder (the image sets /srv/portal/instance).",
        RUNTIME,
        shown_default="instance/ in the project",
    )

    # --- Development
    dev_idp_database_url: str = setting(
        "",
        "DEV_IDP_DATABASE_URL",
        "The built-in identity provider's database.",
        DEVELOPMENT,
        shown_default="SQLite in the instance folder",
    )
    dev_idp_access_token_ttl: Positive = setting(
        3600, "DEV_IDP_ACCESS_TOKEN_TTL", "Seconds its access tokens last.", DEVELOPMENT
    )
    dev_idp_refresh_token_ttl: Positive = setting(
        30 * 24 * 3600,
        "DEV_IDP_REFRESH_TOKEN_TTL",
        "Seconds its refresh tokens last.",
        DEVELOPMENT,
    )
    dev_idp_management_rate_limit: Count = setting(
        0,
        "DEV_IDP_MANAGEMENT_RATE_LIMIT",
        "Management API calls it answers per second before 429, as Auth0 does; 0: no limit.",
        DEVELOPMENT,
    )
