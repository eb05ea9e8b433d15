"""The login page in a real browser: single sign-on through the fake provider over real HTTP
(tests/oidc_provider.py), and the page passes axe with the provider's button, after a wrong
password and while locked out. Texts are matched in either language: the Dutch of this part
arrives with locale/fragments/auth.po."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User

from inbox.models import AgentProfile
from tests.browser.conftest import assert_no_axe_violations, assert_no_page_errors
from tests.conftest import PASSWORD
from tests.oidc_provider import FakeOIDCProvider
from webcare.login import login_throttle_reset

pytestmark = pytest.mark.browser


@pytest.fixture
def provider(settings: Any) -> Iterator[FakeOIDCProvider]:
    server = FakeOIDCProvider()
    server.start()
    for name, value in server.django_settings().items():
        setattr(settings, name, value)
    server.user = {
        "sub": "a1b2",
        "preferred_username": "sanne",
        "given_name": "Sanne",
        "family_name": "de Boer",
        "groups": ["webcare-teamleiders"],
    }
    yield server
    server.stop()


@pytest.fixture
def _fresh_counters() -> Iterator[None]:
    # The live server sees every browser request as coming from 127.0.0.1.
    yield
    login_throttle_reset(username="anouk", ip="127.0.0.1")


def test_logging_in_through_the_provider_in_the_browser(page, live_server, provider) -> None:
    page.goto(f"{live_server.url}/login/")
    assert_no_axe_violations(page)

    page.get_by_role("link", name=re.compile("Demodorp ID")).click()
    page.wait_for_url(lambda url: "/login/" not in url and "/oidc/" not in url)

    user = User.objects.get(username="sanne")
    assert user.agent_profile.role == AgentProfile.Role.TEAM_LEAD
    assert page.url.startswith(live_server.url)
    assert_no_page_errors(page)


def test_a_refused_provider_login_says_why_on_the_login_page(page, live_server, provider) -> None:
    provider.user["groups"] = ["iedereen"]
    page.goto(f"{live_server.url}/login/")

    page.get_by_role("link", name=re.compile("Demodorp ID")).click()
    page.wait_for_url(f"{live_server.url}/login/")

    assert page.locator(".flash-messages").is_visible()
    assert_no_axe_violations(page)
    assert not User.objects.filter(username="sanne").exists()


def test_the_login_page_passes_axe_after_a_wrong_password_and_when_locked_out(
    page, live_server, agent, _fresh_counters
) -> None:
    page.goto(f"{live_server.url}/login/")
    for _ in range(5):
        page.locator("#id_username").fill("anouk")
        page.locator("#id_password").fill("wrong")
        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state()
    error = page.locator("#login-error")
    assert error.get_attribute("role") == "alert"
    assert page.locator("#id_password").get_attribute("aria-describedby") == "login-error"
    assert_no_axe_violations(page)

    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()

    assert "Te veel mislukte pogingen" in error.inner_text() or (
        "Too many failed attempts" in error.inner_text()
    )
    assert "/login/" in page.url
    assert_no_axe_violations(page)
