from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_an_unknown_api_address_is_a_json_404(api_as, agent):
    for url in ["/api/v1/nothing/", "/api/v2/conversations/", "/api/v1/conversations/-1/"]:
        response = api_as(agent).get(url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_too_many_requests_are_a_429_with_retry_after(api_as, agent, settings, fresh_throttle):
    settings.WEBCARE_API_RATE_LIMIT = 3
    client = api_as(agent)
    statuses = [client.get("/api/v1/teams/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/teams/")
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_the_schema_is_openapi_3_with_the_error_shape(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/conversations/{conversation_id}/replies/" in schema["paths"]
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}
    take = schema["paths"]["/api/v1/conversations/{conversation_id}/take/"]["post"]
    assert {"401", "403", "404", "409"} <= set(take["responses"])


def test_the_docs_are_swagger_ui_from_our_own_static_files(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()


def test_the_browsable_api_works_with_the_agents_session(logged_in, agent):
    response = logged_in(agent).get("/api/v1/conversations/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert "text/html" in response["Content-Type"]
    assert "csrfmiddlewaretoken" in response.content.decode() or "csrftoken" in str(
        response.cookies
    )


def test_a_session_write_needs_the_csrf_token(agent, conversation):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(agent.user)

    response = client.post(f"/api/v1/conversations/{conversation.id}/take/")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_using_the_api_counts_as_activity_for_auto_away(api_as, agent):
    from inbox.models import AgentProfile

    assert AgentProfile.objects.get(pk=agent.pk).last_seen_at is None

    api_as(agent).get("/api/v1/teams/")

    assert AgentProfile.objects.get(pk=agent.pk).last_seen_at is not None


def test_every_list_and_detail_renders_in_the_browsable_api(
    logged_in, administrator, team_lead, conversation, shared_canned, channel
):
    # The administrator may open every one of them (channels are theirs alone).
    client = logged_in(administrator)
    urls = [
        "/api/v1/conversations/",
        f"/api/v1/conversations/{conversation.id}/",
        f"/api/v1/conversations/{conversation.id}/notes/",
        f"/api/v1/messages/{conversation.messages.get().id}/",
        "/api/v1/replies/awaiting-approval/",
        "/api/v1/canned-responses/",
        f"/api/v1/canned-responses/{shared_canned.id}/",
        "/api/v1/agents/",
        f"/api/v1/agents/{team_lead.user.pk}/",
        "/api/v1/agents/me/presence/",
        "/api/v1/teams/",
        "/api/v1/channels/",
        f"/api/v1/channels/{channel.id}/health/",
    ]
    for url in urls:
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert "text/html" in response["Content-Type"], url
