"""The X connector through tweepy's real code, over real HTTP, against the sandbox platform."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from channels.base import AuthenticationFailed, PlatformAuthor, Rejected, ReplyTarget
from channels.models import Channel
from channels.sandbox import DEMO_CREDENTIALS
from channels.selectors import channel_ids_due_for_poll
from channels.services import channel_create, channel_poll
from channels.twitter import MENTIONS_CURSOR, MENTIONS_GAP_CURSOR, TwitterConnector
from inbox.models import AuditEvent, Contact, Conversation, Message

pytestmark = pytest.mark.django_db


def reply_target(tweet: dict) -> ReplyTarget:
    return ReplyTarget(
        in_reply_to_external_id=tweet["id"],
        recipient=PlatformAuthor(external_id=tweet["author_id"]),
        thread_key=f"{tweet['conversation_id']}:{tweet['author_id']}",
    )


def poll(channel: Channel) -> int:
    outcome = channel_poll(channel_id=channel.id)
    assert outcome.succeeded, outcome.error
    return outcome.new_messages


def test_it_imports_mentions_as_messages_contacts_and_conversations(channel, sandbox):
    sandbox.add_mention(text="Mijn container is niet geleegd 🗑️", username="pietjep", name="Piet")
    sandbox.add_mention(text="Lantaarnpaal kapot in de Dorpsstraat", username="mira", name="Mira")

    assert poll(channel) == 2

    message = Message.objects.get(text__contains="container")
    assert message.direction == Message.Direction.INBOUND
    assert message.author_contact.username == "pietjep"
    assert message.author_contact.display_name == "Piet"
    assert message.conversation.waiting_since is not None
    assert Contact.objects.count() == 2
    assert Conversation.objects.count() == 2
    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK
    assert channel.cursor[MENTIONS_CURSOR] == max(
        (m.external_id for m in Message.objects.all()), key=int
    )


def test_polling_again_stores_nothing_twice(channel, sandbox):
    sandbox.add_mention(text="Wanneer wordt het grofvuil opgehaald?", username="kees", name="Kees")
    assert poll(channel) == 1
    assert poll(channel) == 0
    sandbox.add_mention(text="En het oud papier?", username="kees", name="Kees")
    assert poll(channel) == 1
    assert Message.objects.count() == 2


def test_it_pages_through_every_page_of_new_mentions(channel, sandbox):
    for number in range(130):
        sandbox.add_mention(text=f"Vraag nummer {number}", username=f"burger{number % 7}", name="B")

    assert poll(channel) == 130

    assert Message.objects.count() == 130
    assert Contact.objects.count() == 7


def test_a_backlog_beyond_one_polls_pages_is_read_by_the_next_polls_without_a_gap(
    channel, sandbox, monkeypatch
):
    # Two pages a poll instead of fifty, so that a few hundred tweets make a crisis.
    monkeypatch.setattr("channels.twitter.MAX_PAGES", 2)
    published = [
        sandbox.add_mention(text=f"Storm: boom om, melding {n}", username=f"b{n % 40}")["id"]
        for n in range(250)
    ]

    assert poll(channel) == 200
    channel.refresh_from_db()
    assert channel.cursor[MENTIONS_CURSOR] == published[-1]
    assert channel.cursor[MENTIONS_GAP_CURSOR]["before"] == published[50]
    # More arrive while the gap is open: the gap is read first, then the new ones.
    published += [
        sandbox.add_mention(text=f"Nog een melding {n}", username="later")["id"] for n in range(5)
    ]
    assert poll(channel) == 50
    channel.refresh_from_db()
    assert MENTIONS_GAP_CURSOR not in channel.cursor
    assert poll(channel) == 5
    assert poll(channel) == 0

    stored = sorted(Message.objects.values_list("external_id", flat=True), key=int)
    assert stored == published


def test_a_crash_between_fetch_and_save_loses_nothing(channel, sandbox, monkeypatch):
    sandbox.add_mention(text="Is mijn paspoort al klaar?", username="anna", name="Anna")

    def crash(**kwargs):
        raise RuntimeError("worker killed mid-poll")

    monkeypatch.setattr("channels.services.messages_ingest", crash)
    with pytest.raises(RuntimeError):
        channel_poll(channel_id=channel.id)
    channel.refresh_from_db()
    assert MENTIONS_CURSOR not in channel.cursor
    assert Message.objects.count() == 0

    monkeypatch.undo()
    assert poll(channel) == 1


def test_the_first_poll_imports_the_history_window_only(channel, sandbox):
    now = timezone.now()
    sandbox.add_mention(
        text="Oude vraag", username="oud", name="O", created_at=now - timedelta(days=9)
    )
    sandbox.add_mention(
        text="Recente vraag", username="nieuw", name="N", created_at=now - timedelta(days=2)
    )

    assert poll(channel) == 1
    assert Message.objects.get().text.endswith("Recente vraag")


def test_follow_ups_join_the_citizens_conversation_and_others_get_their_own(channel, sandbox):
    first = sandbox.add_mention(
        text="Mijn parkeervergunning is verlopen", username="sem", name="Sem"
    )
    sandbox.add_mention(
        text="Hallo? Nog iemand?", username="sem", name="Sem", in_reply_to_tweet_id=first["id"]
    )
    sandbox.add_mention(
        text="Bij mij hetzelfde!", username="fenna", name="Fenna", in_reply_to_tweet_id=first["id"]
    )

    assert poll(channel) == 3

    sem = Conversation.objects.get(contact__username="sem")
    assert sem.messages.count() == 2
    assert Conversation.objects.get(contact__username="fenna").messages.count() == 1


def test_a_rate_limit_marks_the_channel_failing_and_pauses_it(channel, sandbox):
    sandbox.add_fault(path_prefix="/2/users", status=429, count=1)

    outcome = channel_poll(channel_id=channel.id)

    assert not outcome.succeeded
    channel.refresh_from_db()
    assert channel.health == Channel.Health.FAILING
    assert "rate limit" in channel.last_error
    assert channel.paused_until is not None and channel.paused_until > timezone.now()
    assert AuditEvent.objects.filter(action="channel.poll_failed", channel=channel).count() == 1


def test_recovery_after_a_failure_clears_the_error(channel, sandbox):
    sandbox.add_fault(path_prefix="/2/users", status=503, count=1)
    assert not channel_poll(channel_id=channel.id).succeeded
    sandbox.add_mention(text="Werkt het weer?", username="lars", name="Lars")

    assert poll(channel) == 1
    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK
    assert channel.last_error == ""


def test_revoked_credentials_stop_polling_until_an_admin_renews_them(channel, sandbox):
    sandbox.add_fault(path_prefix="/2/users", status=401, count=1)

    outcome = channel_poll(channel_id=channel.id)

    assert not outcome.succeeded
    assert "credentials" in outcome.error
    channel.refresh_from_db()
    assert channel.health == Channel.Health.NEEDS_ATTENTION
    later = timezone.now() + timedelta(hours=1)
    assert channel_ids_due_for_poll(now=later) == []

    call_command(
        "channels",
        "credentials",
        channel.name,
        *[f"--credential={key}={value}" for key, value in DEMO_CREDENTIALS.items()],
    )
    channel.refresh_from_db()
    assert channel.health == Channel.Health.UNKNOWN
    assert channel_ids_due_for_poll(now=later) == [channel.id]


def test_a_passing_check_resumes_a_channel_that_needed_attention(channel, sandbox):
    sandbox.add_fault(path_prefix="/2/users", status=401, count=1)
    channel_poll(channel_id=channel.id)

    call_command("channels", "test", channel.name)

    channel.refresh_from_db()
    assert channel.health == Channel.Health.UNKNOWN
    assert AuditEvent.objects.filter(action="channel.check_passed").count() == 1


def test_send_reply_posts_a_threaded_reply(channel, sandbox):
    citizen = sandbox.add_mention(text="Waar haal ik een ID-kaart?", username="noor", name="Noor")

    sent = TwitterConnector(channel).send_reply(
        text="Maak een afspraak via de website.", target=reply_target(citizen)
    )

    [reply] = sandbox.replies()
    assert reply["id"] == sent.external_id
    assert reply["referenced_tweets"] == [{"type": "replied_to", "id": citizen["id"]}]
    assert reply["text"] == "Maak een afspraak via de website."


def test_a_reply_the_platform_refuses_is_rejected_with_its_reason(channel, sandbox):
    citizen = sandbox.add_mention(text="Vraag", username="noor", name="Noor")
    connector = TwitterConnector(channel)
    connector.send_reply(text="Dubbel", target=reply_target(citizen))

    with pytest.raises(Rejected, match="duplicate"):
        connector.send_reply(text="Dubbel", target=reply_target(citizen))


def test_find_reply_finds_what_was_posted_and_nothing_else(channel, sandbox):
    citizen = sandbox.add_mention(text="Vraag", username="noor", name="Noor")
    connector = TwitterConnector(channel)
    sent = connector.send_reply(text="Antwoord", target=reply_target(citizen))
    not_before = timezone.now() - timedelta(minutes=5)

    found = connector.find_reply(
        text="Antwoord", target=reply_target(citizen), not_before=not_before
    )
    missing = connector.find_reply(
        text="Ander antwoord", target=reply_target(citizen), not_before=not_before
    )

    assert found is not None and found.external_id == sent.external_id
    assert missing is None


def test_check_describes_the_account_or_names_the_problem(channel, sandbox):
    assert "@gemeentedemodorp" in TwitterConnector(channel).check()
    sandbox.add_fault(path_prefix="/2/users/me", status=401, count=1)
    with pytest.raises(AuthenticationFailed):
        TwitterConnector(channel).check()


def test_the_channels_command_adds_lists_polls_and_tests(sandbox, capsys):
    credentials = [f"--credential={key}={value}" for key, value in DEMO_CREDENTIALS.items()]
    call_command(
        "channels",
        "add",
        "twitter",
        "cli-x",
        "--account-id",
        "1600000000000000001",
        "--api-base",
        sandbox.url,
        *credentials,
    )
    sandbox.add_mention(text="Hallo gemeente", username="ruben", name="Ruben")
    call_command("channels", "poll", "cli-x")
    call_command("channels", "test", "cli-x")
    call_command("channels", "list")

    output = capsys.readouterr().out
    assert "Added channel cli-x" in output
    assert "1 new messages" in output
    assert "cli-x: OK" in output
    assert "cli-x\ttwitter\t1600000000000000001\tok" in output


def test_the_channels_command_fails_loudly(sandbox):
    channel_create(
        kind="twitter",
        name="broken-x",
        account_id="1600000000000000001",
        api_base_url=sandbox.url,
        credentials=dict(DEMO_CREDENTIALS),
    )
    sandbox.add_fault(path_prefix="/2/users", status=500, count=1)
    with pytest.raises(CommandError, match="Poll of broken-x failed"):
        call_command("channels", "poll", "broken-x")
    with pytest.raises(CommandError, match="Missing credentials"):
        call_command(
            "channels", "add", "twitter", "x2", "--account-id", "2", "--credential=bearer_token=t"
        )


def test_credentials_are_encrypted_at_rest(channel):
    stored = Channel.objects.values_list("credentials_encrypted", flat=True).get(id=channel.id)
    assert DEMO_CREDENTIALS["access_token_secret"] not in stored
    assert (
        TwitterConnector(channel).client.access_token_secret
        == DEMO_CREDENTIALS["access_token_secret"]
    )


def test_a_citizen_who_renames_themselves_keeps_one_contact_with_the_new_name(channel, sandbox):
    sandbox.add_mention(text="Eerste vraag", username="pietjep", name="Piet")
    poll(channel)
    sandbox.add_mention(text="Tweede vraag", username="pietjep", name="Piet de Boer 🚲")
    poll(channel)

    contact = Contact.objects.get()
    assert contact.display_name == "Piet de Boer 🚲"
    assert contact.messages.count() == 2


def test_credentials_encrypted_with_a_retired_key_mark_the_channel_failing(channel, settings):
    settings.CREDENTIALS_KEYS = ["a-key-that-never-encrypted-anything"]

    outcome = channel_poll(channel_id=channel.id)

    assert not outcome.succeeded
    channel.refresh_from_db()
    assert channel.health == Channel.Health.NEEDS_ATTENTION
    assert "CREDENTIALS_KEY" in channel.last_error


def test_photos_and_videos_on_a_mention_arrive_as_references_with_alt_text(channel, sandbox):
    sandbox.add_mention(
        text="Deze lantaarnpaal hangt er al een week zo bij",
        username="fotograaf",
        media=[
            {"type": "photo", "url": "https://pbs.example/lamp.jpg", "alt_text": "Scheve paal"},
            {"type": "video", "url": "https://video.example/thumb.jpg"},
        ],
    )

    assert poll(channel) == 1

    attachments = Message.objects.get().attachments
    assert attachments == [
        {
            "url": "https://pbs.example/lamp.jpg",
            "kind": "image",
            "preview_url": "https://pbs.example/lamp.jpg",
            "description": "Scheve paal",
        },
        {
            "url": "https://video.example/thumb.jpg",
            "kind": "video",
            "preview_url": "https://video.example/thumb.jpg",
            "description": "",
        },
    ]
