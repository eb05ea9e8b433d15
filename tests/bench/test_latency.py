"""The latency section's measuring parts (bench/latency.py): when a probe counts as shown,
the schedule of the probes, the browser's interval read from live.js, and the set-up."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from bench.latency import (
    PROBE_KINDS,
    LiveAnswer,
    Probe,
    browser_poll_seconds,
    cursor_message_id,
    first_visible,
    match_stored,
    poll_gaps,
    prepare_channels,
    probe_schedule,
    resolve_visible,
    with_browser_phase,
)
from channels.base import FetchResult, PlatformAuthor, PlatformMessage
from channels.models import Channel
from inbox.models import Message
from inbox.selectors.live import live_cursor_current
from inbox.services.ingest import messages_ingest


def answer(at: float, message_id: int, *conversation_ids: int) -> LiveAnswer:
    return LiveAnswer(at=at, message_id=message_id, conversation_ids=frozenset(conversation_ids))


def test_a_probe_is_shown_by_the_first_answer_that_covers_and_lists_it():
    answers = [
        answer(10.0, 99, 5),  # before the message
        answer(10.5, 101, 7),  # covers its id, another conversation
        answer(11.0, 102, 8, 9),  # covers and lists it
        answer(12.0, 103, 9),
    ]

    shown, skipped = first_visible(
        answers, message_id=101, conversation_id=9, not_before=10.2, committed_seen_at=11.5
    )

    assert (shown, skipped) == (11.0, False)


def test_an_answer_saying_everything_changed_shows_every_probe():
    answers = [LiveAnswer(at=3.0, message_id=500, conversation_ids=None)]

    assert first_visible(
        answers, message_id=400, conversation_id=1, not_before=1.0, committed_seen_at=None
    ) == (3.0, False)


def test_answers_from_before_the_publication_do_not_count():
    answers = [answer(1.0, 50, 9), answer(4.0, 60, 9)]

    assert first_visible(
        answers, message_id=50, conversation_id=9, not_before=2.0, committed_seen_at=None
    ) == (4.0, False)


def test_a_probe_the_cursor_passed_before_its_commit_is_shown_by_the_next_answer_after_it():
    # Message 101 committed after 102: the cursor reached 102 while 101 was invisible.
    answers = [answer(5.0, 102, 20), answer(5.4, 103, 21), answer(6.0, 104, 22)]

    shown, skipped = first_visible(
        answers, message_id=101, conversation_id=19, not_before=4.0, committed_seen_at=5.2
    )

    assert (shown, skipped) == (5.4, True)


def test_a_probe_never_reported_has_no_time():
    assert first_visible(
        [answer(5.0, 90, 1)], message_id=101, conversation_id=19, not_before=4.0,
        committed_seen_at=None,
    ) == (None, False)  # fmt: skip


def test_the_cursor_message_id_is_its_second_part():
    assert cursor_message_id("345382.1050660") == 1050660


def test_the_browser_interval_is_read_from_live_js():
    assert browser_poll_seconds("  var POLL_MS = 750;\n") == 0.75
    with pytest.raises(ValueError):
        browser_poll_seconds("var SOMETHING_ELSE = 1;")
    # The real file: whatever it says, it is an interval a browser can keep.
    assert 0.1 <= browser_poll_seconds() <= 5


def test_the_browser_adds_at_most_one_of_its_intervals():
    latencies = [0.2, 0.3, 9.0]
    seen = with_browser_phase(latencies, interval=1.5, rng=random.Random(1))

    for measured, shown in zip(latencies, seen, strict=True):
        assert measured <= shown <= measured + 1.5


def test_probes_are_spread_over_the_window_and_take_turns_at_each_path():
    probes = probe_schedule(
        random.Random(7),
        poll_probes=30,
        webhook_probes=20,
        window=60.0,
        run_tag="abc123",
    )

    assert len(probes) == 50
    assert [probe.offset for probe in probes] == sorted(probe.offset for probe in probes)
    assert all(0 <= probe.offset <= 60 for probe in probes)
    assert probes[-1].offset - probes[0].offset > 40
    by_kind = {kind.name: sum(probe.kind is kind for probe in probes) for kind in PROBE_KINDS}
    assert by_kind == {
        "X mention": 10,
        "X direct message": 10,
        "Mastodon mention": 10,
        "Facebook comment": 10,
        "Messenger message": 10,
    }
    assert len({probe.marker for probe in probes}) == 50
    assert all(probe.marker in probe.text for probe in probes)


def platform_message(external_id: str, text: str) -> PlatformMessage:
    return PlatformMessage(
        external_id=external_id,
        thread_key=f"thread-{external_id}",
        author=PlatformAuthor(external_id=f"author-{external_id}", username="kees"),
        text=text,
        sent_at=timezone.now() - timedelta(seconds=1),
        raw={},
    )


@pytest.mark.django_db
def test_stored_probes_are_found_by_their_marker_and_timed(channel):
    start = live_cursor_current().message_id
    probes = probe_schedule(
        random.Random(3),
        poll_probes=2,
        webhook_probes=0,
        window=1.0,
        run_tag="f00d42",
    )
    for probe in probes:
        probe.published_at = timezone.now().timestamp() - 0.5
    messages_ingest(
        channel_id=channel.id,
        fetched=FetchResult(
            messages=[platform_message("lat-1", probes[0].text)], cursor={}, rejected=[]
        ),
    )

    match_stored(probes, start)
    stored = Message.objects.get(external_id="lat-1")
    assert probes[0].message_id == stored.id
    assert probes[0].conversation_id == stored.conversation_id
    assert probes[0].stored_at == pytest.approx(stored.created_at.timestamp())
    assert probes[1].message_id is None

    resolve_visible(
        probes,
        [LiveAnswer(at=probes[0].committed_seen_at + 0.1, message_id=stored.id,
                    conversation_ids=frozenset({stored.conversation_id}))],
    )  # fmt: skip
    assert probes[0].visible_at == probes[0].committed_seen_at + 0.1
    assert probes[0].latency == probes[0].visible_at - probes[0].published_at
    assert probes[1].latency is None


@pytest.mark.django_db
def test_the_set_up_points_channels_at_the_sandbox_and_retires_an_earlier_runs_ids(
    channel, mastodon_channel
):
    Channel.objects.filter(id=channel.id).update(
        cursor={"mentions_since_id": "999"}, last_polled_at=timezone.now()
    )
    facebook = Channel.objects.create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id="102030405060708",
        account_handle="demodorp",
        api_base_url="http://old.invalid",
        credentials_encrypted="",
        cursor={},
        poll_interval_seconds=15,
    )
    messages_ingest(
        channel_id=facebook.id,
        fetched=FetchResult(
            messages=[
                platform_message("m_sandbox000000000001", "Een eerdere run"),
                platform_message("9000001_9000002", "Een eerdere reactie"),
                platform_message("hist-1-1002-0", "Uit de dataset"),
            ],
            cursor={},
            rejected=[],
        ),
    )

    setup = prepare_channels(8123)

    assert setup.names == {
        "twitter": channel.name,
        "mastodon": mastodon_channel.name,
        "facebook": facebook.name,
    }
    assert setup.poll_interval == max(channel.poll_interval_seconds, 15)
    channel.refresh_from_db()
    assert channel.api_base_url == "http://127.0.0.1:8123"
    assert channel.cursor == {}
    assert channel.last_polled_at is None
    ids = set(Message.objects.filter(channel=facebook).values_list("external_id", flat=True))
    assert "hist-1-1002-0" in ids
    assert not ids & {"m_sandbox000000000001", "9000001_9000002"}
    assert len(ids) == 3


def test_probes_know_their_latency_only_once_published_and_shown():
    probe = Probe(number=1, kind=PROBE_KINDS[0], offset=0.0, marker="LAT-x-001")
    assert probe.latency is None
    probe.published_at, probe.visible_at = 100.0, 109.5
    assert probe.latency == 9.5


def test_poll_gaps_are_the_seconds_between_a_channels_consecutive_poll_starts():
    assert poll_gaps({"x": {30.0, 10.0, 20.5}, "m": {5.0}}) == {"m": [], "x": [10.5, 9.5]}
