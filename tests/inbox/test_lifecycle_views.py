"""The lifecycle controls on the conversation page and the "Mentions of me" list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from inbox.models import AuditEvent, CareCycle, Conversation, Note, NoteMention, Tag
from inbox.services import conversation_tag, conversation_take, note_create
from inbox.views.lifecycle import WORKPLACE_TIMEZONE, parse_local_datetime, snooze_presets
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client, settings):  # type: ignore[no-untyped-def]
    # The Dutch texts come from locale/fragments/lifecycle.po once merged; the behaviour is
    # checked on the English source strings.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def conversation(channel) -> Conversation:  # type: ignore[no-untyped-def]
    return citizen_writes(channel, username="daan", thread="thread-daan", text="Container vol")


def _page(client, conversation: Conversation) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("inbox:conversation", args=[conversation.id]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_status_buttons_resolve_and_reopen_with_a_message(logged_in, agent, conversation):
    client = logged_in(agent)
    assert "Resolve" in _page(client, conversation)

    response = client.post(
        reverse("inbox:conversation_resolve", args=[conversation.id]), follow=True
    )

    assert response.redirect_chain == [(reverse("inbox:conversation", args=[conversation.id]), 302)]
    content = response.content.decode()
    assert "The conversation is resolved." in content
    assert "Reopen" in content
    assert Conversation.objects.get().status == Conversation.Status.RESOLVED

    client.post(reverse("inbox:conversation_reopen", args=[conversation.id]))
    client.post(reverse("inbox:conversation_pending", args=[conversation.id]))
    assert Conversation.objects.get().status == Conversation.Status.PENDING


def test_an_illegal_transition_comes_back_as_an_error_message(logged_in, agent, conversation):
    client = logged_in(agent)

    response = client.post(
        reverse("inbox:conversation_reopen", args=[conversation.id]), follow=True
    )

    assert 'class="flash flash-error"' in response.content.decode()
    assert Conversation.objects.get().status == Conversation.Status.OPEN


def test_a_colleague_gets_403_and_sees_no_controls(logged_in, agent, second_agent, conversation):
    conversation_take(conversation_id=conversation.id, actor=agent.user)
    client = logged_in(second_agent)

    content = _page(client, conversation)
    response = client.post(reverse("inbox:conversation_resolve", args=[conversation.id]))

    assert response.status_code == 403
    assert reverse("inbox:conversation_resolve", args=[conversation.id]) not in content
    assert Conversation.objects.get().status == Conversation.Status.OPEN


def test_lifecycle_views_answer_404_for_an_unknown_conversation(logged_in, agent):
    client = logged_in(agent)

    response = client.post(reverse("inbox:conversation_resolve", args=[999999]))

    assert response.status_code == 404


def test_lifecycle_views_need_a_login_and_a_post(client, logged_in, agent, conversation):
    url = reverse("inbox:conversation_resolve", args=[conversation.id])
    assert client.post(url).status_code == 302  # to the login page
    assert logged_in(agent).get(url).status_code == 405


@pytest.mark.parametrize(
    ("preset", "expected_local"),
    [
        ("hour", datetime(2026, 11, 25, 15, 0, tzinfo=WORKPLACE_TIMEZONE)),
        ("tomorrow", datetime(2026, 11, 26, 8, 30, tzinfo=WORKPLACE_TIMEZONE)),
        ("monday", datetime(2026, 11, 30, 8, 30, tzinfo=WORKPLACE_TIMEZONE)),
    ],
)
def test_snooze_presets_are_dutch_working_hours(
    logged_in, agent, conversation, preset, expected_local
):
    client = logged_in(agent)
    # Wednesday 25 November 2026, 14:00 in Amsterdam (13:00 UTC).
    with time_machine.travel(datetime(2026, 11, 25, 13, 0, tzinfo=UTC), tick=False):
        response = client.post(
            reverse("inbox:conversation_snooze", args=[conversation.id]),
            {"preset": preset},
            follow=True,
        )

    snoozed = Conversation.objects.get()
    assert snoozed.status == Conversation.Status.SNOOZED
    assert snoozed.snoozed_until == expected_local
    assert expected_local.strftime("%d-%m-%Y %H:%M") in response.content.decode()


def test_next_monday_on_a_monday_is_a_week_ahead_and_summer_time_is_respected():
    monday_in_summer = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    presets = snooze_presets(monday_in_summer)
    assert presets["monday"] == datetime(2026, 6, 8, 8, 30, tzinfo=WORKPLACE_TIMEZONE)
    assert presets["monday"].astimezone(UTC).hour == 6  # CEST is UTC+2


def test_a_custom_snooze_time_is_read_as_amsterdam_time(logged_in, agent, conversation):
    client = logged_in(agent)
    until = (timezone.now() + timedelta(days=2)).astimezone(WORKPLACE_TIMEZONE)
    value = until.strftime("%Y-%m-%dT%H:%M")

    client.post(
        reverse("inbox:conversation_snooze", args=[conversation.id]),
        {"preset": "custom", "until": value},
    )

    assert Conversation.objects.get().snoozed_until == parse_local_datetime(value)
    assert parse_local_datetime("morgen") is None


def test_a_snooze_time_in_the_past_or_missing_is_refused(logged_in, agent, conversation):
    client = logged_in(agent)
    url = reverse("inbox:conversation_snooze", args=[conversation.id])

    past = client.post(url, {"preset": "custom", "until": "2020-01-01T08:30"}, follow=True)
    missing = client.post(url, {"preset": "custom", "until": ""}, follow=True)

    assert "future" in past.content.decode()
    assert 'class="flash flash-error"' in missing.content.decode()
    assert Conversation.objects.get().status == Conversation.Status.OPEN


def test_priority_tags_and_notes_are_set_from_the_page(logged_in, agent, conversation):
    client = logged_in(agent)

    client.post(reverse("inbox:conversation_priority", args=[conversation.id]), {"priority": "4"})
    client.post(reverse("inbox:conversation_tag", args=[conversation.id]), {"name": "Storing"})
    client.post(reverse("inbox:note_create", args=[conversation.id]), {"text": "Let op: <b>"})
    content = _page(client, conversation)

    assert Conversation.objects.get().priority == Conversation.Priority.URGENT
    assert "Priority: Urgent" in content
    tag = Tag.objects.get(name="Storing")
    assert reverse("inbox:conversation_untag", args=[conversation.id, tag.id]) in content
    assert 'class="note"' in content
    assert "Internal note" in content
    assert "Let op: &lt;b&gt;" in content

    client.post(reverse("inbox:conversation_untag", args=[conversation.id, tag.id]))
    assert not conversation.tags.exists()


def test_an_empty_tag_or_note_shows_an_error(logged_in, agent, conversation):
    client = logged_in(agent)

    tag = client.post(
        reverse("inbox:conversation_tag", args=[conversation.id]), {"name": " "}, follow=True
    )
    note = client.post(
        reverse("inbox:note_create", args=[conversation.id]), {"text": ""}, follow=True
    )

    assert 'class="flash flash-error"' in tag.content.decode()
    assert 'class="flash flash-error"' in note.content.decode()
    assert not Note.objects.exists()


def test_merging_from_the_page_continues_in_the_target(logged_in, agent, channel):
    target = citizen_writes(channel, username="daan", thread="t-1", text="Eerste")
    source = citizen_writes(channel, username="daan", thread="t-2", text="Tweede")
    client = logged_in(agent)
    assert reverse("inbox:conversation_merge", args=[source.id]) in _page(client, source)

    response = client.post(
        reverse("inbox:conversation_merge", args=[source.id]), {"target": target.id}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("inbox:conversation", args=[target.id])
    content = response.content.decode()
    assert "Eerste" in content and "Tweede" in content
    assert Conversation.objects.get(id=source.id).merged_into_id == target.id
    assert "was merged into" in _page(client, Conversation.objects.get(id=source.id))


def test_mentions_show_in_the_inbox_until_the_conversation_is_opened(
    logged_in, agent, second_agent, conversation
):
    note_create(conversation_id=conversation.id, actor=agent.user, text="@bram kun jij helpen?")
    client = logged_in(second_agent)

    mentions_queue = {"queue": "mentions"}
    inbox = client.get(reverse("inbox:inbox"), mentions_queue).content.decode()
    assert '<span id="queue-count-mentions">1</span>' in inbox
    assert "kun jij helpen?" in inbox

    _page(client, conversation)

    assert NoteMention.objects.get().read_at is not None
    inbox = client.get(reverse("inbox:inbox"), mentions_queue).content.decode()
    assert '<span id="queue-count-mentions">0</span>' in inbox
    assert "kun jij helpen?" not in inbox


def test_the_conversation_page_with_notes_and_tags_keeps_its_queries_flat(
    logged_in, agent, second_agent, channel, django_assert_max_num_queries
):
    for number in range(5):
        conversation = citizen_writes(
            channel, username="trouwe_burger", text=f"Bericht {number}", thread="thread-1"
        )
        note_create(
            conversation_id=conversation.id,
            actor=second_agent.user,
            text=f"Notitie {number} @anouk",
        )
        conversation_tag(conversation_id=conversation.id, actor=agent.user, name=f"tag{number}")
    citizen_writes(channel, username="trouwe_burger", text="Oud gesprek", thread="thread-0")
    client = logged_in(agent)
    client.get(reverse("inbox:inbox"))  # the once-a-minute "last seen" write

    with django_assert_max_num_queries(12):
        response = client.get(reverse("inbox:conversation", args=[conversation.id]))

    content = response.content.decode()
    assert content.count('class="note"') == 5
    assert content.count('class="tag"') == 5
    assert content.index("Bericht 0") < content.index("Notitie 0") < content.index("Bericht 1")


def test_the_inbox_with_mentions_keeps_its_queries_flat(
    logged_in, agent, second_agent, channel, django_assert_max_num_queries
):
    for number in range(6):
        conversation = citizen_writes(channel, username=f"burger{number}", text=f"Vraag {number}")
        note_create(conversation_id=conversation.id, actor=agent.user, text=f"@bram nr {number}")
    client = logged_in(second_agent)
    client.get(reverse("inbox:inbox"))

    with django_assert_max_num_queries(10):
        response = client.get(reverse("inbox:inbox"), {"queue": "mentions"})

    assert response.content.decode().count('class="inbox-row-line inbox-row-mention"') == 6


def test_the_wake_task_is_scheduled_and_wakes(settings, channel, agent):
    from inbox.services import conversation_snooze
    from inbox.tasks import wake_snoozed

    assert settings.CELERY_BEAT_SCHEDULE["inbox.wake_snoozed"]["task"] == "inbox.wake_snoozed"
    assert settings.CELERY_BEAT_SCHEDULE["inbox.wake_snoozed"]["schedule"] <= 60
    conversation = citizen_writes(channel, username="slaper")
    conversation_snooze(
        conversation_id=conversation.id, actor=agent.user, until=timezone.now() + timedelta(hours=1)
    )

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert wake_snoozed.apply().get() == 1

    assert Conversation.objects.get().status == Conversation.Status.OPEN
    assert AuditEvent.objects.filter(action="conversation.woke").count() == 1
    assert CareCycle.objects.get().resolved_at is None
