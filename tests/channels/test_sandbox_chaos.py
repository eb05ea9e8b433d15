"""The sandbox's faults for the chaos suite: re-ordered and overlapping pages, random faults
from a seed, and the counters of what was injected. Over real HTTP, on all three platforms'
list endpoints where it makes sense.
No database: the sandbox runs in this process, the requests go over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS, SandboxServer
from channels.sandbox.accounts import MASTODON_CREDENTIALS
from tests.channels import sandbox_fixtures

BEARER = {"Authorization": f"Bearer {DEMO_CREDENTIALS['bearer_token']}"}
MASTODON = {"Authorization": f"Bearer {MASTODON_CREDENTIALS['access_token']}"}
MENTIONS = f"/2/users/{DEMO_ACCOUNT_ID}/mentions"
NOTIFICATIONS = "/api/v1/notifications"

# A fresh sandbox server per test, not the suite's shared one (tests/conftest.py).
sandbox = sandbox_fixtures.sandbox
http = sandbox_fixtures.http


def mention_ids(http: requests.Session, sandbox: SandboxServer, **params: str) -> list[str]:
    response = http.get(
        sandbox.url + MENTIONS, params={"expansions": "author_id", **params}, headers=BEARER
    )
    assert response.status_code == 200, response.text
    return [tweet["id"] for tweet in response.json().get("data", [])]


def test_reorder_returns_the_same_page_in_another_order(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    for number in range(4):
        sandbox.add_mention(f"Melding {number}", f"burger{number}")
    in_order = mention_ids(http, sandbox)
    sandbox.add_fault(path_prefix=MENTIONS, status=None, spoil="reorder")

    reordered = mention_ids(http, sandbox)

    assert reordered != in_order
    assert sorted(reordered) == sorted(in_order)
    # Used up: the next page is in order again.
    assert mention_ids(http, sandbox) == in_order


def test_overlap_repeats_the_previous_pages_last_items_with_their_authors(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    for number in range(6):
        sandbox.add_mention(f"Melding {number}", f"burger{number}")
    first = http.get(
        sandbox.url + MENTIONS,
        params={"max_results": "5", "expansions": "author_id", "tweet.fields": "author_id"},
        headers=BEARER,
    ).json()
    sandbox.add_fault(path_prefix=MENTIONS, status=None, spoil="overlap")

    second = http.get(
        sandbox.url + MENTIONS,
        params={
            "max_results": "5",
            "expansions": "author_id",
            "tweet.fields": "author_id",
            "pagination_token": first["meta"]["next_token"],
        },
        headers=BEARER,
    ).json()

    first_ids = [tweet["id"] for tweet in first["data"]]
    second_ids = [tweet["id"] for tweet in second["data"]]
    # The next page starts before where the previous one ended.
    assert second_ids[:2] == first_ids[-2:]
    assert len(second_ids) == 3
    # Each repeated tweet's author is among the expansions, so it stays readable.
    authors = {user["id"] for user in second["includes"]["users"]}
    assert {tweet["author_id"] for tweet in second["data"]} <= authors


def test_reorder_and_overlap_on_mastodon_notifications(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    for number in range(3):
        sandbox.add_mastodon_mention(f"Melding {number}", f"burger{number}")

    def notification_ids() -> list[str]:
        response = http.get(sandbox.url + NOTIFICATIONS, headers=MASTODON)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()]

    in_order = notification_ids()
    sandbox.add_fault(path_prefix=NOTIFICATIONS, status=None, spoil="reorder")
    assert notification_ids() == list(reversed(in_order))
    sandbox.add_fault(path_prefix=NOTIFICATIONS, status=None, spoil="overlap")
    assert notification_ids() == in_order[-2:] + in_order


def test_random_chaos_is_deterministic_per_seed_and_counted_by_kind(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    sandbox.add_mention("Melding", "burger")
    chaos: dict[str, Any] = {
        "seed": 42,
        "probabilities": {"server_error": 0.3, "rate_limit": 0.2, "reorder": 0.1},
        "path_prefixes": ["/2/"],
    }

    def run() -> tuple[list[int], dict[str, Any]]:
        sandbox.reset()
        started = http.post(sandbox.url + "/_sandbox/chaos", json=chaos)
        assert started.status_code == 201, started.text
        statuses = [http.get(sandbox.url + MENTIONS, headers=BEARER).status_code for _ in range(60)]
        # Control paths and paths outside the prefixes are never touched.
        assert http.get(sandbox.url + "/_sandbox/state").status_code == 200
        assert http.get(sandbox.url + NOTIFICATIONS, headers=MASTODON).status_code == 200
        return statuses, http.get(sandbox.url + "/_sandbox/chaos").json()

    first_statuses, first_state = run()
    second_statuses, second_state = run()

    assert first_statuses == second_statuses
    injected = first_state["injected"]
    assert injected == second_state["injected"]
    assert injected["server_error"] == first_statuses.count(503)
    assert injected["rate_limit"] == first_statuses.count(429)
    assert set(injected) <= {"server_error", "rate_limit", "reorder"}
    assert 0 < injected["server_error"] + injected["rate_limit"] < 60
    assert first_state["enabled"] is True
    assert first_state["seed"] == 42

    stopped = http.delete(sandbox.url + "/_sandbox/chaos").json()
    assert stopped["enabled"] is False
    # Stopping keeps the counters; no more faults after it.
    assert stopped["injected"] == injected
    assert all(
        http.get(sandbox.url + MENTIONS, headers=BEARER).status_code == 200 for _ in range(20)
    )


def test_staged_faults_are_counted_too(sandbox: SandboxServer, http: requests.Session) -> None:
    sandbox.add_fault(path_prefix="/2/", status=429, count=2)
    sandbox.add_fault(path_prefix="/2/", status=None, spoil="truncate")

    for _ in range(4):
        http.get(sandbox.url + MENTIONS, headers=BEARER)

    assert sandbox.chaos_state()["injected"] == {"rate_limit": 2, "truncate": 1}


def test_list_spoilers_are_not_drawn_for_posts(sandbox: SandboxServer) -> None:
    sandbox.start_chaos(seed=3, probabilities={"reorder": 1.0})

    response = requests.post(sandbox.url + "/2/tweets", json={"text": "x"}, timeout=5)

    # Refused for its missing OAuth signature, not spoilt: nothing injected.
    assert response.status_code == 401
    assert sandbox.chaos_state()["injected"] == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"probabilities": {"meteor": 0.1}}, "unknown fault kinds"),
        ({"probabilities": {"server_error": 0.7, "slow": 0.5}}, "at most 1"),
        ({"probabilities": {"slow": 0.1}, "path_prefixes": ["2/"]}, "starting with '/'"),
        ({"probabilities": {}}, "'probabilities'"),
    ],
)
def test_bad_chaos_requests_are_refused(
    sandbox: SandboxServer, http: requests.Session, body: dict[str, Any], message: str
) -> None:
    response = http.post(sandbox.url + "/_sandbox/chaos", json=body)

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert sandbox.chaos_state()["enabled"] is False
