"""The sandbox X platform, exercised over real HTTP like our connector will use it.

No Django and no database: run with
    python -m pytest tests/channels/test_sandbox.py -p no:django -q
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import tweepy
from requests_oauthlib import OAuth1

from channels.sandbox import (
    DEMO_ACCOUNT_ID,
    DEMO_CREDENTIALS,
    DEMO_USERNAME,
    SandboxServer,
)
from channels.sandbox.generator import AUTHORS, MessageGenerator
from channels.sandbox.server import redacted
from channels.tweet_text import weighted_length
from tests.channels import sandbox_fixtures

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BEARER = {"Authorization": f"Bearer {DEMO_CREDENTIALS['bearer_token']}"}
MENTIONS = f"/2/users/{DEMO_ACCOUNT_ID}/mentions"
OWN_TWEETS = f"/2/users/{DEMO_ACCOUNT_ID}/tweets"
CONNECTOR_TWEET_FIELDS = (
    "created_at,conversation_id,in_reply_to_user_id,referenced_tweets,author_id,lang"
)

# A fresh sandbox server per test, not the suite's shared one (tests/conftest.py).
sandbox = sandbox_fixtures.sandbox
http = sandbox_fixtures.http


def user_auth(
    consumer_key: str = DEMO_CREDENTIALS["consumer_key"],
    access_token: str = DEMO_CREDENTIALS["access_token"],
) -> OAuth1:
    """A real OAuth 1.0a signer, as tweepy uses, with overridable identity."""
    return OAuth1(
        consumer_key,
        DEMO_CREDENTIALS["consumer_secret"],
        access_token,
        DEMO_CREDENTIALS["access_token_secret"],
    )


def get_json(
    http: requests.Session, sandbox: SandboxServer, path: str, **params: Any
) -> dict[str, Any]:
    response = http.get(sandbox.url + path, params=params, headers=BEARER, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def post_tweet(
    http: requests.Session, sandbox: SandboxServer, text: str, reply_to: str | None = None
) -> requests.Response:
    payload: dict[str, Any] = {"text": text}
    if reply_to is not None:
        payload["reply"] = {"in_reply_to_tweet_id": reply_to}
    return http.post(sandbox.url + "/2/tweets", json=payload, auth=user_auth(), timeout=5)


# --------------------------------------------------------------------------- reading


def test_users_me_identifies_the_demo_account_for_user_context(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    response = http.get(sandbox.url + "/2/users/me", auth=user_auth(), timeout=5)

    assert response.status_code == 200
    assert response.json() == {
        "data": {"id": DEMO_ACCOUNT_ID, "name": "Gemeente Demodorp", "username": DEMO_USERNAME}
    }


def test_pagination_returns_every_mention_exactly_once_newest_first(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    created = [
        sandbox.add_mention(f"Melding nummer {n}", "sannevdberg", "Sanne") for n in range(23)
    ]

    seen: list[str] = []
    page_sizes: list[int] = []
    params: dict[str, Any] = {"max_results": 10}
    while True:
        body = get_json(http, sandbox, MENTIONS, **params)
        ids = [tweet["id"] for tweet in body["data"]]
        assert body["meta"]["newest_id"] == ids[0]
        assert body["meta"]["oldest_id"] == ids[-1]
        assert body["meta"]["result_count"] == len(ids)
        seen += ids
        page_sizes.append(len(ids))
        if "next_token" not in body["meta"]:
            break
        params["pagination_token"] = body["meta"]["next_token"]

    assert page_sizes == [10, 10, 3]
    assert seen == [tweet["id"] for tweet in reversed(created)]


def test_since_id_excludes_the_tweet_itself_and_older_ones(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    old = sandbox.add_mention("Eerste", "pietjanssen", "Piet")
    cursor = sandbox.add_mention("Tweede", "pietjanssen", "Piet")
    newer = sandbox.add_mention("Derde", "pietjanssen", "Piet")

    body = get_json(http, sandbox, MENTIONS, since_id=cursor["id"])

    assert [tweet["id"] for tweet in body["data"]] == [newer["id"]]
    assert int(newer["id"]) > int(cursor["id"]) > int(old["id"])


def test_start_time_filters_on_created_at_even_for_backdated_tweets(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    now = datetime.now(UTC)
    sandbox.add_mention(
        "Van vorige week", "annekebos", "Anneke", created_at=now - timedelta(days=7)
    )
    recent = sandbox.add_mention(
        "Van net", "annekebos", "Anneke", created_at=now - timedelta(hours=1)
    )

    start = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = get_json(http, sandbox, MENTIONS, start_time=start)

    assert [tweet["id"] for tweet in body["data"]] == [recent["id"]]


def test_api_escapes_text_like_x_while_state_keeps_what_was_typed(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    sandbox.add_mention("Afval & zwerfvuil <3", "ruudhendriks", "Ruud")

    [tweet] = get_json(http, sandbox, MENTIONS)["data"]

    assert tweet["text"] == f"@{DEMO_USERNAME} Afval &amp; zwerfvuil &lt;3"
    assert sandbox.mentions()[0]["text"] == f"@{DEMO_USERNAME} Afval & zwerfvuil <3"


def test_empty_timeline_has_only_a_zero_count(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    assert get_json(http, sandbox, MENTIONS) == {"meta": {"result_count": 0}}


def test_tweet_fields_are_only_present_when_requested(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    sandbox.add_mention("Lantaarnpaal kapot", "tomvisser_", "Tom Visser")

    bare = get_json(http, sandbox, MENTIONS)["data"][0]
    full = get_json(http, sandbox, MENTIONS, **{"tweet.fields": CONNECTOR_TWEET_FIELDS})["data"][0]

    assert set(bare) == {"id", "text", "edit_history_tweet_ids"}
    assert {"created_at", "conversation_id", "author_id", "lang"} <= set(full)
    assert full["created_at"].endswith("Z") and full["lang"] == "nl"
    assert "includes" not in get_json(http, sandbox, MENTIONS)


def test_expansions_list_each_author_once_and_include_referenced_tweets(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    first = sandbox.add_mention("Container vergeten", "ingridsmit", "Ingrid Smit")
    sandbox.add_mention(
        "Nog steeds vol", "ingridsmit", "Ingrid Smit", in_reply_to_tweet_id=first["id"]
    )
    sandbox.add_mention("Losse tegel", "kees_mulder", "Kees Mulder")

    body = get_json(
        http,
        sandbox,
        MENTIONS,
        expansions="author_id,referenced_tweets.id",
        **{
            "tweet.fields": CONNECTOR_TWEET_FIELDS,
            "user.fields": "username,name,profile_image_url",
        },
    )

    users = body["includes"]["users"]
    assert sorted(user["username"] for user in users) == ["ingridsmit", "kees_mulder"]
    assert all(user["profile_image_url"].startswith(sandbox.url) for user in users)
    assert [tweet["id"] for tweet in body["includes"]["tweets"]] == [first["id"]]
    follow_up = body["data"][1]
    assert follow_up["conversation_id"] == first["id"]
    assert follow_up["referenced_tweets"] == [{"type": "replied_to", "id": first["id"]}]


def test_invalid_parameters_and_other_users_are_rejected_like_x(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    too_small = http.get(sandbox.url + MENTIONS, params={"max_results": 4}, headers=BEARER)
    unknown_user = http.get(sandbox.url + "/2/users/12345/mentions", headers=BEARER)
    typo = http.get(sandbox.url + MENTIONS, params={"tweet.fields": "createdat"}, headers=BEARER)
    nowhere = http.get(sandbox.url + "/2/nothing-here", headers=BEARER)

    assert too_small.status_code == 400
    assert "between 5 and 100" in too_small.json()["detail"]
    assert unknown_user.status_code == 404
    assert set(unknown_user.json()) >= {"title", "detail", "type", "status"}
    assert typo.status_code == 400
    assert nowhere.status_code == 404 and nowhere.json()["status"] == 404


def test_every_api_response_carries_rate_limit_headers(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    first = http.get(sandbox.url + MENTIONS, headers=BEARER)
    second = http.get(sandbox.url + MENTIONS, headers=BEARER)
    error = http.get(sandbox.url + MENTIONS, params={"max_results": 1000}, headers=BEARER)

    for response in (first, second, error):
        assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(
            response.headers
        )
    assert int(second.headers["x-rate-limit-remaining"]) == (
        int(first.headers["x-rate-limit-remaining"]) - 1
    )
    assert int(first.headers["x-rate-limit-reset"]) > time.time()


# --------------------------------------------------------------------------- posting


def test_posting_requires_oauth1_user_context(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    mention = sandbox.add_mention("Hoe vraag ik een parkeervergunning aan?", "lottedejong", "Lotte")
    payload: dict[str, Any] = {
        "text": "Dag Lotte, dat kan online.",
        "reply": {"in_reply_to_tweet_id": mention["id"]},
    }

    with_bearer = http.post(sandbox.url + "/2/tweets", json=payload, headers=BEARER)
    anonymous = http.post(sandbox.url + "/2/tweets", json=payload)
    wrong_key = http.post(sandbox.url + "/2/tweets", json=payload, auth=user_auth("other-app"))
    accepted = http.post(sandbox.url + "/2/tweets", json=payload, auth=user_auth())

    assert with_bearer.status_code == 403
    assert "OAuth 2.0 Application-Only is forbidden" in with_bearer.json()["detail"]
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert wrong_key.status_code == 401
    assert accepted.status_code == 201
    created = accepted.json()["data"]
    assert created["text"] == "Dag Lotte, dat kan online."
    assert created["edit_history_tweet_ids"] == [created["id"]]
    [stored] = sandbox.replies()
    assert stored["in_reply_to_user_id"] == mention["author_id"]
    assert stored["conversation_id"] == mention["conversation_id"]
    assert stored["referenced_tweets"] == [{"type": "replied_to", "id": mention["id"]}]


def test_posting_validates_like_x(sandbox: SandboxServer, http: requests.Session) -> None:
    mention = sandbox.add_mention("Grofvuil?", "evabrouwer", "Eva Brouwer")
    first = post_tweet(http, sandbox, "Dag Eva, maak online een afspraak.", mention["id"])
    duplicate = post_tweet(http, sandbox, "Dag Eva, maak online een afspraak.", mention["id"])
    too_long = post_tweet(http, sandbox, "a" * 281, mention["id"])
    # 279 letters plus one emoji is 281 the way X counts, though only 280 Python characters.
    emoji_too_long = post_tweet(http, sandbox, "a" * 279 + "🙂", mention["id"])
    exactly_full = post_tweet(http, sandbox, "b" * 280, mention["id"])
    unknown_parent = post_tweet(http, sandbox, "Hallo", "999")
    empty = post_tweet(http, sandbox, "   ", mention["id"])

    assert first.status_code == 201
    assert duplicate.status_code == 403
    assert duplicate.json()["detail"] == (
        "You are not allowed to create a Tweet with duplicate content."
    )
    assert too_long.status_code == 403 and "Tweet text is too long" in too_long.json()["detail"]
    assert emoji_too_long.status_code == 403
    assert exactly_full.status_code == 201
    assert unknown_parent.status_code == 400 and "999" in unknown_parent.json()["detail"]
    assert empty.status_code == 400
    assert len(sandbox.replies()) == 2


def test_own_tweets_timeline_lists_the_replies_posted(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    mention = sandbox.add_mention("Paspoort kwijt", "sem_kok", "Sem Kok")
    post_tweet(http, sandbox, "Dag Sem, doe eerst aangifte.", mention["id"])
    post_tweet(http, sandbox, "Aanvulling: neem een pasfoto mee.", mention["id"])

    body = get_json(http, sandbox, OWN_TWEETS, **{"tweet.fields": "in_reply_to_user_id"})

    assert [tweet["text"] for tweet in body["data"]] == [
        "Aanvulling: neem een pasfoto mee.",
        "Dag Sem, doe eerst aangifte.",
    ]
    assert all(tweet["in_reply_to_user_id"] == mention["author_id"] for tweet in body["data"])


# --------------------------------------------------------------------------- faults


def test_injected_429_sets_the_reset_header_and_is_used_up(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    sandbox.add_fault(path_prefix="/2/users", status=429, count=1, method="GET")

    limited = http.get(sandbox.url + MENTIONS, headers=BEARER)
    after = http.get(sandbox.url + MENTIONS, headers=BEARER)

    assert limited.status_code == 429
    assert limited.json()["status"] == 429
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert 10 <= int(limited.headers["x-rate-limit-reset"]) - time.time() <= 16
    assert after.status_code == 200


def test_faults_via_http_match_method_and_count(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    mention = sandbox.add_mention("Overlast", "bramdevries", "Bram")
    staged = http.post(
        sandbox.url + "/_sandbox/faults",
        json={"path_prefix": "/2/tweets", "method": "POST", "status": 500, "count": 2},
    )

    read_meanwhile = http.get(sandbox.url + MENTIONS, headers=BEARER)
    failures = [post_tweet(http, sandbox, f"Poging {n}", mention["id"]) for n in range(2)]
    third = post_tweet(http, sandbox, "Poging 3", mention["id"])

    assert staged.status_code == 201
    assert read_meanwhile.status_code == 200
    assert [response.status_code for response in failures] == [500, 500]
    assert failures[0].json()["title"] == "Internal Server Error"
    assert third.status_code == 201
    assert [reply["text"] for reply in sandbox.replies()] == ["Poging 3"]


def test_clearing_faults_over_http(sandbox: SandboxServer, http: requests.Session) -> None:
    sandbox.add_fault(path_prefix="/2/", status=503, count=5)

    cleared = http.delete(sandbox.url + "/_sandbox/faults")

    assert cleared.json() == {"faults": []}
    assert http.get(sandbox.url + MENTIONS, headers=BEARER).status_code == 200


def test_after_processing_fault_posts_the_tweet_but_loses_the_answer(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    mention = sandbox.add_mention("Lantaarnpaal knippert", "noorvermeulen", "Noor")
    sandbox.add_fault(path_prefix="/2/tweets", status=503, after_processing=True)

    lost = post_tweet(http, sandbox, "Dag Noor, we sturen een monteur.", mention["id"])
    retried = post_tweet(http, sandbox, "Dag Noor, we sturen een monteur.", mention["id"])
    own = get_json(http, sandbox, OWN_TWEETS)

    assert lost.status_code == 503
    # The platform did post it, so a blind retry is a duplicate; the own-tweets timeline
    # is how a connector finds out what really happened.
    assert retried.status_code == 403
    assert [tweet["text"] for tweet in own["data"]] == ["Dag Noor, we sturen een monteur."]


def test_delayed_answer_after_processing_provokes_a_client_timeout(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    mention = sandbox.add_mention("Boete onterecht", "priya_ramdin", "Priya")
    sandbox.add_fault(path_prefix="/2/tweets", status=None, delay_seconds=2, after_processing=True)

    with pytest.raises(requests.Timeout):
        http.post(
            sandbox.url + "/2/tweets",
            json={
                "text": "Dag Priya, stuur ons een DM.",
                "reply": {"in_reply_to_tweet_id": mention["id"]},
            },
            auth=user_auth(),
            timeout=0.5,
        )

    assert [reply["text"] for reply in sandbox.replies()] == ["Dag Priya, stuur ons een DM."]


# --------------------------------------------------------------------------- controls


def test_control_endpoint_adds_mentions_with_stable_authors_and_threads(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    def post_mention(**payload: Any) -> dict[str, Any]:
        response = http.post(sandbox.url + "/_sandbox/mentions", json=payload)
        assert response.status_code == 201, response.text
        return response.json()

    author = {"username": "wilma_peters", "name": "Wilma Peters"}
    root = post_mention(text="Stoep ligt open", author=author)
    follow_up = post_mention(text="Foto erbij", author=author, in_reply_to_tweet_id=root["id"])
    inline = post_mention(text=f"Hoi @{DEMO_USERNAME}, vraagje", author={"username": "henk1958"})

    assert root["text"] == f"@{DEMO_USERNAME} Stoep ligt open"
    assert inline["text"] == f"Hoi @{DEMO_USERNAME}, vraagje"
    assert follow_up["author_id"] == root["author_id"] != inline["author_id"]
    assert follow_up["conversation_id"] == root["id"]
    assert follow_up["in_reply_to_user_id"] == root["author_id"]
    state = http.get(sandbox.url + "/_sandbox/state").json()
    assert [tweet["id"] for tweet in state["mentions"]] == [
        root["id"],
        follow_up["id"],
        inline["id"],
    ]
    assert state["replies"] == []


def test_generate_and_reset_over_http(sandbox: SandboxServer, http: requests.Session) -> None:
    generated = http.post(sandbox.url + "/_sandbox/generate", json={"count": 4}).json()
    before_reset = len(sandbox.mentions())
    http.post(sandbox.url + "/_sandbox/reset")

    assert len(generated["mentions"]) == 4 == before_reset
    assert all(tweet["text"] for tweet in generated["mentions"])
    assert sandbox.mentions() == [] and sandbox.replies() == []


def test_ids_keep_increasing_across_a_reset(sandbox: SandboxServer) -> None:
    before = sandbox.add_mention("Voor de reset", "sem_kok", "Sem")
    sandbox.reset()
    after = sandbox.add_mention("Na de reset", "sem_kok", "Sem")

    assert int(after["id"]) > int(before["id"])


# --------------------------------------------------------------------------- state & page


def test_state_survives_a_restart(tmp_path: Path, http: requests.Session) -> None:
    state_file = tmp_path / "sandbox.json"
    with SandboxServer(state_path=state_file) as first_run:
        mention = first_run.add_mention("Container niet geleegd", "daan_vdlinden", "Daan")
        assert post_tweet(http, first_run, "Dag Daan, we komen morgen.", mention["id"]).ok

    with SandboxServer(state_path=state_file) as second_run:
        restored_mentions = second_run.mentions()
        restored_replies = second_run.replies()
        newer = second_run.add_mention("Nog een vraag", "daan_vdlinden", "Daan")

    assert [tweet["id"] for tweet in restored_mentions] == [mention["id"]]
    assert [tweet["text"] for tweet in restored_replies] == ["Dag Daan, we komen morgen."]
    assert newer["author_id"] == mention["author_id"]
    assert int(newer["id"]) > int(restored_replies[0]["id"])
    assert not list(tmp_path.glob(".sandbox-*.tmp")), "temporary files must be renamed away"


def test_page_lists_replies_and_escapes_text(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    mention = sandbox.add_mention("<script>alert('x')</script> help", "yaraschouten", "Yara <b>")
    post_tweet(http, sandbox, "Dag Yara, dat is opgelost & gemeld.", mention["id"])

    page = http.get(sandbox.url + "/")

    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert '<html lang="nl">' in html
    assert "<title>Sandbox-platform — Gemeente Demodorp</title>" in html
    assert '<meta http-equiv="refresh" content="5">' in html
    assert "<caption>" in html and '<th scope="col">' in html
    assert "Dag Yara, dat is opgelost &amp; gemeld." in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "Yara &lt;b&gt;" in html


def test_page_can_switch_auto_refresh_off(sandbox: SandboxServer, http: requests.Session) -> None:
    page = http.get(sandbox.url + "/", params={"verversen": "uit"})

    assert page.status_code == 200
    assert 'http-equiv="refresh"' not in page.text


# --------------------------------------------------------------------------- generator


def test_generator_is_deterministic_per_seed() -> None:
    first = [MessageGenerator(seed=7).draft(number).text for number in range(30)]
    again = [MessageGenerator(seed=7).draft(number).text for number in range(30)]
    other = [MessageGenerator(seed=8).draft(number).text for number in range(30)]

    assert first == again
    assert first != other
    assert len(set(first)) > 20, "messages should vary"


def test_generated_messages_fit_in_a_tweet_and_mention_the_account() -> None:
    generator = MessageGenerator(seed=3)
    texts = [generator.draft(number).text for number in range(1500)]

    lengths = [weighted_length(text) for text in texts]
    assert max(lengths) <= 280
    assert max(lengths) > 250, "some messages should be long"
    assert all(f"@{DEMO_USERNAME}" in text for text in texts)
    assert any(weighted_length(text) != len(text) for text in texts), "some carry emoji"
    assert all(len(author.username) <= 15 for author in AUTHORS)
    assert len(AUTHORS) >= 30


def test_generated_follow_ups_stay_in_their_thread(sandbox: SandboxServer) -> None:
    generated = sandbox.generate(60)
    by_id = {tweet["id"]: tweet for tweet in generated}
    follow_ups = [tweet for tweet in generated if "referenced_tweets" in tweet]

    assert follow_ups, "with 60 messages some should be follow-ups"
    for tweet in follow_ups:
        parent = by_id[tweet["referenced_tweets"][0]["id"]]
        assert tweet["author_id"] == parent["author_id"]
        assert tweet["conversation_id"] == parent["conversation_id"]


def test_generated_follow_up_can_answer_the_municipality(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    mention = sandbox.generate(1)[0]
    reply = post_tweet(http, sandbox, "Dag, we kijken ernaar.", mention["id"]).json()["data"]
    generator = MessageGenerator(seed=1, follow_up_probability=1.0)

    draft = generator.draft(99, sandbox.mentions(), sandbox.replies())

    assert draft.in_reply_to_tweet_id == reply["id"]
    assert draft.author.user_id == mention["author_id"]


def test_seeded_history_spans_three_days_with_threads() -> None:
    with SandboxServer(seed_history=True, seed=5) as server:
        history = server.mentions()

    now = datetime.now(UTC)
    ages = [now - datetime.fromisoformat(tweet["created_at"]) for tweet in history]
    assert 17 <= len(history) <= 18
    assert max(ages) <= timedelta(days=3)
    assert 2 <= sum(age <= timedelta(hours=1) for age in ages) <= 3
    assert any("referenced_tweets" in tweet for tweet in history)
    assert [tweet["created_at"] for tweet in history] == sorted(t["created_at"] for t in history)


def test_background_generation_adds_messages() -> None:
    with SandboxServer(generate_every=0.05) as server:
        deadline = time.monotonic() + 5
        while len(server.mentions()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        count = len(server.mentions())

    assert count >= 3


# --------------------------------------------------------------------------- clients


class RewritingSession(requests.Session):
    """Sends tweepy's hard-coded https://api.twitter.com requests to the sandbox."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        url = str(url).replace("https://api.twitter.com", self.base_url, 1)
        return super().request(str(method), url, *args, **kwargs)


