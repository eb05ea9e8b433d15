"""The three-pane inbox: queues and their counts, filters in the URL, the list's rows with
waiting time and unread markers, the open conversation, and flat query counts."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inbox.models import Conversation, ConversationReadState, NoteMention
from inbox.selectors import inbox as inbox_selectors
from inbox.selectors.inbox import InboxFilters, waiting_urgency
from inbox.services import (
    conversation_mark_read,
    conversation_resolve,
    conversation_set_priority,
    conversation_snooze,
    conversation_tag,
    conversation_take,
    conversation_transfer,
    note_create,
    reply_create,
    team_create,
    team_member_add,
)
from tests.conftest import PASSWORD
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

ROW_ID = re.compile(r'data-conversation-row data-conversation-id="(\d+)"')


def listed(content: str) -> list[int]:
    """The conversation ids of the list's rows, in order."""
    return [int(found) for found in ROW_ID.findall(content)]


def inbox_html(client: Client, **params: str) -> str:
    response = client.get(reverse("inbox:inbox"), params)
    assert response.status_code == 200
    return response.content.decode()


def queue_count(content: str, queue: str) -> int:
    found = re.search(rf'<span id="queue-count-{queue}"[^>]*>(\d+)</span>', content)
    assert found, f"no count for {queue}"
    return int(found.group(1))


@pytest.fixture
def workload(channel, agent, second_agent, team_lead, trainee):  # type: ignore[no-untyped-def]
    """One conversation in each queue's particular situation."""
    team = team_create(actor=team_lead.user, name="Afval")
    team_member_add(actor=team_lead.user, team_id=team.id, user_id=agent.user_id)
    mine = citizen_writes(channel, username="mijn", text="Van mij")
    conversation_take(conversation_id=mine.id, actor=agent.user)
    bram = citizen_writes(channel, username="vanbram", text="Van Bram")
    conversation_transfer(
        conversation_id=bram.id,
        actor=team_lead.user,
        to_user_id=second_agent.user_id,
        to_team_id=team.id,
    )
    waiting = citizen_writes(channel, username="wachtend", text="Nog niemand")
    mentioned = citizen_writes(channel, username="genoemd", text="Met notitie")
    note_create(conversation_id=mentioned.id, actor=second_agent.user, text="@anouk kijk even")
    held = citizen_writes(channel, username="leerling", text="Voor de leerling")
    conversation_take(conversation_id=held.id, actor=trainee.user)
    reply_create(
        conversation_id=held.id, actor=trainee.user, text="Morgen.", idempotency_key=uuid.uuid4()
    )
    snoozed = citizen_writes(channel, username="slaper", text="Later")
    conversation_snooze(
        conversation_id=snoozed.id, actor=agent.user, until=timezone.now() + timedelta(hours=2)
    )
    resolved = citizen_writes(channel, username="klaar", text="Opgelost")
    conversation_take(conversation_id=resolved.id, actor=agent.user)
    conversation_resolve(conversation_id=resolved.id, actor=agent.user)
    return {
        "mine": mine,
        "bram": bram,
        "waiting": waiting,
        "mentioned": mentioned,
        "held": held,
        "snoozed": snoozed,
        "resolved": resolved,
    }


# --- queues ------------------------------------------------------------------------------------


def test_each_queue_lists_its_own_conversations(logged_in, agent, workload):
    client = logged_in(agent)
    ids = {name: conversation.id for name, conversation in workload.items()}

    assert listed(inbox_html(client)) == [ids["mine"]]
    assert set(listed(inbox_html(client, queue="unassigned"))) == {
        ids["waiting"],
        ids["mentioned"],
    }
    assert listed(inbox_html(client, queue="teams")) == [ids["bram"]]
    assert listed(inbox_html(client, queue="mentions")) == [ids["mentioned"]]
    # Anouk is no team lead and wrote no held reply herself.
    assert listed(inbox_html(client, queue="approval")) == []
    assert listed(inbox_html(client, queue="snoozed")) == [ids["snoozed"]]
    assert set(listed(inbox_html(client, queue="all"))) == {
        ids["mine"],
        ids["bram"],
        ids["waiting"],
        ids["mentioned"],
        ids["held"],
    }


