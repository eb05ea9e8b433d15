"""Reads of the inbox screen: the queues with their counts, the filtered conversation list,
the filters' choices (docs/architecture.md, "The inbox screen").

Everything the three panes show costs a fixed number of queries however long the lists
are: one aggregate for every queue's count, one for the page of rows (the last message,
the unread state and the mention are subqueries of it), one each for the filters'
channels and tags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.models import Channel
from inbox.models import (
    Conversation,
    ConversationReadState,
    ConversationTag,
    Message,
    NoteMention,
    Tag,
    TeamMembership,
)

# Rows per page of the conversation list; "Next page" shows the rest.
INBOX_PAGE_SIZE = 50
# Tags offered in the tag filter; a team with more would need a search field instead.
TAG_FILTER_LIMIT = 500
# The waiting time turns "near" at this share of the response norm.
NEAR_NORM_SHARE = 0.75
# Beyond this page number a request is nonsense (a million conversations are 20,000 pages).
MAX_PAGE = 100_000

OPEN_AND_PENDING = (Conversation.Status.OPEN, Conversation.Status.PENDING)
# The conversations that are still work: every queue with statuses shows only these, and
# the partial index conversation_active_idx holds exactly these rows, so that the queues
# read a few thousand rows, not the whole history (docs/plans/inbox-all.txt).
ACTIVE_STATUSES = (
    Conversation.Status.OPEN,
    Conversation.Status.PENDING,
    Conversation.Status.SNOOZED,
)


@dataclass(frozen=True)
class Queue:
    key: str
    label: Any  # a lazy translation
    # The statuses the queue shows when no status filter is chosen; None: every status.
    statuses: tuple[str, ...] | None


QUEUES: tuple[Queue, ...] = (
    Queue("mine", gettext_lazy("Mine"), OPEN_AND_PENDING),
    Queue("unassigned", gettext_lazy("Unassigned"), (Conversation.Status.OPEN,)),
    Queue("teams", gettext_lazy("My teams"), OPEN_AND_PENDING),
    # A mention or a reply waiting for approval matters whatever the conversation's status.
    Queue("mentions", gettext_lazy("Mentions of me"), None),
    Queue("approval", gettext_lazy("Awaiting approval"), None),
    # The snoozed queue is a status itself: a status filter narrows it, never widens it.
    Queue("snoozed", gettext_lazy("Snoozed"), (Conversation.Status.SNOOZED,)),
    Queue("all", gettext_lazy("All open"), OPEN_AND_PENDING),
)
QUEUES_BY_KEY = {queue.key: queue for queue in QUEUES}
DEFAULT_QUEUE = "mine"
if not all(set(queue.statuses or ()) <= set(ACTIVE_STATUSES) for queue in QUEUES):
    raise AssertionError("a queue shows statuses outside ACTIVE_STATUSES: see inbox_counts")


@dataclass(frozen=True)
class InboxFilters:
    """What the inbox shows, parsed from its URL: shareable, and the back button restores it.
    Values that make no sense are dropped with a message in `problems`, never an error."""

    queue: str = DEFAULT_QUEUE
    channel_id: int | None = None
    status: str | None = None
    tag_id: int | None = None
    priority: int | None = None
    # Only conversations with a citizen's message that looks like a formal request.
    formal_only: bool = False
    page: int = 1
    open_id: int | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_query(cls, query: QueryDict) -> InboxFilters:
        problems: list[str] = []

        def number(name: str, label: str, *, low: int = 1, high: int = 2**31 - 1) -> int | None:
            raw = query.get(name, "").strip()
            if not raw:
                return None
            if raw.isdigit() and low <= int(raw) <= high:
                return int(raw)
            problems.append(
                _("The %(filter)s “%(value)s” is not valid and is ignored.")
                % {"filter": label, "value": raw[:40]}
            )
            return None

        queue = query.get("queue", "").strip() or DEFAULT_QUEUE
        if queue not in QUEUES_BY_KEY:
            problems.append(
                _("There is no queue “%(value)s”; your own conversations are shown.")
                % {"value": queue[:40]}
            )
            queue = DEFAULT_QUEUE
        status = query.get("status", "").strip() or None
        if status is not None and status not in Conversation.Status.values:
            problems.append(
                _("The %(filter)s “%(value)s” is not valid and is ignored.")
                % {"filter": _("status"), "value": status[:40]}
            )
            status = None
        return cls(
            queue=queue,
            channel_id=number("channel", _("channel")),
            status=status,
            tag_id=number("tag", _("tag")),
            priority=number("priority", _("priority"), low=1, high=4),
            formal_only=query.get("formal", "").strip() in ("1", "on"),
            page=number("page", _("page number"), high=MAX_PAGE) or 1,
            open_id=number("open", _("conversation")),
            problems=tuple(problems),
        )

    @property
    def queue_info(self) -> Queue:
        return QUEUES_BY_KEY[self.queue]

    @property
    def has_filters(self) -> bool:
        return self.formal_only or any(
            value is not None
            for value in (self.channel_id, self.status, self.tag_id, self.priority)
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The URL parameters of this state with `changes`; defaults are left out, so that
        URLs stay short."""
        state = replace(self, **changes)
        values = {
            "queue": state.queue if state.queue != DEFAULT_QUEUE else None,
            "channel": state.channel_id,
            "status": state.status,
            "tag": state.tag_id,
            "priority": state.priority,
            "formal": "1" if state.formal_only else None,
            "page": state.page if state.page != 1 else None,
            "open": state.open_id,
        }
        return {name: str(value) for name, value in values.items() if value is not None}

    def query_string(self, **changes: Any) -> str:
        """`?queue=…&open=…` (or "" for the default state) for links."""
        params = self.params(**changes)
        return "?" + urlencode(params) if params else ""

    def without_unknown(self, *, channel_ids: set[int], tag_ids: set[int]) -> InboxFilters:
        """Drops a channel or tag filter that names nothing that exists."""
        problems = list(self.problems)
        channel_id, tag_id = self.channel_id, self.tag_id
        if channel_id is not None and channel_id not in channel_ids:
            problems.append(_("The chosen channel does not exist; the filter is ignored."))
            channel_id = None
        if tag_id is not None and tag_id not in tag_ids:
            problems.append(_("The chosen tag does not exist; the filter is ignored."))
            tag_id = None
        return replace(self, channel_id=channel_id, tag_id=tag_id, problems=tuple(problems))


