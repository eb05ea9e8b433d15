"""Every connector against answers that come back spoilt: cut off, repeated, or stripped.

The sandbox's `spoil` faults (channels/sandbox/faults.py) return a 200 whose body is wrong,
through the real tweepy, facebook-sdk and Mastodon.py code paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests

from channels.models import Channel, QuarantinedItem
from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS, SandboxServer
from channels.sandbox.accounts import MASTODON_ACCOUNT_ID, MASTODON_CREDENTIALS
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
from channels.services import channel_create, channel_poll
from inbox.models import Message

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Platform:
    kind: str
    account_id: str
    credentials: dict[str, str]
    # Where the citizens' messages are read, as a fault's path prefix.
    read_path: str
    citizen_writes: Callable[[SandboxServer, str, str], object]


PLATFORMS = {
    "x": Platform(
        Channel.Kind.TWITTER,
        DEMO_ACCOUNT_ID,
        DEMO_CREDENTIALS,
        f"/2/users/{DEMO_ACCOUNT_ID}/mentions",
        lambda sandbox, text, name: sandbox.add_mention(text=text, username=name),
    ),
    "mastodon": Platform(
        Channel.Kind.MASTODON,
        MASTODON_ACCOUNT_ID,
        MASTODON_CREDENTIALS,
        "/api/v1/notifications",
        lambda sandbox, text, name: sandbox.add_mastodon_mention(text, name),
    ),
    "facebook": Platform(
        Channel.Kind.FACEBOOK,
        FACEBOOK_PAGE_ID,
        FACEBOOK_CREDENTIALS,
        # The comments of the page's posts ("<page id>_<post number>"), not the post list.
        f"/v25.0/{FACEBOOK_PAGE_ID}_",
        lambda sandbox, text, name: sandbox.add_facebook_comment(text, name),
    ),
}


@pytest.fixture(params=sorted(PLATFORMS))
def platform(request) -> Platform:
    return PLATFORMS[request.param]


@pytest.fixture
def channel_of(platform: Platform, sandbox: SandboxServer, db: None) -> Channel:
    sandbox.reset()
    return channel_create(
        kind=platform.kind,
        name=f"demodorp-{platform.kind}",
        account_id=platform.account_id,
        api_base_url=sandbox.url,
        credentials=dict(platform.credentials),
    )


def two_citizens_write(platform: Platform, sandbox: SandboxServer) -> None:
    platform.citizen_writes(sandbox, "Wanneer wordt het oud papier opgehaald?", "anna")
    platform.citizen_writes(sandbox, "De lantaarnpaal bij de school is kapot", "bert")


def inbound() -> list[str]:
    return sorted(
        Message.objects.filter(direction=Message.Direction.INBOUND).values_list("text", flat=True)
    )


def test_a_cut_off_answer_fails_the_poll_and_the_next_poll_loses_nothing(
    platform, channel_of, sandbox
):
    two_citizens_write(platform, sandbox)
    sandbox.add_fault(path_prefix=platform.read_path, status=None, spoil="truncate")

    outcome = channel_poll(channel_id=channel_of.id)

    assert not outcome.succeeded
    channel_of.refresh_from_db()
    assert channel_of.health == Channel.Health.FAILING
    assert "not JSON" in channel_of.last_error
    assert inbound() == []
    assert channel_poll(channel_id=channel_of.id).succeeded
    assert len(inbound()) == 2


def test_an_item_repeated_in_an_answer_is_stored_once(platform, channel_of, sandbox):
    two_citizens_write(platform, sandbox)
    sandbox.add_fault(path_prefix=platform.read_path, status=None, spoil="duplicate_item")

    assert channel_poll(channel_id=channel_of.id).succeeded

    assert len(inbound()) == 2
    assert len(set(Message.objects.values_list("external_id", flat=True))) == 2
    assert requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json() == {"faults": []}


def test_a_stripped_item_is_quarantined_and_the_rest_is_stored(platform, channel_of, sandbox):
    two_citizens_write(platform, sandbox)
    sandbox.add_fault(path_prefix=platform.read_path, status=None, spoil="strip_item")

    assert channel_poll(channel_id=channel_of.id).succeeded

    assert len(inbound()) == 1
    [kept] = QuarantinedItem.objects.filter(channel=channel_of)
    assert kept.raw["id"]
    channel_of.refresh_from_db()
    assert channel_of.health == Channel.Health.OK


@pytest.mark.parametrize(
    ("fault", "complaint"),
    [
        ({"spoil": "scramble"}, "spoil must be one of"),
        ({"spoil": "truncate", "status": 500}, "not both"),
    ],
)
def test_the_sandbox_refuses_a_spoil_it_cannot_do(sandbox, fault, complaint):
    response = requests.post(f"{sandbox.url}/_sandbox/faults", json=fault, timeout=5)
    assert response.status_code == 400
    assert complaint in response.json()["detail"]
