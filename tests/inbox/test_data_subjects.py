"""Data subject requests (AVG articles 12, 15, 17): registering, finding the citizen on every
channel, the JSON access export and erasure; inbox/services/data_subjects.py and
inbox/selectors/data_subjects.py."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from inbox.models import AuditEvent, Contact, Conversation, DataSubjectRequest, Message
from inbox.selectors.data_subjects import (
    EXPORT_FORMAT,
    contacts_find,
    data_subject_export_stream,
    data_subject_requests_list,
    erasure_preview,
    request_deadline,
)
from inbox.services import (
    ServiceError,
    contacts_link,
    conversation_tag,
    conversation_take,
    data_subject_access_complete,
    data_subject_contacts_select,
    data_subject_erase,
    data_subject_export_start,
    data_subject_request_create,
    data_subject_request_reject,
    data_subject_search,
    note_create,
    reply_create,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def _request(administrator, kind: str = "access", received_at: date | None = None):
    return data_subject_request_create(
        actor=administrator.user,
        kind=kind,
        reference="Z/24/0001",
        subject_description="Identified at the desk with a passport",
        received_at=received_at or timezone.localdate(),
    )


def _export(request: DataSubjectRequest) -> dict:
    return json.loads("".join(data_subject_export_stream(request)))


# --- deadlines and the register -------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "deadline"),
    [
        (date(2026, 3, 14), date(2026, 4, 14)),
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 15), date(2027, 1, 15)),
    ],
)
def test_the_deadline_is_one_month_after_receipt_and_the_last_day_of_a_shorter_month(
    received, deadline
):
    assert request_deadline(received) == deadline


def test_the_register_lists_open_requests_first_and_flags_the_overdue_ones(administrator):
    today = timezone.localdate()
    old = _request(administrator, received_at=today - timedelta(days=40))
    recent = _request(administrator, received_at=today - timedelta(days=3))
    handled = _request(administrator, received_at=today - timedelta(days=60))
    data_subject_request_reject(actor=administrator.user, request_id=handled.id, reason="No ID")

    rows = data_subject_requests_list(today=today)

    assert [row.request.id for row in rows] == [old.id, recent.id, handled.id]
    assert [row.is_overdue for row in rows] == [True, False, False]
    assert rows[0].age_days == 40


def test_registering_a_request_is_audited_without_the_citizens_description(administrator):
    request = _request(administrator, kind="erasure")

    event = AuditEvent.objects.get(action="data_subject_request.created")
    assert event.actor == administrator.user
    assert event.data == {"request_id": request.id, "kind": "erasure"}
    assert request.status == DataSubjectRequest.Status.OPEN


def test_a_request_received_in_the_future_is_refused(administrator):
    with pytest.raises(ServiceError):
        _request(administrator, received_at=timezone.localdate() + timedelta(days=1))


# --- finding the citizen --------------------------------------------------------------------


def test_a_handle_is_found_with_and_without_at_on_every_channel(
    administrator, channel, mastodon_channel
):
    on_x = citizen_writes(channel, username="jdevries").contact
    on_mastodon = citizen_writes(mastodon_channel, username="jdevries@social.example").contact
    citizen_writes(channel, username="pbakker")

    for query in ("@jdevries", "jdevries", "  @JDEVRIES "):
        found = contacts_find(query)
        assert {contact.id for contact in found.matches} == {on_x.id, on_mastodon.id}, query


def test_a_partial_display_name_is_found_case_insensitively(administrator, channel):
    citizen = citizen_writes(channel, username="jdevries").contact  # display name "Jdevries"
    assert [contact.id for contact in contacts_find("DEVR").matches] == [citizen.id]
    assert contacts_find("x").matches == []


def test_found_contacts_show_their_conversations_messages_and_first_and_last_contact(
    administrator, channel
):
    first = timezone.now() - timedelta(days=10)
    conversation = citizen_writes(channel, username="jdevries", sent_at=first)
    citizen_writes(channel, username="jdevries", thread=conversation.external_thread_id)
    citizen_writes(channel, username="jdevries")

    (contact,) = contacts_find("jdevries").matches

    assert contact.conversation_count == 2
    assert contact.message_count == 3
    assert contact.first_contact_at == first
    assert contact.last_contact_at >= first + timedelta(days=9)


def test_accounts_linked_to_a_found_contact_are_suggested(
    administrator, agent, channel, mastodon_channel
):
    on_x = citizen_writes(channel, username="jdevries").contact
    other_name = citizen_writes(mastodon_channel, username="jan1970@social.example").contact
    contacts_link(actor=agent.user, contact_id=on_x.id, other_contact_id=other_name.id)

    found = contacts_find("jdevries")

    assert [contact.id for contact in found.matches] == [on_x.id]
    assert [contact.id for contact in found.linked] == [other_name.id]


def test_a_search_is_audited_with_the_number_of_results_and_never_the_query(administrator, channel):
    citizen_writes(channel, username="jdevries")
    request = _request(administrator)

    data_subject_search(actor=administrator.user, request_id=request.id, query="@jdevries")

    event = AuditEvent.objects.get(action="data_subject.searched")
    assert event.data == {"request_id": request.id, "query_length": 8, "results": 1, "linked": 0}
    assert "jdevries" not in json.dumps(event.data).lower()


def test_selecting_contacts_saves_them_on_the_request_and_is_audited(administrator, channel):
    contact = citizen_writes(channel, username="jdevries").contact
    request = _request(administrator)

    data_subject_contacts_select(
        actor=administrator.user, request_id=request.id, contact_ids=[contact.id, contact.id]
    )

    request.refresh_from_db()
    assert request.contact_ids == [contact.id]
    event = AuditEvent.objects.get(action="data_subject.contacts_selected")
    assert event.data == {"request_id": request.id, "contact_ids": [contact.id], "contacts": 1}


def test_selecting_an_unknown_contact_is_refused(administrator):
    request = _request(administrator)
    with pytest.raises(ServiceError):
        data_subject_contacts_select(
            actor=administrator.user, request_id=request.id, contact_ids=[987654]
        )


# --- access export --------------------------------------------------------------------------


def _citizen_with_history(channel, mastodon_channel, agent, *, conversations: int = 3):
    """A citizen on two channels: conversations with our replies, notes, tags and an
    assignment; and another citizen who must never appear in the export."""
    contacts = []
    for index in range(conversations):
        target = channel if index % 2 == 0 else mastodon_channel
        username = "jdevries" if target == channel else "jdevries@social.example"
        conversation = citizen_writes(target, username=username, text=f"Vraag {index}")
        citizen_writes(
            target,
            username=username,
            text=f"Aanvulling {index}",
            thread=conversation.external_thread_id,
        )
        conversation_take(conversation_id=conversation.id, actor=agent.user)
        reply_create(
            conversation_id=conversation.id,
            actor=agent.user,
            text=f"Antwoord {index}",
            idempotency_key=uuid.uuid4(),
            confirmed_despite_newer=True,
        )
        note_create(conversation_id=conversation.id, actor=agent.user, text=f"Notitie {index}")
        conversation_tag(conversation_id=conversation.id, actor=agent.user, name="afval")
        contacts.append(conversation.contact_id)
    other = citizen_writes(channel, username="pbakker", text="Geheim van iemand anders")
    note_create(conversation_id=other.id, actor=agent.user, text="Notitie over Bakker")
    return sorted(set(contacts)), other


def _selected_request(administrator, contact_ids, kind="access"):
    request = _request(administrator, kind=kind)
    return data_subject_contacts_select(
        actor=administrator.user, request_id=request.id, contact_ids=contact_ids
    )


def test_the_export_holds_every_message_note_and_tag_of_the_citizen_and_nothing_of_another(
    administrator, agent, channel, mastodon_channel
):
    contact_ids, _other = _citizen_with_history(channel, mastodon_channel, agent)
    request = _selected_request(administrator, contact_ids)

    export = _export(request)

    assert export["format"] == EXPORT_FORMAT
    assert export["request"] == {
        "id": request.id,
        "kind": "access",
        "reference": "Z/24/0001",
        "received_at": request.received_at.isoformat(),
    }
    assert {contact["id"] for contact in export["contacts"]} == set(contact_ids)
    citizen_messages = set(
        Message.objects.filter(conversation__contact_id__in=contact_ids).values_list(
            "id", flat=True
        )
    )
    exported_messages = {m["id"] for c in export["conversations"] for m in c["messages"]}
    assert exported_messages == citizen_messages
    assert len(citizen_messages) == 9
    texts = {m["text"] for c in export["conversations"] for m in c["messages"]}
    assert {"Vraag 0", "Aanvulling 0", "Antwoord 0"} <= texts
    assert {m["from"] for c in export["conversations"] for m in c["messages"]} == {
        "citizen",
        "municipality",
    }
    assert [n["text"] for c in export["conversations"] for n in c["notes"]] == [
        "Notitie 0",
        "Notitie 1",
        "Notitie 2",
    ]
    assert all(c["tags"][0]["name"] == "afval" for c in export["conversations"])
    assert export["counts"] == {
        "contacts": 2,
        "conversations": 3,
        "messages": 9,
        "notes": 3,
        "audit_events": export["counts"]["audit_events"],
    }
    document = json.dumps(export)
    assert "Bakker" not in document
    assert "Geheim" not in document


def test_staff_appear_in_the_export_by_role_not_by_name(
    administrator, agent, channel, mastodon_channel
):
    contact_ids, _other = _citizen_with_history(channel, mastodon_channel, agent, conversations=1)
    export = _export(_selected_request(administrator, contact_ids))

    (conversation,) = export["conversations"]
    assert conversation["assignee"] == {"role": "agent"}
    assert conversation["assignments"][0]["action"] == "conversation.assigned"
    assert conversation["assignments"][0]["assignee"] == {"role": "agent"}
    reply = next(m for m in conversation["messages"] if m["from"] == "municipality")
    assert reply["author_staff"] == {"role": "agent"}
    assert reply["delivery_status"] == "queued"
    assert {e["action"] for e in conversation["audit_events"]} >= {
        "conversation.assigned",
        "note.created",
    }
    document = json.dumps(export)
    assert agent.user.username not in document
    assert agent.user.last_name not in document


def test_the_export_reads_a_bounded_number_of_queries_however_many_conversations(
    administrator, agent, channel, mastodon_channel, django_assert_max_num_queries
):
    contact_ids, _other = _citizen_with_history(channel, mastodon_channel, agent, conversations=6)
    request = _selected_request(administrator, contact_ids)

    with django_assert_max_num_queries(8):
        export = _export(request)

    assert export["counts"]["conversations"] == 6


def test_the_export_streams_in_pieces_one_conversation_at_a_time(
    administrator, agent, channel, mastodon_channel
):
    contact_ids, _other = _citizen_with_history(channel, mastodon_channel, agent)
    pieces = list(data_subject_export_stream(_selected_request(administrator, contact_ids)))
    # The head, one piece per conversation, the tail.
    assert len(pieces) == 1 + 3 + 1


def test_exporting_is_audited_with_counts_and_completing_keeps_them(
    administrator, agent, channel, mastodon_channel
):
    contact_ids, _other = _citizen_with_history(channel, mastodon_channel, agent, conversations=2)
    request = _selected_request(administrator, contact_ids)
    with pytest.raises(ServiceError):
        data_subject_access_complete(actor=administrator.user, request_id=request.id)

    data_subject_export_start(actor=administrator.user, request_id=request.id)
    completed = data_subject_access_complete(actor=administrator.user, request_id=request.id)

    exported = AuditEvent.objects.get(action="data_subject.exported")
    assert exported.data["request_id"] == request.id
    assert exported.data["messages"] == 6
    assert exported.data["conversations"] == 2
    assert completed.status == DataSubjectRequest.Status.COMPLETED
    assert completed.handled_by == administrator.user
    assert completed.result["counts"]["messages"] == 6
    assert AuditEvent.objects.filter(action="data_subject_request.completed").count() == 1
    with pytest.raises(ServiceError):
        data_subject_export_start(actor=administrator.user, request_id=request.id)


def test_no_audit_event_of_a_request_holds_a_name_or_handle(
    administrator, agent, channel, mastodon_channel
):
    contact_ids, _other = _citizen_with_history(channel, mastodon_channel, agent, conversations=1)
    request = _selected_request(administrator, contact_ids)
    data_subject_search(actor=administrator.user, request_id=request.id, query="jdevries")
    data_subject_export_start(actor=administrator.user, request_id=request.id)
    data_subject_request_reject(
        actor=administrator.user,
        request_id=_request(administrator).id,
        reason="Jan de Vries kon zich niet identificeren",
    )

    for event in AuditEvent.objects.filter(action__startswith="data_subject"):
        text = json.dumps(event.data).lower()
        assert "jdevries" not in text
        assert "vries" not in text
        assert "passport" not in text


# --- erasure --------------------------------------------------------------------------------


def test_the_erasure_preview_counts_what_goes_and_lists_unresolved_conversations(
    administrator, agent, channel, mastodon_channel
):
    contact_ids, _other = _citizen_with_history(channel, mastodon_channel, agent, conversations=2)

    preview = erasure_preview(contact_ids)

    assert (preview.contacts, preview.conversations, preview.messages, preview.notes) == (
        2,
        2,
        6,
        2,
    )
    assert len(preview.unresolved) == 2


def test_erasing_with_unresolved_conversations_needs_a_confirmation(
    administrator, agent, channel, mastodon_channel
):
    contact_ids, _other = _citizen_with_history(channel, mastodon_channel, agent, conversations=1)
    request = _selected_request(administrator, contact_ids, kind="erasure")

    with pytest.raises(ServiceError):
        data_subject_erase(actor=administrator.user, request_id=request.id, method="anonymise")

    request.refresh_from_db()
    assert request.status == DataSubjectRequest.Status.OPEN
    assert not AuditEvent.objects.filter(action="data_subject.erased").exists()


def test_an_access_request_cannot_be_erased(administrator, channel):
    contact = citizen_writes(channel, username="jdevries").contact
    request = _selected_request(administrator, [contact.id], kind="access")
    with pytest.raises(ServiceError):
        data_subject_erase(
            actor=administrator.user,
            request_id=request.id,
            method="anonymise",
            confirmed_unresolved=True,
        )


def test_erasing_anonymises_the_citizen_and_completes_the_request(
    administrator, agent, channel, mastodon_channel
):
    contact_ids, other = _citizen_with_history(channel, mastodon_channel, agent, conversations=2)
    request = _selected_request(administrator, contact_ids, kind="erasure")

    completed = data_subject_erase(
        actor=administrator.user,
        request_id=request.id,
        method="anonymise",
        confirmed_unresolved=True,
    )

    assert completed.status == DataSubjectRequest.Status.COMPLETED
    assert completed.result["method"] == "anonymise"
    assert completed.result["counts"]["messages"] == 6
    assert all(c.anonymised_at for c in Contact.objects.filter(id__in=contact_ids))
    assert not Contact.objects.filter(id__in=contact_ids, username__icontains="jdevries").exists()
    assert not Message.objects.filter(
        conversation__contact_id__in=contact_ids, text__startswith="Vraag"
    ).exists()
    # The figures keep the conversations, resolved: nothing is left to answer in them.
    assert list(
        Conversation.objects.filter(contact_id__in=contact_ids).values_list("status", flat=True)
    ) == ["resolved", "resolved"]
    # The other citizen is untouched.
    assert Contact.objects.get(id=other.contact_id).username == "pbakker"
    event = AuditEvent.objects.get(action="data_subject.erased")
    assert event.data["request_id"] == request.id
    assert event.data["method"] == "anonymise"


def test_erasing_by_deletion_removes_the_conversations(
    administrator, agent, channel, mastodon_channel
):
    contact_ids, other = _citizen_with_history(channel, mastodon_channel, agent, conversations=2)
    request = _selected_request(administrator, contact_ids, kind="erasure")

    data_subject_erase(
        actor=administrator.user,
        request_id=request.id,
        method="delete",
        confirmed_unresolved=True,
    )

    assert not Conversation.objects.filter(contact_id__in=contact_ids).exists()
    assert Conversation.objects.filter(id=other.id).exists()
    assert all(c.anonymised_at for c in Contact.objects.filter(id__in=contact_ids))


def test_rejecting_keeps_the_reason_on_the_request_and_closes_it(administrator):
    request = _request(administrator)

    rejected = data_subject_request_reject(
        actor=administrator.user, request_id=request.id, reason="Could not be identified"
    )

    assert rejected.status == DataSubjectRequest.Status.REJECTED
    assert rejected.notes == "Could not be identified"
    event = AuditEvent.objects.get(action="data_subject_request.rejected")
    assert event.data == {"request_id": request.id, "kind": "access"}
    with pytest.raises(ServiceError):
        data_subject_request_reject(actor=administrator.user, request_id=request.id, reason="x")


def test_a_citizen_with_thousands_of_messages_is_exported_in_chunks_with_few_queries(
    administrator, agent, channel, django_assert_max_num_queries
):
    from channels.base import FetchResult, PlatformAuthor, PlatformMessage
    from inbox.services import messages_ingest

    author = PlatformAuthor(external_id="user-veelschrijver", username="veelschrijver")
    start = timezone.now() - timedelta(days=30)
    # Two threads, more messages than one chunk of the server-side cursors, so that the
    # merge of the message and conversation streams crosses chunk boundaries.
    messages_ingest(
        channel_id=channel.id,
        fetched=FetchResult(
            messages=[
                PlatformMessage(
                    external_id=f"bulk-{index}",
                    thread_key=f"thread-{index % 2}:veelschrijver",
                    author=author,
                    text=f"Bericht {index}",
                    sent_at=start + timedelta(seconds=index),
                )
                for index in range(1200)
            ],
            cursor=channel.cursor,
        ),
    )
    contact = Contact.objects.get(channel=channel, external_id="user-veelschrijver")
    request = _selected_request(administrator, [contact.id])

    with django_assert_max_num_queries(8):
        export = _export(request)

    assert export["counts"]["messages"] == 1200
    texts = [m["text"] for c in export["conversations"] for m in c["messages"]]
    assert sorted(texts) == sorted(f"Bericht {index}" for index in range(1200))
