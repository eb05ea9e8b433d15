"""Full-text search over messages, internal notes and contacts (docs/architecture.md,
"Search").

Messages and notes: PostgreSQL full text in the `dutch` configuration (stemming: "containers"
finds "container"), queried with `websearch_to_tsquery`, so agents can use "quoted phrases",
`or` and -exclusion. Contacts: word prefixes of name and @handle in the `simple`
configuration ("jan vri" finds "Jan de Vries"), which needs no database extension.

Every filter is on exactly the expression of a GIN index in inbox/models/__init__.py
(`message_search_idx`, `note_search_idx`, `contact_search_idx`); `*_document()` below builds
the same expression as those indexes, tests/inbox/test_search.py checks both.

Cost is bounded however many rows match: ranking only looks at the newest RESULT_CAP + 1
matches (so a count never goes beyond "more than 1000"), and highlighting (`ts_headline`,
the expensive part) only runs for the rows of the page shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from django.contrib.auth.models import User
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection, transaction
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Max,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Extract
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from inbox.models import Contact, Conversation, ConversationTag, Message, Note

PAGE_SIZE = 25
# Contacts and notes shown in the overview next to the first page of messages.
OVERVIEW_SIZE = 5
# Matches beyond this are neither ranked nor counted: "more than 1000" asks for a narrower
# search, and counting millions of rows would take seconds.
RESULT_CAP = 1000
QUERY_MAX_LENGTH = 200
# Messages and notes arrive in id order: the newest this many rows are searched first (see
# _ranked_ids). Ids stand in for time here only to pick candidates; the ranking uses sent_at.
RECENT_ROWS = 50_000
# A contact search uses at most this many words (each a prefix).
CONTACT_QUERY_MAX_WORDS = 6

# Recency in the ranking: score = ts_rank + RECENCY_WEIGHT / (1 + age / RECENCY_SCALE).
# One matching word ranks about 0.06; today's message gets +0.1, a week-old one +0.05.
RECENCY_WEIGHT = 0.1
RECENCY_SCALE = timedelta(days=7)

# ts_headline wraps matches in these private-use characters; the snippet is escaped as a
# whole and only then they become <mark>. "<", ">" and "&" are swapped for markers as well
# before ts_headline, whose parser would otherwise drop what looks like an HTML tag: the agent
# sees what the citizen wrote, escaped. Citizen text cannot fake a marker: the source text has
# them removed first.
MARK_START = "\ue000"
MARK_END = "\ue001"
_LESS_THAN = "\ue002"
_GREATER_THAN = "\ue003"
_AMPERSAND = "\ue004"
_MARKERS = MARK_START + MARK_END + _LESS_THAN + _GREATER_THAN + _AMPERSAND
_SNIPPET_REPLACEMENTS = {
    MARK_START: "<mark>",
    MARK_END: "</mark>",
    _LESS_THAN: "&lt;",
    _GREATER_THAN: "&gt;",
    _AMPERSAND: "&amp;",
}

MESSAGE_CONFIG = "dutch"
CONTACT_CONFIG = "simple"

# Letters and digits: the words of a contact search, safe to put in a tsquery as prefixes.
_CONTACT_WORD = re.compile(r"[^\W_]+")


def message_document() -> SearchVector:
    """The expression of `message_search_idx` (and `note_search_idx`, on Note.text)."""
    return SearchVector("text", config=MESSAGE_CONFIG)


def contact_document() -> SearchVector:
    """The expression of `contact_search_idx`."""
    return SearchVector("display_name", "username", config=CONTACT_CONFIG)


class Translate(Func):
    """PostgreSQL's translate(text, from, to): characters of `from` without a counterpart in
    `to` are removed."""

    function = "translate"


def _snippet_source(text_field: str) -> Translate:
    return Translate(
        F(text_field),
        Value("&<>" + MARK_START + MARK_END + _LESS_THAN + _GREATER_THAN + _AMPERSAND),
        Value(_AMPERSAND + _LESS_THAN + _GREATER_THAN),
    )


def _headline(text_field: str, query: SearchQuery) -> SearchHeadline:
    return SearchHeadline(
        _snippet_source(text_field),
        query,
        config=MESSAGE_CONFIG,
        start_sel=MARK_START,
        stop_sel=MARK_END,
        # One stretch around the best match; a post shorter than this shows whole.
        max_words=35,
        min_words=15,
    )


def snippet_html(headline: str) -> SafeString:
    """The headline escaped, with the matches in <mark>."""
    escaped = str(escape(headline))
    for marker, html in _SNIPPET_REPLACEMENTS.items():
        escaped = escaped.replace(marker, html)
    return mark_safe(escaped)  # noqa: S308 - escaped above; only our own tags added


def strip_markers(text: str) -> str:
    return text.translate({ord(character): None for character in _MARKERS})


@dataclass(frozen=True)
class SearchFilters:
    """Everything the search page's URL can narrow by; empty means no filter."""

    channel_id: int | None = None
    direction: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    # "Assigned to me": the searching agent.
    assignee: User | None = None
    tag: str = ""


