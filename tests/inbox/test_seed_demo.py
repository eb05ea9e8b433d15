"""`make run`'s demo, as a new user meets it: every demo channel shows citizens' messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import call_command

from channels.models import Channel
from channels.sandbox import SandboxServer
from channels.services import channel_poll
from inbox.management.commands.seed_demo import DEMO_CANNED_RESPONSES
from inbox.models import CannedResponse, Message

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