# --- the queues ------------------------------------------------------------------------------


class _EqualsAny(Func):
    """`value = ANY(ARRAY(SELECT …))`: PostgreSQL runs the uncorrelated subquery once and
    looks the ids up in the primary key, also as one arm of an OR (inbox_counts), where an
    `id IN (SELECT …)` could only be checked row by row after reading the whole table."""

    arg_joiner = " = ANY("
    template = "%(expressions)s)"
    output_field = BooleanField()


def _id_in(ids: QuerySet[Any]) -> Q:
    return Q(_EqualsAny(F("id"), ArraySubquery(ids)))


def _queue_condition(queue: Queue, *, user: User, is_team_lead: bool) -> Q:
    """Which conversations belong to the queue, statuses aside. The subqueries are
    uncorrelated, so PostgreSQL runs each once, not once per row."""
    if queue.key == "mine":
        return Q(assignee=user)
    if queue.key == "unassigned":
        return Q(assignee__isnull=True)
    if queue.key == "teams":
        return Q(team_id__in=TeamMembership.objects.filter(user=user).values("team_id"))
    if queue.key == "mentions":
        unread_mentions = NoteMention.objects.filter(user=user, read_at__isnull=True)
        return _id_in(unread_mentions.values("note__conversation_id"))
    if queue.key == "approval":
        # Team leads review every waiting reply; an agent sees their own.
        waiting = Message.objects.filter(delivery_status=Message.DeliveryStatus.AWAITING_APPROVAL)
        if not is_team_lead:
            waiting = waiting.filter(author_user=user)
        return _id_in(waiting.values("conversation_id"))
    return Q()


def _with_statuses(condition: Q, statuses: tuple[str, ...] | None) -> Q:
    return condition & Q(status__in=statuses) if statuses is not None else condition


def _list_condition(filters: InboxFilters, *, user: User, is_team_lead: bool) -> Q:
    queue = filters.queue_info
    condition = _queue_condition(queue, user=user, is_team_lead=is_team_lead)
    if filters.status is None:
        condition = _with_statuses(condition, queue.statuses)
    elif queue.key == "snoozed":
        condition &= Q(status=Conversation.Status.SNOOZED) & Q(status=filters.status)
    else:
        # Another status than the queue's usual ones: e.g. my resolved conversations.
        condition &= Q(status=filters.status)
    if filters.channel_id is not None:
        condition &= Q(channel_id=filters.channel_id)
    if filters.priority is not None:
        condition &= Q(priority=filters.priority)
    if filters.tag_id is not None:
        tagged = ConversationTag.objects.filter(tag_id=filters.tag_id)
        condition &= Q(id__in=tagged.values("conversation_id"))
    if filters.formal_only:
        condition &= Q(id__in=_formal_request_messages().values("conversation_id"))
    return condition


