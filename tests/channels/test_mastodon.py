"""The Mastodon connector through Mastodon.py's real code, over real HTTP, against the
sandbox Mastodon (served by the same sandbox server as X)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from channels.base import (
    AuthenticationFailed,
    DeliveryUnknown,
    PlatformAuthor,
    Rejected,
    ReplyTarget,
    TransientError,
)
from channels.mastodon import NOTIFICATIONS_CURSOR, PAGE_SIZE, MastodonConnector
from channels.models import Channel, QuarantinedItem
from channels.registry import reply_rules
from channels.sandbox.accounts import MASTODON_ACCOUNT_ID, MASTODON_CREDENTIALS
from channels.selectors import channel_ids_due_for_poll
from channels.services import channel_create, channel_poll
from inbox.models import AuditEvent, Contact, Conversation, Message
from inbox.services import ServiceError, reply_create, reply_deliver

pytestmark = pytest.mark.django_db


def poll(channel: Channel) -> int:
    outcome = channel_poll(channel_id=channel.id)
    assert outcome.succeeded, outcome.error
    return outcome.new_messages


def target(status: dict, *, private: bool = False) -> ReplyTarget:
    account = status["account"]
    thread_key = f"direct:{account['id']}" if private else f"status:{status['id']}"
    return ReplyTarget(
        in_reply_to_external_id=status["id"],
        recipient=PlatformAuthor(external_id=account["id"], username=account["acct"]),
        thread_key=thread_key,
        private=private,
    )


def answer(conversation: Conversation, agent, text: str, *, private: bool = False) -> Message:
    return reply_create(
        conversation_id=conversation.id,
        actor=agent.user,
        text=text,
        idempotency_key=uuid.uuid4(),
        private=private,
    )


# --- reading -----------------------------------------------------------------------------


def test_the_first_poll_imports_mentions_of_the_history_window_only(mastodon_channel, sandbox):
    now = timezone.now()
    sandbox.add_mastodon_mention("Oude vraag", "oudje", created_at=now - timedelta(days=9))
    recent = sandbox.add_mastodon_mention(
        "Mijn container is niet geleegd 🗑️", "sanne", "Sanne van den Berg"
    )

    assert poll(mastodon_channel) == 1

    message = Message.objects.get()
    assert message.external_id == recent["id"]
    # Our own account is local on its instance: its acct has no domain.
    assert message.text == "@gemeentedemodorp Mijn container is niet geleegd 🗑️"
    assert message.direction == Message.Direction.INBOUND
    assert not message.is_private
    assert message.author_contact.username == recent["account"]["acct"]
    assert message.author_contact.display_name == "Sanne van den Berg"
    assert message.author_contact.avatar_url.endswith(f"{recent['account']['id']}.svg")
    assert message.conversation.external_thread_id == f"status:{recent['id']}"
    mastodon_channel.refresh_from_db()
    assert mastodon_channel.health == Channel.Health.OK
    assert mastodon_channel.cursor[NOTIFICATIONS_CURSOR]
    # The first poll also learnt the instance's character limit.
    assert mastodon_channel.platform_settings["max_characters"] == 500


def test_an_incremental_poll_stores_only_what_is_new(mastodon_channel, sandbox):
    sandbox.add_mastodon_mention("Eerste vraag", "kees")
    assert poll(mastodon_channel) == 1
    assert poll(mastodon_channel) == 0
    sandbox.add_mastodon_mention("Tweede vraag", "kees")

    assert poll(mastodon_channel) == 1
    assert Message.objects.count() == 2
    assert Contact.objects.count() == 1


def test_it_pages_through_every_page_of_new_mentions(mastodon_channel, sandbox):
    count = PAGE_SIZE * 2 + 5
    for number in range(count):
        sandbox.add_mastodon_mention(f"Vraag nummer {number}", f"burger{number % 6}")

    assert poll(mastodon_channel) == count
    for number in range(count, count + PAGE_SIZE + 3):
        sandbox.add_mastodon_mention(f"Vraag nummer {number}", f"burger{number % 6}")
    assert poll(mastodon_channel) == PAGE_SIZE + 3

    assert Message.objects.count() == count + PAGE_SIZE + 3
    assert Contact.objects.count() == 6


def test_polling_again_with_an_old_cursor_creates_nothing_twice(mastodon_channel, sandbox):
    sandbox.add_mastodon_mention("Vraag een", "anna")
    poll(mastodon_channel)
    mastodon_channel.refresh_from_db()
    old_cursor = dict(mastodon_channel.cursor)
    sandbox.add_mastodon_mention("Vraag twee", "anna")
    poll(mastodon_channel)

    # A crash after fetching but before storing would leave the old cursor: the overlap
    # is fetched again and nothing is stored twice.
    Channel.objects.filter(id=mastodon_channel.id).update(cursor=old_cursor)
    assert poll(mastodon_channel) == 0
    assert Message.objects.count() == 2


def test_direct_statuses_make_one_private_conversation_per_citizen(mastodon_channel, sandbox):
    first = sandbox.add_mastodon_mention("Mijn BSN is 123", "fatima", visibility="direct")
    sandbox.add_mastodon_mention("En mijn adres is geheim", "fatima", visibility="direct")
    sandbox.add_mastodon_mention("Openbare vraag", "fatima")

    assert poll(mastodon_channel) == 3

    private = Conversation.objects.get(is_private=True)
    assert private.external_thread_id == f"direct:{first['account']['id']}"
    assert private.messages.count() == 2
    assert all(message.is_private for message in private.messages.all())
    assert Conversation.objects.filter(is_private=False).count() == 1


def test_a_reply_chain_joins_the_citizens_conversation(mastodon_channel, sandbox, agent):
    first = sandbox.add_mastodon_mention("Lantaarnpaal kapot", "daan")
    poll(mastodon_channel)
    reply = answer(Conversation.objects.get(), agent, "We sturen iemand langs.")
    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    sandbox.add_mastodon_mention("Dank je!", "daan", in_reply_to_id=reply.external_id)
    sandbox.add_mastodon_mention("Nog een vraag", "daan", in_reply_to_id=first["id"])
    sandbox.add_mastodon_mention("Bij mij ook!", "fenna", in_reply_to_id=first["id"])

    assert poll(mastodon_channel) == 3

    daan = Conversation.objects.get(contact__username__startswith="daan@")
    assert daan.messages.filter(direction=Message.Direction.INBOUND).count() == 3
    assert Conversation.objects.get(contact__username__startswith="fenna@").messages.count() == 1


def test_a_status_of_our_own_account_is_an_echo_not_a_citizen_message(mastodon_channel, sandbox):
    citizen = sandbox.add_mastodon_mention("Wanneer is het grofvuil?", "henk")
    poll(mastodon_channel)
    own = sandbox.add_mastodon_own_status(
        f"@{citizen['account']['acct']} Elke eerste maandag.", in_reply_to_id=citizen["id"]
    )

    assert poll(mastodon_channel) == 0

    echo = Message.objects.get(external_id=own["id"])
    assert echo.direction == Message.Direction.OUTBOUND
    assert echo.conversation.contact.username == citizen["account"]["acct"]
    assert AuditEvent.objects.filter(action="reply.seen_outside_webcare").count() == 1


def test_status_html_becomes_safe_plain_text(mastodon_channel, sandbox):
    hostile = (
        '<p>Hallo <span class="h-card"><a href="https://social.demodorp.nl/@gemeentedemodorp" '
        'class="u-url mention">@<span>gemeentedemodorp</span></a></span> &amp; team,<br>'
        "tweede regel<script>alert('x')</script></p>"
        '<p><a href="javascript:alert(1)">klik hier</a> '
        '<a href="https://www.demodorp.nl/afval" rel="nofollow"><span class="invisible">https://'
        '</span><span class="">www.demodorp.nl/afval</span><span class="invisible"></span></a>'
        " &lt;b&gt;geen opmaak&lt;/b&gt; 🙂</p>"
    )
    sandbox.add_mastodon_mention("Hallo", "priya", content=hostile)

    poll(mastodon_channel)

    assert Message.objects.get().text == (
        "Hallo @gemeentedemodorp & team,\ntweede regel\n\n"
        "klik hier https://www.demodorp.nl/afval <b>geen opmaak</b> 🙂"
    )


def test_media_attachments_are_kept_as_references(mastodon_channel, sandbox):
    sandbox.add_mastodon_mention(
        "Kijk, de container",
        "marloes",
        media=[
            {
                "type": "image",
                "url": "https://files.mastodon.nl/container.jpg",
                "preview_url": "https://files.mastodon.nl/container-small.jpg",
                "description": "Een volle groene container",
            }
        ],
    )

    poll(mastodon_channel)

    assert Message.objects.get().attachments == [
        {
            "url": "https://files.mastodon.nl/container.jpg",
            "kind": "image",
            "preview_url": "https://files.mastodon.nl/container-small.jpg",
            "description": "Een volle groene container",
        }
    ]


def test_an_unreadable_notification_is_quarantined_and_the_rest_stored(mastodon_channel, sandbox):
    sandbox.add_mastodon_mention("Goede vraag", "tom")
    sandbox.add_mastodon_raw_notification({"type": "mention", "status": {"content": "geen id"}})
    sandbox.add_mastodon_mention("Nog een goede vraag", "tom")

    assert poll(mastodon_channel) == 2

    item = QuarantinedItem.objects.get()
    assert item.raw["status"]["content"] == "geen id"
    assert "Unreadable Mastodon notification" in item.reason
    assert poll(mastodon_channel) == 0
    assert QuarantinedItem.objects.count() == 1


# --- failures ------------------------------------------------------------------------------


def test_a_rate_limit_pauses_the_channel_until_the_reset(mastodon_channel, sandbox):
    sandbox.add_fault(path_prefix="/api/v1/notifications", status=429, count=1)

    outcome = channel_poll(channel_id=mastodon_channel.id)

    assert not outcome.succeeded
    mastodon_channel.refresh_from_db()
    assert mastodon_channel.health == Channel.Health.FAILING
    assert "rate limit" in mastodon_channel.last_error
    assert mastodon_channel.paused_until is not None
    assert (
        timezone.now() + timedelta(seconds=5)
        < mastodon_channel.paused_until
        < timezone.now() + timedelta(seconds=30)
    )
    assert channel_ids_due_for_poll(now=timezone.now()) == []


def test_a_server_error_marks_the_channel_failing_and_the_next_poll_recovers(
    mastodon_channel, sandbox
):
    sandbox.add_fault(path_prefix="/api/v1/notifications", status=503, count=1)
    outcome = channel_poll(channel_id=mastodon_channel.id)
    assert not outcome.succeeded
    mastodon_channel.refresh_from_db()
    assert mastodon_channel.health == Channel.Health.FAILING
    assert mastodon_channel.paused_until is None

    sandbox.add_mastodon_mention("Werkt het weer?", "lars")
    assert poll(mastodon_channel) == 1
    mastodon_channel.refresh_from_db()
    assert mastodon_channel.health == Channel.Health.OK


def test_a_revoked_token_needs_attention_and_stops_polling(mastodon_channel, sandbox):
    sandbox.add_fault(path_prefix="/api/v1/notifications", status=401, count=1)

    outcome = channel_poll(channel_id=mastodon_channel.id)

    assert not outcome.succeeded
    assert "access token" in outcome.error
    mastodon_channel.refresh_from_db()
    assert mastodon_channel.health == Channel.Health.NEEDS_ATTENTION
    assert channel_ids_due_for_poll(now=timezone.now() + timedelta(hours=1)) == []


def test_a_wrong_token_is_refused_by_the_platform(mastodon_channel, sandbox):
    channel_create(
        kind="mastodon",
        name="wrong-token",
        account_id="999",
        api_base_url=sandbox.url,
        credentials={"access_token": "not-the-token"},
    )
    with pytest.raises(AuthenticationFailed, match="The access token is invalid"):
        MastodonConnector(Channel.objects.get(name="wrong-token")).check()


def test_a_slow_answer_is_a_transient_error(mastodon_channel, sandbox, settings):
    settings.WEBCARE_PLATFORM_TIMEOUT = 0.3
    sandbox.add_fault(path_prefix="/api/v1/notifications", status=None, delay_seconds=1.0)
    mastodon_channel.platform_settings = {"max_characters": 500}

    with pytest.raises(TransientError, match="did not answer"):
        MastodonConnector(mastodon_channel).fetch_new()


# --- replies -------------------------------------------------------------------------------


def test_a_public_reply_answers_the_status_and_mentions_the_citizen(mastodon_channel, sandbox):
    citizen = sandbox.add_mastodon_mention("Waar haal ik een ID-kaart?", "noor")

    sent = MastodonConnector(mastodon_channel).send_reply(
        text="Maak een afspraak via de website.", target=target(citizen)
    )

    [reply] = sandbox.mastodon_replies()
    assert reply["id"] == sent.external_id
    assert reply["in_reply_to_id"] == citizen["id"]
    assert reply["visibility"] == "public"
    assert [mention["acct"] for mention in reply["mentions"]] == [citizen["account"]["acct"]]
    assert "Maak een afspraak via de website." in reply["content"]


def test_a_private_reply_is_a_direct_status_to_the_citizen(mastodon_channel, sandbox):
    citizen = sandbox.add_mastodon_mention("Mijn BSN is …", "wilma", visibility="direct")
    acct = citizen["account"]["acct"]

    MastodonConnector(mastodon_channel).send_reply(
        text=f"Dank u, @{acct}. We bellen u.", target=target(citizen, private=True)
    )

    [reply] = sandbox.mastodon_replies()
    assert reply["visibility"] == "direct"
    assert reply["in_reply_to_id"] == citizen["id"]
    # The text mentioned the citizen already: no second mention in front.
    assert reply["content"].startswith("<p>Dank u, ")
    assert [mention["acct"] for mention in reply["mentions"]] == [acct]


def test_a_reply_through_the_inbox_is_delivered_and_a_reply_to_it_joins(
    mastodon_channel, sandbox, agent
):
    sandbox.add_mastodon_mention("Mag ik mijn paspoort laten ophalen?", "ruud")
    poll(mastodon_channel)
    conversation = Conversation.objects.get()

    reply = answer(conversation, agent, "Ja, met een machtiging.", private=True)
    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    [posted] = sandbox.mastodon_replies()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == posted["id"]
    assert posted["visibility"] == "direct"
    # What we stored is what the citizen got: the mention is part of our copy too.
    assert reply.text == f"@{conversation.contact.username} Ja, met een machtiging."


def test_a_lost_answer_is_found_on_the_platform_not_posted_twice(mastodon_channel, sandbox, agent):
    sandbox.add_mastodon_mention("Wanneer komt de vuilniswagen?", "wilma")
    poll(mastodon_channel)
    reply = answer(Conversation.objects.get(), agent, "Morgen tussen 7 en 16 uur.")
    sandbox.add_fault(
        path_prefix="/api/v1/statuses", method="POST", status=503, after_processing=True
    )

    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.QUEUED
    assert "server error" in reply.delivery_error

    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    [posted] = sandbox.mastodon_replies()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == posted["id"]
    assert AuditEvent.objects.get(action="reply.sent", message=reply).data["via"] == (
        "found_on_platform"
    )


def test_a_lost_answer_raises_delivery_unknown_and_a_resend_is_deduplicated(
    mastodon_channel, sandbox
):
    citizen = sandbox.add_mastodon_mention("Vraag", "noor")
    connector = MastodonConnector(mastodon_channel)
    sandbox.add_fault(
        path_prefix="/api/v1/statuses", method="POST", status=502, after_processing=True
    )
    with pytest.raises(DeliveryUnknown):
        connector.send_reply(text="Antwoord", target=target(citizen))

    # Even without looking first, the Idempotency-Key makes a resend return the same status.
    sent = connector.send_reply(text="Antwoord", target=target(citizen))

    [posted] = sandbox.mastodon_replies()
    assert sent.external_id == posted["id"]


def test_a_reply_answered_too_late_is_delivery_unknown_and_found_afterwards(
    mastodon_channel, sandbox, settings
):
    settings.WEBCARE_PLATFORM_TIMEOUT = 0.3
    citizen = sandbox.add_mastodon_mention("Vraag", "noor")
    connector = MastodonConnector(mastodon_channel)
    sandbox.add_fault(
        path_prefix="/api/v1/statuses",
        method="POST",
        status=None,
        delay_seconds=1.0,
        after_processing=True,
    )

    with pytest.raises(DeliveryUnknown, match="did not answer"):
        connector.send_reply(text="Antwoord", target=target(citizen))

    found = connector.find_reply(
        text="Antwoord", target=target(citizen), not_before=timezone.now() - timedelta(minutes=1)
    )
    [posted] = sandbox.mastodon_replies()
    assert found is not None and found.external_id == posted["id"]


def test_find_reply_finds_what_was_posted_and_nothing_else(mastodon_channel, sandbox):
    citizen = sandbox.add_mastodon_mention("Vraag", "noor")
    other = sandbox.add_mastodon_mention("Andere vraag", "noor")
    connector = MastodonConnector(mastodon_channel)
    sent = connector.send_reply(text="Antwoord\n\nMet groet", target=target(citizen))
    not_before = timezone.now() - timedelta(minutes=5)

    found = connector.find_reply(
        text="Antwoord\n\nMet groet", target=target(citizen), not_before=not_before
    )

    assert found is not None and found.external_id == sent.external_id
    assert connector.find_reply(text="Ander", target=target(citizen), not_before=not_before) is None
    assert (
        connector.find_reply(
            text="Antwoord\n\nMet groet", target=target(other), not_before=not_before
        )
        is None
    )


def test_a_reply_the_platform_refuses_is_rejected_with_its_words(mastodon_channel, sandbox):
    citizen = sandbox.add_mastodon_mention("Vraag", "noor")

    with pytest.raises(Rejected, match="character limit of 500 exceeded"):
        MastodonConnector(mastodon_channel).send_reply(text="x" * 600, target=target(citizen))


def test_the_reply_length_counts_the_way_mastodon_does(mastodon_channel, sandbox, agent):
    rules = reply_rules(mastodon_channel)
    assert rules.supports_private
    assert rules.measure("Zie https://www.demodorp.nl/" + "a" * 80) == 4 + 23
    assert rules.measure("@sanne@mastodon.nl hoi") == len("@sanne hoi")

    mastodon_channel.platform_settings = {"max_characters": 1000}
    mastodon_channel.save(update_fields=["platform_settings"])
    assert reply_rules(mastodon_channel).limit(private=True) > rules.limit(private=True)

    sandbox.add_mastodon_mention("Vraag", "noor")
    poll(mastodon_channel)
    mastodon_channel.platform_settings = {"max_characters": 500}
    mastodon_channel.save(update_fields=["platform_settings"])
    # The "@noor@…" Mastodon needs is part of the reply and of its count, which leaves
    # out the domain: 6 + 495 > 500.
    with pytest.raises(ServiceError):
        answer(Conversation.objects.get(), agent, "x" * 495)
    exactly_full = answer(Conversation.objects.get(), agent, "x" * 494)
    acct = Conversation.objects.get().contact.username
    assert acct.startswith("noor")
    assert exactly_full.text == f"@{acct} " + "x" * 494
    # A long URL counts as 23: this reply fits although it has more than 500 characters.
    answer(Conversation.objects.get(), agent, "Zie https://www.demodorp.nl/" + "a" * 600)


# --- checking and the command ----------------------------------------------------------


def test_check_describes_the_account_and_learns_the_character_limit(mastodon_channel, sandbox):
    connector = MastodonConnector(mastodon_channel)

    description = connector.check()

    assert "@gemeentedemodorp" in description
    assert "500 characters" in description
    assert connector.learned_settings == {"max_characters": 500}


def test_check_names_an_access_token_of_another_account(sandbox, db):
    channel = channel_create(
        kind="mastodon",
        name="other",
        account_id="123",
        api_base_url=sandbox.url,
        credentials=dict(MASTODON_CREDENTIALS),
    )
    with pytest.raises(AuthenticationFailed, match="not to account id 123"):
        MastodonConnector(channel).check()


def test_the_channels_command_adds_polls_and_tests_a_mastodon_channel(sandbox, capsys):
    call_command(
        "channels",
        "add",
        "mastodon",
        "cli-mastodon",
        "--account-id",
        MASTODON_ACCOUNT_ID,
        "--api-base",
        sandbox.url,
        f"--credential=access_token={MASTODON_CREDENTIALS['access_token']}",
    )
    sandbox.add_mastodon_mention("Hallo gemeente", "ruben")
    call_command("channels", "poll", "cli-mastodon")
    Channel.objects.filter(name="cli-mastodon").update(platform_settings={})
    call_command("channels", "test", "cli-mastodon")
    call_command("channels", "list")

    output = capsys.readouterr().out
    assert "Added channel cli-mastodon" in output
    assert "1 new messages" in output
    assert "cli-mastodon: OK" in output
    assert f"cli-mastodon\tmastodon\t{MASTODON_ACCOUNT_ID}\tok" in output
    channel = Channel.objects.get(name="cli-mastodon")
    assert channel.platform_settings == {"max_characters": 500}
    assert AuditEvent.objects.filter(action="channel.platform_settings_updated").count() == 2
    with pytest.raises(CommandError, match="Missing credentials"):
        call_command("channels", "add", "mastodon", "m2", "--account-id", "2")
