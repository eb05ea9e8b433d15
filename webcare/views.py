"""Probes for orchestrators and monitoring (docs/operations.md, "Health probes").

`/healthz` is liveness: the process answers. It checks no dependency, so a database outage
does not make Kubernetes restart every web container, which would not bring the database
back. `/readyz` is readiness: this process can do its work now (database reachable, every
migration applied, broker reachable); while it is not, the load balancer sends traffic
elsewhere. Both are public and served over plain http inside the cluster
(SECURE_REDIRECT_EXEMPT), so their bodies name only which dependency is down: no hostnames,
no error texts, which could carry either.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"
PENDING = "pending"
UNKNOWN = "unknown"

# Per process: what the last readiness probe found, so that a lasting outage is logged
# when it starts and when it ends, not at every probe (one every few seconds per pod).
_last_problems: dict[str, str] = {}


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: 200 whenever the process can answer at all."""
    return JsonResponse({"status": OK})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database answers with every migration applied and the broker
    answers; otherwise 503 with the check that failed."""
    database = _database_check()
    checks = {
        "database": database,
        "migrations": _migrations_check() if database == OK else UNKNOWN,
        "broker": _broker_check(settings.REDIS_URL),
    }
    ready = all(value == OK for value in checks.values())
    _log_change({name: value for name, value in checks.items() if value != OK})
    response = JsonResponse(
        {"status": OK if ready else UNAVAILABLE, "checks": checks}, status=200 if ready else 503
    )
    if not ready:
        # Django logs every 5xx response as an error (django.request); a probe that finds
        # the database down is not one, and _log_change has said so once already.
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _database_check() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        # A half-open connection must not be reused by the next request of this thread.
        connection.close_if_unusable_or_obsolete()
        return UNAVAILABLE
    return OK


def _migrations_check() -> str:
    """PENDING while the code has migrations the database lacks: a new image started before
    `migrate` ran. Reads the migration files (cached after the first probe) and one table."""
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        connection.close_if_unusable_or_obsolete()
        return UNAVAILABLE
    return PENDING if plan else OK


@lru_cache(maxsize=4)
def _broker_client(url: str) -> redis.Redis:
    # One client (and its connection pool) per URL for the life of the process: a probe
    # reuses its connection instead of opening a new one every few seconds.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _broker_check(url: str) -> str:
    try:
        _broker_client(url).ping()
    except redis.RedisError:
        return UNAVAILABLE
    return OK


def _log_change(problems: dict[str, str]) -> None:
    if problems == _last_problems:
        return
    if problems:
        logger.warning("Not ready: %s", ", ".join(f"{k} {v}" for k, v in problems.items()))
    else:
        logger.info("Ready again")
    _last_problems.clear()
    _last_problems.update(problems)