def _formal_request_messages() -> QuerySet[Message]:
    """The citizens' messages ingest marked as a formal request (inbox/formal_requests.py);
    the partial index message_formal_request_idx holds exactly these."""
    return Message.objects.filter(direction=Message.Direction.INBOUND).exclude(
        formal_request_kinds=[]
    )


def _listed_conversations() -> QuerySet[Conversation]:
    # A merged conversation lives on in its target; its resolved shell is not work.
    return Conversation.objects.filter(merged_into__isnull=True)


@dataclass(frozen=True)
class QueueCount:
    queue: Queue
    count: int
    is_current: bool
    # The link to the queue: the same filters and open conversation, from the first page.
    query: str


@dataclass(frozen=True)
class InboxCounts:
    queues: list[QueueCount]
    # Conversations in the current queue with the current filters (all pages).
    listed: int


def _listed_among_active(filters: InboxFilters) -> bool:
    """Whether the filtered list holds only conversations `inbox_counts` reads anyway."""
    return (
        filters.queue_info.statuses is None
        or filters.status is None
        or filters.status in ACTIVE_STATUSES
    )


def inbox_counts(*, user: User, is_team_lead: bool, filters: InboxFilters) -> InboxCounts:
    """Every queue's count and the filtered list's total in one aggregate query. The queue
    counts ignore the filters: they say how much work each queue holds.

    The query reads only the rows that can count: the active conversations (an index of
    their own), the few of the mentions and approval queues (any status), and the filtered
    list when it asks for another status (resolved ones: rare, and then a longer read)."""
    counted = Q(status__in=ACTIVE_STATUSES)
    for queue in QUEUES:
        if queue.statuses is None:
            counted |= _queue_condition(queue, user=user, is_team_lead=is_team_lead)
    listed = _list_condition(filters, user=user, is_team_lead=is_team_lead)
    if not _listed_among_active(filters):
        counted |= listed
    aggregates = {
        queue.key: Count(
            "id",
            filter=_with_statuses(
                _queue_condition(queue, user=user, is_team_lead=is_team_lead), queue.statuses
            ),
        )
        for queue in QUEUES
    }
    aggregates["listed"] = Count("id", filter=listed)
    counts = _listed_conversations().filter(counted).aggregate(**aggregates)
    return InboxCounts(
        queues=[
            QueueCount(
                queue=queue,
                count=counts[queue.key],
                is_current=queue.key == filters.queue,
                query=filters.query_string(queue=queue.key, page=1),
            )
            for queue in QUEUES
        ],
        listed=counts["listed"],
    )


# --- the list --------------------------------------------------------------------------------

Urgency = Literal["none", "normal", "near", "overdue"]


def waiting_urgency(waiting_since: datetime | None, *, now: datetime, norm: timedelta) -> Urgency:
    """How close a waiting citizen is to the response norm (settings
    WEBCARE_RESPONSE_NORM_MINUTES): "near" from 75 % of it, "overdue" past it."""
    if waiting_since is None:
        return "none"
    waited = now - waiting_since
    if waited > norm:
        return "overdue"
    if waited >= norm * NEAR_NORM_SHARE:
        return "near"
    return "normal"


