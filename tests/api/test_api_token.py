from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from inbox.models import AuditEvent

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("api_token", *args, stdout=out)
    return out.getvalue().strip()


def test_it_prints_the_same_token_until_rotated(agent, anonymous):
    first = run("anouk")

    assert run("anouk") == first
    rotated = run("anouk", "--rotate")
    assert rotated != first
    assert Token.objects.get(user=agent.user).key == rotated
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="api_token")] == [
        "api_token.created",
        "api_token.rotated",
    ]
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert anonymous.get("/api/v1/conversations/").status_code == 401
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {rotated}")
    assert anonymous.get("/api/v1/conversations/").status_code == 200


def test_it_refuses_users_outside_the_team(outsider):
    with pytest.raises(CommandError, match="no agent profile"):
        run("charlie")
    assert not Token.objects.exists()


def test_it_refuses_unknown_users(db):
    with pytest.raises(CommandError, match="No user named"):
        run("niemand")
