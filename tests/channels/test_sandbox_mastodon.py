"""The sandbox Mastodon, exercised over plain HTTP the way Mastodon.py uses it.

No Django and no database: run with
    python -m pytest tests/channels/test_sandbox_mastodon.py -p no:django -q
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from channels.sandbox import SandboxServer
from channels.sandbox.accounts import MASTODON_ACCOUNT_ID, MASTODON_CREDENTIALS
from tests.channels import sandbox_fixtures

TOKEN = {"Authorization": f"Bearer {MASTODON_CREDENTIALS['access_token']}"}

# A fresh sandbox server per test, not the suite's shared one (tests/conftest.py).
sandbox = sandbox_fixtures.sandbox
http = sandbox_fixtures.http


def get(http: requests.Session, sandbox: SandboxServer, path: str, **params: Any) -> Any:
    response = http.get(sandbox.url + path, params=params, headers=TOKEN, timeout=5)
    assert response.status_code == 200, response.text
    return response


def test_instance_information_names_the_character_limit(sandbox, http):
    for path in ("/api/v1/instance", "/api/v1/instance/", "/api/v2/instance/"):
        # Public, as on Mastodon: no token needed.
        response = http.get(sandbox.url + path, timeout=5)
        assert response.status_code == 200
        assert response.json()["configuration"]["statuses"]["max_characters"] == 500


def test_every_other_endpoint_wants_the_access_token(sandbox, http):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = http.get(
            sandbox.url + "/api/v1/accounts/verify_credentials", headers=headers, timeout=5
        )
        assert response.status_code == 401
        assert response.json() == {"error": "The access token is invalid"}
    me = get(http, sandbox, "/api/v1/accounts/verify_credentials").json()
    assert me["id"] == MASTODON_ACCOUNT_ID
    assert me["acct"] == "gemeentedemodorp"
    assert "source" in me


def test_notifications_page_newest_first_with_mastodons_link_header(sandbox, http):
    statuses = [sandbox.add_mastodon_mention(f"Vraag {n}", "sanne") for n in range(5)]

    first = get(http, sandbox, "/api/v1/notifications", **{"types[]": "mention", "limit": 2})
    page = first.json()
    assert [item["status"]["id"] for item in page] == [statuses[4]["id"], statuses[3]["id"]]
    link = first.headers["Link"]
    assert re.fullmatch(
        r'<[^>]+max_id=\d+[^>]*>; rel="next", <[^>]+min_id=\d+[^>]*>; rel="prev"', link
    )
    assert "types%5B%5D=mention" in link
    next_url = re.search(r"<([^>]+)>; rel=\"next\"", link).group(1)  # type: ignore[union-attr]

    second = http.get(next_url, headers=TOKEN, timeout=5).json()
    assert [item["status"]["id"] for item in second] == [statuses[2]["id"], statuses[1]["id"]]
    since = get(http, sandbox, "/api/v1/notifications", since_id=page[0]["id"]).json()
    assert since == []
    forward = get(http, sandbox, "/api/v1/notifications", min_id=second[-1]["id"], limit=2).json()
    assert [item["status"]["id"] for item in forward] == [statuses[3]["id"], statuses[2]["id"]]
    empty = get(http, sandbox, "/api/v1/notifications", **{"types[]": "follow"})
    assert empty.json() == [] and "Link" not in empty.headers


def test_a_notification_has_mastodons_shape_and_html(sandbox, http):
    sandbox.add_mastodon_mention(
        "Kapotte lamp\nbij https://www.demodorp.nl/ & zo 💡", "daan", "Daan"
    )

    [notification] = get(http, sandbox, "/api/v1/notifications").json()

    assert notification["type"] == "mention"
    status = notification["status"]
    assert set(status) >= {
        "id", "created_at", "content", "account", "visibility", "in_reply_to_id",
        "in_reply_to_account_id", "media_attachments", "mentions", "url", "spoiler_text",
    }  # fmt: skip
    assert status["account"]["acct"].startswith("daan@")
    assert status["content"].startswith('<p><span class="h-card"')
    assert '<br />bij <a href="https://www.demodorp.nl/"' in status["content"]
    assert "&amp; zo 💡</p>" in status["content"]
    assert status["mentions"][0]["id"] == MASTODON_ACCOUNT_ID
    assert datetime.fromisoformat(status["created_at"]).tzinfo is not None


def test_posting_a_status_by_form_or_json_with_validation(sandbox, http):
    citizen = sandbox.add_mastodon_mention("Vraag", "noor")
    url = sandbox.url + "/api/v1/statuses"

    form = http.post(
        url,
        data={"status": "Antwoord", "in_reply_to_id": citizen["id"], "visibility": "direct"},
        headers=TOKEN,
        timeout=5,
    )
    assert form.status_code == 200
    assert form.json()["visibility"] == "direct"
    assert form.json()["in_reply_to_id"] == citizen["id"]
    assert form.json()["in_reply_to_account_id"] == citizen["account"]["id"]
    as_json = http.post(url, json={"status": "Tweede"}, headers=TOKEN, timeout=5)
    assert as_json.status_code == 200 and as_json.json()["visibility"] == "public"

    blank = http.post(url, data={"status": "  "}, headers=TOKEN, timeout=5)
    assert blank.status_code == 422
    assert blank.json() == {"error": "Validation failed: Text can't be blank"}
    too_long = http.post(url, data={"status": "x" * 501}, headers=TOKEN, timeout=5)
    assert too_long.status_code == 422
    assert "character limit of 500" in too_long.json()["error"]
    unknown = http.post(url, data={"status": "x", "in_reply_to_id": "1"}, headers=TOKEN, timeout=5)
    assert unknown.status_code == 404
    assert len(sandbox.mastodon_replies()) == 2


def test_an_idempotency_key_posts_once(sandbox, http):
    headers = {**TOKEN, "Idempotency-Key": "abc"}
    url = sandbox.url + "/api/v1/statuses"

    first = http.post(url, data={"status": "Een"}, headers=headers, timeout=5).json()
    again = http.post(url, data={"status": "Een"}, headers=headers, timeout=5).json()

    assert first["id"] == again["id"]
    assert len(sandbox.mastodon_replies()) == 1


def test_account_statuses_and_a_single_status(sandbox, http):
    url = sandbox.url + "/api/v1/statuses"
    posted = [
        http.post(url, data={"status": f"Bericht {n}"}, headers=TOKEN, timeout=5).json()
        for n in range(3)
    ]
    timeline = get(http, sandbox, f"/api/v1/accounts/{MASTODON_ACCOUNT_ID}/statuses", limit=2)
    assert [status["id"] for status in timeline.json()] == [posted[2]["id"], posted[1]["id"]]
    assert 'rel="next"' in timeline.headers["Link"]
    one = get(http, sandbox, f"/api/v1/statuses/{posted[0]['id']}").json()
    assert one["content"] == "<p>Bericht 0</p>"
    missing = http.get(sandbox.url + "/api/v1/statuses/1", headers=TOKEN, timeout=5)
    assert missing.status_code == 404 and missing.json() == {"error": "Record not found"}


def test_rate_limit_headers_and_injected_faults(sandbox, http):
    response = get(http, sandbox, "/api/v1/notifications")
    assert response.headers["X-RateLimit-Limit"] == "300"
    assert response.headers["X-RateLimit-Remaining"] == "299"
    reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"])
    assert reset > datetime.now(UTC)

    sandbox.add_fault(path_prefix="/api/v1/notifications", status=429)
    limited = http.get(sandbox.url + "/api/v1/notifications", headers=TOKEN, timeout=5)
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.json() == {"error": "Too Many Requests"}

    sandbox.add_fault(
        path_prefix="/api/v1/statuses", method="POST", status=503, after_processing=True
    )
    lost = http.post(
        sandbox.url + "/api/v1/statuses", data={"status": "Weg?"}, headers=TOKEN, timeout=5
    )
    assert lost.status_code == 503
    assert [reply["content"] for reply in sandbox.mastodon_replies()] == ["<p>Weg?</p>"]


def test_control_endpoint_adds_mentions_and_direct_statuses(sandbox, http):
    response = http.post(
        sandbox.url + "/_sandbox/mastodon/mentions",
        json={
            "text": "Mijn adres is geheim",
            "author": {"username": "anoniem", "display_name": "A.", "domain": "todon.nl"},
            "visibility": "direct",
        },
        timeout=5,
    )
    assert response.status_code == 201
    status = response.json()
    assert status["visibility"] == "direct"
    assert status["account"]["acct"] == "anoniem@todon.nl"
    bad = http.post(sandbox.url + "/_sandbox/mastodon/mentions", json={"text": "x"}, timeout=5)
    assert bad.status_code == 400
    listed = http.get(sandbox.url + "/_sandbox/mastodon/statuses", timeout=5).json()
    assert [item["id"] for item in listed["statuses"]] == [status["id"]]


def test_reset_forgets_mastodon_too_and_ids_keep_increasing(sandbox):
    before = sandbox.add_mastodon_mention("Vraag", "kees")
    sandbox.reset()
    assert sandbox.mastodon_statuses() == []
    after = sandbox.add_mastodon_mention("Vraag", "kees")
    assert int(after["id"]) > int(before["id"])


def test_mastodon_state_survives_a_restart(tmp_path: Path):
    state = tmp_path / "sandbox.json"
    with SandboxServer(state_path=state) as server:
        status = server.add_mastodon_mention("Blijf bewaard", "kees")
    with SandboxServer(state_path=state) as server:
        assert [item["id"] for item in server.mastodon_statuses()] == [status["id"]]


def test_the_page_shows_mastodon_replies_escaped(sandbox, http):
    citizen = sandbox.add_mastodon_mention("Vraag <b>vet</b>", "noor")
    http.post(
        sandbox.url + "/api/v1/statuses",
        data={"status": "Antwoord <script>", "in_reply_to_id": citizen["id"]},
        headers=TOKEN,
        timeout=5,
    )

    page = http.get(sandbox.url + "/?verversen=uit", timeout=5).text

    assert "Antwoorden op Mastodon (1)" in page
    assert "Antwoord &lt;script&gt;" in page
    assert "Vraag &lt;b&gt;vet&lt;/b&gt;" in page
    avatar = http.get(sandbox.url + f"/_sandbox/avatars/{citizen['account']['id']}.svg", timeout=5)
    assert avatar.status_code == 200


def test_seeded_history_has_dutch_mastodon_mentions_in_html():
    with SandboxServer(seed_history=True, seed=5) as server:
        statuses = server.mastodon_statuses()

    assert len(statuses) == 5
    assert sum(status["visibility"] == "direct" for status in statuses) == 1
    assert all(status["content"].startswith("<p>") for status in statuses)
    assert all(status["mentions"][0]["id"] == MASTODON_ACCOUNT_ID for status in statuses)
    assert any('<a href="https://www.demodorp.nl/' in status["content"] for status in statuses)
