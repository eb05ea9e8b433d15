"""Fixtures of the chaos suite: its own Redis (so that it may be killed), the task
producer of this process pointed at it, and the environment of worker processes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.chaos.harness import ARTIFACTS, OwnRedis, broker, free_port, worker_database_url
from webcare.celery import app as celery_app

# The chaos helper's own ports; the redis-server takes the first free one.
PORTS = range(18100, 18200)


@pytest.fixture
def own_redis(transactional_db: None) -> Iterator[OwnRedis]:
    """A redis-server of this test's own, and this process's tasks sent to it."""
    redis = OwnRedis(free_port(PORTS), ARTIFACTS / "chaos-redis")
    redis.start()
    try:
        with broker(celery_app, redis.url):
            yield redis
    finally:
        redis.kill()


@pytest.fixture
def worker_env(own_redis: OwnRedis) -> dict[str, str]:
    """The environment of a `celery -A webcare worker` process on the test database."""
    return {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": own_redis.url,
        "CELERY_QUEUE": celery_app.conf.task_default_queue,
        "PYTHONPATH": str(ARTIFACTS.parent),
    }