def test_team_leads_see_every_held_reply_and_agents_their_own(
    logged_in, team_lead, trainee, workload
):
    held = workload["held"].id
    assert listed(inbox_html(logged_in(team_lead), queue="approval")) == [held]
    trainee_client = Client()
    assert trainee_client.login(username="tess", password=PASSWORD)
    assert listed(inbox_html(trainee_client, queue="approval")) == [held]


def test_the_counts_of_all_queues_come_from_one_query(agent, workload, django_assert_num_queries):
    with django_assert_num_queries(1):
        counts = inbox_selectors.inbox_counts(
            user=agent.user, is_team_lead=False, filters=InboxFilters(queue="unassigned")
        )

    by_queue = {item.queue.key: item.count for item in counts.queues}
    assert by_queue == {
        "mine": 1,
        "unassigned": 2,
        "teams": 1,
        "mentions": 1,
        "approval": 0,
        "snoozed": 1,
        "all": 5,
    }
    assert counts.listed == 2
    assert [item.queue.key for item in counts.queues if item.is_current] == ["unassigned"]


def test_the_page_shows_the_counts_and_marks_the_current_queue(logged_in, agent, workload):
    content = inbox_html(logged_in(agent), queue="all")

    assert queue_count(content, "all") == 5
    assert queue_count(content, "unassigned") == 2
    assert re.search(r'id="queue-all"[^>]*aria-current="page"', content)
    assert not re.search(r'id="queue-mine"[^>]*aria-current', content)


def test_a_status_filter_shows_other_statuses_of_the_queue(logged_in, agent, workload):
    client = logged_in(agent)

    assert listed(inbox_html(client, status="resolved")) == [workload["resolved"].id]
    # The snoozed queue is a status itself: another status narrows it to nothing.
    assert listed(inbox_html(client, queue="snoozed", status="open")) == []


# --- filters -----------------------------------------------------------------------------------


def test_filters_by_channel_tag_and_priority(logged_in, agent, channel, mastodon_channel):
    on_x = citizen_writes(channel, username="xburger", text="Via X")
    on_mastodon = citizen_writes(mastodon_channel, username="toeter", text="Via Mastodon")
    urgent = citizen_writes(channel, username="spoed", text="Spoed")
    conversation_set_priority(conversation_id=urgent.id, actor=agent.user, priority=4)
    tag = conversation_tag(conversation_id=on_x.id, actor=agent.user, name="storing")
    client = logged_in(agent)

    assert listed(inbox_html(client, queue="all", channel=str(mastodon_channel.id))) == [
        on_mastodon.id
    ]
    assert listed(inbox_html(client, queue="all", tag=str(tag.id))) == [on_x.id]
    assert listed(inbox_html(client, queue="all", priority="4")) == [urgent.id]
    both = inbox_html(client, queue="all", channel=str(channel.id), priority="4")
    assert listed(both) == [urgent.id]
    assert "(1)" in both  # the list's own total follows the filters


def test_queue_links_keep_the_filters_and_the_open_conversation(logged_in, agent, channel):
    conversation = citizen_writes(channel, username="burger")
    content = inbox_html(
        logged_in(agent), queue="all", channel=str(channel.id), open=str(conversation.id)
    )

    link = re.search(r'<a href="([^"]*)" id="queue-unassigned"', content)
    assert link is not None
    assert (
        link.group(1) == f"/?queue=unassigned&amp;channel={channel.id}&amp;open={conversation.id}"
    )


@pytest.mark.parametrize(
    "params",
    [
        {"queue": "iedereen"},
        {"channel": "abc"},
        {"channel": "99999"},
        {"status": "deleted"},
        {"tag": "-1"},
        {"tag": "424242"},
        {"priority": "9"},
        {"page": "0"},
        {"page": "x" * 500},
        {"open": "<script>"},
        {"open": "987654"},
    ],
)
def test_a_bad_parameter_is_ignored_with_a_message_never_an_error(logged_in, agent, params):
    response = logged_in(agent).get(reverse("inbox:inbox"), params)

    assert response.status_code == 200
    content = response.content.decode()
    assert 'class="utrecht-alert utrecht-alert--warning inbox-problem"' in content
    assert "<script>" not in content.split('id="inbox-screen"')[1]


