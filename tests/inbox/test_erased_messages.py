"""Erased messages do not come back: retention and a data subject's erasure remember a keyed
digest of each erased platform message's id, and ingest skips those ids, whether a poll
re-reads them (Facebook reads the last 5 minutes again), a webhook is redelivered, or a
channel's history window reaches them again (docs/architecture.md, "Retention and
anonymisation")."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels.base import FetchResult, PlatformAuthor, PlatformMessage, RejectedItem
from channels.facebook_webhooks import sign
from channels.models import Channel, QuarantinedItem, ReceivedWebhook
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
from channels.services import channel_create, channel_poll
from inbox.models import Conversation, ErasedPlatformMessage, Message
from inbox.services import (
    conversations_anonymise,
    conversations_delete,
    data_subject_contacts_select,
    data_subject_erase,
    data_subject_request_create,
    erased_messages_prune,
    messages_ingest,
)
from inbox.services.privacy import erased_message_digest

pytestmark = pytest.mark.django_db

ERASED_TABLE = ErasedPlatformMessage._meta.db_table


@pytest.fixture
def page(db, sandbox) -> Channel:  # type: ignore[no-untyped-def]
    return channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials=dict(FACEBOOK_CREDENTIALS),
    )


def poll(channel: Channel) -> int:
    outcome = channel_poll(channel_id=channel.id)
    assert outcome.succeeded, outcome.error
    return outcome.new_messages


def erase(administrator, contact_ids: list[int], method: str) -> None:  # type: ignore[no-untyped-def]
    request = data_subject_request_create(
        actor=administrator.user,
        kind="erasure",
        reference="Z/26/0042",
        subject_description="Identified at the desk",
        received_at=timezone.localdate(),
    )
    data_subject_contacts_select(
        actor=administrator.user, request_id=request.id, contact_ids=contact_ids
    )
    data_subject_erase(
        actor=administrator.user, request_id=request.id, method=method, confirmed_unresolved=True
    )


def platform_message(external_id: str, *, username: str = "burger") -> PlatformMessage:
    return PlatformMessage(
        external_id=external_id,
        thread_key=f"thread-{external_id}",
        author=PlatformAuthor(external_id=f"user-{username}", username=username),
        text=f"Bericht {external_id}",
        sent_at=timezone.now(),
    )


def ingest(channel: Channel, *messages: PlatformMessage, rejected=()) -> int:  # type: ignore[no-untyped-def]
    fetched = FetchResult(messages=list(messages), cursor=channel.cursor, rejected=list(rejected))
    return messages_ingest(channel_id=channel.id, fetched=fetched).new_messages


def queries_on_erased_table(context: CaptureQueriesContext) -> int:
    return sum(ERASED_TABLE in query["sql"] for query in context.captured_queries)


# --- the poll reads them again ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["anonymise", "delete"])
def test_a_message_erased_minutes_after_it_arrived_is_not_imported_by_the_next_poll(
    page, sandbox, administrator, method, caplog
):
    sandbox.add_facebook_post("Afvalkalender 2027")
    comment = sandbox.add_facebook_comment("Mijn BSN is 111222333", "Piet de Vries")
    dm = sandbox.add_facebook_message("Mijn adres is Dorpsstraat 1", "Piet de Vries")
    assert poll(page) == 2
    contact_ids = sorted(set(Conversation.objects.values_list("contact_id", flat=True)))

    erase(administrator, contact_ids, method)
    caplog.set_level("INFO", logger="inbox.services.ingest")
    # The Facebook poll reads the last 5 minutes again: both items are in its answer.
    assert poll(page) == 0

    assert not Message.objects.filter(external_id__in=[comment["id"], dm["id"]]).exists()
    assert not Message.objects.filter(text__contains="111222333").exists()
    assert "erased platform messages not imported again" in caplog.text
    assert ErasedPlatformMessage.objects.filter(channel=page).count() == 2


def test_retention_remembers_what_it_anonymises_and_deletes(channel):  # type: ignore[no-untyped-def]
    ingest(channel, platform_message("41"), platform_message("42", username="buurvrouw"))
    first, second = Conversation.objects.order_by("id")

    conversations_anonymise(actor=None, conversation_ids=[first.id], reason="retention:anonymise")
    conversations_delete(actor=None, conversation_ids=[second.id], reason="retention:delete")

    assert ingest(channel, platform_message("41"), platform_message("42")) == 0
    assert set(ErasedPlatformMessage.objects.values_list("external_id_digest", flat=True)) == {
        erased_message_digest("41"),
        erased_message_digest("42"),
    }


def test_the_digest_is_keyed_and_the_same_in_sql_and_python(channel, settings):  # type: ignore[no-untyped-def]
    ingest(channel, platform_message("1234567890123456789"))
    conversations_anonymise(
        actor=None,
        conversation_ids=list(Conversation.objects.values_list("id", flat=True)),
        reason="retention:anonymise",
    )
    [stored] = ErasedPlatformMessage.objects.values_list("external_id_digest", flat=True)
    assert stored == erased_message_digest("1234567890123456789")
    assert "1234567890123456789" not in stored
    # Keyed with SECRET_KEY: someone holding the database alone cannot test a tweet id.
    settings.SECRET_KEY = "another-secret-key-for-another-installation-0123456789"
    assert erased_message_digest("1234567890123456789") != stored


def test_an_erased_item_is_not_quarantined_again_either(channel):  # type: ignore[no-untyped-def]
    ingest(channel, platform_message("77"))
    conversations_delete(
        actor=None,
        conversation_ids=list(Conversation.objects.values_list("id", flat=True)),
        reason="retention:delete",
    )
    spoilt = RejectedItem(reason="Unreadable", raw={"id": "77", "text": "geheim"}, external_id="77")

    ingest(channel, rejected=[spoilt])

    assert not QuarantinedItem.objects.exists()


def test_the_same_id_on_another_channel_is_not_affected(channel, mastodon_channel):  # type: ignore[no-untyped-def]
    ingest(channel, platform_message("555"))
    conversations_delete(
        actor=None,
        conversation_ids=list(Conversation.objects.values_list("id", flat=True)),
        reason="retention:delete",
    )

    assert ingest(mastodon_channel, platform_message("555")) == 1
    assert ingest(channel, platform_message("555")) == 0
    assert Message.objects.get(external_id="555").channel == mastodon_channel


# --- webhooks --------------------------------------------------------------------------------


def comment_payload(comment_id: str) -> dict:
    now = int(timezone.now().timestamp())
    value = {
        "item": "comment",
        "verb": "add",
        "comment_id": comment_id,
        "post_id": f"{FACEBOOK_PAGE_ID}_1",
        "parent_id": f"{FACEBOOK_PAGE_ID}_1",
        "from": {"id": "2000000000000009", "name": "Sanne de Boer"},
        "message": "Mijn telefoonnummer is 0612345678",
        "created_time": now,
    }
    return {
        "object": "page",
        "entry": [
            {"id": FACEBOOK_PAGE_ID, "time": now, "changes": [{"field": "feed", "value": value}]}
        ],
    }


def deliver(client, channel: Channel, body: bytes):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("facebook_webhook", args=[channel.name]),
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": sign(FACEBOOK_CREDENTIALS["app_secret"], body)},
    )


@pytest.mark.parametrize("method", ["anonymise", "delete"])
def test_a_webhook_delivered_again_after_the_erasure_brings_nothing_back(
    client, page, administrator, method
):
    payload = comment_payload(f"{FACEBOOK_PAGE_ID}_1_901")
    body = json.dumps(payload).encode()
    assert deliver(client, page, body).status_code == 200
    erase(administrator, [Conversation.objects.get().contact_id], method)
    messages_after_erasure = Message.objects.count()

    # The same bytes once their digest is forgotten, and the same event in another body
    # (Meta batches and spaces its deliveries its own way).
    ReceivedWebhook.objects.all().delete()
    assert deliver(client, page, body).status_code == 200
    assert deliver(client, page, json.dumps(payload, indent=1).encode()).status_code == 200

    assert Message.objects.count() == messages_after_erasure
    assert not Message.objects.filter(text__contains="0612345678").exists()


# --- cost -------------------------------------------------------------------------------------


def test_ingest_asks_once_per_batch_however_many_messages_or_erased_ones(channel):  # type: ignore[no-untyped-def]
    ingest(channel, *(platform_message(str(number)) for number in range(100, 105)))
    conversations_delete(
        actor=None,
        conversation_ids=list(Conversation.objects.values_list("id", flat=True)),
        reason="retention:delete",
    )

    with CaptureQueriesContext(connection) as small:
        ingest(channel, platform_message("200"))
    with CaptureQueriesContext(connection) as large:
        assert (
            ingest(
                channel,
                *(platform_message(str(number)) for number in range(100, 105)),
                *(platform_message(str(number)) for number in range(300, 320)),
            )
            == 20
        )
    with CaptureQueriesContext(connection) as empty:
        ingest(channel)

    assert queries_on_erased_table(small) == 1
    assert queries_on_erased_table(large) == 1
    assert queries_on_erased_table(empty) == 0


def test_old_digests_are_forgotten_after_the_memory_days(channel, settings):  # type: ignore[no-untyped-def]
    settings.WEBCARE_ERASED_MESSAGE_MEMORY_DAYS = 30
    ingest(channel, platform_message("9001"), platform_message("9002", username="ander"))
    conversations_delete(
        actor=None,
        conversation_ids=list(Conversation.objects.values_list("id", flat=True)),
        reason="retention:delete",
    )
    ErasedPlatformMessage.objects.filter(external_id_digest=erased_message_digest("9001")).update(
        erased_at=timezone.now() - timedelta(days=31)
    )

    assert erased_messages_prune() == 1

    assert ingest(channel, platform_message("9001")) == 1
    assert ingest(channel, platform_message("9002")) == 0
