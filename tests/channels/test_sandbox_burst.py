"""The sandbox's crisis burst (POST /_sandbox/burst) and its timeline at burst sizes."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
import requests

from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS, SandboxServer
from channels.sandbox.faults import RATE_LIMITS
from channels.sandbox.generator import CRISIS_HASHTAGS
from channels.tweet_text import MAX_TWEET_LENGTH, weighted_length
from tests.channels import sandbox_fixtures

BEARER = {"Authorization": f"Bearer {DEMO_CREDENTIALS['bearer_token']}"}
MENTIONS = f"/2/users/{DEMO_ACCOUNT_ID}/mentions"

# A fresh sandbox server per test, not the suite's shared one (tests/conftest.py).
sandbox = sandbox_fixtures.sandbox
http = sandbox_fixtures.http


def start_burst(http: requests.Session, sandbox: SandboxServer, **request: Any) -> dict:
    response = http.post(sandbox.url + "/_sandbox/burst", json=request, timeout=5)
    assert response.status_code == 202, response.text
    return response.json()["burst"]


def wait_for_burst(http: requests.Session, sandbox: SandboxServer, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = http.get(sandbox.url + "/_sandbox/burst", timeout=5).json()["burst"]
        if not state["running"]:
            return state
        time.sleep(0.05)
    raise AssertionError("the burst did not finish in time")


def test_a_burst_publishes_every_tweet_at_its_moment_and_says_which(sandbox, http):
    started = start_burst(http, sandbox, count=300, seconds=1.5, channel="x-mentions", seed=4)
    assert started["running"] and started["count"] == 300

    state = wait_for_burst(http, sandbox)
    ids = http.get(sandbox.url + "/_sandbox/burst/ids", timeout=5).json()["burst"]["ids"]

    mentions = sandbox.mentions()
    assert state["published"] == 300 and not state["error"]
    assert ids == [tweet["id"] for tweet in mentions]
    assert state["first_id"] == ids[0] and state["last_id"] == ids[-1]
    # Spread over the burst's seconds, each stamped with the moment it was published.
    stamps = [datetime.fromisoformat(tweet["created_at"]) for tweet in mentions]
    assert stamps == sorted(stamps)
    assert 0.5 < (stamps[-1] - stamps[0]).total_seconds() <= 2.5
    for tweet in mentions:
        assert any(tag in tweet["text"] for tag in CRISIS_HASHTAGS)
        assert weighted_length(tweet["text"]) <= MAX_TWEET_LENGTH


def test_a_burst_has_a_crowd_of_authors_a_vocal_few_and_threads(sandbox, http):
    start_burst(http, sandbox, count=2000, seconds=0.5, seed=2)
    wait_for_burst(http, sandbox)

    mentions = sandbox.mentions()
    per_author = Counter(tweet["author_id"] for tweet in mentions)
    replies = [tweet for tweet in mentions if tweet.get("referenced_tweets")]
    assert len(per_author) > 1000
    assert per_author.most_common(1)[0][1] >= 4
    assert 0.1 < len(replies) / len(mentions) < 0.3
    known = {tweet["id"]: tweet for tweet in mentions}
    for reply in replies:
        parent = known[reply["referenced_tweets"][0]["id"]]
        assert reply["conversation_id"] == parent["conversation_id"]


def test_the_same_seed_publishes_the_same_burst(http):
    texts = []
    for _ in range(2):
        with SandboxServer(seed=9) as server:
            start_burst(http, server, count=50, seconds=0.2, seed=7)
            wait_for_burst(http, server)
            texts.append([(t["text"], t["author_id"]) for t in server.mentions()])
    assert texts[0] == texts[1]


def test_the_api_pages_through_a_burst_while_it_is_published(sandbox, http):
    start_burst(http, sandbox, count=3000, seconds=3.0, seed=3)
    slowest = 0.0
    partway = set()
    seen: list[str] = []
    since_id = None
    while True:
        state = http.get(sandbox.url + "/_sandbox/burst", timeout=5).json()["burst"]
        if 0 < state["published"] < 3000:
            partway.add(state["published"])
        token = None
        newest = None
        while True:
            params: dict[str, Any] = {"max_results": 100}
            if since_id:
                params["since_id"] = since_id
            if token:
                params["pagination_token"] = token
            started = time.monotonic()
            page = http.get(sandbox.url + MENTIONS, params=params, headers=BEARER, timeout=5)
            slowest = max(slowest, time.monotonic() - started)
            assert page.status_code == 200, page.text
            meta = page.json()["meta"]
            newest = newest or meta.get("newest_id")
            seen += [tweet["id"] for tweet in page.json().get("data", [])]
            token = meta.get("next_token")
            if not token:
                break
        since_id = newest or since_id
        if not state["running"] and since_id == state["last_id"]:
            break
    assert sorted(seen, key=int) == [tweet["id"] for tweet in sandbox.mentions()]
    assert len(seen) == len(set(seen)) == 3000
    # Answered all along the burst, not once it was over (generous for a busy machine).
    assert len(partway) >= 2
    assert slowest < 2.0


@pytest.mark.parametrize(
    ("request_body", "complaint"),
    [
        ({"count": 0, "seconds": 1}, "'count'"),
        ({"count": 10, "seconds": 0}, "'seconds'"),
        ({"count": 10, "seconds": 1, "channel": "facebook"}, "'channel'"),
        ({"count": "many", "seconds": 1}, "'count'"),
    ],
)
def test_a_burst_request_is_checked(sandbox, http, request_body, complaint):
    response = http.post(sandbox.url + "/_sandbox/burst", json=request_body, timeout=5)
    assert response.status_code == 400
    assert complaint in response.json()["detail"]


def test_one_burst_at_a_time_and_delete_or_reset_stops_it(sandbox, http):
    start_burst(http, sandbox, count=1000, seconds=60, seed=1)
    second = http.post(sandbox.url + "/_sandbox/burst", json={"count": 1, "seconds": 1})
    assert second.status_code == 400

    stopped = http.delete(sandbox.url + "/_sandbox/burst", timeout=10).json()["burst"]
    assert not stopped["running"] and stopped["published"] < 1000
    start_burst(http, sandbox, count=1000, seconds=60, seed=1)
    sandbox.reset()
    assert not sandbox.burst_state()["running"]


def test_rate_limits_can_be_lifted_until_a_reset(sandbox, http):
    endpoint = "GET /2/users/:id/mentions"
    lifted = http.post(
        sandbox.url + "/_sandbox/rate_limits", json={"limits": {endpoint: 5000}}, timeout=5
    )
    assert lifted.json()["limits"][endpoint] == 5000
    page = http.get(sandbox.url + MENTIONS, headers=BEARER, timeout=5)
    assert page.headers["x-rate-limit-limit"] == "5000"

    sandbox.reset()
    page = http.get(sandbox.url + MENTIONS, headers=BEARER, timeout=5)
    assert page.headers["x-rate-limit-limit"] == str(RATE_LIMITS[endpoint])
    refused = http.post(sandbox.url + "/_sandbox/rate_limits", json={"limits": {endpoint: 0}})
    assert refused.status_code == 400
