from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation

from inbox import canned, selectors
from inbox.canned import render_text, variables_for
from inbox.models import AuditEvent, CannedResponse, Contact
from inbox.services import (
    ServiceError,
    canned_response_create,
    canned_response_delete,
    canned_response_update,
)
from tests.conftest import PASSWORD
from tests.inbox.helpers import citizen_writes

AFVAL = (
    "Hoi {{ naam }}, je afval wordt op dinsdag opgehaald. "
    "Groet, {{agent_voornaam}} ({{ gemeente }})"
)


@pytest.fixture
def shared_afval(team_lead):
    return canned_response_create(
        actor=team_lead.user,
        shortcut="afval-ophaaldag",
        title="Afval: ophaaldag",
        text=AFVAL,
        shared=True,
    )


# --- rendering ------------------------------------------------------------------------------


def test_it_fills_in_exactly_the_known_variables():
    rendered = render_text(
        "Hoi {{ naam }}, groet {{agent_voornaam}} van {{  gemeente }}",
        {"naam": "Els", "agent_voornaam": "Anouk", "gemeente": "Gemeente Demodorp"},
    )
    assert rendered.text == "Hoi Els, groet Anouk van Gemeente Demodorp"
    assert rendered.unknown == ()


def test_it_leaves_unknown_variables_as_written_and_reports_them():
    rendered = render_text(
        "{{ naam }} {{ postcode }} {{ user.password }} {% if x %} {{ postcode }}", {"naam": "Els"}
    )
    assert rendered.text == "Els {{ postcode }} {{ user.password }} {% if x %} {{ postcode }}"
    assert rendered.unknown == ("postcode",)


def test_a_value_that_looks_like_a_variable_or_markup_stays_literal():
    rendered = render_text(
        "Hoi {{ naam }} van {{ gemeente }}",
        {"naam": "{{ gemeente }} <script>alert(1)</script>", "gemeente": "Demodorp"},
    )
    assert rendered.text == "Hoi {{ gemeente }} <script>alert(1)</script> van Demodorp"


def test_variables_use_the_display_name_or_the_handle(settings, django_user_model):
    settings.WEBCARE_MUNICIPALITY_NAME = "Gemeente Testdorp"
    agent = django_user_model(username="anouk", first_name="Anouk")
    values = variables_for(contact=Contact(username="els", display_name=""), agent=agent)
    assert values == {"naam": "@els", "agent_voornaam": "Anouk", "gemeente": "Gemeente Testdorp"}
    values = variables_for(contact=Contact(username="els", display_name="Els V."), agent=agent)
    assert values["naam"] == "Els V."


# --- services: permissions and uniqueness ---------------------------------------------------


@pytest.mark.django_db
def test_a_team_lead_manages_shared_responses_with_an_audit_trail(team_lead, shared_afval):
    updated = canned_response_update(
        actor=team_lead.user,
        canned_response_id=shared_afval.id,
        shortcut="afval",
        title="Afval",
        text="Nieuw",
    )
    assert (updated.shortcut, updated.owner) == ("afval", None)
    canned_response_delete(actor=team_lead.user, canned_response_id=shared_afval.id)
    assert not CannedResponse.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="canned_response.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["canned_response.created", "canned_response.updated", "canned_response.deleted"]


@pytest.mark.django_db
def test_an_agent_cannot_create_edit_or_delete_shared_responses(agent, shared_afval):
    with pytest.raises(PermissionDenied):
        canned_response_create(actor=agent.user, shortcut="x", title="X", text="X", shared=True)
    with pytest.raises(PermissionDenied):
        canned_response_update(
            actor=agent.user, canned_response_id=shared_afval.id, shortcut="x", title="X", text="X"
        )
    with pytest.raises(PermissionDenied):
        canned_response_delete(actor=agent.user, canned_response_id=shared_afval.id)
    assert CannedResponse.objects.get().text == AFVAL


