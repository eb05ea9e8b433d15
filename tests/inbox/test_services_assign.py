from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inbox.models import AuditEvent, Conversation
from inbox.services import (
    ServiceError,
    agent_set_presence,
    conversation_take,
    conversations_assign_waiting,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def test_it_assigns_the_oldest_waiting_conversation_first(channel, agent):
    now = timezone.now()
    newer = citizen_writes(channel, username="nieuw", sent_at=now - timedelta(minutes=1))
    older = citizen_writes(channel, username="oud", sent_at=now - timedelta(minutes=30))
    agent_set_presence(actor=agent.user, presence="available")

    assert conversations_assign_waiting() == 2

    events = AuditEvent.objects.filter(action="conversation.assigned").order_by("id")
    assert [event.conversation_id for event in events] == [older.id, newer.id]


def test_it_hands_out_round_robin_across_agents_available(channel, agent, second_agent):
    now = timezone.now()
    for minute in range(4):
        citizen_writes(
            channel, username=f"burger{minute}", sent_at=now - timedelta(minutes=10 - minute)
        )

    conversations_assign_waiting()

    assignees = list(
        Conversation.objects.order_by("waiting_since").values_list("assignee__username", flat=True)
    )
    assert sorted(assignees[:2]) == ["anouk", "bram"]
    assert assignees[2:] == assignees[:2]


def test_the_next_run_continues_the_round_robin(channel, agent, second_agent):
    citizen_writes(channel, username="een")
    conversations_assign_waiting()
    first = Conversation.objects.get().assignee
    citizen_writes(channel, username="twee")
    conversations_assign_waiting()

    second = Conversation.objects.get(contact__username="twee").assignee
    assert {first.username, second.username} == {"anouk", "bram"}


def test_agents_offline_get_nothing(channel, agent, second_agent):
    agent_set_presence(actor=agent.user, presence="offline")
    for number in range(3):
        citizen_writes(channel, username=f"burger{number}")

    conversations_assign_waiting()

    assert set(Conversation.objects.values_list("assignee__username", flat=True)) == {"bram"}


def test_nothing_is_assigned_when_nobody_is_available(channel, team_lead):
    citizen_writes(channel)
    assert conversations_assign_waiting() == 0
    assert Conversation.objects.get().assignee is None


def test_an_agent_cannot_take_a_conversation_a_colleague_has(channel, agent, second_agent):
    conversation = citizen_writes(channel)
    conversation_take(conversation_id=conversation.id, actor=agent.user)

    with pytest.raises(ServiceError):
        conversation_take(conversation_id=conversation.id, actor=second_agent.user)
    conversation.refresh_from_db()
    assert conversation.assignee == agent.user


@pytest.mark.django_db(transaction=True)
def test_concurrent_assignment_runs_never_assign_a_conversation_twice(channel, agent, second_agent):
    # Two agents with the default capacity of 8: exactly 16 fit.
    for number in range(20):
        citizen_writes(channel, username=f"burger{number}")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            conversations_assign_waiting()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Conversation.objects.filter(assignee__isnull=True).count() == 4
    assert AuditEvent.objects.filter(action="conversation.assigned").count() == 16
    counts = [
        Conversation.objects.filter(assignee=profile.user).count()
        for profile in (agent, second_agent)
    ]
    assert counts == [8, 8]
