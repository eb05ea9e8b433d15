"""The environment of a benchmark's processes: production settings on the benchmark's own
database, queue and keys (the load test's and the suite's children alike)."""

from __future__ import annotations

import os
import secrets

from webcare.devservices import BASE_DIR


def production_environment(
    *, database_url: str, redis_url: str, namespace: str, settings_module: str, **extra: str
) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("SECRET_KEY_FILE", "DATABASE_URL_FILE", "REDIS_URL_FILE"):
        env.pop(name, None)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            # Production: DEBUG off, a strong key of this run only, warnings and errors only.
            "WEBCARE_ENV": "production",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "LOG_LEVEL": "WARNING",
            # …over plain http on loopback: no TLS proxy, so the https-only defaults
            # (redirect, HSTS, secure cookies, the proxy header) are switched off.
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_COOKIES": "0",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "0",
            "BEHIND_TLS_PROXY": "0",
            "DJANGO_SETTINGS_MODULE": settings_module,
            # Nothing shared with a `make run` on the same Redis: its own queue and keys.
            "CELERY_QUEUE": namespace,
            "CACHE_KEY_PREFIX": namespace,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(
                [str(BASE_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            **extra,
        }
    )
    return env
