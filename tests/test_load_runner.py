"""The load test's own logic (bench/load/): its arguments, where its database goes, the
percentiles and the verdict of its report, and reading the real inbox page as its agents
do. The load test itself runs with `make load`."""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

import pytest

from bench.load.pages import conversation_ids_in, list_needs_refresh, parse_page
from bench.load.report import (
    INBOX_PAGE,
    IngestFigures,
    build_report,
    format_report,
    percentile,
)
from bench.load.runner import database_url_for, parse_arguments
from inbox.models import Message
from tests.inbox.helpers import citizen_writes


def test_by_default_fifty_agents_work_for_a_minute() -> None:
    arguments = parse_arguments([])
    assert (arguments.agents, arguments.seconds, arguments.keep) == (50, 60, False)
    assert arguments.database == "webcare_load"
    assert arguments.json_out is None


def test_the_ci_run_is_spelled_as_the_issue_says(tmp_path: Any) -> None:
    arguments = parse_arguments(
        ["--seconds", "30", "--agents", "50", "--seed", "7", "--json-out", str(tmp_path / "l.json")]
    )
    assert (arguments.seconds, arguments.agents, arguments.seed) == (30, 50, 7)
    assert arguments.json_out == tmp_path / "l.json"


@pytest.mark.parametrize("argv", [["--agents", "0"], ["--seconds", "-5"], ["--spawn-rate", "0"]])
def test_nonsense_counts_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_arguments(argv)


def test_agents_never_log_in_faster_than_there_are_agents() -> None:
    assert parse_arguments(["--agents", "3", "--spawn-rate", "10"]).spawn_rate == 3.0


def test_the_load_database_is_another_database_on_the_same_server() -> None:
    assert (
        database_url_for("postgres://postgres:pw@127.0.0.1:5432/webcare_h4", "webcare_load")
        == "postgres://postgres:pw@127.0.0.1:5432/webcare_load"
    )
    # The embedded server's URL keeps its socket directory in the query.
    assert (
        database_url_for("postgres://postgres@/webcare?host=/srv/var/pg", "webcare_load")
        == "postgres://postgres@/webcare_load?host=/srv/var/pg"
    )


def test_percentiles_are_the_nearest_rank_of_the_sorted_response_times() -> None:
    rng = random.Random(3)
    for _ in range(50):
        times = [rng.choice([3, 7, 12, 40, 41, 90, 350, 1200]) for _ in range(rng.randint(1, 300))]
        histogram: dict[int, int] = {}
        for milliseconds in times:
            histogram[milliseconds] = histogram.get(milliseconds, 0) + 1
        ordered = sorted(times)
        for fraction in (0.5, 0.95, 0.99, 1.0):
            assert percentile(histogram, fraction) == ordered[math.ceil(fraction * len(times)) - 1]
    assert percentile({}, 0.95) == 0


def _changes(ids: list[int] | None, **counts: int) -> dict[str, Any]:
    """A `/live/changes/` answer (inbox.selectors.live.LiveChanges.as_json)."""
    return {
        "cursor": "9.9",
        "conversation_ids": ids,
        "assigned_to_you": 0,
        "new_messages": 0,
        "new_mentions": 0,
        **counts,
    }


def test_the_old_rule_reloaded_the_list_on_any_change_anywhere() -> None:
    assert list_needs_refresh(_changes([999]), [1, 2, 3], rule="every-change")
    assert not list_needs_refresh(_changes([]), [1, 2, 3], rule="every-change")
    assert list_needs_refresh(_changes(None), [1, 2, 3], rule="every-change")


def test_like_the_browser_agents_reload_only_for_rows_on_screen_or_their_queues() -> None:
    assert not list_needs_refresh(_changes([999]), [1, 2, 3])
    assert not list_needs_refresh(_changes([]), [1, 2, 3])
    assert not list_needs_refresh(_changes([999]), [1, 2, 3], rule="listed-only")
    assert list_needs_refresh(_changes([999, 2]), [1, 2, 3], rule="listed-only")
    assert list_needs_refresh(_changes([999], assigned_to_you=1), [1], rule="listed-only")
    assert list_needs_refresh(_changes([999], new_messages=2), [1], rule="listed-only")
    assert list_needs_refresh(_changes(None), [1], rule="listed-only")
    with pytest.raises(ValueError, match="unknown"):
        list_needs_refresh(_changes([1]), [1], rule="sometimes")


def _entry(name: str, histogram: dict[int, int], failures: int = 0) -> dict[str, Any]:
    """An endpoint as agents.py writes it (JSON turns the histogram's keys into strings)."""
    return {
        "method": name.split()[0],
        "name": name,
        "num_requests": sum(histogram.values()),
        "num_failures": failures,
        "total_response_time": sum(ms * count for ms, count in histogram.items()),
        "max_response_time": max(histogram),
        "response_times": {str(ms): count for ms, count in histogram.items()},
    }