@pytest.mark.django_db
def test_an_agent_manages_only_their_own_personal_responses(agent, second_agent, team_lead):
    own = canned_response_create(
        actor=agent.user, shortcut="groet", title="Groet", text="Hoi!", shared=False
    )
    assert own.owner == agent.user
    canned_response_update(
        actor=agent.user, canned_response_id=own.id, shortcut="groet", title="G", text="Hallo!"
    )
    for other in (second_agent.user, team_lead.user):
        with pytest.raises(PermissionDenied):
            canned_response_update(
                actor=other, canned_response_id=own.id, shortcut="groet", title="G", text="Bah"
            )
        with pytest.raises(PermissionDenied):
            canned_response_delete(actor=other, canned_response_id=own.id)
    canned_response_delete(actor=agent.user, canned_response_id=own.id)
    assert not CannedResponse.objects.exists()


@pytest.mark.django_db
def test_people_outside_the_team_cannot_make_responses(outsider):
    with pytest.raises(PermissionDenied):
        canned_response_create(actor=outsider, shortcut="x", title="X", text="X", shared=False)


@pytest.mark.django_db
def test_shortcuts_are_unique_among_shared_and_per_owner(agent, second_agent, shared_afval):
    with pytest.raises(ServiceError):
        canned_response_create(
            actor=shared_afval.created_by,
            shortcut="afval-ophaaldag",
            title="2",
            text="2",
            shared=True,
        )
    # A personal response may use a shared shortcut, and two agents the same one.
    for profile in (agent, second_agent):
        canned_response_create(
            actor=profile.user, shortcut="afval-ophaaldag", title="Mijn", text="M", shared=False
        )
    with pytest.raises(ServiceError):
        canned_response_create(
            actor=agent.user, shortcut="afval-ophaaldag", title="3", text="3", shared=False
        )
    # The database enforces both, also for writes that bypass the services.
    with pytest.raises(IntegrityError), transaction.atomic():
        CannedResponse.objects.create(shortcut="afval-ophaaldag", title="4", text="4")
    with pytest.raises(IntegrityError), transaction.atomic():
        CannedResponse.objects.create(
            shortcut="afval-ophaaldag", title="5", text="5", owner=agent.user
        )


# --- selectors --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_search_finds_shared_and_own_responses_in_flat_queries(
    agent, second_agent, team_lead, shared_afval, django_assert_max_num_queries
):
    for number in range(25):
        canned_response_create(
            actor=team_lead.user,
            shortcut=f"info-{number:02}",
            title="Info",
            text="Zie website",
            shared=True,
        )
    canned_response_create(
        actor=agent.user, shortcut="mijn-afval", title="Container", text="Afval!", shared=False
    )
    canned_response_create(
        actor=second_agent.user, shortcut="bram-afval", title="Bram", text="Afval", shared=False
    )

    with django_assert_max_num_queries(1):
        found = selectors.canned_responses_for(agent.user, "/AFVAL")
    assert [response.shortcut for response in found] == ["afval-ophaaldag", "mijn-afval"]
    with django_assert_max_num_queries(1):
        everything = selectors.canned_responses_for(agent.user)
    assert len(everything) == 20
    assert selectors.canned_responses_for(agent.user, "dinsdag") == [shared_afval]


# --- views ----------------------------------------------------------------------------------


@pytest.fixture
def conversation(channel):
    conversation = citizen_writes(channel, username="els", text="Wanneer komt de vuilnisauto?")
    contact = conversation.contact
    contact.display_name = "Els <script>alert(1)</script> {{ gemeente }}"
    contact.save(update_fields=["display_name"])
    return conversation


@pytest.fixture
def agent_client(client, agent):
    assert client.login(username=agent.user.username, password=PASSWORD)
    return client


