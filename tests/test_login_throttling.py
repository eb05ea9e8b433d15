"""Login throttling against password guessing, and the audit trail of logins (webcare/login.py).

The counters live in the real Redis. Each test sends from its own documentation address
(198.51.100.x, TEST-NET-2), so the per-address limit of one test never reaches another, and
clears what it used at the start and the end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from inbox.models import AuditEvent
from tests.conftest import PASSWORD
from webcare.login import login_throttle_reset

ADDRESS = "198.51.100.7"
OTHER_ADDRESS = "198.51.100.8"
USERNAMES = ["anouk", "bram", "nobody", *(f"guess{n}" for n in range(25))]


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    def reset() -> None:
        for username in USERNAMES:
            login_throttle_reset(username=username)
        for address in (ADDRESS, OTHER_ADDRESS):
            login_throttle_reset(ip=address)

    reset()
    yield
    reset()


def attempt(client, username: str, password: str, *, address: str = ADDRESS):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_lock_the_username_even_for_the_right_password(client, agent):
    for _ in range(5):
        assert attempt(client, "anouk", "wrong").status_code == 200

    response = attempt(client, "anouk", PASSWORD)

    assert response.status_code == 429
    assert int(response["Retry-After"]) == 15 * 60
    assert not logged_in(client)
    client.cookies["django_language"] = "en"
    page = attempt(client, "anouk", PASSWORD).content.decode()
    assert "Too many failed attempts. Try again in 15 minutes or ask your administrator." in page
    assert 'role="alert"' in page
    locked = AuditEvent.objects.get(action="auth.locked_out")
    assert locked.data == {
        "user_id": agent.user_id,
        "ip": ADDRESS,
        "scope": "username",
        "minutes": 15,
    }
    reasons = list(
        AuditEvent.objects.filter(action="auth.login_failed")
        .order_by("id")
        .values_list("data__reason", flat=True)
    )
    assert reasons == ["credentials"] * 5 + ["locked_out"] * 2


def test_the_lock_holds_for_every_password_login_not_only_the_login_page(client, agent):
    for _ in range(5):
        attempt(client, "anouk", "wrong")

    assert not client.login(username="anouk", password=PASSWORD)
    admin_login = client.post(
        "/admin/login/", {"username": "anouk", "password": PASSWORD}, REMOTE_ADDR=OTHER_ADDRESS
    )
    assert admin_login.status_code == 200  # the form again, not a redirect
    assert not logged_in(client)


def test_a_locked_username_does_not_lock_out_other_people(client, agent, second_agent):
    for _ in range(5):
        attempt(client, "anouk", "wrong")

    response = attempt(client, "bram", PASSWORD)

    assert response.status_code == 302
    assert logged_in(client)


def test_twenty_failures_from_one_address_lock_the_address_for_every_username(
    client, agent, settings
):
    for n in range(20):
        attempt(client, f"guess{n}", "wrong")

    from_there = attempt(client, "anouk", PASSWORD)
    from_elsewhere = attempt(client, "anouk", PASSWORD, address=OTHER_ADDRESS)

    assert from_there.status_code == 429
    assert from_elsewhere.status_code == 302
    locked = AuditEvent.objects.get(action="auth.locked_out")
    assert locked.data == {"user_id": None, "ip": ADDRESS, "scope": "ip", "minutes": 15}


def test_a_successful_login_forgives_the_username_s_earlier_failures(client, agent):
    for _ in range(4):
        attempt(client, "anouk", "wrong")
    assert attempt(client, "anouk", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        attempt(client, "anouk", "wrong")

    assert attempt(client, "anouk", PASSWORD).status_code == 302
    assert not AuditEvent.objects.filter(action="auth.locked_out").exists()


def test_the_lockout_ends_after_the_lockout_time(client, agent):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            attempt(client, "anouk", "wrong")
        traveller.shift(dt.timedelta(minutes=14, seconds=59))
        assert attempt(client, "anouk", PASSWORD).status_code == 429
        traveller.shift(dt.timedelta(seconds=2))

        response = attempt(client, "anouk", PASSWORD)

    assert response.status_code == 302
    assert logged_in(client)


def test_the_lockout_time_and_limit_come_from_the_settings(client, agent, settings):
    settings.WEBCARE_LOGIN_MAX_FAILURES = 2
    settings.WEBCARE_LOGIN_LOCKOUT_MINUTES = 1
    attempt(client, "anouk", "wrong")
    assert attempt(client, "anouk", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    attempt(client, "anouk", "wrong")
    attempt(client, "anouk", "wrong")

    response = attempt(client, "anouk", PASSWORD)

    assert response.status_code == 429
    assert int(response["Retry-After"]) == 60


def test_a_failed_login_for_an_unknown_username_keeps_no_trace_of_what_was_typed(client, db):
    attempt(client, "nobody", "wrong")

    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.data == {
        "user_id": None,
        "ip": ADDRESS,
        "method": "password",
        "reason": "credentials",
    }
    keys = cache._cache.get_client().keys("*login-throttle*")  # type: ignore[attr-defined]
    assert keys
    assert not any(b"nobody" in key or ADDRESS.encode() in key for key in keys)


def test_logging_in_and_out_is_audited_with_the_address(client, agent):
    attempt(client, "anouk", PASSWORD)
    client.post(reverse("logout"), REMOTE_ADDR=ADDRESS)

    events = list(
        AuditEvent.objects.filter(action__startswith="auth.")
        .order_by("id")
        .values_list("action", "actor_id", "data")
    )
    assert events == [
        ("auth.login", agent.user_id, {"ip": ADDRESS, "method": "password"}),
        ("auth.logout", agent.user_id, {"ip": ADDRESS}),
    ]


def test_behind_the_proxy_the_address_is_the_one_the_proxy_added(client, agent, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    client.post(
        reverse("login"),
        {"username": "anouk", "password": "wrong"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=f"203.0.113.66, {ADDRESS}",
    )

    assert AuditEvent.objects.get(action="auth.login_failed").data["ip"] == ADDRESS
