"""Facebook webhooks: the subscription handshake, the signature over the raw body, and
comments and Messenger messages stored through the same exactly-once ingest as polls."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from celery.app.task import Task
from django.apps import apps
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels import facebook, facebook_webhooks
from channels.models import Channel, QuarantinedItem, ReceivedWebhook
from channels.sandbox import SandboxServer
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
from channels.sandbox.webhooks import WebhookDeliverer
from channels.services import (
    ChannelError,
    channel_create,
    channel_poll,
    channel_receive_facebook_webhook,
)
from channels.views import WEBHOOK_MAX_BYTES
from channels.webhook_tasks import forget_replay_memory
from inbox.models import AuditEvent, Conversation, ErasedPlatformMessage, Message
from inbox.services import conversations_delete

pytestmark = pytest.mark.django_db

VERIFY_TOKEN = "webhook-verify-token"
APP_SECRET = FACEBOOK_CREDENTIALS["app_secret"]
POST_ID = f"{FACEBOOK_PAGE_ID}_900001"
CITIZEN = {"id": "2000000000000001", "name": "Fatima el Amrani"}
PSID = "2000000000000002"


@pytest.fixture
def page(db: None, sandbox: SandboxServer) -> Channel:
    return channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials={**FACEBOOK_CREDENTIALS, "verify_token": VERIFY_TOKEN},
    )


def url(channel: Channel) -> str:
    return reverse("facebook_webhook", args=[channel.name])


def signed(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client: Client, channel: Channel, payload: Any, *, body: bytes | None = None) -> Any:
    raw = body if body is not None else json.dumps(payload).encode()
    return client.post(
        url(channel),
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signed(raw)},
    )


def comment_event(
    comment_id: str,
    *,
    parent_id: str = POST_ID,
    author: dict[str, str] = CITIZEN,
    message: str = "De straatlantaarn bij de school is kapot",
    verb: str = "add",
    page_id: str = FACEBOOK_PAGE_ID,
    **extra: Any,
) -> dict[str, Any]:
    value = {
        "item": "comment",
        "verb": verb,
        "comment_id": comment_id,
        "post_id": POST_ID,
        "parent_id": parent_id,
        "from": author,
        "message": message,
        "created_time": 1_795_000_000,
        **extra,
    }
    return {
        "object": "page",
        "entry": [
            {
                "id": page_id,
                "time": int(time.time()),
                "changes": [{"field": "feed", "value": value}],
            }
        ],
    }


def messenger_event(
    mid: str, *, text: str = "Wanneer is het gemeentehuis open?", echo: bool = False, **message: Any
) -> dict[str, Any]:
    sender, recipient = (FACEBOOK_PAGE_ID, PSID) if echo else (PSID, FACEBOOK_PAGE_ID)
    body: dict[str, Any] = {"mid": mid, "text": text, **message}
    if echo:
        body["is_echo"] = True
    return {
        "object": "page",
        "entry": [
            {
                "id": FACEBOOK_PAGE_ID,
                # Milliseconds for Messenger, as Graph sends it.
                "time": int(time.time() * 1000),
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": recipient},
                        "timestamp": 1_795_000_000_000,
                        "message": body,
                    }
                ],
            }
        ],
    }


# --- the handshake ---------------------------------------------------------------------------


def test_the_handshake_echoes_the_challenge_for_the_channels_verify_token(client, page):
    response = client.get(
        url(page),
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    ],
)
def test_the_handshake_is_refused_without_the_right_token(client, page, params):
    assert client.get(url(page), params).status_code == 403


def test_a_channel_without_a_verify_token_refuses_every_handshake(client, sandbox, db):
    channel = channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="no-webhooks",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials=dict(FACEBOOK_CREDENTIALS),
    )
    params = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    assert client.get(url(channel), params).status_code == 403


def test_only_facebook_channels_have_a_webhook(client, channel):
    assert client.get(url(channel)).status_code == 404
    assert client.get("/webhooks/facebook/nope/").status_code == 404


def test_verify_token_is_a_facebook_credential_and_nothing_else_is(db):
    with pytest.raises(ChannelError, match="Unknown credential names"):
        channel_create(
            kind=Channel.Kind.FACEBOOK,
            name="typo",
            account_id="1",
            credentials={**FACEBOOK_CREDENTIALS, "verify_tokn": "x"},
        )


# --- refused without side effects -----------------------------------------------------------


def database_fingerprint() -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row, for every table: any insert, update or delete
    (messages, conversations, contacts, audit events, quarantine, received webhooks …)."""
    fingerprint = {}
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), ''))"  # noqa: S608
                f" FROM {table} t"
            )
            fingerprint[model._meta.db_table] = cursor.fetchone()
    return fingerprint