@dataclass(frozen=True)
class InboxRow:
    conversation: Conversation
    last_message_text: str
    last_message_outbound: bool
    is_unread: bool
    urgency: Urgency
    is_open: bool
    is_mine: bool
    # The inbox URL's query that opens this conversation, the filters kept.
    open_query: str
    # In the mentions queue: the newest unread note that mentions the user, and its author.
    mention_text: str | None = None
    mention_author: str | None = None
    # Any citizen's message of the conversation looks like a formal request: it keeps its
    # own official route whatever happened since, so the badge stays with the conversation
    # (the queues show open and pending conversations only).
    has_formal_request: bool = False


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    number: int
    has_next: bool
    total: int
    page_size: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def page_count(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


def _ordered(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Waiting citizens first, the most urgent and then the longest waiting first; the rest
    by newest activity. The id makes the order total, so pages never overlap."""
    return conversations.annotate(
        not_waiting=Case(
            When(waiting_since__isnull=True, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
    ).order_by(
        "not_waiting",
        "-priority",
        F("waiting_since").asc(nulls_last=True),
        F("last_activity_at").desc(),
        "-id",
    )


def _annotated_rows(
    conversations: QuerySet[Conversation], *, user: User, with_mention: bool
) -> QuerySet[Conversation]:
    last_message = Message.objects.filter(conversation=OuterRef("pk")).order_by("-sent_at", "-id")
    my_read_at = ConversationReadState.objects.filter(user=user, conversation=OuterRef("pk"))
    # Unread: never opened, or a citizen's message arrived (created_at: when we stored it,
    # not the platform's time, which a slow poll puts before the moment of reading) since.
    arrived_since_read = Message.objects.filter(
        conversation=OuterRef("pk"),
        direction=Message.Direction.INBOUND,
        created_at__gt=OuterRef("my_read_at"),
    )
    rows = conversations.select_related("contact", "channel", "assignee").annotate(
        last_message_text=Subquery(last_message.values("text")[:1]),
        last_message_direction=Subquery(last_message.values("direction")[:1]),
        my_read_at=Subquery(my_read_at.values("read_at")[:1]),
        has_formal_request=Exists(_formal_request_messages().filter(conversation=OuterRef("pk"))),
    )
    rows = rows.annotate(
        is_unread=Case(
            When(Q(my_read_at__isnull=True) | Q(Exists(arrived_since_read)), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
    if with_mention:
        mention = NoteMention.objects.filter(
            user=user, read_at__isnull=True, note__conversation=OuterRef("pk")
        ).order_by("-note__created_at", "-id")
        rows = rows.annotate(
            mention_text=Subquery(mention.values("note__text")[:1]),
            mention_author_first=Subquery(mention.values("note__author__first_name")[:1]),
            mention_author_last=Subquery(mention.values("note__author__last_name")[:1]),
            mention_author_username=Subquery(mention.values("note__author__username")[:1]),
        )
    return rows


def inbox_page(
    *, user: User, is_team_lead: bool, filters: InboxFilters, total: int, now: datetime
) -> InboxPage:
    """One page of the filtered queue, in one query. `total` comes from `inbox_counts`."""
    condition = _list_condition(filters, user=user, is_team_lead=is_team_lead)
    conversations = _listed_conversations().filter(condition)
    with_mention = filters.queue == "mentions"
    start = (filters.page - 1) * INBOX_PAGE_SIZE
    # One row more than the page tells whether there is a next page. The page is chosen
    # in a subquery of the conversations alone, so that the joins and the subqueries of
    # each row run for these rows only: joined first, PostgreSQL would rather read the
    # whole table than look up a contact per open conversation (docs/plans/inbox-all.txt).
    page_ids = _ordered(conversations).values("id")[start : start + INBOX_PAGE_SIZE + 1]
    rows = _annotated_rows(
        _ordered(_listed_conversations().filter(id__in=page_ids)),
        user=user,
        with_mention=with_mention,
    )
    found = list(rows)
    norm = timedelta(minutes=settings.WEBCARE_RESPONSE_NORM_MINUTES)
    return InboxPage(
        rows=[
            _row(conversation, user=user, filters=filters, now=now, norm=norm)
            for conversation in found[:INBOX_PAGE_SIZE]
        ],
        number=filters.page,
        has_next=len(found) > INBOX_PAGE_SIZE,
        total=total,
        page_size=INBOX_PAGE_SIZE,
    )


def _row(
    conversation: Any, *, user: User, filters: InboxFilters, now: datetime, norm: timedelta
) -> InboxRow:
    mention_author = None
    if getattr(conversation, "mention_text", None) is not None:
        full_name = f"{conversation.mention_author_first} {conversation.mention_author_last}"
        mention_author = full_name.strip() or conversation.mention_author_username or ""
    return InboxRow(
        conversation=conversation,
        last_message_text=conversation.last_message_text or "",
        last_message_outbound=conversation.last_message_direction == Message.Direction.OUTBOUND,
        is_unread=conversation.is_unread,
        urgency=waiting_urgency(conversation.waiting_since, now=now, norm=norm),
        is_open=conversation.id == filters.open_id,
        is_mine=conversation.assignee_id == user.pk,
        open_query=filters.query_string(open_id=conversation.id),
        mention_text=getattr(conversation, "mention_text", None),
        mention_author=mention_author,
        has_formal_request=conversation.has_formal_request,
    )


# --- the filters' choices --------------------------------------------------------------------


@dataclass(frozen=True)
class FilterChoices:
    channels: list[Channel]
    tags: list[Tag]
    statuses: list[tuple[str, str]]
    priorities: list[tuple[int, str]]

    @property
    def channel_ids(self) -> set[int]:
        return {channel.id for channel in self.channels}

    @property
    def tag_ids(self) -> set[int]:
        return {tag.id for tag in self.tags}


def filter_choices() -> FilterChoices:
    """The channels and tags to filter on: two queries."""
    return FilterChoices(
        channels=list(Channel.objects.order_by("name")),
        tags=list(Tag.objects.order_by("name")[:TAG_FILTER_LIMIT]),
        statuses=[(value, str(label)) for value, label in Conversation.Status.choices],
        priorities=[(value, str(label)) for value, label in Conversation.Priority.choices],
    )
