"""The generated history (inbox/demo_history.py) leaves the rows the services would have left:
the same invariants, the same replay of a conversation as the real services, a municipality's
rhythm, and once only in the demo."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from channels.base import SentReply
from inbox.demo_history import (
    HISTORY_ACTION,
    _Event,
    _Replay,
    generate_history,
)
from inbox.metrics.working_time import WorkingCalendar
from inbox.models import (
    AuditEvent,
    CareCycle,
    Contact,
    Conversation,
    ConversationTag,
    Message,
    MetricsDirtyConversation,
    Note,
    NoteMention,
)
from inbox.services import (
    conversation_mark_pending,
    conversation_resolve,
    conversation_take,
    reply_claim_for_sending,
    reply_create,
    reply_mark_sent,
    team_create,
    team_member_add,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# A Wednesday; the four weeks before it hold the switch to summer time (29 March) and Easter.
END = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)
DAYS = 28


@pytest.fixture
def teams(team_lead, agent, second_agent):
    general = team_create(actor=team_lead.user, name="Algemeen", description="", is_default=True)
    waste = team_create(actor=team_lead.user, name="Afval & Reiniging", description="")
    parking = team_create(actor=team_lead.user, name="Parkeren", description="")
    for team, members in (
        (general, (agent, second_agent)),
        (waste, (agent,)),
        (parking, (second_agent,)),
    ):
        for member in members:
            team_member_add(actor=team_lead.user, team_id=team.pk, user_id=member.user.pk)
    return [general, waste, parking]


def _generate(channel, mastodon_channel, agent, second_agent, teams, *, seed=3, end=END):
    return generate_history(
        channels=[channel, mastodon_channel],
        agents=[agent.user, second_agent.user],
        teams=teams,
        days=DAYS,
        messages_per_day=120,
        seed=seed,
        end=end,
    )


@pytest.fixture
def history(channel, mastodon_channel, agent, second_agent, teams):
    return _generate(channel, mastodon_channel, agent, second_agent, teams)


def _generate_sized(channel, mastodon_channel, agent, second_agent, teams, *, seed=5):
    """A small history of the benchmark's kind: sizes asked, notes with mentions."""
    return generate_history(
        channels=[channel, mastodon_channel],
        agents=[agent.user, second_agent.user],
        teams=teams,
        days=DAYS,
        seed=seed,
        end=END,
        conversations=600,
        messages=1500,
        contacts=240,
        note_share=0.3,
        note_mentions=True,
    )


@pytest.fixture
def sized_history(channel, mastodon_channel, agent, second_agent, teams):
    return _generate_sized(channel, mastodon_channel, agent, second_agent, teams)


def _threads():
    """Per conversation: its row, its messages in time order, its cycles in order."""
    messages = defaultdict(list)
    for message in Message.objects.order_by("sent_at", "id"):
        messages[message.conversation_id].append(message)
    cycles = defaultdict(list)
    for cycle in CareCycle.objects.order_by("number"):
        cycles[cycle.conversation_id].append(cycle)
    return [
        (conversation, messages[conversation.id], cycles[conversation.id])
        for conversation in Conversation.objects.all()
    ]


def test_it_writes_about_the_asked_number_of_messages_within_the_period(history):
    assert 0.8 * DAYS * 120 < history.messages < 1.2 * DAYS * 120
    assert Message.objects.count() == history.messages
    assert Conversation.objects.count() == history.conversations
    assert history.first_at >= END - timedelta(days=DAYS)
    assert Message.objects.filter(sent_at__gt=END).count() == 0
    assert Message.objects.filter(delivered_at__gt=END).count() == 0


def test_conversation_fields_follow_the_services_rules(history):
    for conversation, messages, cycles in _threads():
        inbound = [message for message in messages if message.direction == "inbound"]
        replies = [message for message in messages if message.direction == "outbound"]
        assert inbound, conversation.id
        assert conversation.first_inbound_at == inbound[0].sent_at
        assert conversation.last_inbound_at == inbound[-1].sent_at
        # First response: when the first reply reached the platform.
        assert conversation.first_response_at == min(
            (reply.delivered_at for reply in replies), default=None
        )
        # Waiting: since the oldest citizen message after our last reply, unless resolved
        # (replies.conversation_note_response, lifecycle._unanswered_since).
        last_reply = replies[-1].sent_at if replies else None
        unanswered = [m.sent_at for m in inbound if last_reply is None or m.sent_at > last_reply]
        if conversation.status == Conversation.Status.RESOLVED:
            assert conversation.waiting_since is None
        else:
            assert conversation.waiting_since == (unanswered[0] if unanswered else None)
        moments = [m.sent_at for m in messages] + [r.delivered_at for r in replies]
        moments += [cycle.resolved_at for cycle in cycles if cycle.resolved_at]
        assert conversation.last_activity_at == max(moments)
        if conversation.assignee_id is not None:
            assert conversation.assigned_at is not None
            assert conversation.assigned_at >= conversation.first_inbound_at
        if replies:
            assert conversation.assignee_id is not None
            assert conversation.assigned_at <= replies[0].sent_at
        assert conversation.snoozed_until is None
        assert conversation.created_at >= conversation.first_inbound_at