def test_filters_round_trip_through_the_url():
    query = InboxFilters.from_query(
        _query("queue=teams&channel=3&status=pending&tag=7&priority=3&page=2&open=11")
    )

    assert query == InboxFilters(
        queue="teams", channel_id=3, status="pending", tag_id=7, priority=3, page=2, open_id=11
    )
    assert query.problems == ()
    assert InboxFilters.from_query(_query(query.query_string()[1:])) == query
    assert InboxFilters().query_string() == ""


def _query(text: str):  # type: ignore[no-untyped-def]
    from django.http import QueryDict

    return QueryDict(text)


# --- rows ----------------------------------------------------------------------------------------


def test_a_row_shows_the_citizen_channel_last_message_and_assignee(
    logged_in, agent, channel, mastodon_channel
):
    mine = citizen_writes(channel, username="els", text="De lantaarnpaal is kapot\nTweede regel")
    conversation_take(conversation_id=mine.id, actor=agent.user)
    conversation_set_priority(conversation_id=mine.id, actor=agent.user, priority=3)
    citizen_writes(mastodon_channel, username="toeter", text="<b>Vet</b> via Mastodon")
    content = inbox_html(logged_in(agent), queue="all")

    row = _row_html(content, mine.id)
    assert "Els" in row and "@els" in row
    assert "De lantaarnpaal is kapot" in row
    assert 'class="visually-hidden">X (Twitter)</span>' in row
    assert "inbox-priority--3" in row
    assert 'class="inbox-assignee">' in row
    assert "&lt;b&gt;Vet&lt;/b&gt; via Mastodon" in content  # citizen text is escaped
    assert "<b>Vet</b>" not in content
    assert 'class="visually-hidden">Mastodon</span>' in content


def _row_html(content: str, conversation_id: int) -> str:
    start = content.index(f'id="conversation-row-{conversation_id}"')
    return content[start : content.index("</li>", start)]


@pytest.mark.parametrize(
    ("minutes_ago", "urgency"), [(10, "normal"), (45, "near"), (59, "near"), (61, "overdue")]
)
def test_the_waiting_time_turns_near_and_overdue_against_the_norm(
    logged_in, agent, channel, settings, minutes_ago, urgency
):
    settings.WEBCARE_RESPONSE_NORM_MINUTES = 60
    conversation = citizen_writes(
        channel, username="wachter", sent_at=timezone.now() - timedelta(minutes=minutes_ago)
    )

    row = _row_html(inbox_html(logged_in(agent), queue="all"), conversation.id)

    assert f"inbox-waiting--{urgency}" in row
    # Never colour alone: the state is written out.
    if urgency == "overdue":
        assert "<strong>overdue</strong>" in row or "<strong>te laat</strong>" in row
    elif urgency == "near":
        assert "<strong>" in row
    else:
        assert "<strong>" not in row


def test_waiting_urgency_at_the_edges():
    now = timezone.now()
    norm = timedelta(minutes=60)
    assert waiting_urgency(None, now=now, norm=norm) == "none"
    assert waiting_urgency(now - timedelta(minutes=44), now=now, norm=norm) == "normal"
    assert waiting_urgency(now - timedelta(minutes=45), now=now, norm=norm) == "near"
    assert waiting_urgency(now - timedelta(minutes=60), now=now, norm=norm) == "near"
    assert waiting_urgency(now - timedelta(minutes=61), now=now, norm=norm) == "overdue"


