"""`make run`'s demo, as a new user meets it: every demo channel shows citizens' messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import call_command

from channels.models import Channel
from channels.sandbox import SandboxServer
from channels.services import channel_poll
from inbox.management.commands.seed_demo import DEMO_CANNED_RESPONSES, DEMO_ROUTING_RULES
from inbox.models import AgentProfile, CannedResponse, Conversation, Message, RoutingRule, Team
from inbox.services import conversations_assign_waiting

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded_sandbox() -> Iterator[SandboxServer]:
    # Its own server: the shared one starts empty, `make run`'s starts with history.
    with SandboxServer(host="127.0.0.1", port=0, seed_history=True) as server:
        yield server


def test_every_demo_channel_brings_in_the_sandbox_history(seeded_sandbox, settings):
    settings.WEBCARE_SANDBOX_PORT = seeded_sandbox.port

    call_command("seed_demo", "--force")
    call_command("seed_demo", "--force")  # `make run` seeds on every start

    channels = Channel.objects.order_by("kind")
    assert {channel.kind for channel in channels} == set(Channel.Kind.values)
    for channel in channels:
        outcome = channel_poll(channel_id=channel.id)
        assert outcome.succeeded, (channel.name, outcome.error)
        inbound = Message.objects.filter(channel=channel, direction=Message.Direction.INBOUND)
        assert inbound.exists(), f"no citizen messages on {channel.name}"


def test_the_demo_has_shared_canned_responses_created_once(settings):
    call_command("seed_demo", "--force")
    call_command("seed_demo", "--force")

    shared = CannedResponse.objects.filter(owner=None)
    assert shared.count() == len(DEMO_CANNED_RESPONSES)
    assert shared.filter(shortcut="afval-ophaaldag", text__contains="{{ naam }}").exists()


def test_the_demo_routes_the_sandbox_topics_to_teams_and_shares_them_within_capacity(
    seeded_sandbox, settings
):
    settings.WEBCARE_SANDBOX_PORT = seeded_sandbox.port
    call_command("seed_demo", "--force")
    call_command("seed_demo", "--force")
    for channel in Channel.objects.all():
        assert channel_poll(channel_id=channel.id).succeeded

    teams = set(Conversation.objects.values_list("team__name", flat=True))
    assert {"Afval & Reiniging", "Burgerzaken", "Algemeen"} <= teams
    assert Team.objects.get(is_default=True).name == "Algemeen"
    assert RoutingRule.objects.count() == len(DEMO_ROUTING_RULES)
    assert AgentProfile.objects.get(user__username="sanne").in_training

    conversations_assign_waiting()

    for profile in AgentProfile.objects.filter(presence=AgentProfile.Presence.AVAILABLE):
        load = Conversation.objects.filter(
            assignee=profile.user, status=Conversation.Status.OPEN
        ).count()
        assert 0 < load <= profile.capacity, profile.user.username
    assert not Conversation.objects.filter(assignee__username="lotte").exists()
