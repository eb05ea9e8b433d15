"""Staff accounts for administrators (inbox/views/staff_admin.py, inbox/services/staff.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from inbox import services
from inbox.models import AgentProfile, AuditEvent, Conversation
from inbox.services import staff as staff_services
from inbox.services.common import ServiceError
from tests.conftest import PASSWORD
from tests.inbox.helpers import citizen_writes

STAFF_PAGES = [
    ("get", "inbox:staff_admin", []),
    ("post", "inbox:staff_create", []),
    ("post", "inbox:staff_role_change", [1]),
    ("post", "inbox:staff_deactivate", [1]),
    ("post", "inbox:staff_reactivate", [1]),
]


@pytest.mark.parametrize(("method", "name", "args"), STAFF_PAGES)
def test_agents_and_team_leads_are_refused_every_staff_page(
    logged_in, agent, team_lead, method, name, args
):
    for persona in (agent, team_lead):
        client = logged_in(persona)
        response = getattr(client, method)(reverse(name, args=args))
        assert response.status_code == 403


def test_the_list_shows_every_account_with_role_teams_and_filters_by_role(
    logged_in, administrator, agent, team_lead, trainee, django_assert_max_num_queries
):
    team = services.team_create(actor=team_lead.user, name="Afval")
    services.team_member_add(actor=team_lead.user, team_id=team.pk, user_id=agent.user_id)
    client = logged_in(administrator)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("inbox:staff_admin")).content.decode()
    for name in ("Anouk Jansen", "Lotte de Vries", "Tess van Dijk", "Femke Visser", "Afval"):
        assert name in page
    filtered = client.get(reverse("inbox:staff_admin"), {"role": "trainee"}).content.decode()
    assert "Tess van Dijk" in filtered
    assert "Anouk Jansen" not in filtered


def test_the_list_query_count_does_not_grow_with_the_number_of_accounts(logged_in, administrator):
    client = logged_in(administrator)
    client.get(reverse("inbox:staff_admin"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("inbox:staff_admin"))
    for number in range(15):
        services.staff_member_create(username=f"extra{number}", password=PASSWORD)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("inbox:staff_admin"))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_an_administrator_creates_an_account_with_a_validated_password(logged_in, administrator):
    client = logged_in(administrator)
    weak = client.post(
        reverse("inbox:staff_create"),
        {
            "username": "sem",
            "first_name": "Sem",
            "role": "agent",
            "sign_in": "password",
            "password": "123",
        },
    )
    assert weak.status_code == 422
    assert not User.objects.filter(username="sem").exists()
    assert 'aria-describedby="id_password-error' in weak.content.decode()
    response = client.post(
        reverse("inbox:staff_create"),
        {
            "username": "sem",
            "first_name": "Sem",
            "last_name": "de Boer",
            "email": "sem@example.org",
            "role": "trainee",
            "sign_in": "password",
            "password": "a long and uncommon phrase 42",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="sem")
    assert user.check_password("a long and uncommon phrase 42")
    assert user.agent_profile.role == AgentProfile.Role.TRAINEE
    event = AuditEvent.objects.get(action="staff.created", data__user_id=user.pk)
    assert event.actor == administrator.user
    assert "a long and uncommon" not in str(event.data)


def test_an_sso_account_gets_no_usable_password(logged_in, administrator):
    client = logged_in(administrator)
    response = client.post(
        reverse("inbox:staff_create"),
        {
            "username": "noor",
            "first_name": "Noor",
            "role": "agent",
            "sign_in": "sso",
            "password": "",
        },
    )
    assert response.status_code == 302
    assert not User.objects.get(username="noor").has_usable_password()


def test_a_taken_username_is_refused(logged_in, administrator, agent):
    response = logged_in(administrator).post(
        reverse("inbox:staff_create"),
        {"username": "ANOUK", "first_name": "A", "role": "agent", "sign_in": "sso"},
    )
    assert response.status_code == 422
    assert User.objects.filter(username__iexact="anouk").count() == 1


def test_changing_a_role_is_audited_with_the_previous_role(logged_in, administrator, agent):
    response = logged_in(administrator).post(
        reverse("inbox:staff_role_change", args=[agent.user_id]), {"role": "team_lead"}
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.role == AgentProfile.Role.TEAM_LEAD
    event = AuditEvent.objects.get(action="staff.role_changed")
    assert event.data == {"user_id": agent.user_id, "role": "team_lead", "previous_role": "agent"}
    assert event.actor == administrator.user


def test_the_last_administrator_cannot_demote_or_deactivate_themselves(logged_in, administrator):
    client = logged_in(administrator)
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("inbox:staff_role_change", args=[administrator.user_id]),
        {"role": "agent"},
        follow=True,
    )
    assert "femke is the last active administrator" in response.content.decode()
    with pytest.raises(ServiceError):
        staff_services.staff_deactivate(actor=administrator.user, user_id=administrator.user_id)
    administrator.refresh_from_db()
    assert administrator.role == AgentProfile.Role.ADMINISTRATOR
    assert administrator.user.is_active
    assert not AuditEvent.objects.filter(action__in=["staff.role_changed", "staff.deactivated"])


def test_with_a_second_administrator_one_may_step_down(administrator, team_lead):
    staff_services.staff_role_set(
        actor=administrator.user, user_id=team_lead.user_id, role="administrator"
    )
    staff_services.staff_role_set(
        actor=administrator.user, user_id=administrator.user_id, role="agent"
    )
    administrator.refresh_from_db()
    assert administrator.role == AgentProfile.Role.AGENT
    # The remaining one is now the last.
    with pytest.raises(ServiceError):
        staff_services.staff_role_set(actor=team_lead.user, user_id=team_lead.user_id, role="agent")


def test_only_administrators_may_call_the_services(team_lead, agent):
    with pytest.raises(PermissionDenied):
        staff_services.staff_role_set(actor=team_lead.user, user_id=agent.user_id, role="trainee")
    with pytest.raises(PermissionDenied):
        staff_services.staff_deactivate(actor=team_lead.user, user_id=agent.user_id)


def test_a_weak_password_is_refused_by_the_service(administrator):
    with pytest.raises(ValidationError):
        staff_services.staff_account_create(
            actor=administrator.user,
            username="x",
            first_name="X",
            last_name="",
            email="",
            role="agent",
            password="password",
        )


def test_deactivating_ends_sessions_and_tokens_and_returns_waiting_conversations(
    administrator, agent, channel, django_capture_on_commit_callbacks
):
    waiting = citizen_writes(channel, text="Waar blijft mijn pas?", username="burger1")
    services.conversation_take(conversation_id=waiting.pk, actor=agent.user)
    services.api_token_issue(user_id=agent.user_id)
    agent_browser = Client()
    assert agent_browser.login(username="anouk", password=PASSWORD)
    assert agent_browser.get(reverse("inbox:inbox")).status_code == 200
    other_browser = Client()
    assert other_browser.login(username="femke", password=PASSWORD)

    staff_services.staff_deactivate(actor=administrator.user, user_id=agent.user_id)

    agent.refresh_from_db()
    assert not agent.user.is_active
    assert agent.presence == AgentProfile.Presence.OFFLINE
    assert Conversation.objects.get(pk=waiting.pk).assignee is None
    assert AuditEvent.objects.filter(
        action="conversation.unassigned", conversation=waiting, data__reason="agent_offline"
    ).exists()
    assert not Token.objects.filter(user=agent.user).exists()
    # The agent's session is gone; the administrator's is not.
    assert agent_browser.get(reverse("inbox:inbox")).status_code == 302
    assert other_browser.get(reverse("inbox:administration")).status_code == 200
    assert Session.objects.count() == 1
    event = AuditEvent.objects.get(action="staff.deactivated")
    assert event.data["previous_is_active"] is True
    assert event.data["previous_presence"] == "available"
    assert event.data["conversations_returned"] == 1
    assert event.data["sessions_ended"] == 1
    assert event.data["api_tokens_revoked"] == 1
    assert not agent_browser.login(username="anouk", password=PASSWORD)


def test_reactivating_lets_them_sign_in_again_offline(logged_in, administrator, agent):
    client = logged_in(administrator)
    client.post(reverse("inbox:staff_deactivate", args=[agent.user_id]))
    client.post(reverse("inbox:staff_reactivate", args=[agent.user_id]))
    agent.refresh_from_db()
    assert agent.user.is_active
    assert agent.presence == AgentProfile.Presence.OFFLINE
    event = AuditEvent.objects.get(action="staff.reactivated")
    assert event.data == {"user_id": agent.user_id, "previous_is_active": False, "role": "agent"}
    assert Client().login(username="anouk", password=PASSWORD)


def test_the_page_speaks_english_when_asked(logged_in, administrator):
    client = logged_in(administrator)
    client.cookies["django_language"] = "en"
    english = client.get(reverse("inbox:staff_admin"))
    assert "Staff accounts" in english.content.decode()