def test_a_conversation_is_unread_until_opened_and_again_when_the_citizen_writes(
    logged_in, agent, second_agent, channel
):
    conversation = citizen_writes(channel, username="lezer", thread="t-1")
    client = logged_in(agent)
    assert "inbox-row--unread" in _row_html(inbox_html(client, queue="all"), conversation.id)

    client.get(reverse("inbox:inbox_pane", args=[conversation.id]))

    assert "inbox-row--unread" not in _row_html(inbox_html(client, queue="all"), conversation.id)
    # Read for Anouk only.
    bram = logged_in(second_agent)
    assert "inbox-row--unread" in _row_html(inbox_html(bram, queue="all"), conversation.id)

    citizen_writes(channel, username="lezer", thread="t-1", text="Nog iets")
    client = logged_in(agent)
    row = _row_html(inbox_html(client, queue="all"), conversation.id)
    assert "inbox-row--unread" in row
    assert 'class="inbox-unread"' in row  # said in words, not only by the dot


def test_a_message_stored_after_reading_counts_even_with_an_older_platform_time(
    logged_in, agent, channel
):
    # A slow poll stores a message written before the agent opened the conversation.
    conversation = citizen_writes(channel, username="traag", thread="t-2")
    conversation_mark_read(actor=agent.user, conversation_id=conversation.id)
    citizen_writes(
        channel, username="traag", thread="t-2", sent_at=timezone.now() - timedelta(minutes=5)
    )

    row = _row_html(inbox_html(logged_in(agent), queue="all"), conversation.id)

    assert "inbox-row--unread" in row


def test_mark_read_is_one_row_per_person_and_conversation(agent, channel):
    conversation = citizen_writes(channel, username="lezer")
    conversation_mark_read(actor=agent.user, conversation_id=conversation.id)
    first = ConversationReadState.objects.get().read_at

    conversation_mark_read(actor=agent.user, conversation_id=conversation.id)

    state = ConversationReadState.objects.get()
    assert state.read_at > first
    assert (state.user_id, state.conversation_id) == (agent.user_id, conversation.id)


def test_the_conversation_page_marks_the_conversation_read(logged_in, agent, channel):
    conversation = citizen_writes(channel, username="lezer")

    logged_in(agent).get(reverse("inbox:conversation", args=[conversation.id]))

    assert ConversationReadState.objects.filter(user=agent.user, conversation=conversation).exists()


def test_the_mentions_queue_shows_the_note_until_the_conversation_is_opened(
    logged_in, agent, second_agent, channel
):
    conversation = citizen_writes(channel, username="genoemd")
    note_create(conversation_id=conversation.id, actor=second_agent.user, text="@anouk help je?")
    client = logged_in(agent)

    content = inbox_html(client, queue="mentions")
    assert listed(content) == [conversation.id]
    assert "Bram Bakker" in content and "help je?" in content

    client.get(reverse("inbox:inbox"), {"open": conversation.id})

    assert NoteMention.objects.get().read_at is not None
    content = inbox_html(client, queue="mentions")
    assert listed(content) == []
    assert queue_count(content, "mentions") == 0


# --- paging and query counts ------------------------------------------------------------------


def test_the_list_is_cut_at_a_page_with_links_to_the_next(logged_in, agent, channel, monkeypatch):
    monkeypatch.setattr(inbox_selectors, "INBOX_PAGE_SIZE", 3)
    for number in range(5):
        citizen_writes(
            channel, username=f"burger{number}", sent_at=timezone.now() - timedelta(minutes=number)
        )
    client = logged_in(agent)

    first = inbox_html(client, queue="all")
    second = inbox_html(client, queue="all", page="2")

    assert len(listed(first)) == 3
    assert len(listed(second)) == 2
    assert set(listed(first)).isdisjoint(listed(second))
    assert 'href="/?queue=all&amp;page=2" hx-get' in first
    assert 'id="inbox-next-page"' not in second
    assert 'id="inbox-previous-page"' in second
    assert "(5)" in first


def _fill_inbox(channel, agent, second_agent, number: int) -> None:  # type: ignore[no-untyped-def]
    """`number` more conversations: tagged, mentioning Anouk, assigned to Bram, in turn."""
    start = Conversation.objects.count()
    for index in range(start, start + number):
        conversation = citizen_writes(channel, username=f"burger{index}", text=f"Vraag {index}")
        if index % 4 == 0:
            conversation_tag(conversation_id=conversation.id, actor=agent.user, name="afval")
        if index % 5 == 0:
            note_create(conversation_id=conversation.id, actor=second_agent.user, text="@anouk ?")
        if index % 3 == 0:
            conversation_take(conversation_id=conversation.id, actor=second_agent.user)