T = TypeVar("T")


@dataclass(frozen=True)
class ResultPage(Generic[T]):
    items: list[T]
    number: int
    # Matches up to RESULT_CAP + 1; more than RESULT_CAP shows as "more than 1000".
    total: int
    page_size: int = PAGE_SIZE

    @property
    def is_capped(self) -> bool:
        return self.total > RESULT_CAP

    @property
    def shown_total(self) -> int:
        return min(self.total, RESULT_CAP)

    @property
    def page_count(self) -> int:
        return max(1, -(-self.shown_total // self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.page_count

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.page_size + 1

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.items) - 1


@dataclass(frozen=True)
class MessageHit:
    message: Message
    snippet: SafeString


@dataclass(frozen=True)
class NoteHit:
    note: Note
    snippet: SafeString


@dataclass(frozen=True)
class ContactHit:
    contact: Contact
    conversation_count: int
    newest_conversation_id: int | None


@dataclass(frozen=True)
class SearchResults:
    query: str
    # The query had words, but only common ones ("de", "het") that full text ignores.
    only_stopwords: bool = False
    messages: ResultPage[MessageHit] | None = None
    notes: ResultPage[NoteHit] | None = None
    contacts: ResultPage[ContactHit] | None = None

    @property
    def is_empty(self) -> bool:
        return not any(
            group and group.total for group in (self.messages, self.notes, self.contacts)
        )


def message_query(text: str) -> SearchQuery:
    return SearchQuery(text, search_type="websearch", config=MESSAGE_CONFIG)


def query_has_lexemes(text: str) -> bool:
    """False when the Dutch full-text query is empty: only stopwords or punctuation."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT numnode(websearch_to_tsquery(%s::regconfig, %s))", [MESSAGE_CONFIG, text]
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def contact_query(text: str) -> SearchQuery | None:
    """Every word of the search as a prefix ("jan vri" → 'jan':* & 'vri':*); None without
    words. Only letters and digits reach the tsquery, so its syntax cannot be abused."""
    words = _CONTACT_WORD.findall(text.lower())[:CONTACT_QUERY_MAX_WORDS]
    if not words:
        return None
    return SearchQuery(
        " & ".join(f"{word}:*" for word in words), search_type="raw", config=CONTACT_CONFIG
    )


def _start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _conversation_filters(filters: SearchFilters, prefix: str) -> Q:
    """Filters on the conversation a message or note belongs to; `prefix` leads there."""
    q = Q()
    if filters.status:
        q &= Q(**{f"{prefix}status": filters.status})
    if filters.assignee is not None:
        q &= Q(**{f"{prefix}assignee": filters.assignee})
    if filters.tag:
        conversation_id = OuterRef(f"{prefix}id" if prefix else "id")
        q &= Q(
            Exists(
                ConversationTag.objects.filter(
                    conversation_id=conversation_id, tag__name__iexact=filters.tag
                )
            )
        )
    return q


def _time_filters(filters: SearchFilters, field_name: str) -> Q:
    q = Q()
    if filters.date_from:
        q &= Q(**{f"{field_name}__gte": _start_of_day(filters.date_from)})
    if filters.date_to:
        q &= Q(**{f"{field_name}__lt": _start_of_day(filters.date_to + timedelta(days=1))})
    return q


def _recency(field_name: str, now: datetime) -> ExpressionWrapper:
    age_seconds = Extract(
        ExpressionWrapper(Value(now) - F(field_name), output_field=DurationField()), "epoch"
    )
    return ExpressionWrapper(
        Value(RECENCY_WEIGHT) / (Value(1.0) + age_seconds / Value(RECENCY_SCALE.total_seconds())),
        output_field=FloatField(),
    )


M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class _Ranking:
    ids: list[int]
    # Candidates, at most RESULT_CAP + 1.
    total: int


def _ranked_ids(
    matches: QuerySet[M],
    *,
    newest_first_by: str | None,
    score: object,
    page: int,
    page_size: int,
) -> _Ranking:
    """The ids on the page, best score first, among the capped candidates, and how many
    candidates there are. Narrow on purpose: joins and ts_headline wait for `_rows_in_order`,
    so they run for one page, not for every candidate.

    With `newest_first_by`, the newest RECENT_ROWS rows are tried first: a common word finds
    all its candidates there, so the cost of its search does not grow with the table. A rarer
    word then searches all rows, where it has few matches anyway."""
    if newest_first_by is not None:
        newest_id = matches.model._default_manager.aggregate(newest=Max("id"))["newest"] or 0
        if newest_id > RECENT_ROWS:
            recent = _recent_candidate_ids(
                matches, newest_first_by=newest_first_by, after_id=newest_id - RECENT_ROWS
            )
            if len(recent) > RESULT_CAP:
                return _ranking(matches.model, recent, score=score, page=page, page_size=page_size)
    candidates = matches.order_by(f"-{newest_first_by}") if newest_first_by else matches
    candidate_ids = list(candidates.values_list("id", flat=True)[: RESULT_CAP + 1])
    return _ranking(matches.model, candidate_ids, score=score, page=page, page_size=page_size)


def _recent_candidate_ids(
    matches: QuerySet[M], *, newest_first_by: str, after_id: int
) -> list[int]:
    """The newest matches among the rows after `after_id`.

    Meant as a BitmapAnd of the primary key range and the GIN index, which visits only the
    recent matching rows. On a large table the planner prefers walking the key range and
    running to_tsvector() on each row (it underrates that function's cost): over 50,000 rows
    that took 1.3 s instead of 0.17 s at a million messages. So plain index scans are off for
    this one query; the savepoint is rolled back afterwards to undo the SET LOCAL (it wrote
    nothing)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        ids = list(
            matches.filter(id__gt=after_id)
            .order_by(f"-{newest_first_by}")
            .values_list("id", flat=True)[: RESULT_CAP + 1]
        )
        transaction.set_rollback(True)
    return ids


def _ranking(
    model: type[Model], candidate_ids: list[int], *, score: object, page: int, page_size: int
) -> _Ranking:
    """The page of `candidate_ids` by score. The extra candidate beyond RESULT_CAP only
    tells "more than RESULT_CAP"; it is never shown."""
    offset = (page - 1) * page_size
    end = min(offset + page_size, RESULT_CAP)
    if not candidate_ids or offset >= end:
        return _Ranking(ids=[], total=len(candidate_ids))
    ids = list(
        model._default_manager.filter(id__in=candidate_ids)
        .annotate(score=score)
        .order_by("-score", "-id")
        .values_list("id", flat=True)[offset:end]
    )
    return _Ranking(ids=ids, total=len(candidate_ids))


def _rows_in_order(queryset: QuerySet[Any], ids: list[int]) -> list[Any]:
    """The rows of `ids`, in that order, with the queryset's annotations (hence Any: the
    annotated model types do not survive a generic helper in django-stubs)."""
    if not ids:
        return []
    rows = {row.pk: row for row in queryset.filter(id__in=ids)}
    return [rows[row_id] for row_id in ids if row_id in rows]


def _page_number(page: int, page_size: int) -> int:
    """Clamped to the pages the capped results fill: no OFFSET deep into nothing."""
    last_page = max(1, -(-RESULT_CAP // page_size))
    return min(max(page, 1), last_page)


def messages_search(
    text: str, filters: SearchFilters, *, page: int = 1, page_size: int = PAGE_SIZE
) -> ResultPage[MessageHit]:
    """Messages matching the Dutch full-text query: at most five SELECTs (see _ranked_ids),
    however many match."""
    page = _page_number(page, page_size)
    query = message_query(text)
    matches = Message.objects.annotate(document=message_document()).filter(
        Q(document=query)
        & _conversation_filters(filters, "conversation__")
        & _time_filters(filters, "sent_at")
    )
    if filters.channel_id is not None:
        matches = matches.filter(channel_id=filters.channel_id)
    if filters.direction:
        matches = matches.filter(direction=filters.direction)
    score = SearchRank(message_document(), query) + _recency("sent_at", timezone.now())
    ranking = _ranked_ids(
        matches, newest_first_by="sent_at", score=score, page=page, page_size=page_size
    )
    rows = _rows_in_order(
        Message.objects.select_related("channel", "conversation__contact", "conversation__assignee")
        .defer("raw", "attachments", "channel__credentials_encrypted", "channel__cursor")
        .annotate(headline=_headline("text", query)),
        ranking.ids,
    )
    return ResultPage(
        items=[MessageHit(message=row, snippet=snippet_html(row.headline)) for row in rows],
        number=page,
        total=ranking.total,
        page_size=page_size,
    )


def notes_search(
    text: str, filters: SearchFilters, *, page: int = 1, page_size: int = PAGE_SIZE
) -> ResultPage[NoteHit]:
    """Internal notes matching the query; they have no direction, so a direction filter
    leaves none."""
    page = _page_number(page, page_size)
    if filters.direction:
        return ResultPage(items=[], number=page, total=0, page_size=page_size)
    query = message_query(text)
    matches = Note.objects.annotate(document=message_document()).filter(
        Q(document=query)
        & _conversation_filters(filters, "conversation__")
        & _time_filters(filters, "created_at")
    )
    if filters.channel_id is not None:
        matches = matches.filter(conversation__channel_id=filters.channel_id)
    score = SearchRank(message_document(), query) + _recency("created_at", timezone.now())
    ranking = _ranked_ids(
        matches, newest_first_by="created_at", score=score, page=page, page_size=page_size
    )
    rows = _rows_in_order(
        Note.objects.select_related("author", "conversation__contact", "conversation__channel")
        .defer("conversation__channel__credentials_encrypted", "conversation__channel__cursor")
        .annotate(headline=_headline("text", query)),
        ranking.ids,
    )
    return ResultPage(
        items=[NoteHit(note=row, snippet=snippet_html(row.headline)) for row in rows],
        number=page,
        total=ranking.total,
        page_size=page_size,
    )


def contacts_search(
    text: str, filters: SearchFilters, *, page: int = 1, page_size: int = PAGE_SIZE
) -> ResultPage[ContactHit]:
    """Contacts whose name or @handle has words starting with each word of the search.
    Only the channel filter applies: the others are about messages and conversations."""
    page = _page_number(page, page_size)
    query = contact_query(text)
    if query is None:
        return ResultPage(items=[], number=page, total=0, page_size=page_size)
    matches = Contact.objects.annotate(document=contact_document()).filter(document=query)
    if filters.channel_id is not None:
        matches = matches.filter(channel_id=filters.channel_id)
    ranking = _ranked_ids(
        matches,
        newest_first_by=None,
        score=SearchRank(contact_document(), query),
        page=page,
        page_size=page_size,
    )
    conversations = Conversation.objects.filter(contact=OuterRef("pk"))
    rows = _rows_in_order(
        Contact.objects.select_related("channel")
        .defer("channel__credentials_encrypted", "channel__cursor")
        .annotate(
            conversation_count=Subquery(
                conversations.order_by().values("contact").annotate(n=Count("id")).values("n")
            ),
            newest_conversation_id=Subquery(
                conversations.order_by("-last_activity_at", "-id").values("id")[:1]
            ),
        ),
        ranking.ids,
    )
    return ResultPage(
        items=[
            ContactHit(
                contact=row,
                conversation_count=row.conversation_count or 0,
                newest_conversation_id=row.newest_conversation_id,
            )
            for row in rows
        ],
        number=page,
        total=ranking.total,
        page_size=page_size,
    )


class ResultKind:
    """Which results the page lists: the overview, or all of one kind, page by page."""

    ALL = "all"
    MESSAGES = "messages"
    NOTES = "notes"
    CONTACTS = "contacts"
    CHOICES = (ALL, MESSAGES, NOTES, CONTACTS)


def search(
    text: str, filters: SearchFilters, *, kind: str = ResultKind.ALL, page: int = 1
) -> SearchResults:
    """The search page's results in a bounded number of queries, however many match.

    The overview (ALL) pages through messages and shows the best few notes and contacts;
    one kind alone pages through that kind.
    """
    text = strip_markers(text).strip()
    full_text = kind != ResultKind.CONTACTS and query_has_lexemes(text)
    messages = notes = contacts = None
    if full_text and kind in (ResultKind.ALL, ResultKind.MESSAGES):
        messages = messages_search(text, filters, page=page)
    if full_text and kind in (ResultKind.ALL, ResultKind.NOTES):
        notes = (
            notes_search(text, filters, page=page)
            if kind == ResultKind.NOTES
            else notes_search(text, filters, page_size=OVERVIEW_SIZE)
        )
    if kind == ResultKind.CONTACTS:
        contacts = contacts_search(text, filters, page=page)
    elif kind == ResultKind.ALL:
        contacts = contacts_search(text, filters, page_size=OVERVIEW_SIZE)
    return SearchResults(
        query=text,
        only_stopwords=kind != ResultKind.CONTACTS and not full_text,
        messages=messages,
        notes=notes,
        contacts=contacts,
    )
