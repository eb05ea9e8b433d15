"""Routing rules: matching (pure) and routing new conversations (docs/architecture.md,
"Assignment engine")."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from channels.models import Channel
from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS
from channels.services import channel_create
from inbox import routing
from inbox.models import AuditEvent, Contact, RoutingRule, Team
from inbox.services import (
    ServiceError,
    contact_set_category,
    routing_rule_create,
    routing_rule_delete,
    routing_rule_update,
    team_create,
    team_member_add,
    team_member_remove,
    team_update,
)
from tests.inbox.helpers import citizen_writes

# --- matching, no database ---------------------------------------------------------------


def matches(keywords: str, text: str) -> bool:
    return routing.text_has_keyword(routing.normalize(text), routing.keywords_parse(keywords))


@pytest.mark.parametrize(
    ("keywords", "text", "expected"),
    [
        ("afval", "Mijn AFVAL is niet opgehaald", True),
        ("afval", "De afvalbak is vol", False),  # whole words only
        ("afval", "Weer niks! #afval", True),  # a word also matches its hashtag
        ("#afval", "Het afval ligt er nog", False),  # a hashtag only matches the hashtag
        ("#afval", "Help #Afval.", True),
        ("#afval", "Help #afvalbak", False),
        ("cafe", "Het Café op de hoek", True),  # accents ignored, both ways
        ("café", "cafe open?", True),
        ("geïnd", "Is het bedrag GEIND?", True),
        ("grof vuil", "Wanneer komt het grof   vuil?", True),
        ("grof vuil", "grof, vuil", False),
        ("parkeren\nvergunning", "Mijn vergunning verloopt", True),
        ("parkeren, vergunning", "Fiets gestolen", False),
        ("  ,\n", "alles", False),
        ("# afval", "#afval!", True),
    ],
)
def test_keywords_match_whole_words_ignoring_case_and_accents(keywords, text, expected):
    assert matches(keywords, text) is expected


def test_keywords_are_parsed_one_per_line_or_comma_separated():
    assert routing.keywords_parse("Afval, #Container\n\n grof  vuil ,afval") == (
        "afval",
        "#container",
        "grof vuil",
    )


def test_the_first_rule_whose_every_condition_matches_wins():
    facts = routing.NewConversationFacts(
        channel_id=1, first_text="Container vol", contact_category="press"
    )
    rules = [
        routing.Rule(routing.RuleConditions(channel_id=2), "other channel"),
        routing.Rule(
            routing.RuleConditions(keywords=("container",), contact_category="vip"), "vip only"
        ),
        routing.Rule(
            routing.RuleConditions(channel_id=1, keywords=("container",), contact_category="press"),
            "all three",
        ),
        routing.Rule(routing.RuleConditions(), "catch all"),
    ]
    assert routing.first_matching(rules, facts) == "all three"
    assert routing.first_matching(rules[:2], facts) is None
    assert routing.first_matching(rules[3:], facts) == "catch all"


# --- routing new conversations -------------------------------------------------------------


@pytest.fixture
def teams(db, team_lead):
    lead = team_lead.user
    return {
        "algemeen": team_create(actor=lead, name="Algemeen", is_default=True),
        "afval": team_create(actor=lead, name="Afval & Reiniging"),
        "pers": team_create(actor=lead, name="Communicatie"),
        "parkeren": team_create(actor=lead, name="Parkeren"),
    }


@pytest.fixture
def second_channel(db, sandbox):
    return channel_create(
        kind=Channel.Kind.TWITTER,
        name="demodorp-x-2",
        account_id=DEMO_ACCOUNT_ID + "2",
        account_handle="demodorp2",
        api_base_url=sandbox.url,
        credentials=dict(DEMO_CREDENTIALS),
    )


def routed(conversation):
    conversation.refresh_from_db()
    return conversation.team.name if conversation.team else None, conversation.priority


def test_rules_route_by_keyword_hashtag_channel_and_category_in_position_order(
    channel, second_channel, teams, team_lead
):
    lead = team_lead.user
    routing_rule_create(
        actor=lead,
        name="Pers",
        team_id=teams["pers"].id,
        contact_category="press",
        priority=4,
        position=10,
    )
    routing_rule_create(
        actor=lead,
        name="Afval",
        team_id=teams["afval"].id,
        keywords="afval\n#container",
        position=20,
    )
    routing_rule_create(
        actor=lead,
        name="Parkeren op kanaal 2",
        team_id=teams["parkeren"].id,
        channel_id=second_channel.id,
        priority=3,
        position=30,
    )
    assert routed(citizen_writes(channel, username="a", text="Mijn AFVAL!")) == (
        "Afval & Reiniging",
        2,
    )
    assert routed(citizen_writes(channel, username="b", text="#Container stuk")) == (
        "Afval & Reiniging",
        2,
    )
    assert routed(citizen_writes(channel, username="c", text="container stuk")) == ("Algemeen", 2)
    assert routed(citizen_writes(second_channel, username="d", text="Boete")) == ("Parkeren", 3)

    journalist = citizen_writes(channel, username="journalist", text="Vraag over afval")
    contact_set_category(actor=lead, contact_id=journalist.contact_id, category="press")
    # The category counts for the contact's next conversations; rule 10 goes before rule 20.
    follow_up = citizen_writes(channel, username="journalist", text="Nog een vraag over afval")
    assert routed(follow_up) == ("Communicatie", 4)
    assert routed(journalist) == ("Afval & Reiniging", 2)

    event = AuditEvent.objects.filter(action="conversation.routed", conversation=follow_up).get()
    assert event.data["rule_id"] == RoutingRule.objects.get(name="Pers").id
    assert event.data["team_id"] == teams["pers"].id


def test_inactive_rules_are_skipped_and_positions_can_be_changed(channel, teams, team_lead):
    lead = team_lead.user
    broad = routing_rule_create(actor=lead, name="Alles", team_id=teams["parkeren"].id, position=50)
    narrow = routing_rule_create(
        actor=lead, name="Afval", team_id=teams["afval"].id, keywords="afval", position=60
    )
    assert routed(citizen_writes(channel, username="a", text="afval")) == ("Parkeren", 2)

    routing_rule_update(
        actor=lead,
        routing_rule_id=narrow.id,
        name="Afval",
        team_id=teams["afval"].id,
        keywords="afval",
        position=5,
        is_active=True,
        priority=3,
    )
    assert routed(citizen_writes(channel, username="b", text="afval")) == ("Afval & Reiniging", 3)

    routing_rule_update(
        actor=lead,
        routing_rule_id=narrow.id,
        name="Afval",
        team_id=teams["afval"].id,
        keywords="afval",
        position=5,
        is_active=False,
        priority=3,
    )
    assert routed(citizen_writes(channel, username="c", text="afval")) == ("Parkeren", 2)

    routing_rule_delete(actor=lead, routing_rule_id=broad.id)
    routing_rule_delete(actor=lead, routing_rule_id=broad.id)  # a double click: still fine
    no_rule = citizen_writes(channel, username="d", text="afval")
    assert routed(no_rule) == ("Algemeen", 2)
    event = AuditEvent.objects.get(action="conversation.routed", conversation=no_rule)
    assert event.data["rule_id"] is None
    assert event.data["routed_by"] == "default"
    assert list(
        AuditEvent.objects.filter(action__startswith="routing_rule.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["routing_rule.created"] * 2 + ["routing_rule.updated"] * 2 + ["routing_rule.deleted"]


@pytest.mark.django_db
def test_without_a_default_team_unclaimed_conversations_have_no_team(channel):
    assert routed(citizen_writes(channel, text="Hallo")) == (None, 2)


def test_only_team_leads_manage_rules_and_teams(teams, agent, second_agent):
    with pytest.raises(PermissionDenied):
        routing_rule_create(actor=agent.user, name="X", team_id=teams["afval"].id)
    with pytest.raises(PermissionDenied):
        team_create(actor=agent.user, name="Nieuw")
    with pytest.raises(PermissionDenied):
        team_member_add(actor=agent.user, team_id=teams["afval"].id, user_id=agent.user_id)


def test_rule_input_is_checked(teams, team_lead):
    lead = team_lead.user
    with pytest.raises(ServiceError):
        routing_rule_create(actor=lead, name=" ", team_id=teams["afval"].id)
    with pytest.raises(ServiceError):
        routing_rule_create(actor=lead, name="X", team_id=teams["afval"].id, priority=9)
    with pytest.raises(ServiceError):
        routing_rule_create(actor=lead, name="X", team_id=teams["afval"].id, keywords=", ,")
    with pytest.raises(ServiceError):
        routing_rule_create(
            actor=lead, name="X", team_id=teams["afval"].id, contact_category="mayor"
        )
    rule = routing_rule_create(
        actor=lead, name="X", team_id=teams["afval"].id, keywords="afval, #container ,grof vuil"
    )
    assert rule.keywords == "afval\n#container\ngrof vuil"


def test_making_a_team_the_default_moves_the_default(teams, team_lead):
    team_update(
        actor=team_lead.user,
        team_id=teams["afval"].id,
        name="Afval & Reiniging",
        description="Containers, grof vuil",
        is_default=True,
    )

    assert list(Team.objects.filter(is_default=True)) == [teams["afval"]]
    event = AuditEvent.objects.get(action="team.updated")
    assert event.data["previous_default_team_id"] == teams["algemeen"].id
    with pytest.raises(ServiceError):
        team_create(actor=team_lead.user, name="algemeen")


def test_members_are_added_and_removed_once_each_with_an_audit_trail(teams, team_lead, agent):
    lead, team = team_lead.user, teams["afval"]
    team_member_add(actor=lead, team_id=team.id, user_id=agent.user_id)
    team_member_add(actor=lead, team_id=team.id, user_id=agent.user_id)
    assert list(team.members.all()) == [agent.user]

    team_member_remove(actor=lead, team_id=team.id, user_id=agent.user_id)
    team_member_remove(actor=lead, team_id=team.id, user_id=agent.user_id)

    assert not team.members.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="team.member")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["team.member_added", "team.member_removed"]


def test_agents_flag_a_contact_but_outsiders_cannot(channel, agent, outsider):
    conversation = citizen_writes(channel)
    contact_set_category(actor=agent.user, contact_id=conversation.contact_id, category="council")
    assert Contact.objects.get().category == "council"
    with pytest.raises(ServiceError):
        contact_set_category(actor=agent.user, contact_id=conversation.contact_id, category="x")
    with pytest.raises(PermissionDenied):
        contact_set_category(actor=outsider, contact_id=conversation.contact_id, category="vip")
    event = AuditEvent.objects.get(action="contact.category_changed")
    assert event.data == {
        "contact_id": conversation.contact_id,
        "previous": "citizen",
        "category": "council",
    }


def test_one_ingest_batch_reads_the_rules_once_and_writes_each_conversation_once(
    channel, teams, team_lead
):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from channels.base import FetchResult, PlatformAuthor, PlatformMessage
    from inbox.models import Conversation
    from inbox.services import messages_ingest

    routing_rule_create(
        actor=team_lead.user, name="Afval", team_id=teams["afval"].pk, keywords="afval"
    )
    now = timezone.now()
    batch = [
        PlatformMessage(
            external_id=f"batch-{number}",
            thread_key=f"batch-{number}",
            author=PlatformAuthor(external_id=f"user-{number}", username=f"burger{number}"),
            text="Mijn afval is niet opgehaald" if number % 2 else "Lamp kapot",
            sent_at=now - timedelta(minutes=number),
        )
        for number in range(6)
    ]

    with CaptureQueriesContext(connection) as queries:
        messages_ingest(channel_id=channel.id, fetched=FetchResult(messages=batch, cursor=""))

    rule_reads = [q for q in queries if 'FROM "inbox_routingrule"' in q["sql"]]
    conversation_updates = [
        q for q in queries if q["sql"].startswith('UPDATE "inbox_conversation"')
    ]
    assert len(rule_reads) == 1
    # Team, priority and the first message's times are in the INSERT: no update follows.
    assert conversation_updates == []
    teams_by_thread = dict(Conversation.objects.values_list("external_thread_id", "team__name"))
    assert teams_by_thread["batch-1"] == teams["afval"].name
    assert teams_by_thread["batch-2"] == Team.objects.get(is_default=True).name
