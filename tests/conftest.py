"""Shared fixtures: the fixed personas, the sandbox X platform over real HTTP, a real
Celery worker on the real Redis broker.

Personas (healthchecks-style): `agent` (Anouk) and `second_agent` (Bram) are available,
`team_lead` (Lotte) leads the team, `outsider` has a login but is not on the team.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.core.cache import cache
from django.db import connections as db_connections
from django.utils import translation

from channels.models import Channel
from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS, SandboxServer
from channels.sandbox.accounts import MASTODON_ACCOUNT_ID, MASTODON_CREDENTIALS
from channels.services import channel_create
from inbox.models import AgentProfile
from inbox.services import staff_member_create
from webcare.celery import app as celery_app

PASSWORD = "correct horse battery staple"


def pytest_configure(config: pytest.Config) -> None:
    # A queue of our own, so that a `make run` worker on the same Redis never takes our tasks.
    celery_app.conf.task_default_queue = f"webcare-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the default language (Dutch), as a fresh request would: Django's
    active language is per thread, so without this a test that switched to English would
    leave it on for whatever test runs next."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Django's own advice for tests: its real hasher (PBKDF2, a million rounds) is slow on
    purpose, and nearly every test creates or logs in staff. What is tested is who may do
    what, not the hash; production keeps the default."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_login_lockout_left_behind() -> Iterator[None]:
    """Failed logins count per username and IP address in Redis, every test client is
    127.0.0.1 and the personas' names recur: a test's wrong passwords must not lock out the
    logins of the tests after it (webcare/login.py)."""
    yield
    redis = cache._cache.get_client()  # type: ignore[attr-defined]
    keys = redis.keys("*login-throttle:*")
    if keys:
        redis.delete(*keys)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
def channel(db: None, sandbox: SandboxServer) -> Channel:
    return channel_create(
        kind=Channel.Kind.TWITTER,
        name="demodorp-x",
        account_id=DEMO_ACCOUNT_ID,
        account_handle="gemeentedemodorp",
        api_base_url=sandbox.url,
        credentials=dict(DEMO_CREDENTIALS),
    )


@pytest.fixture
def mastodon_channel(db: None, sandbox: SandboxServer) -> Channel:
    """The demo Mastodon account on the sandbox."""
    return channel_create(
        kind=Channel.Kind.MASTODON,
        name="demodorp-mastodon",
        account_id=MASTODON_ACCOUNT_ID,
        account_handle="gemeentedemodorp",
        api_base_url=sandbox.url,
        credentials=dict(MASTODON_CREDENTIALS),
    )


@pytest.fixture
def agent(db: None) -> AgentProfile:
    return staff_member_create(
        username="anouk",
        password=PASSWORD,
        first_name="Anouk",
        last_name="Jansen",
        presence="available",
    )


@pytest.fixture
def second_agent(db: None) -> AgentProfile:
    return staff_member_create(
        username="bram",
        password=PASSWORD,
        first_name="Bram",
        last_name="Bakker",
        presence="available",
    )


@pytest.fixture
def team_lead(db: None) -> AgentProfile:
    return staff_member_create(
        username="lotte",
        password=PASSWORD,
        first_name="Lotte",
        last_name="de Vries",
        role=AgentProfile.Role.TEAM_LEAD,
    )


@pytest.fixture
def administrator(db: None) -> AgentProfile:
    """The functional administrator: channels, accounts, retention, archive, privacy."""
    return staff_member_create(
        username="femke",
        password=PASSWORD,
        first_name="Femke",
        last_name="Visser",
        role=AgentProfile.Role.ADMINISTRATOR,
    )


@pytest.fixture
def trainee(db: None) -> AgentProfile:
    """An agent in training: their replies wait for a team lead's approval."""
    return staff_member_create(
        username="tess",
        password=PASSWORD,
        first_name="Tess",
        last_name="van Dijk",
        presence="available",
        role=AgentProfile.Role.TRAINEE,
    )


@pytest.fixture
def outsider(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(username="charlie", password=PASSWORD)


def _close_worker_thread_connections(**kwargs: object) -> None:
    # Connections are per thread and kept open (CONN_MAX_AGE); an open one in the worker's
    # thread would stop pytest-django from dropping the test database.
    db_connections.close_all()


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[object]:
    """A real Celery worker (in a thread of this process) consuming from the real Redis."""
    task_postrun.connect(_close_worker_thread_connections)
    try:
        with start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=30,
        ) as worker:
            yield worker
    finally:
        task_postrun.disconnect(_close_worker_thread_connections)


def browser_required() -> bool:
    return os.environ.get("WEBCARE_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="session", autouse=True)
def _end_stray_test_database_sessions(django_db_setup: None, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Threads of the embedded worker and the live server keep their own connections, which
    would block dropping the test database at the end; end them first."""
    yield
    with django_db_blocker.unblock(), db_connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def logged_in(client):  # type: ignore[no-untyped-def]
    """`logged_in(agent)` returns the test client logged in as that persona."""

    def login(profile_or_user):  # type: ignore[no-untyped-def]
        user = getattr(profile_or_user, "user", profile_or_user)
        assert client.login(username=user.username, password=PASSWORD)
        return client

    return login