def test_replies_are_sent_messages_as_the_delivery_worker_leaves_them(history):
    for _conversation, messages, _cycles in _threads():
        last_inbound = None
        for message in messages:
            if message.direction == "inbound":
                assert message.delivery_status is None
                assert message.external_id
                assert message.author_contact_id is not None
                last_inbound = message
                continue
            assert message.delivery_status == Message.DeliveryStatus.SENT
            assert message.external_id
            assert message.author_user_id is not None
            assert message.idempotency_key is not None
            assert message.in_reply_to_external_id == last_inbound.external_id
            assert timedelta(seconds=1) <= message.delivered_at - message.sent_at
            assert message.delivered_at - message.sent_at <= timedelta(seconds=30)
    external_ids = Counter(Message.objects.values_list("channel_id", "external_id"))
    assert max(external_ids.values()) == 1


def test_care_cycles_start_with_the_citizen_and_end_with_a_resolution(history):
    numbers = Counter()
    for conversation, messages, cycles in _threads():
        inbound = [m for m in messages if m.direction == "inbound"]
        replies = [m for m in messages if m.direction == "outbound"]
        assert [cycle.number for cycle in cycles] == list(range(1, len(cycles) + 1))
        numbers[len(cycles)] += 1
        assert cycles[0].started_at == conversation.first_inbound_at
        for previous, cycle in itertools.pairwise(cycles):
            assert previous.resolved_at is not None
            assert cycle.started_at == min(
                m.sent_at for m in inbound if m.sent_at > previous.resolved_at
            )
        for index, cycle in enumerate(cycles):
            until = cycle.resolved_at or END
            in_cycle = [r for r in replies if cycle.started_at <= r.sent_at <= until]
            assert cycle.first_response_at == (in_cycle[0].delivered_at if in_cycle else None)
            if cycle.resolved_at is not None:
                assert cycle.resolved_by_id == conversation.assignee_id
            assert (cycle.resolved_at is None) == (
                index == len(cycles) - 1 and conversation.status != Conversation.Status.RESOLVED
            )
    assert numbers[2] > 0, "no conversation reopened after its resolution"
    unanswered_and_resolved = CareCycle.objects.filter(
        first_response_at=None, resolved_at__isnull=False
    )
    assert unanswered_and_resolved.exists()


def test_every_assignment_is_an_audit_event_at_its_moment(history):
    events = {
        event.conversation_id: event
        for event in AuditEvent.objects.filter(action="conversation.assigned")
    }
    assigned = Conversation.objects.filter(assignee__isnull=False)
    assert assigned.count() == len(events)
    for conversation in assigned:
        event = events[conversation.id]
        assert event.created_at == conversation.assigned_at
        assert event.data == {
            "assignee_id": conversation.assignee_id,
            "previous_assignee_id": None,
            "team_id": conversation.team_id,
            "reason": "history",
        }


def test_every_generated_conversation_is_marked_for_the_metrics_refresh(history):
    marked = set(MetricsDirtyConversation.objects.values_list("conversation_id", flat=True))
    assert marked == set(Conversation.objects.values_list("id", flat=True))


def test_citizens_write_most_mornings_and_evenings_and_less_at_weekends(history):
    per_hour = Counter()
    per_weekday = Counter()
    for sent_at in Message.objects.filter(direction="inbound").values_list("sent_at", flat=True):
        local = sent_at.astimezone(AMSTERDAM)
        per_hour[local.hour] += 1
        per_weekday[local.weekday()] += 1
    assert per_hour[9] > 4 * per_hour[3]
    assert per_hour[20] > 4 * per_hour[3]
    assert per_hour[9] > per_hour[15]
    assert per_hour[20] > per_hour[15]
    weekday_mean = sum(per_weekday[day] for day in range(5)) / 5
    assert (per_weekday[5] + per_weekday[6]) / 2 < 0.75 * weekday_mean


