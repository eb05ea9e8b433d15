from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from channels.base import SentReply
from inbox.models import Message
from inbox.selectors import dashboard_metrics
from inbox.services import reply_claim_for_sending, reply_create, reply_mark_sent
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def answer_after(conversation, agent, minutes: int) -> None:
    """The agent answers `minutes` after the citizen's first message."""
    with time_machine.travel(
        conversation.first_inbound_at + timedelta(minutes=minutes), tick=False
    ):
        message = reply_create(
            conversation_id=conversation.id,
            actor=agent.user,
            text="Antwoord",
            idempotency_key=uuid.uuid4(),
        )
        reply_claim_for_sending(message_id=message.id)
        reply_mark_sent(message_id=message.id, sent=SentReply(f"sent-{message.id}", {}))


def test_it_reports_median_and_90th_percentile_first_response_per_channel(channel, agent):
    start = timezone.now() - timedelta(days=2)
    for minutes in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]:
        conversation = citizen_writes(channel, username=f"b{minutes}", sent_at=start)
        answer_after(conversation, agent, minutes)
    citizen_writes(channel, username="wacht", sent_at=start)
    citizen_writes(channel, username="te_oud", sent_at=timezone.now() - timedelta(days=9))

    [row, total] = dashboard_metrics(now=timezone.now())

    assert row.channel == channel
    assert row.messages_in == 11
    assert row.conversations_answered == 10
    assert row.waiting_now == 2
    assert row.median_first_response_seconds == pytest.approx(5.5 * 60)
    assert row.p90_first_response_seconds == pytest.approx(9.1 * 60)
    assert total.channel is None
    assert total.messages_in == 11
    assert total.median_first_response_seconds == pytest.approx(5.5 * 60)


def test_without_answers_the_response_times_are_unknown(channel):
    citizen_writes(channel)
    [row, _total] = dashboard_metrics(now=timezone.now())
    assert row.median_first_response_seconds is None
    assert Message.objects.count() == 1
