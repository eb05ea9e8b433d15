"""The sandbox Graph API (Facebook Page), exercised over plain HTTP.

No Django and no database: run with
    python -m pytest tests/channels/test_sandbox_graph.py -p no:django -q
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from channels.sandbox import SandboxServer
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID, parse_fields
from tests.channels import sandbox_fixtures

TOKEN = FACEBOOK_CREDENTIALS["access_token"]
PROOF = hmac.new(
    FACEBOOK_CREDENTIALS["app_secret"].encode(), TOKEN.encode(), hashlib.sha256
).hexdigest()
AUTH = {"access_token": TOKEN, "appsecret_proof": PROOF}

# A fresh sandbox server per test, not the suite's shared one (tests/conftest.py).
sandbox = sandbox_fixtures.sandbox


def get(sandbox: SandboxServer, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{sandbox.url}/v25.0/{path}", params={**AUTH, **params}, timeout=5)


def post(sandbox: SandboxServer, path: str, **data: Any) -> requests.Response:
    return requests.post(f"{sandbox.url}/v25.0/{path}", data={**AUTH, **data}, timeout=5)


def test_the_page_needs_a_valid_token_and_appsecret_proof(sandbox):
    assert get(sandbox, FACEBOOK_PAGE_ID, fields="id,name").json() == {
        "id": FACEBOOK_PAGE_ID,
        "name": "Gemeente Demodorp",
    }
    wrong_token = get(sandbox, FACEBOOK_PAGE_ID, access_token="nope")
    assert wrong_token.status_code == 400
    assert wrong_token.json()["error"]["code"] == 190
    assert wrong_token.json()["error"]["type"] == "OAuthException"
    assert "fbtrace_id" in wrong_token.json()["error"]
    wrong_proof = get(sandbox, FACEBOOK_PAGE_ID, appsecret_proof="0" * 64)
    assert wrong_proof.json()["error"]["message"].startswith("Invalid appsecret_proof")
    bearer = requests.get(
        f"{sandbox.url}/v25.0/me",
        params={"appsecret_proof": PROOF},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert bearer.json()["id"] == FACEBOOK_PAGE_ID
    assert "call_count" in json.loads(bearer.headers["X-App-Usage"])


def test_comments_page_with_cursors_filter_order_and_since(sandbox):
    post_ = sandbox.add_facebook_post("Bericht")
    now = datetime.now(UTC)
    top = sandbox.add_facebook_comment(
        "Eerste", "Anna", post_id=post_["id"], created_at=now - timedelta(hours=2)
    )
    sandbox.add_facebook_comment("Antwoord", "Bert", parent_id=top["id"])
    for number in range(3):
        sandbox.add_facebook_comment(f"Nummer {number}", "Cor", post_id=post_["id"])

    toplevel = get(sandbox, f"{post_['id']}/comments", limit=2).json()
    assert [c["message"] for c in toplevel["data"]] == ["Eerste", "Nummer 0"]
    second = requests.get(toplevel["paging"]["next"], params={"appsecret_proof": PROOF}, timeout=5)
    assert [c["message"] for c in second.json()["data"]] == ["Nummer 1", "Nummer 2"]
    assert "next" not in second.json()["paging"]

    stream = get(
        sandbox,
        f"{post_['id']}/comments",
        filter="stream",
        order="reverse_chronological",
        since=int((now - timedelta(hours=1)).timestamp()),
        fields="id,message,from{id},parent{id}",
    ).json()["data"]
    assert [c["message"] for c in stream] == ["Nummer 2", "Nummer 1", "Nummer 0", "Antwoord"]
    assert stream[-1]["parent"] == {"id": top["id"]}
    assert set(stream[0]) == {"id", "message", "from"}
    replies = get(sandbox, f"{top['id']}/comments").json()["data"]
    assert [c["message"] for c in replies] == ["Antwoord"]


def test_a_reply_to_a_reply_goes_under_its_parent(sandbox):
    top = sandbox.add_facebook_comment("Vraag", "Anna")
    nested = sandbox.add_facebook_comment("Ik ook", "Bert", parent_id=top["id"])

    created = post(sandbox, f"{nested['id']}/comments", message="Wij kijken ernaar.").json()

    [reply] = sandbox.facebook_comment_replies()
    assert reply["id"] == created["id"]
    assert reply["parent"]["id"] == top["id"]
    assert reply["from"]["id"] == FACEBOOK_PAGE_ID


def test_messenger_enforces_the_24_hour_window_and_the_human_agent_tag(sandbox):
    recent = sandbox.add_facebook_message("Vandaag", "Anna")
    old = sandbox.add_facebook_message(
        "Eergisteren", "Bert", created_at=datetime.now(UTC) - timedelta(hours=30)
    )

    def send(psid: str, **extra: str) -> requests.Response:
        return post(
            sandbox,
            f"{FACEBOOK_PAGE_ID}/messages",
            recipient=json.dumps({"id": psid}),
            message=json.dumps({"text": "Antwoord"}),
            messaging_type=extra.pop("messaging_type", "RESPONSE"),
            **extra,
        )

    assert send(recent["from"]["id"]).status_code == 200
    refused = send(old["from"]["id"]).json()["error"]
    assert (refused["code"], refused["error_subcode"]) == (10, 2018278)
    tagged = send(old["from"]["id"], messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    assert tagged.status_code == 200
    sandbox.set_facebook_human_agent(False)
    assert (
        send(old["from"]["id"], messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT").json()["error"][
            "code"
        ]
        == 200
    )
    conversations = get(
        sandbox,
        f"{FACEBOOK_PAGE_ID}/conversations",
        platform="messenger",
        fields="participants,updated_time,messages.limit(1){id,message,from}",
    ).json()["data"]
    assert len(conversations) == 2
    assert conversations[0]["messages"]["data"][0]["from"]["id"] == FACEBOOK_PAGE_ID
    assert "next" in conversations[0]["messages"]["paging"]


def test_faults_and_the_usage_limit_answer_in_graphs_shape(sandbox):
    sandbox.add_fault("/v25.0/", status=429)
    limited = get(sandbox, FACEBOOK_PAGE_ID)
    assert limited.json()["error"]["code"] == 4
    usage = json.loads(limited.headers["X-Business-Use-Case-Usage"])
    assert usage[FACEBOOK_PAGE_ID][0]["estimated_time_to_regain_access"] >= 1
    sandbox.add_fault("/v25.0/", status=503)
    failing = get(sandbox, FACEBOOK_PAGE_ID)
    assert failing.status_code == 503
    assert failing.json()["error"]["code"] == 2


def test_citizen_activity_calls_the_webhook_hook_with_graph_payloads(
    sandbox: SandboxServer,
) -> None:
    events: list[dict[str, Any]] = []
    sandbox.on_facebook_event = events.append
    comment = sandbox.add_facebook_comment("Vraag", "Anna")
    message = sandbox.add_facebook_message("Privé", "Bert")

    change = events[0]["entry"][0]["changes"][0]
    assert change["field"] == "feed"
    assert change["value"]["comment_id"] == comment["id"]
    assert change["value"]["from"] == comment["from"]
    messaging = events[1]["entry"][0]["messaging"][0]
    assert messaging["message"] == {"mid": message["id"], "text": "Privé"}
    assert messaging["recipient"] == {"id": FACEBOOK_PAGE_ID}


def test_facebook_state_persists_and_shows_on_the_page(tmp_path: Path):
    state = tmp_path / "state.json"
    with SandboxServer(state_path=state) as first:
        top = first.add_facebook_comment("Vraag", "Anna")
        first.add_facebook_page_comment("Ons antwoord", top["id"])
    with SandboxServer(state_path=state) as second:
        assert [reply["message"] for reply in second.facebook_replies()] == ["Ons antwoord"]
        page = requests.get(second.url + "/", timeout=5).text
        assert "Ons antwoord" in page
        second.reset()
        assert second.facebook_replies() == []


def test_seeded_history_has_comments_and_messenger_messages():
    with SandboxServer(seed_history=True) as server:
        replies = requests.get(server.url + "/_sandbox/facebook/replies", timeout=5).json()
        assert replies == {"replies": []}
        created = requests.post(
            server.url + "/_sandbox/facebook/messages",
            json={"text": "Hallo", "name": "Anna"},
            timeout=5,
        )
        assert created.status_code == 201
        conversations = get(
            server, f"{FACEBOOK_PAGE_ID}/conversations", platform="messenger", fields="id"
        ).json()["data"]
        assert len(conversations) >= 2
        posts = get(server, f"{FACEBOOK_PAGE_ID}/posts").json()["data"]
        comments = get(server, f"{posts[0]['id']}/comments").json()["data"]
        assert comments


def test_nested_fields_are_parsed():
    assert parse_fields("id,from{id,name},messages.limit(5){id,message}") == {
        "id": {},
        "from": {"id": {}, "name": {}},
        "messages": {"__limit": 5, "id": {}, "message": {}},
    }
