"""Property-based run of the whole API against its own OpenAPI schema (schemathesis):
for every operation, generated requests, with a team lead's token, never get a 5xx and
every answer conforms to the schema (status code, content type, body, headers).

Ids in paths are drawn from rows that exist (and one that does not), so the requests
reach the services instead of stopping at 404. Bounded: a few examples per operation,
derandomized, so the run is reproducible and takes well under two minutes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from inbox.models import Team, TeamMembership
from inbox.services import (
    agent_update_settings,
    api_token_issue,
    canned_response_create,
    conversation_tag,
    note_create,
    reply_create,
)
from tests.inbox.helpers import citizen_writes

MISSING_ID = 2_000_000_000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def api_data(db, channel, agent, second_agent, team_lead, settings, monkeypatch):  # type: ignore[no-untyped-def]
    """Real rows for the ids in the paths: conversations with messages, a reply awaiting
    approval, a note, a tag, a canned response, a team."""
    from channels import tasks

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    monkeypatch.setattr(tasks.poll, "delay", lambda channel_id: None)
    team = Team.objects.create(name="Afval & Reiniging")
    TeamMembership.objects.create(team=team, user=agent.user)
    first = citizen_writes(channel, username="burger", text="Container niet geleegd")
    second = citizen_writes(channel, username="burger", text="Nog een vraag")
    agent_update_settings(actor=team_lead.user, user_id=agent.user.pk, in_training=True)
    import uuid

    awaiting = reply_create(
        conversation_id=first.id, actor=agent.user, text="Komt goed", idempotency_key=uuid.uuid4()
    )
    tag = conversation_tag(conversation_id=first.id, actor=team_lead.user, name="afval")
    note_create(conversation_id=first.id, actor=team_lead.user, text="@anouk kijk je even?")
    canned = canned_response_create(
        actor=team_lead.user, shortcut="afval", title="Afval", text="Hoi {{ naam }}", shared=True
    )
    return {
        "conversation_id": [first.id, second.id, MISSING_ID],
        "message_id": [awaiting.id, first.messages.first().id, MISSING_ID],
        "canned_response_id": [canned.id, MISSING_ID],
        "tag_id": [tag.id, MISSING_ID],
        "user_id": [agent.user.pk, second_agent.user.pk, MISSING_ID],
        "channel_id": [channel.id, MISSING_ID],
        "token": api_token_issue(user_id=team_lead.user.pk).key,
        "snooze_example": (timezone.now() + timedelta(days=1)).isoformat(),
    }


@pytest.fixture
def api_schema(api_data, client):  # type: ignore[no-untyped-def]
    raw = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path_item in raw["paths"].values():
        for parameter in path_item.get("parameters", []):
            _pin_ids(parameter, api_data)
        for operation in path_item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                _pin_ids(parameter, api_data)
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = get_wsgi_application()
    schema.location = "/api/schema/"
    # Requests go straight to the WSGI handler, which closes the database connection after
    # each one; that connection holds the test's transaction. Django's test client avoids
    # this the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schema
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _pin_ids(parameter: dict, api_data: dict) -> None:
    if parameter.get("in") == "path" and parameter["name"] in api_data:
        parameter["schema"] = {"type": "integer", "enum": api_data[parameter["name"]]}


def test_the_api_never_fails_and_keeps_to_its_schema(api_schema, api_data):  # type: ignore[no-untyped-def]
    # Driven through Hypothesis directly: schemathesis' pytest plugin does not run under
    # pytest 9 (it sets a node attribute pytest 9 no longer has).
    headers = {"Authorization": f"Token {api_data['token']}"}
    failures: dict[str, str] = {}
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=12,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def request_conforms(case):  # type: ignore[no-untyped-def]
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                request_conforms()
            except Unsatisfiable:
                # Nothing to make invalid: an operation without parameters or body.
                assert mode == GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as error:
                failures[f"{operation.label} ({mode.value})"] = str(error)[:2000]
    assert operations >= 30
    assert not failures, "\n\n".join(f"{label}: {error}" for label, error in failures.items())