@pytest.mark.django_db
def test_the_htmx_search_returns_the_text_filled_in_for_this_conversation(
    agent_client, conversation, shared_afval, django_assert_max_num_queries
):
    url = reverse("inbox:canned_search", args=[conversation.id])
    with django_assert_max_num_queries(10):
        response = agent_client.get(url, {"q": "afval"}, headers={"HX-Request": "true"})

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert 'hx-swap-oob="innerHTML">1 standaardantwoord gevonden.' in content
    assert (
        'data-insert-text="Hoi Els &lt;script&gt;alert(1)&lt;/script&gt; {{ gemeente }}, je afval'
        " wordt op dinsdag opgehaald. Groet, Anouk (Gemeente Demodorp)" in content
    )
    assert "<script>alert(1)" not in content


@pytest.mark.django_db
def test_without_javascript_the_search_lists_results_and_picking_one_starts_the_reply(
    agent_client, conversation, shared_afval
):
    page = agent_client.get(
        reverse("inbox:canned_search", args=[conversation.id]), {"q": "/afval"}
    ).content.decode()
    assert 'id="reply-counter"' in page
    assert "1 standaardantwoord gevonden." in page
    assert f'name="canned" value="{shared_afval.id}"' in page

    page = agent_client.get(
        reverse("inbox:conversation", args=[conversation.id]), {"canned": shared_afval.id}
    ).content.decode()
    textarea = page.split("<textarea", 1)[1].split("</textarea>", 1)[0]
    assert "Hoi Els &lt;script&gt;alert(1)&lt;/script&gt; {{ gemeente }}, je afval" in textarea
    assert "Groet, Anouk (Gemeente Demodorp)" in textarea


@pytest.mark.django_db
def test_someone_elses_personal_response_is_never_offered(agent_client, second_agent, conversation):
    theirs = canned_response_create(
        actor=second_agent.user, shortcut="bram", title="Bram", text="Geheim", shared=False
    )
    page = agent_client.get(
        reverse("inbox:conversation", args=[conversation.id]), {"canned": theirs.id}
    ).content.decode()
    assert "Geheim" not in page
    page = agent_client.get(
        reverse("inbox:canned_search", args=[conversation.id]), {"q": "bram"}
    ).content.decode()
    assert "Geheim" not in page


@pytest.mark.django_db
def test_an_agent_creates_a_personal_response_on_the_management_page(
    agent_client, agent, shared_afval, django_assert_max_num_queries
):
    response = agent_client.post(
        reverse("inbox:canned_create"),
        {"shortcut": "groet", "title": "Groet", "text": "Hoi {{ naam }}!", "shared": "on"},
    )
    # Only team leads may share; the service refuses it.
    assert response.status_code == 403
    response = agent_client.post(
        reverse("inbox:canned_create"),
        {"shortcut": "groet", "title": "Groet", "text": "Hoi {{ naam }}!"},
    )
    assert response.status_code == 302
    assert CannedResponse.objects.get(shortcut="groet").owner == agent.user

    with django_assert_max_num_queries(8):
        page = agent_client.get(reverse("inbox:canned_list")).content.decode()
    assert "/afval-ophaaldag" in page
    assert "/groet" in page
    assert reverse("inbox:canned_edit", args=[shared_afval.id]) not in page
    assert agent_client.get(reverse("inbox:canned_edit", args=[shared_afval.id])).status_code == 403
    assert (
        agent_client.post(reverse("inbox:canned_delete", args=[shared_afval.id])).status_code == 403
    )


@pytest.mark.django_db
def test_a_team_lead_edits_a_shared_response_and_sees_a_taken_shortcut(client, team_lead):
    canned_response_create(actor=team_lead.user, shortcut="a", title="A", text="A", shared=True)
    other = canned_response_create(
        actor=team_lead.user, shortcut="b", title="B", text="B", shared=True
    )
    assert client.login(username=team_lead.user.username, password=PASSWORD)
    url = reverse("inbox:canned_edit", args=[other.id])
    assert client.get(url).status_code == 200
    response = client.post(url, {"shortcut": "a", "title": "B", "text": "B"})
    assert response.status_code == 422
    assert "is al in gebruik" in response.content.decode()
    response = client.post(url, {"shortcut": "b-nieuw", "title": "B", "text": "Nieuw"})
    assert response.status_code == 302
    other.refresh_from_db()
    assert (other.shortcut, other.text) == ("b-nieuw", "Nieuw")


