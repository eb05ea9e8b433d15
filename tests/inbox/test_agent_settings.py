"""The agent's own settings page (/settings/): presence, language and notifications."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from inbox.models import AgentProfile, AuditEvent
from inbox.services import ServiceError, agent_update_preferences

pytestmark = pytest.mark.django_db

SETTINGS_URL = "/settings/"


def preferences(**changes: object) -> dict[str, object]:
    """The form as the page posts it: ticked checkboxes are sent, unticked ones are not."""
    values: dict[str, object] = {
        "language": "nl",
        "notify_on_assignment": True,
        "notify_on_mention": True,
        "notify_sound": False,
        "notify_desktop": False,
    }
    values.update(changes)
    return {name: ("on" if value is True else value) for name, value in values.items() if value}


def test_the_settings_page_shows_the_agents_current_choices(logged_in, agent) -> None:
    agent_update_preferences(
        actor=agent.user,
        language="en",
        notify_on_assignment=False,
        notify_on_mention=True,
        notify_sound=True,
        notify_desktop=False,
    )

    response = logged_in(agent).get(SETTINGS_URL)

    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="settings-language-en" checked' in content
    assert 'id="settings-language-nl" checked' not in content
    assert 'name="notify_on_assignment" id="id_notify_on_assignment" aria-describedby' in content
    assert 'id="id_notify_sound" aria-describedby="id_notify_sound-description" checked' in content
    assert (
        'id="id_notify_on_assignment" aria-describedby="id_notify_on_assignment-description">'
        in (content)
    )
    # Presence is the header's form written out: the same view and service.
    assert f'action="{reverse("inbox:presence")}"' in content
    assert 'id="settings-presence-available" aria-describedby' in content
    assert 'value="available" id="settings-presence-available"' in content


def test_a_new_agent_sees_the_language_the_screen_speaks_now(logged_in, agent, settings) -> None:
    client = logged_in(agent)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    content = client.get(SETTINGS_URL).content.decode()

    assert agent.language == ""
    assert 'id="settings-language-en" checked' in content


def test_saving_stores_the_choices_with_one_audit_event_naming_what_changed(
    logged_in, agent
) -> None:
    client = logged_in(agent)

    response = client.post(
        SETTINGS_URL, preferences(language="en", notify_on_mention=False, notify_desktop=True)
    )

    assert response.status_code == 302
    assert response.url == SETTINGS_URL
    agent.refresh_from_db()
    assert agent.language == "en"
    assert agent.notify_on_assignment is True
    assert agent.notify_on_mention is False
    assert agent.notify_sound is False
    assert agent.notify_desktop is True
    event = AuditEvent.objects.get(action="agent.preferences_changed")
    assert event.actor == agent.user
    assert event.data["changed"] == {
        "language": "en",
        "notify_on_mention": False,
        "notify_desktop": True,
    }
    assert event.data["previous"] == {
        "language": "",
        "notify_on_mention": True,
        "notify_desktop": False,
    }
    # The page says so, in the language just chosen.
    assert "Your settings are saved." in client.get(SETTINGS_URL).content.decode()


def test_saving_unchanged_settings_leaves_no_trace(logged_in, agent) -> None:
    client = logged_in(agent)
    client.post(SETTINGS_URL, preferences(language="nl"))
    client.post(SETTINGS_URL, preferences(language="nl"))

    assert AuditEvent.objects.filter(action="agent.preferences_changed").count() == 1


def test_an_unknown_language_is_refused_and_nothing_changes(logged_in, agent) -> None:
    response = logged_in(agent).post(SETTINGS_URL, preferences(language="fr", notify_sound=True))

    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()
    agent.refresh_from_db()
    assert agent.language == ""
    assert agent.notify_sound is False
    assert not AuditEvent.objects.filter(action="agent.preferences_changed").exists()


def test_the_service_refuses_an_unknown_language(agent) -> None:
    with pytest.raises(ServiceError):
        agent_update_preferences(
            actor=agent.user,
            language="de",
            notify_on_assignment=True,
            notify_on_mention=True,
            notify_sound=False,
            notify_desktop=False,
        )


def test_only_webcare_staff_have_settings(client, logged_in, outsider) -> None:
    anonymous = client.get(SETTINGS_URL)
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("login"))

    assert logged_in(outsider).get(SETTINGS_URL).status_code == 403
    with pytest.raises(PermissionDenied):
        agent_update_preferences(
            actor=outsider,
            language="nl",
            notify_on_assignment=True,
            notify_on_mention=True,
            notify_sound=False,
            notify_desktop=False,
        )


def test_presence_set_on_the_settings_page_comes_back_to_it(logged_in, agent) -> None:
    response = logged_in(agent).post(
        reverse("inbox:presence"), {"presence": "away", "next": SETTINGS_URL}
    )

    assert response.status_code == 302
    assert response.url == SETTINGS_URL
    agent.refresh_from_db()
    assert agent.presence == AgentProfile.Presence.AWAY


def test_the_footer_links_staff_to_their_settings_and_everyone_to_the_statement(
    client, logged_in, agent
) -> None:
    anonymous = client.get(reverse("login")).content.decode()
    assert 'href="/toegankelijkheid/"' in anonymous
    assert f'href="{SETTINGS_URL}"' not in anonymous

    staff = logged_in(agent).get(reverse("inbox:canned_list")).content.decode()
    assert 'href="/toegankelijkheid/"' in staff
    assert f'href="{SETTINGS_URL}"' in staff
    assert f'href="{reverse("api:docs")}"' in staff
    assert "<kbd>?</kbd>" in staff


# --- the accessibility statement (public, same page under both addresses) ------------------


@pytest.mark.parametrize(
    ("contact", "shown"),
    [
        (
            "toegankelijkheid@demodorp.nl",
            '<a class="utrecht-link" href="mailto:toegankelijkheid@demodorp.nl">',
        ),
        (
            "https://www.demodorp.nl/melden",
            '<a class="utrecht-link" href="https://www.demodorp.nl/melden">',
        ),
        ("telefoon 14 0123", "telefoon 14 0123"),
    ],
)
def test_the_accessibility_statement_is_public_and_names_the_contact(
    client, settings, contact: str, shown: str
) -> None:
    settings.WEBCARE_ACCESSIBILITY_CONTACT = contact

    dutch_address = client.get("/toegankelijkheid/")
    english_address = client.get("/accessibility/")

    assert dutch_address.status_code == english_address.status_code == 200
    content = dutch_address.content.decode()
    assert shown in content
    assert settings.WEBCARE_MUNICIPALITY_NAME in content
    assert "WCAG 2.1" in content
    assert "EN 301 549" in content


def test_without_a_contact_the_statement_points_to_the_municipality(client, settings) -> None:
    settings.WEBCARE_ACCESSIBILITY_CONTACT = ""

    content = client.get("/toegankelijkheid/").content.decode()

    assert "mailto:" not in content
    assert content.count(settings.WEBCARE_MUNICIPALITY_NAME) == 2