def _ingest(**overrides: Any) -> IngestFigures:
    figures: dict[str, Any] = {
        "seconds": 60.0,
        "citizen_messages_stored": 40,
        "replies_created": 10,
        "replies_sent": 2,
        "replies_unsent": 0,
        "replies_failed": 0,
        "replies_refused_seeded": 8,
        "samples": [(float(second), second * 2 // 3) for second in range(0, 61, 2)],
    }
    return IngestFigures(**{**figures, **overrides})


def _swarm(*, warm_up_failures: int = 0) -> dict[str, Any]:
    return {
        "entries": [
            _entry("GET /live/changes/ (poll)", {4: 500, 9: 300, 30: 20}),
            _entry(INBOX_PAGE, {60: 18, 80: 1, 400: 1}),
        ],
        "errors": [],
        "exceptions": [],
        "agents_ready": 2,
        "warm_up": {
            "seconds": 4.5,
            "entries": [_entry("POST /login/", {700: 2}, failures=warm_up_failures)],
            "errors": [],
        },
    }


def test_the_report_puts_the_inbox_page_first_with_its_percentiles() -> None:
    report = build_report(agents=2, seconds=60, swarm=_swarm(), ingest=_ingest())
    page = report.endpoints[0]
    assert (page.name, page.requests, page.p50_ms, page.p95_ms, page.p99_ms) == (
        INBOX_PAGE,
        20,
        60,
        80,
        400,
    )
    assert report.requests == 840  # the warm-up's logins are reported apart
    assert report.problems() == []
    text = format_report(report)
    assert "Inbox page p95: 80 ms" in text
    assert "PASSED" in text
    assert report.as_json()["inbox_page"]["p95_ms"] == 80


def test_a_failed_request_in_the_warm_up_fails_the_run_too() -> None:
    report = build_report(agents=2, seconds=60, swarm=_swarm(warm_up_failures=1), ingest=_ingest())
    assert report.problems() == ["1 of 842 requests failed"]
    assert "FAILED: 1 of 842 requests failed" in format_report(report)


def test_ingest_that_stops_storing_messages_fails_the_run() -> None:
    # Messages until 20 s, then nothing for 40 s.
    samples = [(float(second), min(second, 20)) for second in range(0, 61, 5)]
    stalled = _ingest(citizen_messages_stored=20, samples=samples)
    assert stalled.longest_gap_seconds() == 40.0
    report = build_report(agents=2, seconds=60, swarm=_swarm(), ingest=stalled)
    assert report.problems() == ["ingest stalled: no citizen message stored for 40 s"]
    nothing = _ingest(citizen_messages_stored=0, samples=[(0.0, 0), (30.0, 0)])
    assert build_report(agents=2, seconds=60, swarm=_swarm(), ingest=nothing).problems() == [
        "ingest stalled: no citizen message was stored during the run"
    ]


def test_replies_to_seeded_history_may_be_refused_but_live_ones_must_be_sent() -> None:
    refused_only = _ingest(replies_sent=0, replies_refused_seeded=10)
    assert build_report(agents=2, seconds=60, swarm=_swarm(), ingest=refused_only).problems() == []
    stuck = _ingest(replies_unsent=3, replies_failed=1)
    assert build_report(agents=2, seconds=60, swarm=_swarm(), ingest=stuck).problems() == [
        "delivery stalled: 3 replies still queued or sending after the run",
        "1 replies in live conversations failed to send",
    ]


@pytest.mark.django_db
def test_the_agents_read_and_submit_the_composer_of_the_real_inbox_page(
    logged_in: Any, agent: Any, channel: Any
) -> None:
    first = citizen_writes(channel, username="eerste")
    conversation = citizen_writes(channel, username="tweede", text="Lantaarnpaal kapot")
    client = logged_in(agent)

    html = client.get(f"/?queue=all&open={conversation.id}").content.decode()

    assert set(conversation_ids_in(html)) == {first.id, conversation.id}
    page = parse_page(html)
    reply = page.form("/reply/")
    assert reply is not None and not reply.submit_disabled
    assert reply.textareas == ["text"]
    uuid.UUID(reply.fields["idempotency_key"])
    newest = Message.objects.filter(conversation=conversation).latest("id")
    assert reply.fields["seen_message_id"] == str(newest.id)
    assert reply.fields["return_to"] == f"/?open={conversation.id}&queue=all"
    assert page.form("/resolve/") is not None

    # What the agent sends is what the server needs: one queued reply, back to the inbox.
    response = client.post(reply.action, {**reply.fields, "text": "We kijken ernaar."})
    assert response.status_code == 302
    assert response["Location"] == f"/?open={conversation.id}&queue=all"
    assert (
        Message.objects.filter(
            conversation=conversation, direction=Message.Direction.OUTBOUND
        ).count()
        == 1
    )