@pytest.fixture
def without_side_effects(page, monkeypatch, caplog) -> Iterator[Callable[[], None]]:  # type: ignore[no-untyped-def]
    """`check()` after a refused delivery: no row in any table changed, no Celery task
    was sent, nothing was logged at ERROR or above."""
    enqueued: list[str] = []
    monkeypatch.setattr(
        Task, "apply_async", lambda task, *args, **kwargs: enqueued.append(task.name)
    )
    caplog.set_level(logging.DEBUG)
    before = database_fingerprint()

    def check() -> None:
        after = database_fingerprint()
        assert [table for table in before if before[table] != after[table]] == []
        assert enqueued == []
        assert [
            record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR
        ] == []

    yield check


def test_a_missing_signature_is_refused_and_nothing_stored(
    client, page, caplog, without_side_effects
):
    response = client.post(
        url(page), data=json.dumps(comment_event("1_1")), content_type="application/json"
    )
    assert response.status_code == 403
    without_side_effects()
    assert "signature missing or invalid" in caplog.text


@pytest.mark.parametrize(
    "header",
    [
        "sha256=" + "0" * 64,
        "sha1=abc",
        "",
        signed(json.dumps(comment_event("1_1")).encode(), secret="another-apps-secret"),
    ],
)
def test_an_invalid_signature_is_refused(client, page, header, without_side_effects):
    response = client.post(
        url(page),
        data=json.dumps(comment_event("1_1")),
        content_type="application/json",
        headers={"X-Hub-Signature-256": header},
    )
    assert response.status_code == 403
    without_side_effects()


def test_a_body_changed_after_signing_is_refused(client, page, without_side_effects):
    original = json.dumps(comment_event("1_1", message="Waar kan ik terecht?")).encode()
    tampered = original.replace(b"Waar kan ik terecht?", b"Waar kan ik terecht!")
    response = client.post(
        url(page),
        data=tampered,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signed(original)},
    )
    assert response.status_code == 403
    without_side_effects()


def test_the_signature_must_cover_the_raw_bytes_not_a_reserialisation(client, page):
    # Meta escapes non-ASCII and uses its own spacing; a signature computed over the JSON
    # re-serialised by us does not match the bytes that were sent.
    raw = json.dumps(comment_event("1_1", message="Café €"), ensure_ascii=False).encode()
    reserialised = json.dumps(json.loads(raw)).encode()
    assert raw != reserialised
    response = client.post(
        url(page),
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signed(reserialised)},
    )
    assert response.status_code == 403
    assert deliver(client, page, None, body=raw).status_code == 200
    assert Message.objects.get().text == "Café €"


