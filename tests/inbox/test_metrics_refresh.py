"""The refresh that keeps facts and rollups in step (services/metrics.py): constant queries,
no change lost to a concurrent transaction, the beat task on a real worker, and the
rebuild command."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db import connections as db_connections
from django.test.utils import CaptureQueriesContext

from channels.base import SentReply
from inbox import tasks
from inbox.models import Conversation, MetricsDirtyConversation, MetricsHour, WaitFact
from inbox.services import (
    metrics_pending_changes,
    metrics_refresh,
    reply_create,
    reply_mark_sent,
)
from inbox.services import topics as topic_services
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _conversations(channel, agent, count: int) -> list[Conversation]:  # type: ignore[no-untyped-def]
    """`count` conversations over a day, every other one answered."""
    made = []
    for number in range(count):
        with time_machine.travel(MONDAY + timedelta(minutes=17 * number), tick=False):
            conversation = citizen_writes(channel, username=f"burger{number}")
            if number % 2:
                message = reply_create(
                    conversation_id=conversation.id,
                    actor=agent.user,
                    text="Dank voor uw bericht.",
                    idempotency_key=uuid.uuid4(),
                )
                reply_mark_sent(message_id=message.id, sent=SentReply(uuid.uuid4().hex[:12], {}))
        made.append(conversation)
    return made


def _refresh_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        metrics_refresh()
    return len(queries)


def test_a_refresh_takes_the_same_number_of_queries_for_5_and_50_conversations(channel, agent):
    _conversations(channel, agent, 5)
    few = _refresh_queries()
    assert WaitFact.objects.count() == 5

    _conversations(channel, agent, 50)
    many = _refresh_queries()

    assert WaitFact.objects.count() == 55
    assert few == many
    assert many <= 35
    assert metrics_pending_changes() == 0


def test_pending_changes_count_the_marks_until_the_refresh(channel):
    citizen_writes(channel, username="daan")
    citizen_writes(channel, username="vera")
    assert metrics_pending_changes() >= 2
    assert metrics_pending_changes(at_most=1) == 1

    assert metrics_refresh() == 2

    assert metrics_pending_changes() == 0
    assert MetricsHour.objects.get().messages_in == 2


def test_a_refresh_in_small_batches_handles_every_mark(channel):
    for number in range(5):
        citizen_writes(channel, username=f"burger{number}")

    assert metrics_refresh(batch_size=2) == 5

    assert metrics_pending_changes() == 0
    assert WaitFact.objects.count() == 5


def test_the_rebuild_command_reports_its_progress_and_rebuilds_everything(channel):
    citizen_writes(channel, username="daan")
    metrics_refresh()
    WaitFact.objects.all().delete()
    MetricsHour.objects.all().delete()
    out = io.StringIO()

    call_command("metrics_rebuild", stdout=out)

    assert "1/1 conversations" in out.getvalue()
    assert WaitFact.objects.count() == 1
    assert MetricsHour.objects.get().messages_in == 1


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_during_a_refresh_is_left_for_the_next_one(channel, monkeypatch):
    conversation = citizen_writes(channel, username="daan", thread="t1")
    real_hook = topic_services.topics_refresh_for_conversations

    def citizen_writes_meanwhile() -> None:
        try:
            citizen_writes(channel, username="daan", thread="t1", text="Nog een vraag")
        finally:
            db_connections.close_all()

    def hook(conversation_ids) -> None:  # type: ignore[no-untyped-def]
        # Inside the refresh's transaction, after it took the marks and rebuilt the facts:
        # another transaction adds a message (and its mark) to the same conversation, and
        # commits before the refresh does.
        other = threading.Thread(target=citizen_writes_meanwhile)
        other.start()
        other.join(timeout=30)
        assert not other.is_alive()
        real_hook(conversation_ids)

    monkeypatch.setattr(topic_services, "topics_refresh_for_conversations", hook)
    metrics_refresh()
    monkeypatch.setattr(topic_services, "topics_refresh_for_conversations", real_hook)

    # The refresh saw one message; the second one's mark survived it.
    assert WaitFact.objects.get(conversation=conversation).messages == 1
    assert MetricsDirtyConversation.objects.filter(conversation_id=conversation.id).exists()

    metrics_refresh()

    assert WaitFact.objects.get(conversation=conversation).messages == 2
    assert metrics_pending_changes() == 0


def test_the_beat_schedule_runs_the_refresh_every_15_seconds():
    entry = settings.CELERY_BEAT_SCHEDULE["inbox.metrics_refresh"]
    assert (entry["task"], entry["schedule"]) == ("inbox.metrics_refresh", 15.0)


def _wait_until(condition: Callable[[], bool], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.mark.django_db(transaction=True)
def test_the_refresh_task_runs_on_a_real_worker(celery_worker, channel):
    conversation = citizen_writes(channel, username="joost")

    tasks.metrics_refresh.delay()

    _wait_until(lambda: WaitFact.objects.filter(conversation=conversation).exists())
    _wait_until(lambda: metrics_pending_changes() == 0)
    assert MetricsHour.objects.get().waits_started == 1
