"""Anonymising and deleting conversations (inbox/services/privacy.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inbox.models import (
    AuditEvent,
    CareCycle,
    Contact,
    Conversation,
    ConversationTag,
    CycleFact,
    Message,
    MessageTopic,
    MetricsHour,
    Note,
    WaitFact,
)
from inbox.services import (
    ServiceError,
    contacts_anonymise,
    conversations_anonymise,
    conversations_delete,
    metrics_rebuild_all,
    metrics_refresh,
    reply_create,
    topic_create,
)
from tests.inbox.helpers import citizen_writes
from tests.inbox.privacy_helpers import metrics_snapshot, resolved_history, text_of_tables

pytestmark = pytest.mark.django_db

MONDAY = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
# MetricsTermDay holds counted words of whole days (aggregates over citizens, shown only
# above a minimum number of citizens); it stays as it was, like every other figure.
NOT_PERSONAL = ("inbox_auditevent", "inbox_metricstermday")


def test_anonymising_removes_every_word_name_and_handle_of_the_citizen(channel, agent, team_lead):
    topic_create(actor=team_lead.user, name="Afval", keywords="container")
    conversation = resolved_history(channel, agent, at=MONDAY)
    Message.objects.filter(conversation=conversation, direction="inbound").update(
        attachments=[{"url": "https://pbs.example/zwaantje.jpg", "kind": "photo"}]
    )
    metrics_refresh(time_budget=None)
    assert "Zwanenbloemstraat" in text_of_tables(excluding=NOT_PERSONAL)

    changed = conversations_anonymise(
        actor=None, conversation_ids=[conversation.id], reason="retention"
    )

    assert changed == 1
    remaining = text_of_tables(excluding=NOT_PERSONAL)
    for trace in ("Zwanenbloemstraat", "zwaantje", "Zwaantje1987", "user-zwaantje1987"):
        assert trace.lower() not in remaining.lower()
    conversation.refresh_from_db()
    assert conversation.anonymised_at is not None
    assert conversation.external_thread_id == f"anonymised-{conversation.id}"
    contact = Contact.objects.get(pk=conversation.contact_id)
    assert (contact.username, contact.display_name, contact.avatar_url) == ("", "", "")
    assert contact.external_id == f"anonymised-{contact.id}"
    assert contact.anonymised_at is not None
    for message in Message.objects.filter(conversation=conversation):
        assert (message.text, message.raw, message.attachments) == ("", {}, [])
        assert message.external_id == f"anonymised-{message.id}"
        assert message.in_reply_to_external_id == ""
    assert Note.objects.get(conversation=conversation).text == ""
    # The topics found in the text are codes, and stay with the dashboard's figures.
    assert MessageTopic.objects.filter(message__conversation=conversation).exists()
    assert ConversationTag.objects.filter(conversation=conversation).exists()


def test_the_audit_trail_records_counts_and_the_reason_never_text(channel, agent):
    conversation = resolved_history(channel, agent, at=MONDAY)

    conversations_anonymise(actor=None, conversation_ids=[conversation.id], reason="retention")

    event = AuditEvent.objects.get(action="conversation.anonymised")
    assert event.conversation_id == conversation.id
    assert event.data == {"reason": "retention", "messages": 2, "notes": 1}
    assert AuditEvent.objects.filter(
        action="contact.anonymised", data__contact_id=conversation.contact_id
    ).exists()
    trail = " ".join(str(data) for data in AuditEvent.objects.values_list("data", flat=True))
    assert "Zwanenbloemstraat" not in trail


def test_the_dashboard_figures_stay_exactly_the_same(channel, agent, team_lead):
    topic_create(actor=team_lead.user, name="Afval", keywords="container")
    conversations = [
        resolved_history(channel, agent, at=MONDAY + timedelta(hours=hour), username=f"b{hour}")
        for hour in range(3)
    ]
    metrics_refresh(time_budget=None)
    before = metrics_snapshot()
    assert before["WaitFact"] and before["MessageTopic"] and before["MetricsTagHour"]

    conversations_anonymise(
        actor=None, conversation_ids=[c.id for c in conversations], reason="retention"
    )
    metrics_refresh(time_budget=None)

    assert metrics_snapshot() == before
    times = Conversation.objects.values_list("first_inbound_at", "last_activity_at", "team_id")
    assert len(set(times)) == 3
    assert CareCycle.objects.filter(resolved_at__isnull=False).count() == 3


def test_a_contact_with_another_conversation_still_open_keeps_their_name(channel, agent):
    old = resolved_history(channel, agent, at=MONDAY, username="tweevoud")
    citizen_writes(channel, username="tweevoud", text="Nog een vraag")

    conversations_anonymise(actor=None, conversation_ids=[old.id], reason="retention")

    contact = Contact.objects.get(pk=old.contact_id)
    assert contact.username == "tweevoud"
    assert contact.anonymised_at is None


def test_anonymising_twice_changes_nothing_the_second_time(channel, agent):
    conversation = resolved_history(channel, agent, at=MONDAY)
    conversations_anonymise(actor=None, conversation_ids=[conversation.id], reason="retention")

    again = conversations_anonymise(
        actor=None, conversation_ids=[conversation.id], reason="retention"
    )

    assert again == 0
    assert AuditEvent.objects.filter(action="conversation.anonymised").count() == 1


def test_anonymising_takes_the_same_number_of_queries_for_2_and_20_conversations(channel, agent):
    few = [citizen_writes(channel, username=f"few{n}").id for n in range(2)]
    many = [citizen_writes(channel, username=f"many{n}").id for n in range(20)]

    def queries(ids: list[int]) -> int:
        with CaptureQueriesContext(connection) as captured:
            conversations_anonymise(actor=None, conversation_ids=ids, reason="retention")
        return len(captured)

    assert queries(many) == queries(few)


def test_erasure_anonymises_the_contact_and_all_their_conversations(channel, agent):
    first = resolved_history(channel, agent, at=MONDAY, username="wisser")
    second = citizen_writes(channel, username="wisser", text="Zwanenbloemstraat weer vol")
    other = citizen_writes(channel, username="buurman", text="Buurman schrijft")

    count = contacts_anonymise(actor=None, contact_ids=[first.contact_id], reason="erasure_request")

    assert count == 1
    assert set(
        Conversation.objects.filter(anonymised_at__isnull=False).values_list("id", flat=True)
    ) == {first.id, second.id}
    assert Message.objects.get(conversation=other).text == "Buurman schrijft"
    assert "Zwanenbloemstraat" not in text_of_tables(excluding=NOT_PERSONAL)


def test_deleting_removes_the_conversation_and_the_figures_follow(channel, agent):
    kept = resolved_history(channel, agent, at=MONDAY, username="blijft")
    gone = resolved_history(channel, agent, at=MONDAY + timedelta(hours=5), username="weg")
    metrics_refresh(time_budget=None)
    assert WaitFact.objects.filter(conversation_id=gone.id).exists()

    deleted = conversations_delete(actor=None, conversation_ids=[gone.id], reason="retention")
    metrics_refresh(time_budget=None)

    assert deleted == 1
    assert not Conversation.objects.filter(pk=gone.pk).exists()
    assert not Contact.objects.filter(pk=gone.contact_id).exists()
    assert not Message.objects.filter(conversation_id=gone.id).exists()
    assert not WaitFact.objects.filter(conversation_id=gone.id).exists()
    assert not CycleFact.objects.filter(conversation_id=gone.id).exists()
    assert sum(MetricsHour.objects.values_list("messages_in", flat=True)) == 1
    incremental = metrics_snapshot()
    metrics_rebuild_all()
    assert metrics_snapshot() == incremental
    assert Conversation.objects.filter(pk=kept.pk).exists()
    event = AuditEvent.objects.get(action="conversation.deleted")
    assert event.conversation_id is None
    assert event.data["conversation_id"] == gone.id
    assert "Zwanenbloemstraat" not in str(event.data)


def test_deleting_a_conversation_also_deletes_those_merged_into_it(channel, agent):
    from inbox.services import conversations_merge

    target = citizen_writes(channel, username="samen")
    source = citizen_writes(channel, username="samen", text="Tweede draad")
    conversations_merge(source_id=source.id, target_id=target.id, actor=agent.user)

    conversations_delete(actor=None, conversation_ids=[target.id], reason="retention")

    assert not Conversation.objects.filter(pk__in=[target.id, source.id]).exists()
    assert not Contact.objects.filter(pk=target.contact_id).exists()


def test_an_anonymised_conversation_shows_what_happened_and_cannot_be_answered(
    channel, agent, logged_in
):
    conversation = resolved_history(channel, agent, at=MONDAY)
    conversations_anonymise(actor=None, conversation_ids=[conversation.id], reason="retention")

    page = logged_in(agent).get(reverse("inbox:conversation", args=[conversation.id]))

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="conversation-anonymised"' in html
    assert "Verwijderd volgens het bewaarbeleid" in html
    assert "Geanonimiseerde inwoner" in html
    assert reverse("inbox:reply_send", args=[conversation.id]) not in html


def test_no_reply_can_be_queued_in_an_anonymised_conversation(channel, agent):
    conversation = resolved_history(channel, agent, at=MONDAY)
    conversations_anonymise(actor=None, conversation_ids=[conversation.id], reason="retention")

    with pytest.raises(ServiceError, match="geanonimiseerd"):
        reply_create(
            conversation_id=conversation.id,
            actor=agent.user,
            text="Dag, nog een vraag?",
            idempotency_key=uuid.uuid4(),
        )

    assert not Message.objects.filter(conversation=conversation, delivery_status="queued").exists()