def test_agents_answer_in_opening_hours_and_evening_messages_wait_for_the_morning(history):
    calendar = WorkingCalendar()
    composed = list(Message.objects.filter(direction="outbound").values_list("sent_at", flat=True))
    within = sum(1 for moment in composed if calendar.is_open_at(moment))
    assert within > 0.6 * len(composed)
    assert within < len(composed), "no evening or weekend shift ever answered"
    first_waits = [
        cycle.first_response_at - cycle.started_at
        for cycle in CareCycle.objects.filter(first_response_at__isnull=False)
    ]
    quick = sum(1 for wait in first_waits if wait < timedelta(hours=1))
    overnight = sum(1 for wait in first_waits if wait > timedelta(hours=12))
    assert quick > 0.3 * len(first_waits)
    assert overnight > 0.05 * len(first_waits)


def test_conversations_have_demo_teams_tags_priorities_and_private_ones(history, teams):
    assert set(Conversation.objects.values_list("team_id", flat=True)) == {t.pk for t in teams}
    tag_names = set(ConversationTag.objects.values_list("tag__name", flat=True).distinct())
    assert {"afval", "parkeren", "storing", "compliment"} <= tag_names
    assert Conversation.objects.filter(is_private=True).exists()
    assert Conversation.objects.filter(is_private=False).exists()
    assert len(set(Conversation.objects.values_list("priority", flat=True))) >= 3
    assert Message.objects.filter(text__contains="#afval").exists()
    # The storm two thirds into the period: the topics' spike.
    assert Message.objects.filter(text__icontains="omgevallen boom").exists()


def test_the_same_seed_writes_the_same_history(
    history, channel, mastodon_channel, agent, second_agent, teams
):
    first = list(
        Message.objects.order_by("sent_at", "id").values_list("sent_at", "direction", "text")
    )
    again = _generate(channel, mastodon_channel, agent, second_agent, teams)

    assert again == history
    everything = list(
        Message.objects.order_by("sent_at", "id").values_list("sent_at", "direction", "text")
    )
    # Each message twice now: the second run has its own platform ids, so nothing collided.
    assert everything[::2] == first
    assert everything[1::2] == first
    assert AuditEvent.objects.filter(action=HISTORY_ACTION).count() == 2


def test_the_replay_leaves_the_rows_the_real_services_leave(channel, agent):
    """One conversation through the real services, and the same events through the
    generator's replay: the same conversation and care cycle fields."""
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Amsterdam
    events: list[_Event] = []

    def at(minutes: float) -> datetime:
        return start + timedelta(minutes=minutes)

    def citizen(minutes: float, text: str) -> Conversation:
        events.append(_Event(at(minutes), "in", text))
        with time_machine.travel(at(minutes) + timedelta(seconds=3), tick=False):
            return citizen_writes(channel, text=text, thread="history-thread", sent_at=at(minutes))

    def reply(minutes: float, conversation: Conversation) -> None:
        delivered = at(minutes) + timedelta(seconds=6)
        events.append(
            _Event(at(minutes), "reply", "x", delivered_at=delivered, agent_id=agent.user.pk)
        )
        with time_machine.travel(at(minutes), tick=False):
            message = reply_create(
                conversation_id=conversation.id,
                actor=agent.user,
                text="We kijken ernaar, dank voor je bericht",
                idempotency_key=uuid.uuid4(),
            )
        with time_machine.travel(delivered, tick=False):
            reply_claim_for_sending(message_id=message.id)
            reply_mark_sent(message_id=message.id, sent=SentReply(f"ours-{minutes}", {}))

    def agent_does(minutes: float, kind: str, conversation: Conversation) -> None:
        events.append(_Event(at(minutes), kind, agent_id=agent.user.pk))
        service = {
            "assign": conversation_take,
            "pending": conversation_mark_pending,
            "resolve": conversation_resolve,
        }[kind]
        with time_machine.travel(at(minutes), tick=False):
            service(conversation_id=conversation.id, actor=agent.user)

    conversation = citizen(0, "Mijn container is niet geleegd")
    citizen(2, "Het gaat om de groene")
    agent_does(20, "assign", conversation)
    reply(25, conversation)
    agent_does(27, "pending", conversation)
    citizen(120, "Nog steeds niet opgelost hoor")
    reply(150, conversation)
    agent_does(180, "resolve", conversation)
    citizen(60 * 24, "Het is weer hetzelfde probleem")
    reply(60 * 24 + 40, conversation)
    citizen(60 * 24 + 50, "Dank, en wanneer komen ze?")

    replay = _Replay()
    for event in events:
        replay.apply(event)
    conversation.refresh_from_db()
    fields = (
        "status", "first_inbound_at", "first_response_at", "waiting_since", "last_inbound_at",
        "last_activity_at", "assignee_id", "assigned_at",
    )  # fmt: skip
    assert {name: getattr(replay, name) for name in fields} == {
        name: getattr(conversation, name) for name in fields
    }
    assert conversation.waiting_since == at(60 * 24 + 50)
    assert [
        (c.number, c.started_at, c.first_response_at, c.resolved_at, c.resolved_by)
        for c in replay.cycles
    ] == list(
        CareCycle.objects.filter(conversation=conversation)
        .order_by("number")
        .values_list("number", "started_at", "first_response_at", "resolved_at", "resolved_by")
    )


