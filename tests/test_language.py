"""Which language Webcare speaks (webcare/middleware.py, ChosenLanguageMiddleware): Dutch
unless chosen otherwise; a staff member's own choice (their profile) wins over the cookie
and follows them to every browser; dates in Europe/Amsterdam, in the chosen language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import translation

from inbox.models import AuditEvent
from inbox.services import agent_set_language
from tests.conftest import PASSWORD
from webcare.middleware import STAFF_LANGUAGE_SESSION_KEY

pytestmark = pytest.mark.django_db

STATEMENT = "/toegankelijkheid/"


def speaks(response) -> str:  # type: ignore[no-untyped-def]
    return response.headers["Content-Language"]


def log_in(client: Client, username: str) -> None:
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302


def test_visitors_get_dutch_whatever_their_browser_says(client) -> None:
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")

    assert speaks(response) == "nl"
    assert '<html lang="nl"' in response.content.decode()


def test_the_language_switch_chooses_for_visitors_with_a_cookie(client) -> None:
    switched = client.post(reverse("set_language"), {"language": "en", "next": STATEMENT})

    assert switched.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert speaks(client.get(reverse("login"))) == "en"


def test_a_staff_members_own_language_wins_over_the_cookie(client, agent) -> None:
    agent_set_language(actor=agent.user, language="en")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "nl"
    log_in(client, "anouk")

    response = client.get(reverse("inbox:canned_list"))

    assert speaks(response) == "en"
    # The cookie follows, so that the login page after logging out speaks it too.
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


def test_without_an_own_choice_the_cookie_still_decides_for_staff(client, agent) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    log_in(client, "anouk")

    assert speaks(client.get(reverse("inbox:canned_list"))) == "en"


def test_a_language_saved_in_settings_applies_at_once_and_after_logging_out_and_in(
    agent,
) -> None:
    browser = Client()
    log_in(browser, "anouk")
    browser.post(
        "/settings/",
        {"language": "en", "notify_on_assignment": "on", "notify_on_mention": "on"},
    )

    assert speaks(browser.get("/settings/")) == "en"
    browser.post(reverse("logout"))
    assert speaks(browser.get(reverse("login"))) == "en"

    # Another computer, whose cookie says Dutch: the profile decides once logged in.
    other_computer = Client()
    other_computer.cookies[settings.LANGUAGE_COOKIE_NAME] = "nl"
    assert speaks(other_computer.get(reverse("login"))) == "nl"
    log_in(other_computer, "anouk")
    assert speaks(other_computer.get(reverse("inbox:canned_list"))) == "en"


def test_the_header_switch_used_by_an_agent_is_stored_as_their_choice(client, agent) -> None:
    log_in(client, "anouk")

    client.post(reverse("set_language"), {"language": "en", "next": "/settings/"})

    agent.refresh_from_db()
    assert agent.language == "en"
    event = AuditEvent.objects.get(action="agent.preferences_changed")
    assert event.data["changed"] == {"language": "en"}
    assert speaks(client.get("/settings/")) == "en"
    # And back: the switch always wins over what the session remembered.
    client.post(reverse("set_language"), {"language": "nl", "next": "/settings/"})
    assert speaks(client.get("/settings/")) == "nl"
    agent.refresh_from_db()
    assert agent.language == "nl"


def test_the_switch_used_by_someone_outside_the_team_only_sets_the_cookie(client, outsider) -> None:
    log_in(client, outsider.username)

    switched = client.post(reverse("set_language"), {"language": "en", "next": STATEMENT})

    assert switched.status_code == 302
    assert not AuditEvent.objects.filter(action="agent.preferences_changed").exists()
    assert speaks(client.get(STATEMENT)) == "en"


def test_logging_in_reads_the_choice_into_the_session(client, agent) -> None:
    agent_set_language(actor=agent.user, language="en")

    log_in(client, "anouk")

    assert client.session[STAFF_LANGUAGE_SESSION_KEY] == [agent.user_id, "en"]


def test_dates_are_in_amsterdam_time_with_the_languages_month_names() -> None:
    # 23:30 UTC on 30 September is already 1 October in Amsterdam (summer time, UTC+2).
    moment = Context({"moment": datetime(2026, 9, 30, 23, 30, tzinfo=UTC)})
    template = Template('{{ moment|date:"j F Y H:i" }} {{ moment|date:"j M" }}')

    with translation.override("en"):
        assert template.render(moment) == "1 October 2026 01:30 1 Oct"
    with translation.override("nl"):
        assert template.render(moment) == "1 oktober 2026 01:30 1 Okt"


def test_the_accessibility_statement_dates_itself_in_the_chosen_language(client) -> None:
    dutch = client.get(STATEMENT).content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get("/accessibility/").content.decode()

    assert '<time datetime="2026-11-29">29 november 2026</time>' in dutch
    assert '<time datetime="2026-11-29">29 November 2026</time>' in english
