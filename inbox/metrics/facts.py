"""One conversation's facts (waits and care cycles) from its history: a pure function of plain
data, so that tests call it directly and the refresh (inbox/services/metrics.py) only loads
and stores. docs/metrics.md, "Waits" and "Care cycles", defines every field computed here.

The rules, in short:
- A citizen waits from their oldest unanswered message. Our reply that reached the platform
  answers the messages the citizen sent up to the moment the agent pressed send (the rule of
  `services.replies.conversation_note_response`): the wait ends when the reply was delivered.
  Messages sent after that moment, even before delivery, start the next wait.
- Replies that did not reach the platform (awaiting approval, rejected, queued, sending,
  failed) answer nothing: time spent waiting for approval is the citizen's waiting time.
- Resolving a care cycle closes the wait of its unanswered messages ("closed").
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from inbox.metrics.working_time import AMSTERDAM, WorkingCalendar

ANSWERED = "answered"
CLOSED = "closed"
WAITING = "waiting"


@dataclass(frozen=True)
class InboundMessage:
    # Platform time.
    sent_at: datetime
    is_private: bool = False


@dataclass(frozen=True)
class SentReply:
    """An outbound message with delivery status "sent"."""

    # The moment the agent pressed send (platform time for a reply made outside Webcare).
    sent_at: datetime
    # The moment it reached the platform.
    delivered_at: datetime
    # Null for a reply made outside Webcare.
    author_id: int | None = None
    is_private: bool = False


@dataclass(frozen=True)
class Cycle:
    number: int
    started_at: datetime
    resolved_at: datetime | None = None
    resolved_by_id: int | None = None


@dataclass(frozen=True)
class Assignment:
    """From this moment the conversation is assigned to `assignee_id` (None: to nobody);
    from the audit events conversation.assigned/transferred/unassigned, in order."""

    at: datetime
    assignee_id: int | None


@dataclass(frozen=True)
class ConversationHistory:
    conversation_id: int
    channel_id: int
    team_id: int | None
    priority: int
    is_private: bool
    inbound: Sequence[InboundMessage] = ()
    replies: Sequence[SentReply] = ()
    cycles: Sequence[Cycle] = ()
    # In the order they happened (created_at, id).
    assignments: Sequence[Assignment] = ()


@dataclass(frozen=True)
class Wait:
    cycle_number: int
    is_first_in_cycle: bool
    started_at: datetime
    outcome: str
    messages: int
    ended_at: datetime | None = None
    answers_until: datetime | None = None
    responder_id: int | None = None
    reply_is_private: bool = False
    calendar_seconds: int | None = None
    working_seconds: int | None = None
    handling_started_at: datetime | None = None
    handling_calendar_seconds: int | None = None
    handling_working_seconds: int | None = None


@dataclass(frozen=True)
class CycleFigures:
    number: int
    started_at: datetime
    first_response_at: datetime | None = None
    first_responder_id: int | None = None
    first_response_calendar_seconds: int | None = None
    first_response_working_seconds: int | None = None
    resolved_at: datetime | None = None
    resolved_by_id: int | None = None
    resolution_calendar_seconds: int | None = None
    resolution_working_seconds: int | None = None


@dataclass(frozen=True)
class ConversationFacts:
    waits: list[Wait]
    cycles: list[CycleFigures]


def calendar_seconds(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds()))


class _Clock:
    """`WorkingCalendar.working_seconds` with the same result, faster: the refresh asks it
    about five times per conversation, hundreds of thousands of times after a bulk import.
    The days' opening intervals sit in a plain dict (no generator, no hashing of the
    calendar per day)."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self.days: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    def working_seconds(self, start: datetime, end: datetime) -> int:
        if end <= start:
            return 0
        day = start.astimezone(AMSTERDAM).date()
        last_day = end.astimezone(AMSTERDAM).date()
        days = self.days
        total = 0.0
        while day <= last_day:
            intervals = days.get(day)
            if intervals is None:
                intervals = days[day] = self.calendar.open_intervals_on(day)
            for opens, closes in intervals:
                if opens < start:
                    opens = start
                if closes > end:
                    closes = end
                if opens < closes:
                    # Summed as floats in the same order as the calendar does: same rounding.
                    total += (closes - opens).total_seconds()
            day += _ONE_DAY
        return round(total)


_ONE_DAY = timedelta(days=1)


@functools.lru_cache(maxsize=64)
def _clock(calendar: WorkingCalendar) -> _Clock:
    return _Clock(calendar)