def _queries_for_inbox(client: Client, django_assert_max_num_queries, **params: str) -> int:  # type: ignore[no-untyped-def]
    client.get(reverse("inbox:inbox"))  # the once-a-minute "last seen" write
    with django_assert_max_num_queries(100) as captured:
        response = client.get(reverse("inbox:inbox"), params)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("queue", ["all", "mentions"])
def test_the_inbox_costs_the_same_queries_for_5_or_50_conversations(
    logged_in, agent, second_agent, channel, django_assert_max_num_queries, queue
):
    client = logged_in(agent)
    _fill_inbox(channel, agent, second_agent, 5)
    with_five = _queries_for_inbox(client, django_assert_max_num_queries, queue=queue)
    _fill_inbox(channel, agent, second_agent, 50)
    rows = listed(inbox_html(client, queue=queue))
    with_fifty = _queries_for_inbox(client, django_assert_max_num_queries, queue=queue)

    assert len(rows) > 5
    assert with_five == with_fifty
    assert with_fifty <= 10


def test_the_list_partial_costs_the_same_queries_for_5_or_50_conversations(
    logged_in, agent, second_agent, channel, django_assert_num_queries
):
    client = logged_in(agent)
    client.get(reverse("inbox:inbox"))
    _fill_inbox(channel, agent, second_agent, 5)
    # Session, user, profile; counts, rows, failing channels; channels and tags for the
    # filter check.
    with django_assert_num_queries(8):
        client.get(reverse("inbox:inbox_list"), {"queue": "all"}, HTTP_HX_REQUEST="true")
    _fill_inbox(channel, agent, second_agent, 50)
    with django_assert_num_queries(8):
        response = client.get(reverse("inbox:inbox_list"), {"queue": "all"}, HTTP_HX_REQUEST="true")
    assert len(listed(response.content.decode())) == 50


def test_the_inbox_with_a_conversation_open_keeps_its_queries_flat(
    logged_in, agent, second_agent, channel, django_assert_max_num_queries
):
    client = logged_in(agent)
    conversation = citizen_writes(channel, username="open")
    _fill_inbox(channel, agent, second_agent, 5)
    with_five = _queries_for_inbox(
        client, django_assert_max_num_queries, queue="all", open=str(conversation.id)
    )
    _fill_inbox(channel, agent, second_agent, 50)
    with_fifty = _queries_for_inbox(
        client, django_assert_max_num_queries, queue="all", open=str(conversation.id)
    )

    assert with_five == with_fifty


# --- the panes over htmx ------------------------------------------------------------------------


def test_the_inbox_opens_a_conversation_in_the_third_pane(logged_in, agent, channel):
    conversation = citizen_writes(channel, username="els", text="Kapotte lantaarn")
    content = inbox_html(logged_in(agent), queue="all", open=str(conversation.id))

    pane = content[content.index('id="conversation-pane"') :]
    assert f'data-conversation-id="{conversation.id}"' in pane[:300]
    assert "Kapotte lantaarn" in pane
    assert re.search(rf'id="conversation-link-{conversation.id}"[^>]*aria-current="true"', content)
    assert ConversationReadState.objects.filter(user=agent.user).count() == 1


def test_without_an_open_conversation_the_pane_says_what_to_do(logged_in, agent):
    content = inbox_html(logged_in(agent))

    assert 'id="conversation-pane-empty-title"' in content
    assert "<kbd>j</kbd>" in content


def test_an_empty_own_queue_points_to_the_unassigned_one(logged_in, agent, channel):
    client = logged_in(agent)
    assert 'id="inbox-empty-to-unassigned"' not in inbox_html(client)
    citizen_writes(channel, username="wachtend")
    citizen_writes(channel, username="wachtend2")

    content = inbox_html(client)

    link = re.search(
        r'<a href="/\?queue=unassigned" id="inbox-empty-to-unassigned"[^>]*>([^<]*)', content
    )
    assert link is not None
    assert "2" in link.group(1)