def test_tweepy_client_reads_mentions_and_replies(sandbox: SandboxServer) -> None:
    mention = sandbox.add_mention("Wanneer is de afvalkalender er?", "marloes_d", "Marloes")
    client = tweepy.Client(**DEMO_CREDENTIALS, return_type=dict)
    client.session = RewritingSession(sandbox.url)

    timeline = client.get_users_mentions(
        DEMO_ACCOUNT_ID,
        expansions=["author_id", "referenced_tweets.id"],
        tweet_fields=CONNECTOR_TWEET_FIELDS.split(","),
        user_fields=["username", "name", "profile_image_url"],
        max_results=5,
    )
    created = client.create_tweet(
        in_reply_to_tweet_id=mention["id"], text="Dag Marloes, in december."
    )

    assert isinstance(timeline, dict)
    assert timeline["data"][0]["id"] == mention["id"]
    assert timeline["includes"]["users"][0]["username"] == "marloes_d"
    assert isinstance(created, dict)
    assert created["data"]["text"] == "Dag Marloes, in december."
    assert sandbox.replies()[0]["referenced_tweets"][0]["id"] == mention["id"]
    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(in_reply_to_tweet_id=mention["id"], text="Dag Marloes, in december.")


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "channels.sandbox", "--port", "0", "--generate-every", "0",
        "--state", str(tmp_path / "state.json"), "--seed", "2", "--quiet",
    ]  # fmt: skip
    with subprocess.Popen(  # noqa: S603 - our own module, fixed arguments, no shell
        command,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            url = banner.split(" on ", 1)[1].split(" ", 1)[0]
            mentions = requests.get(url + MENTIONS, headers=BEARER, timeout=5).json()
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()

    assert banner.startswith("Sandbox platform (X, Facebook, Mastodon) on http://127.0.0.1:")
    assert f"(account @{DEMO_USERNAME})" in banner
    assert mentions["meta"]["result_count"] == 10, "the CLI seeds history by default"
    assert process.returncode == 0, errors
    saved = json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))
    assert 17 <= len(saved["mentions"]) <= 18


def test_some_generated_reports_carry_a_photo_the_sandbox_serves(sandbox: SandboxServer) -> None:
    tweets = sandbox.generate(80)

    with_photo = [tweet for tweet in tweets if tweet.get("media")]
    assert 0 < len(with_photo) < len(tweets)
    photo = with_photo[0]["media"][0]
    assert photo["type"] == "photo"
    assert photo["alt_text"].startswith("Foto: ")
    response = requests.get(photo["url"], timeout=5)
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in response.content


def test_the_request_log_never_shows_a_token() -> None:
    target = "/v25.0/1/posts?fields=id&appsecret_proof=abc123&access_token=secret-page-token"
    shown = redacted(target)
    assert "secret-page-token" not in shown
    assert "abc123" not in shown
    assert shown.startswith("/v25.0/1/posts?fields=id&")
