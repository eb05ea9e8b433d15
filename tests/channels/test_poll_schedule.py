"""When channels are polled: beat's check every second, the interval counted from the start
of the last poll, and the polls a backlog enqueued twice (channels/selectors.py, tasks.py)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from channels.models import Channel
from channels.selectors import POLL_START_LEEWAY, channel_ids_due_for_poll
from channels.tasks import poll, poll_due
from webcare.celery import app as celery_app

pytestmark = pytest.mark.django_db

INTERVAL = 10


def polled_at(channel: Channel, moment: datetime | None) -> None:
    Channel.objects.filter(id=channel.id).update(
        last_polled_at=moment, poll_interval_seconds=INTERVAL
    )


def test_a_channel_never_polled_is_due_at_once(channel):
    polled_at(channel, None)

    assert channel_ids_due_for_poll(now=timezone.now()) == [channel.id]


def test_a_channel_is_due_when_its_interval_has_passed_since_its_last_poll_started(channel):
    started = timezone.now()
    polled_at(channel, started)

    assert channel_ids_due_for_poll(now=started + timedelta(seconds=INTERVAL - 1)) == []
    assert channel_ids_due_for_poll(now=started + timedelta(seconds=INTERVAL)) == [channel.id]


def test_a_poll_that_started_a_moment_after_its_check_is_due_at_the_check_an_interval_later(
    channel,
):
    # Beat checked at `check`; the worker started the poll a little later. The check one
    # interval after `check` must find it due, not leave it for the next check.
    check = timezone.now()
    polled_at(channel, check + timedelta(milliseconds=300))

    assert channel_ids_due_for_poll(now=check + timedelta(seconds=INTERVAL)) == [channel.id]


def test_a_channel_is_never_polled_more_than_the_leeway_early(channel):
    started = timezone.now()
    polled_at(channel, started)
    too_early = started + timedelta(seconds=INTERVAL) - POLL_START_LEEWAY - timedelta(seconds=0.01)

    assert channel_ids_due_for_poll(now=too_early) == []


def test_paused_inactive_and_refused_channels_are_not_due(channel, mastodon_channel):
    now = timezone.now()
    polled_at(channel, None)
    polled_at(mastodon_channel, None)
    Channel.objects.filter(id=channel.id).update(paused_until=now + timedelta(seconds=30))
    Channel.objects.filter(id=mastodon_channel.id).update(is_active=False)

    assert channel_ids_due_for_poll(now=now) == []

    Channel.objects.filter(id=mastodon_channel.id).update(
        is_active=True, health=Channel.Health.NEEDS_ATTENTION
    )
    assert channel_ids_due_for_poll(now=now) == []
    assert channel_ids_due_for_poll(now=now + timedelta(seconds=31)) == [channel.id]


def test_it_can_ask_about_some_channels_only(channel, mastodon_channel):
    polled_at(channel, None)
    polled_at(mastodon_channel, None)

    assert channel_ids_due_for_poll(now=timezone.now(), channel_ids=[mastodon_channel.id]) == [
        mastodon_channel.id
    ]


def test_beat_checks_for_due_channels_every_second():
    entry = settings.CELERY_BEAT_SCHEDULE["channels.poll_due"]

    assert entry["task"] == "channels.poll_due"
    assert entry["schedule"] <= 1.0


def test_polls_start_one_interval_apart_give_or_take_a_second(channel):
    """A minute of beat's checks, each poll starting up to 0.3 s after its check (broker and
    worker): every gap between polls is within a second of the interval, and no poll is
    earlier than the leeway allows. Checking every 10 s, as before, gave gaps of 20 s; every
    second without the leeway, 11 s."""
    rng = random.Random(4)
    began = timezone.now()
    polled_at(channel, None)
    starts: list[float] = []
    for tick in range(90):
        check = began + timedelta(seconds=tick)
        if channel_ids_due_for_poll(now=check):
            start = check + timedelta(seconds=rng.uniform(0.001, 0.3))
            Channel.objects.filter(id=channel.id).update(last_polled_at=start)
            starts.append((start - began).total_seconds())

    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(gaps) >= 7
    assert max(gaps) < INTERVAL + 1
    assert min(gaps) >= INTERVAL - POLL_START_LEEWAY.total_seconds()


def test_a_scheduled_poll_does_nothing_when_the_channel_was_polled_since_it_was_enqueued(
    channel, sandbox
):
    # A second poll beat enqueued while the workers were behind: the first has just run.
    just_now = timezone.now()
    polled_at(channel, just_now)
    sandbox.add_mention(text="Waar blijft de vuilniswagen?", username="kees")

    poll(channel.id, only_if_due=True)

    channel.refresh_from_db()
    assert channel.last_polled_at == just_now
    assert not channel.conversations.exists()


def test_a_poll_asked_for_outside_the_schedule_runs_anyway(channel, sandbox):
    polled_at(channel, timezone.now())
    sandbox.add_mention(text="Waar blijft de vuilniswagen?", username="kees")

    poll(channel.id)

    assert channel.conversations.count() == 1


@pytest.fixture
def tasks_run_inline() -> Iterator[None]:
    """`delay()` runs the task at once, in this process (no worker, no broker)."""
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False


@pytest.mark.usefixtures("tasks_run_inline")
def test_poll_due_polls_each_due_channel_once(channel, sandbox):
    polled_at(channel, None)
    sandbox.add_mention(text="Mijn container is niet geleegd", username="pietjep")

    assert poll_due() == 1
    assert poll_due() == 0

    channel.refresh_from_db()
    assert channel.last_polled_at is not None
    assert channel.conversations.count() == 1
