"""Lifecycle changes under concurrency, on real PostgreSQL connections (one per thread)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from inbox.models import CareCycle, Conversation
from inbox.services import (
    ServiceError,
    conversation_snooze,
    conversations_merge,
    conversations_wake_snoozed,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(work: Callable[[], object]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_the_wake_up_sweep_skips_a_conversation_someone_is_changing(channel, agent):
    conversation = citizen_writes(channel, username="slaper")
    conversation_snooze(
        conversation_id=conversation.id,
        actor=agent.user,
        until=timezone.now() + timedelta(seconds=1),
    )
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        with transaction.atomic():
            Conversation.objects.select_for_update().get(id=conversation.id)
            locked.set()
            release.wait(timeout=30)

    holder = _in_thread(hold_the_row)
    assert locked.wait(timeout=30)
    later = timezone.now() + timedelta(minutes=1)
    try:
        # Not blocked and not woken: the next run takes it.
        assert conversations_wake_snoozed(now=later) == 0
    finally:
        release.set()
        holder.join(timeout=30)

    assert conversations_wake_snoozed(now=later) == 1
    assert Conversation.objects.get().status == Conversation.Status.OPEN


def test_two_crossing_merges_of_one_pair_end_in_one_merge_without_deadlock(channel, team_lead):
    first = citizen_writes(channel, username="daan", thread="t-1")
    second = citizen_writes(channel, username="daan", thread="t-2")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def merge(source: Conversation, target: Conversation) -> Callable[[], None]:
        def work() -> None:
            start.wait(timeout=30)
            try:
                conversations_merge(source_id=source.id, target_id=target.id, actor=team_lead.user)
                outcomes.append("merged")
            except ServiceError:
                outcomes.append("refused")

        return work

    threads = [_in_thread(merge(first, second)), _in_thread(merge(second, first))]
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["merged", "refused"]
    assert Conversation.objects.filter(merged_into__isnull=False).count() == 1
    survivor = Conversation.objects.get(merged_into__isnull=True)
    assert survivor.messages.count() == 2
    assert CareCycle.objects.filter(conversation=survivor, resolved_at__isnull=True).count() == 1
