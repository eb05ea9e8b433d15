"""Full-text search over messages, internal notes and contacts (inbox/selectors/search.py,
inbox/views/search.py)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inbox.models import Contact, Message, Note
from inbox.selectors import search as search_selectors
from inbox.selectors.search import (
    SearchFilters,
    contact_document,
    contacts_search,
    message_document,
    messages_search,
    notes_search,
)
from inbox.services import (
    conversation_resolve,
    conversation_tag,
    conversation_take,
    note_create,
    reply_create,
)
from tests.inbox.helpers import citizen_writes
from tests.inbox.search_corpus import generate_search_corpus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client, settings):  # type: ignore[no-untyped-def]
    # The Dutch texts come from locale/fragments/search.po once merged; the behaviour is
    # checked on the English source strings.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def _texts(text: str, filters: SearchFilters | None = None) -> list[str]:
    page = messages_search(text, filters or SearchFilters())
    return [hit.message.text for hit in page.items]


def _search_page(client, **params: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("inbox:search"), params)
    assert response.status_code == 200
    return response.content.decode()


# --- Dutch full text ------------------------------------------------------------------------


def test_dutch_stemming_finds_other_forms_of_a_word(channel):
    citizen_writes(channel, username="anna", text="Mijn container is niet geleegd")
    citizen_writes(channel, username="bert", text="De lantaarnpaal op de hoek is kapot")
    citizen_writes(channel, username="cor", text="Wanneer is de markt?")

    assert _texts("containers") == ["Mijn container is niet geleegd"]
    assert _texts("kapotte") == ["De lantaarnpaal op de hoek is kapot"]
    assert _texts("lantaarnpalen kapot") == ["De lantaarnpaal op de hoek is kapot"]


def test_a_quoted_phrase_needs_the_words_in_that_order(channel):
    citizen_writes(channel, username="anna", text="Kan iemand het grofvuil ophalen?")
    citizen_writes(channel, username="bert", text="Ophalen lukt niet, het grofvuil staat er nog")

    assert _texts('"grofvuil ophalen"') == ["Kan iemand het grofvuil ophalen?"]
    assert len(_texts("grofvuil ophalen")) == 2


def test_a_minus_excludes_a_word_and_or_finds_either(channel):
    citizen_writes(channel, username="anna", text="Container met glas is vol")
    citizen_writes(channel, username="bert", text="Container met papier is vol")
    citizen_writes(channel, username="cor", text="De kliko is kapot")

    assert _texts("container -glas") == ["Container met papier is vol"]
    assert sorted(_texts("glas or kliko")) == ["Container met glas is vol", "De kliko is kapot"]


def test_newer_messages_rank_higher_between_equal_matches(channel):
    now = timezone.now()
    citizen_writes(
        channel,
        username="anna",
        text="Oude vraag over de container",
        sent_at=now - timedelta(days=300),
    )
    citizen_writes(channel, username="bert", text="Nieuwe vraag over de container", sent_at=now)

    assert _texts("container") == ["Nieuwe vraag over de container", "Oude vraag over de container"]


def test_messages_are_paged_and_a_page_beyond_the_cap_is_not_offered(channel):
    for number in range(5):
        citizen_writes(channel, username=f"burger{number}", text=f"Container nummer {number}")

    first = messages_search("container", SearchFilters(), page=1, page_size=2)
    third = messages_search("container", SearchFilters(), page=3, page_size=2)

    assert (first.total, first.page_count, first.has_next, first.has_previous) == (
        5,
        3,
        True,
        False,
    )
    assert len(first.items) == 2
    assert len(third.items) == 1
    assert not third.has_next
    seen = {
        hit.message.id
        for page in (1, 2, 3)
        for hit in messages_search("container", SearchFilters(), page=page, page_size=2).items
    }
    assert len(seen) == 5


def test_the_count_stops_at_the_cap(channel, monkeypatch):
    monkeypatch.setattr(search_selectors, "RESULT_CAP", 3)
    for number in range(5):
        citizen_writes(channel, username=f"burger{number}", text=f"Container nummer {number}")

    page = messages_search("container", SearchFilters())

    assert page.total == 4  # RESULT_CAP + 1: enough to say "more than 3"
    assert page.is_capped
    assert page.shown_total == 3


# --- contacts and notes ---------------------------------------------------------------------


def test_contacts_are_found_by_the_start_of_words_in_their_name_or_handle(channel):
    citizen_writes(channel, username="jdevries", text="Hallo")
    Contact.objects.filter(username="jdevries").update(display_name="Jan de Vries")
    citizen_writes(channel, username="pietklaassen", text="Hallo")

    def names(text: str) -> list[str]:
        return [hit.contact.username for hit in contacts_search(text, SearchFilters()).items]

    assert names("vri") == ["jdevries"]
    assert names("jan vri") == ["jdevries"]
    assert names("@jdev") == ["jdevries"]
    assert names("PIET") == ["pietklaassen"]
    assert names("jan piet") == []


def test_a_contact_shows_its_number_of_conversations_and_the_newest(channel):
    older = citizen_writes(
        channel, username="wim", text="Eerste vraag", sent_at=timezone.now() - timedelta(days=3)
    )
    newer = citizen_writes(channel, username="wim", text="Tweede vraag")
    assert older.id != newer.id

    [hit] = contacts_search("wim", SearchFilters()).items

    assert hit.conversation_count == 2
    assert hit.newest_conversation_id == newer.id


def test_internal_notes_are_found_and_marked_as_such(logged_in, agent, channel):
    conversation = citizen_writes(channel, username="anna", text="Hallo")
    note_create(
        conversation_id=conversation.id, actor=agent.user, text="Bewoner belt over de containers"
    )

    assert [hit.note.text for hit in notes_search("container", SearchFilters()).items] == [
        "Bewoner belt over de containers"
    ]
    html = _search_page(logged_in(agent), q="container")
    notes = html.split('id="search-notes"')[1]
    assert "Internal note" in notes
    assert "<mark>containers</mark>" in notes


# --- filters --------------------------------------------------------------------------------


def test_filters_narrow_messages_by_channel_direction_status_assignee_tag_and_date(
    agent, second_agent, channel
):
    now = timezone.now()
    mine = citizen_writes(
        channel, username="anna", text="Container van Anna", sent_at=now - timedelta(days=10)
    )
    theirs = citizen_writes(channel, username="bert", text="Container van Bert", sent_at=now)
    resolved = citizen_writes(channel, username="cor", text="Container van Cor", sent_at=now)
    conversation_take(conversation_id=mine.id, actor=agent.user)
    conversation_take(conversation_id=theirs.id, actor=second_agent.user)
    conversation_take(conversation_id=resolved.id, actor=agent.user)
    conversation_resolve(conversation_id=resolved.id, actor=agent.user)
    conversation_tag(conversation_id=theirs.id, actor=second_agent.user, name="Storing")
    reply_create(
        conversation_id=mine.id,
        actor=agent.user,
        text="Wij legen de container morgen",
        idempotency_key=uuid.uuid4(),
    )

    everything = SearchFilters()
    assert len(_texts("container", everything)) == 4
    assert sorted(_texts("container", SearchFilters(assignee=agent.user))) == [
        "Container van Anna",
        "Container van Cor",
        "Wij legen de container morgen",
    ]
    assert _texts("container", SearchFilters(direction="outbound")) == [
        "Wij legen de container morgen"
    ]
    assert _texts("container", SearchFilters(status="resolved")) == ["Container van Cor"]
    assert _texts("container", SearchFilters(tag="storing")) == ["Container van Bert"]
    today = timezone.localdate()
    assert "Container van Anna" not in _texts("container", SearchFilters(date_from=today))
    assert _texts("container", SearchFilters(date_to=today - timedelta(days=5))) == [
        "Container van Anna"
    ]
    assert len(_texts("container", SearchFilters(channel_id=channel.id))) == 4
    assert _texts("container", SearchFilters(channel_id=channel.id + 1000)) == []


# --- the page -------------------------------------------------------------------------------


def test_highlighting_escapes_citizen_html_and_marks_the_word(logged_in, agent, channel):
    citizen_writes(
        channel, username="mallory", text="<script>alert(1)</script> container & <b>vol</b>"
    )

    html = _search_page(logged_in(agent), q="container")

    snippet = re.search(r'<p class="search-snippet">(.*?)</p>', html, re.S)
    assert snippet is not None
    assert snippet.group(1) == (
        "&lt;script&gt;alert(1)&lt;/script&gt; <mark>container</mark> &amp; &lt;b&gt;vol&lt;/b&gt;"
    )
    assert "<script>alert" not in html


def test_citizen_text_cannot_fake_a_highlight(logged_in, agent, channel):
    fake = f"{search_selectors.MARK_START}nep{search_selectors.MARK_END} container"
    citizen_writes(channel, username="mallory", text=fake)

    html = _search_page(logged_in(agent), q="container")

    assert "<mark>nep</mark>" not in html
    assert "<mark>container</mark>" in html


def test_results_show_conversation_link_channel_contact_direction_and_status(
    logged_in, agent, channel
):
    conversation = citizen_writes(channel, username="anna", text="Mijn container is vol")
    message = Message.objects.get(conversation=conversation)

    html = _search_page(logged_in(agent), q="container")

    link = reverse("inbox:conversation", args=[conversation.id]) + f"#message-{message.id}"
    assert f'href="{link}"' in html
    assert "@anna" in html
    assert "demodorp-x" in html
    assert "From citizen" in html
    assert "Conversation: open" in html
    assert 'id="search-contacts"' not in html  # "container" is nobody's name


def test_the_filters_are_read_from_the_url(logged_in, agent, channel):
    citizen_writes(channel, username="anna", text="Container van Anna")
    client = logged_in(agent)

    # The snippet marks the word found: "<mark>Container</mark> van Anna".
    assert "van Anna" in _search_page(client, q="container", direction="inbound")
    assert "van Anna" not in _search_page(client, q="container", direction="outbound")
    assert "van Anna" not in _search_page(client, q="container", assignee="me")
    assert "van Anna" in _search_page(client, q="container", channel=str(channel.id))


def test_an_empty_search_shows_the_help(logged_in, agent):
    html = _search_page(logged_in(agent))

    assert 'id="search-help"' in html
    assert 'id="search-results"' not in html


@pytest.mark.parametrize(
    ("query", "message_id"),
    [
        ("x" * 201, "search-query-error"),
        ("de het een", "search-only-stopwords"),
        ("!!! ??? &&& |||", "search-only-stopwords"),
        ("nul\x00teken", "search-query-error"),
    ],
)
def test_bad_input_gets_a_clear_message(logged_in, agent, channel, query, message_id):
    citizen_writes(channel, username="anna", text="Container")

    html = _search_page(logged_in(agent), q=query)

    assert f'id="{message_id}"' in html


@pytest.mark.parametrize(
    "query",
    ["'", '"', "container:*", "a & b | !c", "(()", "<->", "\\", "-", "or", '"unclosed', "ö ß ✓ 🗑️"],
)
def test_odd_characters_never_break_the_search(logged_in, agent, channel, query):
    citizen_writes(channel, username="anna", text="Container")

    _search_page(logged_in(agent), q=query)
    _search_page(logged_in(agent), q=query, kind="contacts")


def test_invalid_filters_are_reported_not_crashed_on(logged_in, agent):
    html = _search_page(
        logged_in(agent), q="container", channel="abc", date_from="gisteren", page="-1"
    )

    assert 'id="id_channel-error"' in html
    assert 'id="id_date_from-error"' in html


def test_the_header_has_the_search_box(logged_in, agent):
    html = logged_in(agent).get(reverse("inbox:inbox")).content.decode()

    form = re.search(r'<form class="header-search" role="search"[^>]*>(.*?)</form>', html, re.S)
    assert form is not None
    assert f'action="{reverse("inbox:search")}"' in form.group(0)
    assert re.search(
        r'<input type="search" id="header-search-input" name="q" data-shortcut="search"',
        form.group(1),
    )
    assert '<label for="header-search-input"' in form.group(1)


# --- speed: indexes and query count ----------------------------------------------------------


def _index_expression(model: type[Model], name: str) -> object:
    [index] = [index for index in model._meta.indexes if index.name == name]
    return index.expressions[0]


def test_the_selectors_search_exactly_the_indexed_expressions():
    assert _index_expression(Message, "message_search_idx") == message_document()
    assert _index_expression(Note, "note_search_idx") == message_document()
    assert _index_expression(Contact, "contact_search_idx") == contact_document()


def _plan(queryset) -> str:  # type: ignore[no-untyped-def]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_search_queries_use_the_gin_indexes(channel):
    generate_search_corpus(channel, contacts=3000, conversations=1000, messages=5000, notes=1000)
    from django.contrib.postgres.search import SearchQuery

    messages = Message.objects.annotate(document=message_document()).filter(
        document=search_selectors.message_query("lantaarnpaal kapot")
    )
    notes = Note.objects.annotate(document=message_document()).filter(
        document=search_selectors.message_query("container")
    )
    query = search_selectors.contact_query("jan dev")
    assert isinstance(query, SearchQuery)
    contacts = Contact.objects.annotate(document=contact_document()).filter(document=query)

    assert "Bitmap Index Scan on message_search_idx" in _plan(messages.values("id"))
    assert "Bitmap Index Scan on note_search_idx" in _plan(notes.values("id"))
    assert "Bitmap Index Scan on contact_search_idx" in _plan(contacts.values("id"))
    # The corpus really has matches, found through the index.
    assert messages_search("lantaarnpaal kapot", SearchFilters()).total > 0
    assert contacts_search("jan dev", SearchFilters()).total > 0


def _queries_for_search_page(client) -> list[str]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        html = _search_page(client, q="container")
    assert 'id="search-messages"' in html
    return [query["sql"] for query in queries.captured_queries]


def test_the_search_page_needs_the_same_number_of_queries_for_5_and_50_results(
    logged_in, agent, channel, monkeypatch
):
    # Ids keep growing over a test run (sequences are not rolled back): past RECENT_ROWS the
    # selector first tries the newest rows (five more queries). One path, whatever ran before.
    monkeypatch.setattr(search_selectors, "RECENT_ROWS", 10**12)
    client = logged_in(agent)

    def add(count: int, start: int) -> None:
        for number in range(start, start + count):
            conversation = citizen_writes(
                channel, username=f"burger{number}", text=f"Container {number}"
            )
            note_create(
                conversation_id=conversation.id, actor=agent.user, text=f"Container {number}"
            )
        Contact.objects.filter(username__startswith="burger").update(
            display_name="Container Burger"
        )

    add(5, 0)
    _search_page(client, q="container")  # warm-up: session, templates
    with_five = _queries_for_search_page(client)
    add(45, 5)
    with_fifty = _queries_for_search_page(client)

    assert len(with_five) == len(with_fifty), "\n".join(with_fifty)
    # Session and staff checks, the filter choices, the stopword check, then per kind: the
    # newest id (messages, notes), the candidates, their ranking, the page's rows; and the
    # search's audit event (an INSERT, in a savepoint inside the test's transaction).
    assert len(with_fifty) <= 20, "\n".join(with_fifty)


# --- access ---------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get(reverse("inbox:search"), {"q": "container"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_people_outside_the_team_may_not_search(client, outsider):
    client.force_login(outsider)

    assert client.get(reverse("inbox:search"), {"q": "container"}).status_code == 403


def test_a_common_word_is_looked_up_among_the_newest_rows_first(channel, monkeypatch):
    monkeypatch.setattr(search_selectors, "RESULT_CAP", 2)
    monkeypatch.setattr(search_selectors, "RECENT_ROWS", 4)
    now = timezone.now()
    for number in range(6):
        citizen_writes(
            channel,
            username=f"burger{number}",
            text=f"Container {number}",
            sent_at=now - timedelta(days=6 - number),
        )
    citizen_writes(channel, username="zeldzaam", text="Zeldzame klacht", sent_at=now)
    with CaptureQueriesContext(connection) as queries:
        common = messages_search("container", SearchFilters())
    with CaptureQueriesContext(connection) as rare_queries:
        rare = messages_search("klacht", SearchFilters(), page_size=2)

    def candidate_lookups(captured: CaptureQueriesContext) -> list[str]:
        return [
            query["sql"]
            for query in captured.captured_queries
            if '"sent_at" DESC LIMIT' in query["sql"]
        ]

    # Enough matches among the newest rows: ranked there, no second look at all rows.
    assert common.is_capped
    assert [hit.message.text for hit in common.items] == ["Container 5", "Container 4"]
    [recent_only] = candidate_lookups(queries)
    assert '"inbox_message"."id" >' in recent_only
    # Too few there: all rows are searched.
    assert [hit.message.text for hit in rare.items] == ["Zeldzame klacht"]
    assert len(candidate_lookups(rare_queries)) == 2
