"""The audit log viewer for administrators (inbox/views/audit_log.py, inbox/selectors/audit.py)
and the append-only audit table (migration 0011's trigger)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inbox import services
from inbox.models import AuditEvent, Conversation
from inbox.selectors.audit import AuditFilters, audit_events_page
from inbox.services import staff as staff_services
from tests.inbox.helpers import citizen_writes

AUDIT_PAGES: list[tuple[str, dict[str, str]]] = [
    ("inbox:audit_log", {}),
    ("inbox:audit_log_export", {}),
]


@pytest.mark.parametrize(("name", "params"), AUDIT_PAGES)
def test_agents_and_team_leads_are_refused_the_audit_log(logged_in, agent, team_lead, name, params):
    for persona in (agent, team_lead):
        assert logged_in(persona).get(reverse(name), params).status_code == 403
    assert not AuditEvent.objects.filter(action="audit_log.exported").exists()


def events(count: int, action: str = "test.event", **fields) -> list[AuditEvent]:
    return [services.audit(action, number=number, **fields) for number in range(count)]


def test_pages_go_newest_first_by_keyset_with_fifty_each(administrator):
    made = events(120)
    first = audit_events_page(AuditFilters(action_prefix="test."))
    assert [event.id for event in first.events] == [e.id for e in reversed(made)][:50]
    second = audit_events_page(AuditFilters(action_prefix="test."), before=first.next_before)
    assert [event.id for event in second.events] == [e.id for e in reversed(made)][50:100]
    third = audit_events_page(AuditFilters(action_prefix="test."), before=second.next_before)
    assert len(third.events) == 20
    assert third.next_before is None


def test_the_page_query_uses_no_offset(administrator):
    events(60)
    with CaptureQueriesContext(connection) as queries:
        page = audit_events_page(AuditFilters(), before=10**9)
    assert len(queries.captured_queries) == 1
    sql = queries.captured_queries[0]["sql"].upper()
    assert "OFFSET" not in sql
    assert '"INBOX_AUDITEVENT"."ID" <' in sql
    assert page.events


def test_filters_by_action_prefix_actor_conversation_channel_and_amsterdam_dates(
    administrator, agent, channel
):
    conversation = citizen_writes(channel)
    services.conversation_take(conversation_id=conversation.pk, actor=agent.user)
    staff_services.staff_role_set(actor=administrator.user, user_id=agent.user_id, role="trainee")

    def actions(**filters) -> set[str]:
        return {event.action for event in audit_events_page(AuditFilters(**filters)).events}

    assert actions(action_prefix="staff.") == {"staff.created", "staff.role_changed"}
    assert actions(actor_id=agent.user_id) == {"conversation.assigned"}
    assert "conversation.assigned" in actions(conversation_id=conversation.pk)
    assert actions(actor_id=administrator.user_id, action_prefix="staff.") == {"staff.role_changed"}
    assert "channel.created" in actions(channel_id=channel.pk)
    # 23:30 UTC on 1 March is 00:30 on 2 March in Amsterdam.
    late = services.audit("test.dated")
    AuditEvent.objects.filter(pk=late.pk)  # the trigger refuses UPDATE: insert dated rows raw
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inbox_auditevent (created_at, action, data) VALUES (%s, %s, '{}')",
            [datetime(2026, 3, 1, 23, 30, tzinfo=UTC), "test.march"],
        )
    from datetime import date

    assert actions(date_from=date(2026, 3, 2), date_to=date(2026, 3, 2)) == {"test.march"}
    assert actions(date_from=date(2026, 3, 1), date_to=date(2026, 3, 1)) == set()


def test_the_page_shows_labels_actor_links_and_data(logged_in, administrator, agent, channel):
    conversation = citizen_writes(channel)
    services.conversation_take(conversation_id=conversation.pk, actor=agent.user)
    staff_services.staff_role_set(actor=administrator.user, user_id=agent.user_id, role="trainee")
    client = logged_in(administrator)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("inbox:audit_log")).content.decode()
    assert "Role changed" in page
    assert "previous_role" in page and "agent" in page
    assert reverse("inbox:conversation", args=[conversation.pk]) in page
    assert "Femke Visser" in page
    assert "system" in page  # the channel was created by a command, not a person
    filtered = client.get(reverse("inbox:audit_log"), {"action": "staff."}).content.decode()
    assert "conversation.assigned" not in filtered


def test_the_query_count_does_not_depend_on_the_page_size(
    logged_in, administrator, channel, django_assert_max_num_queries
):
    for number in range(8):
        citizen_writes(channel, username=f"burger{number}")
    client = logged_in(administrator)
    client.get(reverse("inbox:audit_log"))  # the first request also notes "last seen"
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("inbox:audit_log"))
    events(80, channel_id=channel.pk)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("inbox:audit_log"))
    assert response.content.decode().count("<tr>") >= 50
    assert len(many.captured_queries) == len(few.captured_queries)
    with django_assert_max_num_queries(10):
        client.get(reverse("inbox:audit_log"), {"before": "999999999", "action": "test."})


def test_the_older_link_carries_the_filters_and_the_keyset(logged_in, administrator):
    made = events(55)
    page = logged_in(administrator).get(reverse("inbox:audit_log"), {"action": "test."})
    assert f"action=test.&amp;before={made[5].id}" in page.content.decode()


def test_the_csv_export_is_streamed_filtered_formula_safe_and_audited(logged_in, administrator):
    services.audit("test.formula", **{'=HYPERLINK("http://evil")': 1})
    events(3)
    response = logged_in(administrator).get(reverse("inbox:audit_log_export"), {"action": "test."})
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:5] == ["id", "time", "actor_id", "actor", "action"]
    assert [row[4] for row in rows[1:]] == ["test.event"] * 3 + ["test.formula"]
    assert rows[-1][8].startswith("'")
    export = AuditEvent.objects.get(action="audit_log.exported")
    assert export.actor == administrator.user
    assert export.data["action_prefix"] == "test."


def test_an_update_and_a_delete_through_the_orm_are_refused(administrator):
    event = services.audit("test.event")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="test.changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        event.action = "test.changed"
        event.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_deleting_a_conversation_keeps_its_events_without_the_link(channel):
    conversation = citizen_writes(channel)
    ids = list(AuditEvent.objects.filter(conversation=conversation).values_list("id", flat=True))
    assert ids
    Conversation.objects.filter(pk=conversation.pk).delete()
    assert AuditEvent.objects.filter(pk__in=ids, conversation__isnull=True).count() == len(ids)