@translation.override("en")
def test_one_rule_says_who_manages_which_canned_response():
    assert canned.access_refusal(role="team_lead", actor_id=1, owner_id=None) == ""
    assert canned.access_refusal(role="agent", actor_id=1, owner_id=1) == ""
    assert "team leads" in canned.access_refusal(role="agent", actor_id=1, owner_id=None)
    assert "your own" in canned.access_refusal(role="team_lead", actor_id=1, owner_id=2)


# --- team-scoped responses -------------------------------------------------------------------


@pytest.fixture
def afval_team(agent):
    from inbox.models import Team, TeamMembership

    team = Team.objects.create(name="Afval & Reiniging")
    TeamMembership.objects.create(team=team, user=agent.user)
    return team


def test_a_team_response_is_offered_to_its_members_only(team_lead, agent, second_agent, afval_team):
    canned_response_create(
        actor=team_lead.user,
        shortcut="grofvuil",
        title="Grofvuil ophalen",
        text="Grofvuil meld je aan via de website.",
        shared=True,
        team_id=afval_team.pk,
    )

    assert [r.shortcut for r in selectors.canned_responses_for(agent.user, "grof")] == ["grofvuil"]
    assert selectors.canned_responses_for(second_agent.user, "grof") == []
    shared, _personal = selectors.canned_responses_manageable(team_lead.user)
    assert [r.team for r in shared] == [afval_team]


def test_a_personal_response_cannot_belong_to_a_team(agent, afval_team):
    with pytest.raises(ServiceError):
        canned_response_create(
            actor=agent.user,
            shortcut="eigen",
            title="Eigen",
            text="Tekst",
            shared=False,
            team_id=afval_team.pk,
        )
    assert not CannedResponse.objects.exists()


def test_a_team_lead_moves_a_shared_response_to_a_team_and_back(
    team_lead, shared_afval, afval_team, second_agent
):
    canned_response_update(
        actor=team_lead.user,
        canned_response_id=shared_afval.pk,
        shortcut=shared_afval.shortcut,
        title=shared_afval.title,
        text=shared_afval.text,
        team_id=afval_team.pk,
    )
    assert selectors.canned_responses_for(second_agent.user, "afval") == []

    canned_response_update(
        actor=team_lead.user,
        canned_response_id=shared_afval.pk,
        shortcut=shared_afval.shortcut,
        title="Nieuwe titel",
        text=shared_afval.text,
    )
    shared_afval.refresh_from_db()
    assert shared_afval.team == afval_team  # left as it was

    canned_response_update(
        actor=team_lead.user,
        canned_response_id=shared_afval.pk,
        shortcut=shared_afval.shortcut,
        title="Nieuwe titel",
        text=shared_afval.text,
        team_id=None,
    )
    assert [r.shortcut for r in selectors.canned_responses_for(second_agent.user, "afval")] == [
        "afval-ophaaldag"
    ]


def test_the_edit_page_lets_a_team_lead_scope_a_response_to_a_team(
    logged_in, team_lead, shared_afval, afval_team
):
    response = logged_in(team_lead).post(
        reverse("inbox:canned_edit", args=[shared_afval.pk]),
        {
            "shortcut": "afval-ophaaldag",
            "title": "Afval",
            "text": "Tekst",
            "team": str(afval_team.pk),
        },
    )

    assert response.status_code == 302
    shared_afval.refresh_from_db()
    assert shared_afval.team == afval_team
