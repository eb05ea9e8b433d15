"""/healthz (liveness) and /readyz (readiness), as orchestrators and monitoring use them."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection

from webcare import views

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_probe_state():
    """Each test starts as a new process would: no outage seen yet."""
    views._last_problems.clear()
    yield
    views._last_problems.clear()


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_healthz_answers_without_touching_any_dependency(client):
    # No django_db mark: pytest-django makes any database access raise here.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response.headers["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ready_when_database_migrations_and_broker_are(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "broker": "ok"},
    }


@pytest.mark.django_db
def test_readyz_names_the_broker_when_it_is_down_and_not_where_it_lives(client, settings, caplog):
    port = _closed_port()
    settings.REDIS_URL = f"redis://:s3cret@127.0.0.1:{port}/0"

    with caplog.at_level(logging.INFO):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": "ok", "broker": "unavailable"},
    }
    body = response.content.decode()
    assert str(port) not in body
    assert "127.0.0.1" not in body
    assert "s3cret" not in body
    # Not Django's "Service Unavailable" error for every probe: one warning that says why.
    assert not [record for record in caplog.records if record.name == "django.request"]
    assert [record.getMessage() for record in caplog.records if record.name == "webcare.views"] == [
        "Not ready: broker unavailable"
    ]


@pytest.mark.django_db
def test_a_lasting_outage_is_logged_once_and_its_end_once(client, settings, caplog):
    healthy_url = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    with caplog.at_level(logging.INFO, logger="webcare.views"):
        statuses = [client.get("/readyz").status_code for _probe in range(3)]
        settings.REDIS_URL = healthy_url
        statuses += [client.get("/readyz").status_code for _probe in range(2)]

    assert statuses == [503, 503, 503, 200, 200]
    assert [r.getMessage() for r in caplog.records if r.name == "webcare.views"] == [
        "Not ready: broker unavailable",
        "Ready again",
    ]


@pytest.mark.django_db
def test_readyz_waits_for_missing_migrations(client):
    # As if a new image started before `migrate` ran: the database lacks its last migration.
    # Rolled back with the test's transaction.
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE id = "
            "(SELECT max(id) FROM django_migrations WHERE app = 'inbox')"
        )

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "migrations": "pending",
        "broker": "ok",
    }


def test_a_database_outage_makes_the_process_unready_but_still_alive():
    """In a process of its own whose DATABASE_URL points at a port nothing listens on: the
    real connection failure, not a simulated one."""
    port = _closed_port()
    database_url = urlsplit(os.environ["DATABASE_URL"])
    unreachable = database_url._replace(
        netloc=f"webcare:s3cret@127.0.0.1:{port}", query=""
    ).geturl()
    code = (
        "import django, json; django.setup(); from django.test import Client; c = Client(); "
        "answers = [c.get(p) for p in ('/healthz', '/readyz', '/readyz')]; "
        "print(json.dumps([[a.status_code, a.json()] for a in answers]))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webcare.settings",
            "DEBUG": "1",
            "ALLOWED_HOSTS": "testserver",
            "DATABASE_URL": unreachable,
            "DATABASE_CONNECT_TIMEOUT": "2",
            "LOG_FORMAT": "text",
        },
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    liveness, readiness, again = json.loads(result.stdout)
    assert liveness == [200, {"status": "ok"}]
    assert readiness == again
    assert readiness == [
        503,
        {
            "status": "unavailable",
            "checks": {"database": "unavailable", "migrations": "unknown", "broker": "ok"},
        },
    ]
    # Two probes, one warning; no error log, and nothing about where the database is.
    assert result.stderr.count("Not ready: database unavailable, migrations unknown") == 1
    assert "ERROR" not in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert str(port) not in result.stdout


def test_probes_are_public_and_exempt_from_the_https_redirect(settings):
    import re

    exempt = [re.compile(pattern) for pattern in settings.SECURE_REDIRECT_EXEMPT]
    assert any(pattern.search("healthz") for pattern in exempt)
    assert any(pattern.search("readyz") for pattern in exempt)
    assert not any(pattern.search("login/") for pattern in exempt)
