"""API fixtures: a client per persona, authenticated the way scripts do (a token)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from inbox.models import Message
from inbox.services import api_token_issue, canned_response_create
from tests.inbox.helpers import citizen_writes


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings):  # type: ignore[no-untyped-def]
    # The throttle counts in the shared Redis cache; tests make many requests quickly.
    settings.WEBCARE_API_RATE_LIMIT = 100_000


@pytest.fixture
def api_as():  # type: ignore[no-untyped-def]
    """`api_as(agent)`: a client that sends that persona's API token."""

    def client_for(profile_or_user):  # type: ignore[no-untyped-def]
        user = getattr(profile_or_user, "user", profile_or_user)
        client = APIClient()
        if hasattr(user, "agent_profile"):
            token = api_token_issue(user_id=user.pk)
        else:
            from rest_framework.authtoken.models import Token

            token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def conversation(channel):  # type: ignore[no-untyped-def]
    """A citizen's waiting conversation with one message, unassigned."""
    return citizen_writes(channel, text="Mijn container is niet geleegd", username="burger")


@pytest.fixture
def inbound(conversation) -> Message:  # type: ignore[no-untyped-def]
    return conversation.messages.get()


@pytest.fixture
def shared_canned(team_lead):  # type: ignore[no-untyped-def]
    return canned_response_create(
        actor=team_lead.user,
        shortcut="afval",
        title="Afval niet opgehaald",
        text="Hoi {{ naam }}, sorry! Groet, {{ agent_voornaam }}",
        shared=True,
    )


@pytest.fixture
def fresh_throttle(agent):  # type: ignore[no-untyped-def]
    """The agent's request count starts at zero. Only this key: the cache's Redis database
    is shared with the Celery broker, so no cache.clear()."""
    key = f"throttle_user_{agent.user.pk}"
    cache.delete(key)
    yield
    cache.delete(key)
