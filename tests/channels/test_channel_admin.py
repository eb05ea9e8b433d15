"""The administrators' channel pages (inbox/views/channel_admin.py): health, settings,
credentials masked and replaced write-only; and proof that no page, API response, audit
event, log line or Django admin page gives a credential value back."""

from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.credentials import decrypt_credentials, encrypt_credentials
from channels.models import Channel
from channels.sandbox import DEMO_CREDENTIALS
from channels.services import channel_poll, channel_replace_credentials
from inbox.models import AuditEvent
from inbox.selectors.channel_admin import mask_secret
from tests.conftest import PASSWORD

NEW_TOKEN = "renewed-access-token-7f3e9a"
NEW_SECRET = "renewed-access-secret-c0ffee"


def secrets_of(channel: Channel) -> list[str]:
    channel.refresh_from_db()
    return list(decrypt_credentials(channel.credentials_encrypted).values())


def assert_no_secret_in(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as it would be written: message, arguments and `extra`."""
    return "\n".join(
        f"{record.getMessage()} {json.dumps(record.__dict__, default=str)}"
        for record in caplog.records
    )


def test_mask_shows_at_most_the_last_four_characters():
    assert mask_secret("abcdefghijklmnop3f9a") == "••••••••3f9a"
    assert mask_secret("short-secret") == "••••••••cret"
    assert mask_secret("tiny") == "••••••••"
    assert mask_secret("elevenchars") == "••••••••"


CHANNEL_PAGES = [
    ("get", "inbox:channel_admin", []),
    ("get", "inbox:channel_admin_detail", [1]),
    ("post", "inbox:channel_admin_credentials", [1]),
    ("post", "inbox:channel_admin_active", [1]),
]


@pytest.mark.parametrize(("method", "name", "args"), CHANNEL_PAGES)
def test_agents_and_team_leads_are_refused_every_channel_page(
    logged_in, agent, team_lead, method, name, args
):
    for persona in (agent, team_lead):
        response = getattr(logged_in(persona), method)(reverse(name, args=args))
        assert response.status_code == 403


def test_the_list_shows_health_and_no_credentials(
    logged_in, administrator, channel, mastodon_channel, django_assert_max_num_queries
):
    Channel.objects.filter(pk=channel.pk).update(
        health=Channel.Health.FAILING, last_error="Rate limited by the platform"
    )
    client = logged_in(administrator)
    with django_assert_max_num_queries(10):
        page = client.get(reverse("inbox:channel_admin")).content.decode()
    assert "demodorp-x" in page and "demodorp-mastodon" in page
    assert "Rate limited by the platform" in page
    assert_no_secret_in(page, secrets_of(channel) + secrets_of(mastodon_channel))
    assert channel.credentials_encrypted not in page


def test_the_channel_page_shows_credential_names_and_masked_tails_only(
    logged_in, administrator, channel
):
    page = (
        logged_in(administrator)
        .get(reverse("inbox:channel_admin_detail", args=[channel.pk]))
        .content.decode()
    )
    for name in DEMO_CREDENTIALS:
        assert name in page
    assert "••••••••oken" in page  # sandbox-access-token
    assert_no_secret_in(page, secrets_of(channel))
    assert channel.credentials_encrypted not in page


def test_an_error_text_holding_a_token_is_shown_masked(logged_in, administrator, channel):
    Channel.objects.filter(pk=channel.pk).update(
        last_error=f"Internal error: GET /me?access_token={DEMO_CREDENTIALS['access_token']}"
    )
    client = logged_in(administrator)
    for url in (
        reverse("inbox:channel_admin"),
        reverse("inbox:channel_admin_detail", args=[channel.pk]),
    ):
        page = client.get(url).content.decode()
        assert_no_secret_in(page, secrets_of(channel))
        # The query value is masked whole: the URL pattern catches it before the tail shows.
        assert "access_token=••••••••" in page


def test_replacing_credentials_keeps_empty_fields_and_audits_only_names(
    logged_in, administrator, channel, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    client = logged_in(administrator)
    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("inbox:channel_admin_credentials", args=[channel.pk]),
            {
                "credentials-access_token": NEW_TOKEN,
                "credentials-access_token_secret": NEW_SECRET,
                "credentials-bearer_token": "",
            },
        )
    assert response.status_code == 302
    stored = decrypt_credentials(Channel.objects.get(pk=channel.pk).credentials_encrypted)
    assert stored == {
        **DEMO_CREDENTIALS,
        "access_token": NEW_TOKEN,
        "access_token_secret": NEW_SECRET,
    }
    event = AuditEvent.objects.get(action="channel.credentials_replaced")
    assert event.data == {"credential_names": ["access_token", "access_token_secret"]}
    assert event.actor == administrator.user
    every_event = json.dumps(list(AuditEvent.objects.values("data")), default=str)
    assert_no_secret_in(every_event, [NEW_TOKEN, NEW_SECRET, *DEMO_CREDENTIALS.values()])
    assert_no_secret_in(log_text(caplog), [NEW_TOKEN, NEW_SECRET, *DEMO_CREDENTIALS.values()])
    # The page after the redirect shows the new token's tail, not the token.
    page = client.get(reverse("inbox:channel_admin_detail", args=[channel.pk])).content.decode()
    assert "••••••••3e9a" in page  # renewed-access-token-7f3e9a
    assert_no_secret_in(page, [NEW_TOKEN, NEW_SECRET])


def test_an_empty_form_or_an_unknown_name_changes_nothing(logged_in, administrator, channel):
    before = Channel.objects.get(pk=channel.pk).credentials_encrypted
    response = logged_in(administrator).post(
        reverse("inbox:channel_admin_credentials", args=[channel.pk]),
        {"credentials-access_token": ""},
    )
    assert response.status_code == 422
    assert Channel.objects.get(pk=channel.pk).credentials_encrypted == before
    assert not AuditEvent.objects.filter(action="channel.credentials_replaced").exists()


def test_a_refused_form_never_renders_the_typed_secret(logged_in, administrator, channel):
    # Unreadable stored credentials: every required one must be given; one alone is refused.
    Channel.objects.filter(pk=channel.pk).update(credentials_encrypted="not-a-fernet-token")
    response = logged_in(administrator).post(
        reverse("inbox:channel_admin_credentials", args=[channel.pk]),
        {"credentials-access_token": NEW_TOKEN},
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert NEW_TOKEN not in page
    assert 'role="alert"' in page


def test_switching_a_channel_off_and_on_is_audited(logged_in, administrator, channel):
    client = logged_in(administrator)
    client.post(reverse("inbox:channel_admin_active", args=[channel.pk]), {"is_active": "0"})
    assert not Channel.objects.get(pk=channel.pk).is_active
    client.post(reverse("inbox:channel_admin_active", args=[channel.pk]), {"is_active": "1"})
    assert Channel.objects.get(pk=channel.pk).is_active
    actions = list(
        AuditEvent.objects.filter(channel=channel, action__startswith="channel.")
        .values_list("action", "data")
        .order_by("id")
    )
    assert ("channel.deactivated", {"previous_is_active": True}) in actions
    assert ("channel.activated", {"previous_is_active": False}) in actions


def test_no_credential_in_the_log_of_a_sandbox_poll_or_in_the_api(
    administrator, channel, mastodon_channel, sandbox, caplog
):
    """Even with LOG_LEVEL=DEBUG: the client libraries' own DEBUG lines carry tokens
    (tweepy logs the Authorization header, oauthlib the OAuth parameters), so
    webcare/settings.py LOGGING keeps those loggers at INFO."""
    caplog.set_level(logging.DEBUG)
    for polled in (channel, mastodon_channel):
        assert channel_poll(channel_id=polled.pk).succeeded
    secrets = secrets_of(channel) + secrets_of(mastodon_channel)
    assert caplog.records, "the poll logs at DEBUG, so this test reads real log lines"
    assert_no_secret_in(log_text(caplog), secrets)

    api = APIClient()
    token, _created = Token.objects.get_or_create(user=administrator.user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    listing = api.get("/api/v1/channels/")
    assert listing.status_code == 200
    health = api.get(f"/api/v1/channels/{channel.pk}/health/")
    assert health.status_code == 200
    for response in (listing, health):
        assert_no_secret_in(response.content.decode(), secrets)
        assert channel.credentials_encrypted not in response.content.decode()
        assert "credentials" not in response.content.decode()


def test_djangos_admin_shows_neither_the_blob_nor_the_secrets_and_keeps_them_on_save(
    client, channel
):
    User.objects.create_superuser(username="it", password=PASSWORD, email="it@example.org")
    client.login(username="it", password=PASSWORD)
    blob = Channel.objects.get(pk=channel.pk).credentials_encrypted
    for url in (
        "/admin/channels/channel/",
        f"/admin/channels/channel/{channel.pk}/change/",
    ):
        page = client.get(url).content.decode()
        assert blob not in page
        assert "credentials_encrypted" not in page
        assert_no_secret_in(page, list(DEMO_CREDENTIALS.values()))
    assert client.get("/admin/channels/channel/add/").status_code == 403
    response = client.post(
        f"/admin/channels/channel/{channel.pk}/change/",
        {
            "kind": "twitter",
            "name": "demodorp-x",
            "account_id": channel.account_id,
            "account_handle": "gemeente",
            "api_base_url": channel.api_base_url,
            "poll_interval_seconds": "120",
            "history_days": "7",
            "is_active": "on",
            "platform_settings": "{}",
        },
    )
    assert response.status_code == 302
    saved = Channel.objects.get(pk=channel.pk)
    assert saved.poll_interval_seconds == 120
    assert decrypt_credentials(saved.credentials_encrypted) == DEMO_CREDENTIALS


def test_the_service_refuses_to_keep_a_required_credential_missing(administrator, channel):
    from channels.services import ChannelError

    Channel.objects.filter(pk=channel.pk).update(
        credentials_encrypted=encrypt_credentials({"access_token": "x" * 20})
    )
    with pytest.raises(ChannelError):
        channel_replace_credentials(
            channel_id=channel.pk, credentials={"consumer_key": "y" * 20}, actor=administrator.user
        )
    assert not AuditEvent.objects.filter(action="channel.credentials_replaced").exists()