class CountingStream(io.BytesIO):
    """wsgi.input that remembers how many bytes the view read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_a_body_over_the_size_cap_is_refused_unread(client, page, without_side_effects):
    body = b" " * (WEBHOOK_MAX_BYTES + 1)
    stream = CountingStream(body)
    response = client.post(
        url(page),
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signed(body)},
        **{"wsgi.input": stream},
    )
    assert response.status_code == 413
    assert stream.bytes_read == 0
    without_side_effects()


def test_a_chunked_body_over_the_cap_is_read_one_byte_past_it_and_refused(
    client, page, without_side_effects
):
    # Chunked: no Content-Length; the server hands the decoded body over in wsgi.input.
    body = json.dumps(comment_event("1_1", message="x" * (3 * WEBHOOK_MAX_BYTES))).encode()
    stream = CountingStream(body)
    response = client.post(
        url(page),
        data=b"",
        content_type="application/json",
        headers={"X-Hub-Signature-256": signed(body)},
        **{"CONTENT_LENGTH": "", "wsgi.input": stream},
    )
    assert response.status_code == 413
    assert stream.bytes_read == WEBHOOK_MAX_BYTES + 1
    without_side_effects()


def test_a_chunked_body_within_the_cap_is_stored(client, page):
    body = json.dumps(comment_event("900001_6001")).encode()
    response = client.post(
        url(page),
        data=b"",
        content_type="application/json",
        headers={"X-Hub-Signature-256": signed(body)},
        **{"CONTENT_LENGTH": "", "wsgi.input": CountingStream(body)},
    )
    assert response.status_code == 200
    assert Message.objects.get().external_id == "900001_6001"


# --- replays ---------------------------------------------------------------------------------


def test_a_replayed_body_is_acknowledged_and_stores_nothing_more(client, page, caplog):
    body = json.dumps(comment_event("900001_7001")).encode()
    assert deliver(client, page, None, body=body).status_code == 200
    assert Message.objects.count() == 1
    events = AuditEvent.objects.count()
    before = database_fingerprint()
    caplog.set_level(logging.INFO)

    response = deliver(client, page, None, body=body)

    # 200, so that whoever sends it (a confused proxy, Meta) does not try again.
    assert response.status_code == 200
    assert database_fingerprint() == before
    assert AuditEvent.objects.count() == events
    [replay] = [record for record in caplog.records if "replayed" in record.getMessage()]
    assert replay.levelno == logging.WARNING
    assert ReceivedWebhook.objects.filter(channel=page).count() == 1


def test_the_same_body_on_another_channel_is_not_a_replay(client, page, sandbox):
    other = channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="andere-pagina",
        account_id=FACEBOOK_PAGE_ID + "9",
        api_base_url=sandbox.url,
        credentials={**FACEBOOK_CREDENTIALS, "verify_token": VERIFY_TOKEN},
    )
    body = json.dumps(comment_event("900001_7002")).encode()
    assert deliver(client, page, None, body=body).status_code == 200
    assert deliver(client, other, None, body=body).status_code == 200
    assert ReceivedWebhook.objects.count() == 2


def test_a_replay_of_a_body_whose_messages_were_erased_brings_nothing_back(client, page):
    body = json.dumps(comment_event("900001_7003", message="Mijn BSN is 111222333")).encode()
    assert deliver(client, page, None, body=body).status_code == 200
    conversations_delete(
        actor=None,
        conversation_ids=list(Conversation.objects.values_list("id", flat=True)),
        reason="retention:delete",
    )
    assert ErasedPlatformMessage.objects.filter(channel=page).count() == 1

    assert deliver(client, page, None, body=body).status_code == 200

    assert not Message.objects.exists()
    assert not Conversation.objects.exists()


def stale(payload: dict[str, Any], *, days: int) -> dict[str, Any]:
    for entry in payload["entry"]:
        factor = 1000 if entry["time"] > 100_000_000_000 else 1
        entry["time"] -= days * 24 * 60 * 60 * factor
    return payload


@pytest.mark.parametrize(
    "payload",
    [comment_event("900001_7004"), messenger_event("m_7004")],
    ids=["comment, seconds", "messenger, milliseconds"],
)
def test_an_event_older_than_the_replay_window_is_refused_without_side_effects(
    client, page, settings, payload, without_side_effects
):
    settings.WEBCARE_WEBHOOK_REPLAY_WINDOW_SECONDS = 7 * 24 * 60 * 60
    response = deliver(client, page, stale(payload, days=8))
    assert response.status_code == 403
    without_side_effects()


def test_a_batch_keeps_its_fresh_entries_and_drops_the_stale_ones(client, page, caplog):
    old = stale(comment_event("900001_7005"), days=30)
    fresh = comment_event("900001_7006")
    payload = {"object": "page", "entry": [*old["entry"], *fresh["entry"]]}

    assert deliver(client, page, payload).status_code == 200

    assert list(Message.objects.values_list("external_id", flat=True)) == ["900001_7006"]
    assert "older than the replay window" in caplog.text


def test_old_bodies_are_forgotten_by_the_daily_task(client, page, settings):
    settings.WEBCARE_WEBHOOK_REPLAY_WINDOW_SECONDS = 2 * 24 * 60 * 60
    for number in (1, 2):
        deliver(client, page, comment_event(f"900001_710{number}"))
    ReceivedWebhook.objects.filter(pk=ReceivedWebhook.objects.order_by("pk").first().pk).update(
        received_at=timezone.now() - timedelta(days=3)
    )

    assert forget_replay_memory() == {"received_webhooks": 1, "erased_messages": 0}

    assert ReceivedWebhook.objects.count() == 1


# --- comments ------------------------------------------------------------------------------


def test_a_comment_becomes_a_waiting_conversation(client, page):
    response = deliver(
        client,
        page,
        comment_event("900001_5001", photo="https://scontent.example/lamp.jpg"),
    )
    assert response.status_code == 200
    conversation = Conversation.objects.get(channel=page)
    assert conversation.external_thread_id == "fb-comment:900001_5001"
    assert conversation.waiting_since is not None
    assert not conversation.is_private
    message = conversation.messages.get()
    assert message.external_id == "900001_5001"
    assert message.direction == Message.Direction.INBOUND
    assert message.text == "De straatlantaarn bij de school is kapot"
    assert message.sent_at.timestamp() == 1_795_000_000
    assert message.attachments[0]["url"] == "https://scontent.example/lamp.jpg"
    assert conversation.contact.external_id == CITIZEN["id"]
    assert conversation.contact.display_name == CITIZEN["name"]
    event = AuditEvent.objects.get(action="channel.webhook_received")
    assert event.data["new_messages"] == 1


def test_a_reply_to_a_comment_joins_its_thread(client, page):
    deliver(client, page, comment_event("900001_5001"))
    deliver(
        client,
        page,
        comment_event("900001_5002", parent_id="900001_5001", message="Nog steeds kapot"),
    )
    conversation = Conversation.objects.get(channel=page)
    assert conversation.external_thread_id == "fb-comment:900001_5001"
    reply = conversation.messages.get(external_id="900001_5002")
    assert reply.in_reply_to_external_id == "900001_5001"


def test_the_same_event_delivered_twice_is_stored_once(client, page):
    payload = comment_event("900001_5001")
    assert deliver(client, page, payload).status_code == 200
    assert deliver(client, page, payload).status_code == 200
    assert Message.objects.filter(channel=page).count() == 1
    assert AuditEvent.objects.filter(action="channel.webhook_received").count() == 1


def test_the_pages_own_comment_is_an_echo_not_a_citizen_message(client, page):
    deliver(client, page, comment_event("900001_5001"))
    page_author = {"id": FACEBOOK_PAGE_ID, "name": "Gemeente Demodorp"}
    deliver(
        client,
        page,
        comment_event("900001_5003", parent_id="900001_5001", author=page_author, message="Dank!"),
    )
    assert not Message.objects.filter(
        direction=Message.Direction.INBOUND, author_contact__external_id=FACEBOOK_PAGE_ID
    ).exists()
    echo = Message.objects.get(external_id="900001_5003")
    assert echo.direction == Message.Direction.OUTBOUND
    assert Conversation.objects.get().waiting_since is None


@pytest.mark.parametrize(
    "payload",
    [
        comment_event("900001_5001", verb="edited"),
        comment_event("900001_5001", verb="remove"),
        {
            "object": "page",
            "entry": [
                {
                    "id": FACEBOOK_PAGE_ID,
                    "changes": [{"field": "feed", "value": {"item": "reaction", "verb": "add"}}],
                }
            ],
        },
        {
            "object": "page",
            "entry": [
                {
                    "id": FACEBOOK_PAGE_ID,
                    "messaging": [
                        {"sender": {"id": PSID}, "delivery": {"mids": ["m_1"]}},
                        {"sender": {"id": PSID}, "read": {"watermark": 1}},
                    ],
                }
            ],
        },
    ],
)
def test_edits_removals_reactions_and_receipts_are_ignored(client, page, payload):
    assert deliver(client, page, payload).status_code == 200
    assert not Message.objects.exists()
    assert not QuarantinedItem.objects.exists()
    assert not AuditEvent.objects.filter(action="channel.webhook_received").exists()


# --- Messenger -----------------------------------------------------------------------------


def test_a_messenger_message_becomes_a_private_conversation(client, page):
    attachments = [{"type": "image", "payload": {"url": "https://cdn.example/bon.png"}}]
    assert deliver(client, page, messenger_event("m_abc", attachments=attachments)).status_code == (
        200
    )
    conversation = Conversation.objects.get(channel=page)
    assert conversation.is_private
    assert conversation.external_thread_id == f"fb-messenger:{PSID}"
    message = conversation.messages.get()
    assert message.external_id == "m_abc"
    assert message.is_private
    assert message.attachments[0]["url"] == "https://cdn.example/bon.png"


def test_a_messenger_echo_is_never_a_citizen_message(client, page):
    deliver(client, page, messenger_event("m_abc"))
    deliver(client, page, messenger_event("m_echo", text="Vanaf 9 uur", echo=True))
    assert not Message.objects.filter(external_id="m_echo", direction="inbound").exists()
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 1
    assert Conversation.objects.get().waiting_since is not None


# --- what cannot be read, and what is not ours -------------------------------------------------


def test_a_body_that_is_not_json_is_quarantined_and_acknowledged(client, page):
    response = deliver(client, page, None, body=b'{"object": "page", "entry": [')
    assert response.status_code == 200
    item = QuarantinedItem.objects.get(channel=page)
    assert "not JSON" in item.reason
    assert item.raw == '{"object": "page", "entry": ['
    assert AuditEvent.objects.filter(action="channel.item_quarantined").exists()


def test_a_message_lacking_required_fields_is_quarantined_and_the_rest_stored(client, page):
    payload = messenger_event("m_ok")
    payload["entry"][0]["messaging"].append(
        {"sender": {"id": PSID}, "recipient": {"id": FACEBOOK_PAGE_ID}, "message": {"text": "?"}}
    )
    payload["entry"][0]["changes"] = [
        {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "1_2"}}
    ]
    assert deliver(client, page, payload).status_code == 200
    assert list(Message.objects.values_list("external_id", flat=True)) == ["m_ok"]
    assert sorted(QuarantinedItem.objects.values_list("reason", flat=True)) == [
        "Unreadable Messenger webhook: missing `mid`",
        "Unreadable comment webhook: comment without `from`",
    ]


def test_events_for_another_page_are_ignored_with_a_log_line(client, page, caplog):
    with caplog.at_level(logging.WARNING):
        response = deliver(client, page, comment_event("1_1", page_id="999999999"))
    assert response.status_code == 200
    assert not Message.objects.exists()
    assert not QuarantinedItem.objects.exists()
    assert "another page" in caplog.text


def test_webhooks_leave_the_polling_cursor_and_health_alone(client, page):
    cursor = {"comments_since": 1_700_000_000, "messenger_since": 1_700_000_000}
    Channel.objects.filter(id=page.id).update(
        cursor=cursor, health=Channel.Health.NEEDS_ATTENTION, last_error="Token revoked"
    )
    # A channel whose page token was refused still takes deliveries (signed by the app).
    assert deliver(client, page, comment_event("900001_5001")).status_code == 200
    page.refresh_from_db()
    assert page.cursor == cursor
    assert page.health == Channel.Health.NEEDS_ATTENTION
    assert page.last_error == "Token revoked"
    assert page.last_success_at is None
    assert Message.objects.count() == 1


def test_an_inactive_channel_acknowledges_and_stores_nothing(client, page):
    Channel.objects.filter(id=page.id).update(is_active=False)
    assert deliver(client, page, comment_event("900001_5001")).status_code == 200
    assert not Message.objects.exists()


def test_when_the_database_fails_the_answer_is_5xx_so_meta_delivers_again(client, page):
    body = json.dumps(comment_event("900001_5001")).encode()
    with mock.patch(
        "channels.services.messages_ingest", side_effect=OperationalError("server closed")
    ):
        assert deliver(client, page, None, body=body).status_code == 503
    # Not remembered: the digest goes in the transaction that failed, so Meta's redelivery
    # of the same bytes is processed.
    assert not ReceivedWebhook.objects.exists()
    assert deliver(client, page, None, body=body).status_code == 200
    assert Message.objects.count() == 1
    assert ReceivedWebhook.objects.count() == 1


# --- the same keys as the poll ---------------------------------------------------------------


def test_thread_prefixes_match_the_polling_connector():
    assert facebook_webhooks.COMMENT_THREAD_PREFIX == facebook.COMMENT_THREAD_PREFIX
    assert facebook_webhooks.MESSENGER_THREAD_PREFIX == facebook.MESSENGER_THREAD_PREFIX


@pytest.fixture
def captured(sandbox: SandboxServer) -> Iterator[list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    sandbox.on_facebook_event = events.append
    yield events
    sandbox.on_facebook_event = None


def test_what_a_webhook_stored_the_poll_does_not_store_again(client, page, sandbox, captured):
    sandbox.add_facebook_post("Werkzaamheden aan de Dorpsstraat")
    top = sandbox.add_facebook_comment("Hoe lang duurt dit nog?", "Sanne de Boer")
    sandbox.add_facebook_comment("En de omleiding?", "Sanne de Boer", parent_id=top["id"])
    sandbox.add_facebook_message("Is de milieustraat open?", "Sanne de Boer")
    assert len(captured) == 3
    for payload in captured:
        assert deliver(client, page, payload).status_code == 200
    by_webhook = sorted(
        Message.objects.filter(channel=page).values_list("external_id", "conversation_id")
    )
    assert len(by_webhook) == 3

    outcome = channel_poll(channel_id=page.id)
    assert outcome.succeeded, outcome.error
    assert outcome.new_messages == 0
    assert (
        sorted(Message.objects.filter(channel=page).values_list("external_id", "conversation_id"))
        == by_webhook
    )
    assert Conversation.objects.filter(channel=page).count() == 2


def test_an_unreadable_comment_seen_by_webhook_and_by_poll_is_kept_once(
    client, page, sandbox, captured
):
    sandbox.add_facebook_post("Afsluiting Kerkplein")
    comment = sandbox.add_facebook_comment("Zonder afzender", "Geheim", hide_from=True)
    [payload] = captured
    assert deliver(client, page, payload).status_code == 200

    assert channel_poll(channel_id=page.id).succeeded

    [kept] = QuarantinedItem.objects.filter(channel=page)
    assert kept.item_key == comment["id"]


# --- the sandbox delivers, signed, over real HTTP ----------------------------------------------


@pytest.fixture
def live_page(transactional_db: None, sandbox: SandboxServer) -> Channel:
    return channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials={**FACEBOOK_CREDENTIALS, "verify_token": VERIFY_TOKEN},
    )


def test_concurrent_deliveries_neither_deadlock_nor_process_a_body_twice(live_page):
    bodies = [json.dumps(comment_event(f"900001_80{number}")).encode() for number in range(4)]
    deliveries = bodies * 2  # each body twice, all at once
    start = threading.Barrier(len(deliveries))
    outcomes: list[str] = []

    def receive(body: bytes) -> None:
        try:
            start.wait()
            outcome = channel_receive_facebook_webhook(channel_id=live_page.id, body=body)
            outcomes.append(outcome.ignored or f"stored {outcome.new_messages}")
        finally:
            connection.close()

    threads = [threading.Thread(target=receive, args=(body,)) for body in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["replayed"] * 4 + ["stored 1"] * 4
    assert Message.objects.filter(channel=live_page).count() == 4
    assert ReceivedWebhook.objects.filter(channel=live_page).count() == 4


def test_the_sandbox_delivers_a_citizens_comment_to_the_live_endpoint(
    live_server, live_page, sandbox
):
    deliverer = WebhookDeliverer(
        live_server.url + url(live_page),
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
        backoff_seconds=0.01,
    )
    assert deliverer.verify()
    sandbox.on_facebook_event = deliverer
    try:
        sandbox.add_facebook_post("Nieuwe openingstijden")
        comment = sandbox.add_facebook_comment("Ook op zaterdag?", "Jeroen Smit")
        assert deliverer.wait(timeout=10)
    finally:
        sandbox.on_facebook_event = None
        deliverer.close()
    assert deliverer.failed == []
    message = Message.objects.get(channel=live_page)
    assert message.external_id == comment["id"]
    assert message.conversation.external_thread_id == f"fb-comment:{comment['id']}"
