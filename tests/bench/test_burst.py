"""The crisis-burst section's arithmetic and its counting against a real burst and poll."""

from __future__ import annotations

import time

import pytest

from bench.burst import (
    LagSample,
    PageSampler,
    _cursor_passed,
    _slope,
    _stored_count,
    _stored_ids,
    analyse_lag,
    burst_seconds,
    lost_and_doubled,
)
from channels.services import channel_poll


def test_a_burst_that_keeps_up_drains_within_a_poll_and_stores_at_the_arrival_rate():
    # 100 tweets/s for 10 s; a poll every 2 s stores everything published until then.
    samples = [
        LagSample(
            seconds=float(t), published=min(100 * t, 1000), stored=min(100 * (t - t % 2), 1000)
        )
        for t in range(1, 14)
    ]

    analysis = analyse_lag(samples, count=1000, last_published_at=10.0)

    assert analysis.max_backlog == 100
    assert analysis.drain_seconds == 0.0
    assert analysis.arrival_rate == pytest.approx(100)
    # Stored in steps of a poll: the slope over half the burst is close, not equal.
    assert analysis.stored_rate == pytest.approx(100, rel=0.1)


def test_a_burst_that_falls_behind_shows_a_growing_backlog_and_a_long_drain():
    samples = [
        LagSample(seconds=float(t), published=min(100 * t, 1000), stored=min(50 * t, 1000))
        for t in range(1, 25)
    ]

    analysis = analyse_lag(samples, count=1000, last_published_at=10.0)

    assert analysis.max_backlog == 500
    assert analysis.drain_seconds == 10.0
    assert analysis.stored_rate / analysis.arrival_rate == pytest.approx(0.5)


def test_the_rates_are_slopes_not_end_points():
    assert _slope([(0.0, 0.0), (1.0, 10.0), (2.0, 20.0)]) == pytest.approx(10)
    assert _slope([(0.0, 5.0), (1.0, 5.0)]) == 0
    assert _slope([(1.0, 5.0)]) == 0


def test_a_burst_not_drained_by_the_last_sample_has_no_drain_time():
    samples = [LagSample(1.0, 10, 0), LagSample(2.0, 20, 5)]
    assert analyse_lag(samples, count=20, last_published_at=2.0).drain_seconds is None


def test_a_scaled_burst_keeps_the_full_runs_rate_and_a_given_one_its_seconds():
    assert burst_seconds(None, 300.0, 1.0) == 300.0
    assert burst_seconds(None, 300.0, 0.1) == 30.0
    assert burst_seconds(None, 300.0, 0.002) == 10.0
    assert burst_seconds(2000, 30.0, 0.002) == 30.0


def test_lost_and_doubled_ids_are_named():
    assert lost_and_doubled(["1", "2", "3"], ["3", "1", "2"]) == ([], [])
    assert lost_and_doubled(["1", "2", "3"], ["1", "3", "3"]) == (["2"], ["3"])


@pytest.mark.django_db
def test_the_section_counts_a_polled_burst_and_sees_the_cursor_pass_it(channel, sandbox):
    sandbox.start_burst(count=150, seconds=0.3, seed=5)
    deadline = time.monotonic() + 20
    while sandbox.burst_state()["running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    state = sandbox.burst_state(with_ids=True)
    assert not _cursor_passed(channel.id, state["last_id"])

    assert channel_poll(channel_id=channel.id).succeeded

    assert _stored_count(channel.id, state["first_id"]) == 150
    assert lost_and_doubled(state["ids"], _stored_ids(channel.id, state["first_id"])) == ([], [])
    assert _cursor_passed(channel.id, state["last_id"])


def test_the_page_sampler_times_each_request_and_keeps_failures_apart(sandbox):
    sampler = PageSampler(f"{sandbox.url}/_sandbox/burst", cookies={}, interval=0.05)
    missing = PageSampler(f"{sandbox.url}/_sandbox/nothing-here", cookies={}, interval=0.05)
    started = time.monotonic()
    sampler.start()
    missing.start()
    time.sleep(0.5)
    sampler.stop()
    missing.stop()
    ended = time.monotonic()

    assert len(sampler.between(started, ended)) >= 3
    assert all(0 < seconds < 5 for seconds in sampler.between(started, ended))
    assert missing.between(started, ended) == []
    assert missing.failures(started, ended) >= 3