def test_seed_history_refuses_a_second_history_unless_forced(
    channel, agent, second_agent, teams, settings
):
    settings.DEBUG = True
    call_command("seed_history", "--days", "3", "--per-day", "20", "--seed", "2")
    count = Message.objects.count()
    assert count > 0

    with pytest.raises(CommandError, match="already"):
        call_command("seed_history", "--days", "3", "--per-day", "20")
    assert Message.objects.count() == count

    call_command("seed_history", "--days", "3", "--per-day", "20", "--force")
    assert Message.objects.count() > count


def test_seed_history_refuses_to_run_without_debug(channel, agent, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_history")
    assert not Message.objects.exists()


def test_the_demo_gets_its_month_of_history_once(settings):
    call_command("seed_demo", "--force")
    messages = Message.objects.count()
    call_command("seed_demo", "--force")  # `make run` seeds on every start

    assert Message.objects.count() == messages
    assert 2000 < messages < 4500
    assert AuditEvent.objects.filter(action=HISTORY_ACTION).count() == 1
    authors = set(
        Message.objects.filter(direction="outbound").values_list("author_user__username", flat=True)
    )
    assert authors == {"anouk", "bram"}
    teams = set(Conversation.objects.values_list("team__name", flat=True))
    assert {"Algemeen", "Afval & Reiniging", "Burgerzaken", "Parkeren"} <= teams


def test_it_writes_exactly_the_asked_conversations_and_contacts_and_about_the_messages(
    sized_history,
):
    assert sized_history.conversations == Conversation.objects.count() == 600
    # A channel's first conversation always brings a new citizen: at most one more each.
    assert 240 <= Contact.objects.count() == sized_history.contacts <= 242
    assert Message.objects.count() == sized_history.messages
    assert abs(sized_history.messages - 1500) <= 15  # ±1 %
    assert Message.objects.filter(sent_at__gt=END).count() == 0
    assert Message.objects.filter(sent_at__lt=END - timedelta(days=DAYS)).count() == 0
    # Citizens come back: conversations per contact.
    per_contact = Counter(Conversation.objects.values_list("contact_id", flat=True))
    assert max(per_contact.values()) > 1


def test_notes_are_written_as_note_create_leaves_them(sized_history, teams):
    notes = list(Note.objects.select_related("conversation"))
    assert len(notes) == sized_history.notes > 0
    assert 0.15 * 600 < len({note.conversation_id for note in notes}) < 0.45 * 600
    events = {
        event.data["note_id"]: event for event in AuditEvent.objects.filter(action="note.created")
    }
    assert len(events) == len(notes)
    mentions = defaultdict(set)
    for mention in NoteMention.objects.all():
        mentions[mention.note_id].add(mention.user_id)
    assert sum(len(users) for users in mentions.values()) == sized_history.mentions > 0
    members = defaultdict(set)
    for team in teams:
        members[team.pk] = set(team.memberships.values_list("user_id", flat=True))
    for note in notes:
        conversation = note.conversation
        assert note.author_id == conversation.assignee_id
        assert conversation.first_inbound_at <= note.created_at <= END
        event = events[note.id]
        assert event.conversation_id == conversation.id
        assert event.actor_id == note.author_id
        assert event.created_at == note.created_at
        assert set(event.data["mentioned_ids"]) == mentions.get(note.id, set())
        for user_id in mentions.get(note.id, set()):
            # A colleague of the conversation's team, named in the text, never the author.
            assert user_id != note.author_id
            assert user_id in members[conversation.team_id]
            assert "@" in note.text
    unread = NoteMention.objects.filter(read_at__isnull=True)
    assert all(mention.note.created_at > END - timedelta(days=3) for mention in unread)


def test_the_same_seed_writes_the_same_sized_history_and_another_seed_another(
    sized_history, channel, mastodon_channel, agent, second_agent, teams
):
    def rows():
        return (
            list(Message.objects.order_by("sent_at", "id").values_list("sent_at", "text")),
            list(Note.objects.order_by("created_at", "id").values_list("created_at", "text")),
        )

    first = rows()
    Conversation.objects.all().delete()
    Contact.objects.all().delete()
    again = _generate_sized(channel, mastodon_channel, agent, second_agent, teams)
    assert again == sized_history
    assert rows() == first

    Conversation.objects.all().delete()
    other = _generate_sized(channel, mastodon_channel, agent, second_agent, teams, seed=6)
    assert other.conversations == 600
    assert rows() != first
