"""Approval with a real Celery worker on the real Redis broker: an approved reply is posted
exactly once, even when two team leads approve it at the same moment."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection

from channels.services import channel_poll
from inbox.models import AgentProfile, AuditEvent, Conversation, Message
from inbox.services import ServiceError, reply_approve, reply_create, staff_member_create
from tests.conftest import PASSWORD
from tests.inbox.test_tasks_worker import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trainee(transactional_db: None) -> AgentProfile:
    return staff_member_create(
        username="tess",
        password=PASSWORD,
        first_name="Tess",
        presence="away",
        role=AgentProfile.Role.TRAINEE,
    )


@pytest.fixture
def second_team_lead(transactional_db: None) -> AgentProfile:
    return staff_member_create(
        username="mirjam", password=PASSWORD, role=AgentProfile.Role.TEAM_LEAD
    )


def test_a_trainees_reply_is_delivered_only_after_approval_and_exactly_once(
    celery_worker, channel, sandbox, trainee, team_lead, second_team_lead
):
    sandbox.add_mention(text="Is de milieustraat zaterdag open?", username="joost", name="Joost")
    assert channel_poll(channel_id=channel.id).succeeded
    conversation = Conversation.objects.get()
    message = reply_create(
        conversation_id=conversation.id,
        actor=trainee.user,
        text="Ja, van 9 tot 16 uur.",
        idempotency_key=uuid.uuid4(),
    )

    # The worker is running: give a wrongly queued task time to post it.
    time.sleep(1.5)
    assert sandbox.replies() == []
    assert Message.objects.get(id=message.id).delivery_status == "awaiting_approval"

    # Two team leads press "Approve" at the same moment, each in its own connection.
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(lead: AgentProfile) -> None:
        try:
            start.wait()
            reply_approve(message_id=message.id, actor=lead.user)
            outcomes.append("approved")
        except ServiceError:
            outcomes.append("already reviewed")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=approve, args=(lead,)) for lead in (team_lead, second_team_lead)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["already reviewed", "approved"]
    wait_until(
        lambda: Message.objects.get(id=message.id).delivery_status == Message.DeliveryStatus.SENT
    )
    time.sleep(1.0)  # a second delivery, if there were one, would have posted by now
    [posted] = sandbox.replies()
    assert posted["text"] == "Ja, van 9 tot 16 uur."
    assert AuditEvent.objects.filter(action="reply.approved", message_id=message.id).count() == 1
    assert AuditEvent.objects.filter(action="reply.sent", message_id=message.id).count() == 1
    conversation.refresh_from_db()
    assert conversation.waiting_since is None
