"""Direct messages on the sandbox X platform, over real HTTP, in X API v2 shapes.

No Django and no database: run with
    python -m pytest tests/channels/test_sandbox_dm.py -p no:django -q
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import tweepy
from requests_oauthlib import OAuth1

from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS, SandboxServer
from channels.sandbox.generator import MessageGenerator
from tests.channels import sandbox_fixtures

BEARER = {"Authorization": f"Bearer {DEMO_CREDENTIALS['bearer_token']}"}
DM_EVENTS = "/2/dm_events"
ALL_FIELDS = "id,text,event_type,created_at,sender_id,dm_conversation_id"

# A fresh sandbox server per test, not the suite's shared one (tests/conftest.py).
sandbox = sandbox_fixtures.sandbox
http = sandbox_fixtures.http


def user_auth() -> OAuth1:
    return OAuth1(
        DEMO_CREDENTIALS["consumer_key"],
        DEMO_CREDENTIALS["consumer_secret"],
        DEMO_CREDENTIALS["access_token"],
        DEMO_CREDENTIALS["access_token_secret"],
    )


def dm_events(http: requests.Session, sandbox: SandboxServer, **params: Any) -> dict[str, Any]:
    response = http.get(sandbox.url + DM_EVENTS, params=params, auth=user_auth(), timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def send_dm(
    http: requests.Session, sandbox: SandboxServer, path: str, payload: dict[str, Any]
) -> requests.Response:
    return http.post(sandbox.url + path, json=payload, auth=user_auth(), timeout=5)


def test_dm_endpoints_require_oauth1_user_context(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    citizen = sandbox.add_direct_message("Mijn BSN is ...", "noorvermeulen", "Noor")
    conversation_path = f"/2/dm_conversations/{citizen['dm_conversation_id']}/messages"

    read_with_bearer = http.get(sandbox.url + DM_EVENTS, headers=BEARER)
    send_with_bearer = http.post(
        sandbox.url + conversation_path, json={"text": "Dag Noor"}, headers=BEARER
    )
    anonymous = http.get(sandbox.url + DM_EVENTS)

    for refused in (read_with_bearer, send_with_bearer):
        assert refused.status_code == 403
        assert refused.json()["title"] == "Unsupported Authentication"
        assert "OAuth 1.0a User Context" in refused.json()["detail"]
    assert anonymous.status_code == 401
    assert sandbox.direct_replies() == []


def test_a_citizens_dm_is_listed_with_requested_fields_and_the_sender_expanded(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    citizen = sandbox.add_direct_message("Mijn adres is geheim", "sannevdberg", "Sanne")

    bare = dm_events(http, sandbox)
    full = dm_events(
        http,
        sandbox,
        **{
            "dm_event.fields": ALL_FIELDS,
            "event_types": "MessageCreate",
            "expansions": "sender_id",
            "user.fields": "username,name",
        },
    )

    assert bare == {
        "data": [{"id": citizen["id"], "event_type": "MessageCreate", "text": citizen["text"]}],
        "meta": {"result_count": 1},
    }
    [event] = full["data"]
    sender_id = citizen["sender_id"]
    assert event["sender_id"] == sender_id
    smaller, larger = sorted((sender_id, DEMO_ACCOUNT_ID), key=int)
    assert event["dm_conversation_id"] == f"{smaller}-{larger}"
    assert event["created_at"].endswith("Z")
    assert full["includes"]["users"] == [
        {"id": sender_id, "name": "Sanne", "username": "sannevdberg"}
    ]


def test_paging_returns_every_event_once_newest_first_with_both_tokens(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    added = [sandbox.add_direct_message(f"Bericht {n}", "j_bakker77") for n in range(7)]

    first = dm_events(http, sandbox, max_results=3)
    second = dm_events(http, sandbox, max_results=3, pagination_token=first["meta"]["next_token"])
    third = dm_events(http, sandbox, max_results=3, pagination_token=second["meta"]["next_token"])
    back = dm_events(
        http, sandbox, max_results=3, pagination_token=second["meta"]["previous_token"]
    )

    read = [event["id"] for page in (first, second, third) for event in page["data"]]
    assert read == [event["id"] for event in reversed(added)]
    assert "previous_token" not in first["meta"]
    assert "next_token" not in third["meta"]
    assert third["meta"]["result_count"] == 1
    assert back["data"] == first["data"]


def test_page_size_and_tokens_are_validated_like_x(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    for params in (
        {"max_results": 0},
        {"max_results": 101},
        {"pagination_token": "nonsense"},
        {"dm_event.fields": "author_id"},
        {"since_id": "1"},
    ):
        response = http.get(sandbox.url + DM_EVENTS, params=params, auth=user_auth())
        assert response.status_code == 400, params
        assert response.json()["title"] == "Invalid Request"


def test_events_older_than_thirty_days_are_gone(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    now = datetime.now(UTC)
    sandbox.add_direct_message("Te oud", "pietjanssen", created_at=now - timedelta(days=31))
    recent = sandbox.add_direct_message(
        "Recent", "pietjanssen", created_at=now - timedelta(days=29)
    )

    assert [event["id"] for event in dm_events(http, sandbox)["data"]] == [recent["id"]]


def test_the_account_answers_in_the_conversation_or_to_a_participant(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    citizen = sandbox.add_direct_message("Klacht over de balie", "ingridsmit", "Ingrid")
    conversation_id = citizen["dm_conversation_id"]
    mention = sandbox.add_mention("Ik heb een vraag", "marloes_d", "Marloes")

    in_conversation = send_dm(
        http, sandbox, f"/2/dm_conversations/{conversation_id}/messages", {"text": "Dag Ingrid"}
    )
    to_participant = send_dm(
        http,
        sandbox,
        f"/2/dm_conversations/with/{mention['author_id']}/messages",
        {"text": "Dag Marloes"},
    )

    assert in_conversation.status_code == 201
    assert in_conversation.json()["data"]["dm_conversation_id"] == conversation_id
    assert to_participant.status_code == 201
    smaller, larger = sorted((mention["author_id"], DEMO_ACCOUNT_ID), key=int)
    assert to_participant.json()["data"]["dm_conversation_id"] == f"{smaller}-{larger}"
    replies = sandbox.direct_replies()
    assert [reply["text"] for reply in replies] == ["Dag Ingrid", "Dag Marloes"]
    assert replies[0]["id"] == in_conversation.json()["data"]["dm_event_id"]
    # X lists the account's own messages among its DM events too.
    listed = dm_events(http, sandbox, **{"dm_event.fields": "sender_id"})["data"]
    assert [event["sender_id"] for event in listed] == [
        DEMO_ACCOUNT_ID,
        DEMO_ACCOUNT_ID,
        citizen["sender_id"],
    ]


def test_sending_is_validated_like_x(sandbox: SandboxServer, http: requests.Session) -> None:
    citizen = sandbox.add_direct_message("Vraag", "kees_mulder")
    conversation = f"/2/dm_conversations/{citizen['dm_conversation_id']}/messages"

    too_long = send_dm(http, sandbox, conversation, {"text": "x" * 10_001})
    longest = send_dm(http, sandbox, conversation, {"text": "x" * 10_000})
    empty = send_dm(http, sandbox, conversation, {"text": "  "})
    stranger = send_dm(http, sandbox, "/2/dm_conversations/1-2/messages", {"text": "Hoi"})
    unknown_user = send_dm(http, sandbox, "/2/dm_conversations/with/42/messages", {"text": "Hoi"})
    to_self = send_dm(
        http, sandbox, f"/2/dm_conversations/with/{DEMO_ACCOUNT_ID}/messages", {"text": "Hoi"}
    )

    assert (too_long.status_code, longest.status_code, empty.status_code) == (400, 201, 400)
    assert stranger.status_code == unknown_user.status_code == to_self.status_code == 403
    assert len(sandbox.direct_replies()) == 1


def test_dm_paths_carry_rate_limit_headers_and_take_injected_faults(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    citizen = sandbox.add_direct_message("Vraag", "tomvisser_")
    conversation = f"/2/dm_conversations/{citizen['dm_conversation_id']}/messages"
    sandbox.add_fault(path_prefix="/2/dm_events", status=429)
    sandbox.add_fault(
        path_prefix="/2/dm_conversations/", method="POST", status=503, after_processing=True
    )

    limited = http.get(sandbox.url + DM_EVENTS, auth=user_auth())
    lost = send_dm(http, sandbox, conversation, {"text": "Dag Tom"})
    normal = http.get(sandbox.url + DM_EVENTS, auth=user_auth())

    assert limited.status_code == 429
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert lost.status_code == 503
    assert [reply["text"] for reply in sandbox.direct_replies()] == ["Dag Tom"]
    assert normal.status_code == 200
    assert normal.headers["x-rate-limit-limit"] == "300"
    assert int(normal.headers["x-rate-limit-remaining"]) < 300


def test_tweepy_reads_and_sends_direct_messages(sandbox: SandboxServer) -> None:
    class RewritingSession(requests.Session):
        def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
            url = str(url).replace("https://api.twitter.com", sandbox.url, 1)
            return super().request(method, url, *args, **kwargs)

    citizen = sandbox.add_direct_message("Uitkering niet ontvangen", "mehmet_yilmaz", "Mehmet")
    client = tweepy.Client(**DEMO_CREDENTIALS, return_type=dict)
    client.session = RewritingSession()

    sent = client.create_direct_message(
        dm_conversation_id=citizen["dm_conversation_id"], text="We zoeken het uit."
    )
    events = client.get_direct_message_events(
        dm_event_fields=["sender_id", "dm_conversation_id"], expansions=["sender_id"]
    )

    assert sent["data"]["dm_event_id"] == sandbox.direct_replies()[0]["id"]
    assert [event["id"] for event in events["data"]] == [sent["data"]["dm_event_id"], citizen["id"]]
    assert {user["username"] for user in events["includes"]["users"]} == {
        "mehmet_yilmaz",
        "gemeentedemodorp",
    }


def test_control_endpoint_adds_a_direct_message(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    response = http.post(
        sandbox.url + "/_sandbox/direct_messages",
        json={"text": "Mijn BSN is ...", "author": {"username": "evabrouwer", "name": "Eva"}},
    )
    refused = http.post(sandbox.url + "/_sandbox/direct_messages", json={"text": "Hoi"})

    assert response.status_code == 201
    assert sandbox.direct_messages() == [response.json()]
    assert refused.status_code == 400
    state = http.get(sandbox.url + "/_sandbox/state").json()
    assert state["direct_messages"] == [response.json()]


def test_reset_forgets_and_a_restart_keeps_direct_messages(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox.json"
    with SandboxServer(state_path=state_file) as first_run:
        citizen = first_run.add_direct_message("Vraag over mijn adres", "bertvdveen")
    with SandboxServer(state_path=state_file) as second_run:
        restored = second_run.direct_messages()
        second_run.reset()
        after_reset = second_run.direct_messages()

    assert restored == [citizen]
    assert after_reset == []


def test_page_lists_direct_replies_in_their_own_section(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    citizen = sandbox.add_direct_message("Vraag", "yaraschouten", "Yara <b>")
    send_dm(
        http,
        sandbox,
        f"/2/dm_conversations/{citizen['dm_conversation_id']}/messages",
        {"text": "Dag Yara, <dit> & dat."},
    )

    html = http.get(sandbox.url + "/").text

    assert '<h2 id="priveberichten">Verstuurde privéberichten (1)</h2>' in html
    assert "Dag Yara, &lt;dit&gt; &amp; dat." in html
    assert "Yara &lt;b&gt;" in html


def test_generated_direct_messages_are_deterministic_and_privacy_sensitive() -> None:
    first = [MessageGenerator(seed=3).draft_direct_message(n) for n in range(20)]
    again = [MessageGenerator(seed=3).draft_direct_message(n) for n in range(20)]

    assert [draft.text for draft in first] == [draft.text for draft in again]
    assert any("BSN" in draft.text for draft in first)
    assert all("@gemeentedemodorp" not in draft.text for draft in first)


def test_seeded_history_includes_direct_messages() -> None:
    with SandboxServer(seed_history=True, seed=5) as server:
        direct_messages = server.direct_messages()

    assert len(direct_messages) == 2
    assert all(event["sender_id"] != DEMO_ACCOUNT_ID for event in direct_messages)
