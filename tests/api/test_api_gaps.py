"""Smaller API contracts: the guards' findings on messages, channel errors without secrets,
strict JSON types and page sizes."""

from __future__ import annotations

import pytest

from channels.models import Channel
from channels.services import channel_create, channel_record_poll_failure
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def test_messages_carry_the_guards_findings(api_as, agent, channel):
    conversation = citizen_writes(
        channel, text="Ik maak bezwaar tegen de boete. Mijn BSN is 111222333", username="piet"
    )
    message = conversation.messages.get()

    body = api_as(agent).get(f"/api/v1/messages/{message.id}/").json()

    assert body["personal_data_kinds"] == ["bsn"]
    assert body["formal_request_kinds"] == ["objection"]


def test_the_schema_documents_the_findings_as_read_only_lists_of_kinds(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    message = schema["components"]["schemas"]["Message"]

    for name in ("personal_data_kinds", "formal_request_kinds"):
        assert message["properties"][name]["readOnly"] is True
        assert message["properties"][name]["type"] == "array"
    assert "bsn" in str(schema["components"]["schemas"])


@pytest.fixture
def failing_page(db):  # type: ignore[no-untyped-def]
    page = channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id="1234567890",
        credentials={"access_token": "EAAB-stored-page-token", "app_secret": "s3cret-app-value"},
    )
    channel_record_poll_failure(
        channel_id=page.id,
        error=(
            "GET https://graph.facebook.com/v25.0/me?access_token=EAAB-stored-page-token"
            "&appsecret_proof=9f86d081884c7d65 failed; Authorization: Bearer AAAAunstoredtoken42 "
            "(app secret s3cret-app-value)"
        ),
        needs_attention=True,
    )
    return page


def test_channel_errors_never_show_a_secret(api_as, administrator, failing_page):
    client = api_as(administrator)
    [listed] = client.get("/api/v1/channels/").json()["results"]
    health = client.get(f"/api/v1/channels/{failing_page.id}/health/").json()

    for shown in (listed["last_error"], health["last_error"]):
        for secret in (
            "EAAB-stored-page-token",
            "9f86d081884c7d65",
            "AAAAunstoredtoken42",
            "s3cret-app-value",
        ):
            assert secret not in shown
        # Still useful: what failed and where.
        assert shown.startswith("GET https://graph.facebook.com/v25.0/me?access_token=••••••••")


@pytest.mark.parametrize(
    "body",
    [
        {"text": 12345},
        {"text": "Hoi", "visibility": 1},
        {"text": "Hoi", "confirm_newer": "true"},
        {"text": "Hoi", "seen_message_id": "1"},
        {"text": "Hoi", "seen_message_id": True},
    ],
)
def test_a_value_of_another_json_type_is_a_400_not_coerced(api_as, agent, channel, body):
    conversation = citizen_writes(channel)

    response = api_as(agent).post(
        f"/api/v1/conversations/{conversation.id}/replies/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert conversation.messages.count() == 1


@pytest.mark.parametrize("page_size", ["0", "201", "lots", "1.5"])
def test_a_page_size_outside_1_to_200_is_a_400(api_as, agent, page_size):
    response = api_as(agent).get("/api/v1/conversations/", {"page_size": page_size})

    assert response.status_code == 400
    assert "page_size" in response.json()["errors"]


def test_a_metrics_date_that_is_not_a_date_is_a_400_whatever_the_range(api_as, team_lead):
    response = api_as(team_lead).get("/api/v1/metrics/volume/", {"range": "7d", "to": "gisteren"})

    assert response.status_code == 400
    assert response.json()["detail"] == "Geef beide datums als JJJJ-MM-DD."


@pytest.mark.parametrize(
    "query",
    ["?status=", "?assignee=", "?team=", "?status=open&status=resolved", "?q=a&q=b"],
)
def test_an_empty_or_repeated_filter_is_a_400_not_ignored(api_as, agent, query):
    response = api_as(agent).get(f"/api/v1/conversations/{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