def conversation_facts(
    history: ConversationHistory, calendar: WorkingCalendar
) -> ConversationFacts:
    """The waits and care-cycle figures of one conversation (docs/metrics.md, "Waits")."""
    working_seconds = _clock(calendar).working_seconds
    inbound = sorted(history.inbound, key=lambda message: message.sent_at)
    cycles = sorted(history.cycles, key=lambda cycle: (cycle.started_at, cycle.number))
    message_cycle = [_cycle_of(cycles, message.sent_at) for message in inbound]

    # What ends waits, in time order. At the same moment a reply goes first (a reply that
    # reaches the platform as the cycle is resolved still answers), and of two replies the
    # one composed first; the caller gives replies in a fixed order for full ties.
    events: list[tuple[datetime, int, datetime, int]] = [
        (reply.delivered_at, 0, reply.sent_at, index) for index, reply in enumerate(history.replies)
    ]
    events += [
        (cycle.resolved_at, 1, cycle.started_at, index)
        for index, cycle in enumerate(cycles)
        if cycle.resolved_at is not None
    ]
    events.sort()

    # (started_at, outcome, messages, ended_at, reply)
    ended: list[tuple[datetime, str, int, datetime | None, SentReply | None]] = []
    unanswered = list(range(len(inbound)))
    for moment, kind, _, index in events:
        if not unanswered:
            continue
        if kind == 0:
            reply = history.replies[index]
            consumed = [i for i in unanswered if inbound[i].sent_at <= reply.sent_at]
        else:
            resolved = cycles[index]
            # Its own messages: a message at the very moment of the resolution belongs to
            # the cycle it started, if it started one.
            consumed = [
                i
                for i in unanswered
                if message_cycle[i] is resolved and inbound[i].sent_at <= moment
            ]
        if not consumed:
            continue
        taken = set(consumed)
        unanswered = [i for i in unanswered if i not in taken]
        started = inbound[consumed[0]].sent_at
        if kind == 0:
            ended.append((started, ANSWERED, len(consumed), moment, history.replies[index]))
        else:
            ended.append((started, CLOSED, len(consumed), moment, None))
    if unanswered:
        ended.append((inbound[unanswered[0]].sent_at, WAITING, len(unanswered), None, None))
    ended.sort(key=lambda item: item[0])

    stretches = _assignment_stretches(history.assignments)
    waits: list[Wait] = []
    seen_cycles: set[int] = set()
    for started, outcome, count, ended_at, answer in ended:
        cycle = _cycle_of(cycles, started)
        number = cycle.number if cycle is not None else 1
        first = number not in seen_cycles
        seen_cycles.add(number)
        if ended_at is None:
            waits.append(
                Wait(
                    cycle_number=number,
                    is_first_in_cycle=first,
                    started_at=started,
                    outcome=outcome,
                    messages=count,
                )
            )
            continue
        if answer is None:
            waits.append(
                Wait(
                    cycle_number=number,
                    is_first_in_cycle=first,
                    started_at=started,
                    outcome=outcome,
                    messages=count,
                    ended_at=ended_at,
                    calendar_seconds=calendar_seconds(started, ended_at),
                    working_seconds=working_seconds(started, ended_at),
                )
            )
            continue
        handling_start = _handling_start(stretches, answer.author_id, started, ended_at)
        waits.append(
            Wait(
                cycle_number=number,
                is_first_in_cycle=first,
                started_at=started,
                outcome=outcome,
                messages=count,
                ended_at=ended_at,
                calendar_seconds=calendar_seconds(started, ended_at),
                working_seconds=working_seconds(started, ended_at),
                answers_until=answer.sent_at,
                responder_id=answer.author_id,
                reply_is_private=answer.is_private,
                handling_started_at=handling_start,
                handling_calendar_seconds=calendar_seconds(handling_start, ended_at),
                handling_working_seconds=working_seconds(handling_start, ended_at),
            )
        )

    first_waits = {wait.cycle_number: wait for wait in waits if wait.is_first_in_cycle}
    figures = []
    for cycle in cycles:
        first_wait = first_waits.get(cycle.number)
        answered = first_wait is not None and first_wait.outcome == ANSWERED
        response_at = first_wait.ended_at if answered and first_wait else None
        figures.append(
            CycleFigures(
                number=cycle.number,
                started_at=cycle.started_at,
                first_response_at=response_at,
                first_responder_id=first_wait.responder_id if answered and first_wait else None,
                first_response_calendar_seconds=(
                    calendar_seconds(cycle.started_at, response_at) if response_at else None
                ),
                first_response_working_seconds=(
                    working_seconds(cycle.started_at, response_at) if response_at else None
                ),
                resolved_at=cycle.resolved_at,
                resolved_by_id=cycle.resolved_by_id,
                resolution_calendar_seconds=(
                    calendar_seconds(cycle.started_at, cycle.resolved_at)
                    if cycle.resolved_at
                    else None
                ),
                resolution_working_seconds=(
                    working_seconds(cycle.started_at, cycle.resolved_at)
                    if cycle.resolved_at
                    else None
                ),
            )
        )
    return ConversationFacts(waits=waits, cycles=figures)


def _cycle_of(cycles: Sequence[Cycle], moment: datetime) -> Cycle | None:
    """The care cycle a moment belongs to: the latest-started one whose [started_at,
    resolved_at) contains it; else the latest started at or before it; else the first."""
    if len(cycles) == 1:
        return cycles[0]  # most conversations: every rule below gives the one cycle
    containing = [
        cycle
        for cycle in cycles
        if cycle.started_at <= moment and (cycle.resolved_at is None or moment < cycle.resolved_at)
    ]
    if containing:
        return containing[-1]
    before = [cycle for cycle in cycles if cycle.started_at <= moment]
    if before:
        return before[-1]
    return cycles[0] if cycles else None


def _assignment_stretches(
    assignments: Sequence[Assignment],
) -> list[tuple[datetime, int | None]]:
    """(start, assignee) of each stretch with one assignee; a repeated assignment to the
    same agent continues their stretch."""
    stretches: list[tuple[datetime, int | None]] = []
    for assignment in assignments:
        if stretches and stretches[-1][1] == assignment.assignee_id:
            continue
        stretches.append((assignment.at, assignment.assignee_id))
    return stretches


def _handling_start(
    stretches: list[tuple[datetime, int | None]],
    responder_id: int | None,
    wait_started_at: datetime,
    delivered_at: datetime,
) -> datetime:
    """The later of the wait's start and the start of the responder's assignment stretch
    that covers the delivery; the wait's start when the responder was not the assignee."""
    current: tuple[datetime, int | None] | None = None
    for stretch in stretches:
        if stretch[0] > delivered_at:
            break
        current = stretch
    if responder_id is None or current is None or current[1] != responder_id:
        return wait_started_at
    return max(wait_started_at, current[0])