def test_row_links_open_the_pane_with_htmx_and_are_plain_links_without_it(
    logged_in, agent, channel
):
    conversation = citizen_writes(channel, username="els")
    content = inbox_html(logged_in(agent), queue="all", channel=str(channel.id))

    link = re.search(rf'<a [^>]*id="conversation-link-{conversation.id}"[^>]*>', content, re.S)
    assert link is not None
    tag = link.group(0)
    href = f"/?queue=all&amp;channel={channel.id}&amp;open={conversation.id}"
    assert f'href="{href}"' in tag
    assert f'hx-push-url="{href}"' in tag
    pane_url = reverse("inbox:inbox_pane", args=[conversation.id])
    assert f'hx-get="{pane_url}?queue=all&amp;channel={channel.id}' in tag
    assert 'hx-target="#conversation-pane"' in tag
    assert tag.count("data-conversation-link") == 1


def test_the_pane_endpoint_returns_only_the_pane_and_refreshes_the_list(logged_in, agent, channel):
    conversation = citizen_writes(channel, username="els", text="Alleen het paneel")

    response = logged_in(agent).get(
        reverse("inbox:inbox_pane", args=[conversation.id]), HTTP_HX_REQUEST="true"
    )

    content = response.content.decode()
    assert content.lstrip().startswith('<section id="conversation-pane"')
    assert "Alleen het paneel" in content
    assert "<html" not in content and 'id="inbox-list-pane"' not in content
    assert response["HX-Trigger-After-Swap"] == "webcare:refresh"
    assert ConversationReadState.objects.filter(conversation=conversation).exists()


def test_the_pane_of_a_missing_conversation_is_a_404(logged_in, agent):
    response = logged_in(agent).get(reverse("inbox:inbox_pane", args=[424242]))
    assert response.status_code == 404


def test_the_list_partial_returns_the_list_and_the_counts_out_of_band(logged_in, agent, channel):
    conversation = citizen_writes(channel, username="els", text="Ververst")
    client = logged_in(agent)
    page_url = f"http://testserver/?queue=all&open={conversation.id}"

    response = client.get(
        reverse("inbox:inbox_list"),
        {"queue": "all"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=page_url,
    )

    content = response.content.decode()
    assert "<html" not in content and 'id="inbox-queues"' not in content
    assert listed(content) == [conversation.id]
    assert '<span id="queue-count-all" hx-swap-oob="true">1</span>' in content
    # The conversation open in the page that asked is marked.
    assert re.search(rf'id="conversation-link-{conversation.id}"[^>]*aria-current="true"', content)
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_list_pane_refreshes_on_the_live_event_with_the_current_filters(
    logged_in, agent, channel
):
    content = inbox_html(logged_in(agent), queue="all", channel=str(channel.id))

    pane = re.search(r'<section id="inbox-list-pane"[^>]*>', content)
    assert pane is not None
    assert f'hx-get="/inbox/list/?queue=all&amp;channel={channel.id}"' in pane.group(0)
    assert 'hx-trigger="webcare:refresh"' in pane.group(0)
    assert 'id="inbox-lists"' not in content  # the old 10 s polling is gone
    assert "every 10s" not in content


def test_htmx_navigation_leaves_the_open_conversation_alone(logged_in, agent, channel):
    conversation = citizen_writes(channel, username="els")
    client = logged_in(agent)
    params = {"queue": "all", "open": str(conversation.id)}

    navigation = client.get(reverse("inbox:inbox"), params, HTTP_HX_REQUEST="true")

    assert 'id="inbox-browse"' in navigation.content.decode()
    assert 'id="conversation-pane-empty-title"' in navigation.content.decode()
    assert not ConversationReadState.objects.exists()
    assert "HX-Request" in navigation["Vary"]

    restore = client.get(
        reverse("inbox:inbox"),
        params,
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert f'data-conversation-id="{conversation.id}"' in restore.content.decode()
    assert ConversationReadState.objects.exists()
