"""Weeks or years of a municipality's webcare at once, for the demo (`make run`) and the
dashboard benchmark (bench/micro/test_dashboard_speed.py).

The services stamp rows with now() and take a transaction per message, far too slow for a
million past messages. This module plays each conversation's life through a small copy of
the services' rules instead (ingest, reply delivery, pending, resolve, assignment: see
`_Replay`) and writes the rows they would have left with COPY, then marks every generated
conversation changed, so that the metrics refresh derives the facts and rollups exactly as
it does for live conversations. tests/inbox/test_demo_history.py holds the generated rows to
the invariants the services keep.

The rhythm: citizens write most at 8-10 and 19-21 h Amsterdam time, about half as much at
weekends; agents answer within the team's opening hours (minutes to an hour or two of
working time, so an evening message waits until the morning), some in an evening or weekend
shift; a few conversations are never answered; most are resolved, a few reopen with a second
care cycle. One day, two thirds into the period, a storm makes "omgevallen boom" and
"wateroverlast" spike (the topics' "something is happening in town" signal).
"""

from __future__ import annotations

import collections
import contextlib
import io
import itertools
import json
import math
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from channels.models import Channel
from inbox.metrics.working_time import WorkingCalendar, calendars_for_teams
from inbox.models import AgentProfile, AuditEvent, Conversation, Tag, Team, TeamMembership
from inbox.signatures import initials_signature, signed

__all__ = ["HISTORY_ACTION", "HistoryResult", "generate_history", "history_exists"]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# One audit event per generated history: seed_history and seed_demo refuse to add a second
# one by accident, and a forced second run numbers its platform ids apart from the first's.
HISTORY_ACTION = "demo.history_generated"

# Citizens' messages per hour of the day (Amsterdam wall clock), relative: a morning peak
# at 8-10 h, a second one at 19-21 h, quiet nights.
HOUR_WEIGHTS = (
    0.35, 0.2, 0.12, 0.08, 0.08, 0.15, 0.45, 1.1, 2.3, 2.6, 2.2, 1.8,
    1.6, 1.6, 1.5, 1.4, 1.4, 1.5, 1.8, 2.3, 2.6, 2.3, 1.5, 0.8,
)  # fmt: skip
HOUR_CUMULATIVE = tuple(itertools.accumulate(HOUR_WEIGHTS))
# Monday to Sunday: Monday brings the weekend's questions, the weekend is quieter.
WEEKDAY_WEIGHTS = (1.2, 1.05, 1.0, 1.0, 0.95, 0.55, 0.5)

# Conversations written per chunk: bounds the memory of a million-message history.
_CHUNK_CONVERSATIONS = 20_000

STREETS = (
    "Dorpsstraat", "Kerkstraat", "Molenweg", "Stationsplein", "Lindelaan", "Beukenlaan",
    "Schoolstraat", "Marktplein", "Julianastraat", "Wilhelminaweg", "Het Want", "De Akkers",
)  # fmt: skip
WIJKEN = ("Centrum", "Noord", "De Hoven", "Oostpolder", "Westrand", "Het Veld")


@dataclass(frozen=True)
class _Topic:
    tag: str
    # Matched against team names (case-insensitive); no match goes to the default team.
    team_hint: str
    weight: float
    hashtag: str
    questions: tuple[str, ...]
    answers: tuple[str, ...]


TOPICS: tuple[_Topic, ...] = (
    _Topic(
        "afval",
        "afval",
        30,
        "#afval",
        (
            "Mijn container is vandaag weer niet geleegd aan de {straat}. Wanneer komen jullie?",
            "De groene container is al twee weken niet opgehaald in {wijk}, het stinkt enorm",
            "Hoe kan ik grofvuil laten ophalen? Ik heb een oude bank staan",
            "Waar vind ik de afvalkalender voor {wijk}? De afvalapp doet het niet",
            "Er staan vuilniszakken naast de ondergrondse container op de {straat}",
            "Mijn minicontainer is kapot, het deksel is eraf. Kan ik een nieuwe krijgen?",
            "Waarom is de milieustraat op zaterdag zo vroeg dicht?",
            "Papiercontainer op de {straat} zit alweer vol, wie leegt die?",
        ),
        (
            "Vervelend dat je container niet is geleegd! We geven het door aan de inzameling, "
            "ze komen morgen alsnog langs.",
            "Grofvuil laat je ophalen via een afspraak op onze website of in de afvalapp. "
            "Het eerste ophaalmoment per jaar is gratis.",
            "Je vindt de afvalkalender met je postcode op onze website. Lukt het niet? "
            "Stuur ons een privébericht, dan zoeken we het samen op.",
            "Dank je voor het melden! We sturen iemand om de bijplaatsingen op te ruimen.",
            "Een nieuwe minicontainer vraag je aan via het formulier op onze website; "
            "de vervanging is gratis.",
        ),
    ),
    _Topic(
        "parkeren",
        "parkeren",
        14,
        "#parkeren",
        (
            "Hoe lang duurt het aanvragen van een parkeervergunning? Ik ben net verhuisd",
            "Ik heb een parkeerboete gekregen terwijl de parkeerautomaat op de {straat} kapot was",
            "Kan ik een bezoekersvergunning ook digitaal regelen?",
            "Waarom moet je nu ook 's avonds betalen voor parkeren in het centrum?",
            "De parkeerautomaat bij het {straat} accepteert geen pinpas meer",
        ),
        (
            "Een parkeervergunning vraag je aan met DigiD op onze website. Je krijgt binnen "
            "vijf werkdagen bericht.",
            "Vervelend! Tegen een parkeerboete kun je bezwaar maken via onze website; vermeld "
            "dat de automaat defect was, dan kijken we het na.",
            "Bezoekersparkeren regel je in de parkeerapp, zonder papieren vergunning.",
            "Dank je, we hebben een monteur gevraagd naar de automaat te kijken.",
        ),
    ),
    _Topic(
        "paspoort",
        "burgerzaken",
        12,
        "#burgerzaken",
        (
            "Ik moet met spoed een nieuw paspoort, kan ik deze week nog terecht?",
            "Hoe lang is mijn ID-kaart geldig na de verlengingsdatum?",
            "Ik kan online geen afspraak maken voor mijn rijbewijs, alles is vol",
            "Wat moet ik meenemen voor een paspoort voor mijn dochter?",
            "Verhuizing doorgeven, moet dat echt met een afspraak?",
        ),
        (
            "Voor een paspoort of ID-kaart maak je online een afspraak. Neem je oude document "
            "en een goedgekeurde pasfoto mee.",
            "Met spoed kan het via een spoedaanvraag; bel ons even, dan plannen we je in.",
            "Er komen elke ochtend om 8 uur nieuwe afspraken vrij. Lukt het niet, stuur ons "
            "een privébericht.",
            "Een verhuizing geef je online door met DigiD, daarvoor is geen afspraak nodig.",
        ),
    ),
    _Topic(
        "storing",
        "algemeen",
        14,
        "#demodorp",
        (
            "De lantaarnpaal voor nummer {nummer} op de {straat} is al een week kapot",
            "Kapotte stoep op de {straat}, losse tegels, mijn moeder is bijna gevallen",
            "Het riool is verstopt in {wijk}, het water staat op straat",
            "Straatverlichting in {wijk} is uitgevallen, het is aardedonker",
            "Er zit een groot gat in het fietspad langs de {straat}",
            "Het verkeerslicht bij het {straat} staat al de hele dag op knipperen",
        ),
        (
            "Dank je voor je melding! Wil je het nummer op de paal doorgeven via Melding "
            "openbare ruimte? Dan sturen we een monteur.",
            "Dat is gevaarlijk, dank je voor het melden. Onze buitendienst komt vandaag nog "
            "kijken.",
            "We hebben het doorgezet naar de rioleringsdienst, ze gaan ermee aan de slag.",
            "Bedankt! De storing is bekend en wordt binnen twee werkdagen verholpen.",
        ),
    ),
    _Topic(
        "belastingen",
        "burgerzaken",
        6,
        "#woz",
        (
            "Mijn WOZ-waarde is veel te hoog ingeschat, hoe maak ik bezwaar?",
            "Ik heb de aanslag gemeentelijke belastingen nog niet ontvangen",
            "Kan ik de aanslag in termijnen betalen?",
        ),
        (
            "Bezwaar tegen je WOZ-waarde maak je binnen zes weken via Mijn Belastingen op "
            "onze website.",
            "De aanslagen gaan deze maand de deur uit; staat hij nog niet in de Berichtenbox, "
            "stuur ons dan een privébericht.",
            "Ja, via automatische incasso betaal je in tien termijnen.",
        ),
    ),
    _Topic(
        "evenementen",
        "algemeen",
        6,
        "#demodorp",
        (
            "Gaat de kermis op het Marktplein dit jaar door?",
            "Welke wegen zijn afgesloten tijdens de braderie in {wijk}?",
            "Waar kan ik een vergunning voor een buurtfeest aanvragen?",
            "Hoe laat begint het vuurwerk op Koningsdag?",
        ),
        (
            "Ja, de kermis staat dit jaar weer op het Marktplein. Alle informatie vind je op "
            "onze evenementenpagina.",
            "Een buurtfeest meld je minstens acht weken vooraf aan via onze website.",
            "De afsluitingen staan op de evenementenpagina; volg de borden ter plaatse.",
        ),
    ),
    _Topic(
        "overlast",
        "algemeen",
        8,
        "#demodorp",
        (
            "Elke nacht jongeren met scooters op het {straat}, wat doet de gemeente eraan?",
            "Hondenpoep overal in het park in {wijk}, kunnen er meer afvalbakken komen?",
            "Graffiti op de muur van de school aan de {straat}",
            "Zwerfafval langs de {straat}, niemand ruimt het op",
        ),
        (
            "Dank je voor je melding. We geven het door aan de wijkboa en de wijkagent.",
            "We nemen je suggestie mee; de graffiti wordt deze week verwijderd.",
            "Bedankt, de veegploeg komt deze week langs.",
        ),
    ),
    _Topic(
        "compliment",
        "algemeen",
        5,
        "#demodorp",
        (
            "Complimenten aan de medewerkers van de milieustraat, super geholpen!",
            "Wat fijn dat de lantaarnpaal zo snel gemaakt is, bedankt!",
            "De nieuwe speeltuin in {wijk} is prachtig geworden",
        ),
        (
            "Wat leuk om te horen, dank je wel! We geven het door aan de collega's.",
            "Dank je voor het compliment, fijne dag!",
        ),
    ),
)
# The storm of the spike day: not part of the everyday mix.
STORM = _Topic(
    "storing",
    "algemeen",
    0,
    "#storm",
    (
        "Omgevallen boom op de {straat}, de weg is versperd #storm",
        "Wateroverlast in {wijk}, de kelder loopt vol! #storm",
        "Grote takken op het fietspad langs de {straat} na de storm",
        "Dakpannen op de stoep aan de {straat}, levensgevaarlijk #storm",
    ),
    (
        "Dank je voor je melding! Onze buitendienst ruimt omgevallen bomen zo snel mogelijk "
        "op. Houd afstand.",
        "We hebben het doorgegeven aan de brandweer en de buitendienst.",
        "Dank je, de takken worden vandaag nog weggehaald.",
    ),
)
FOLLOW_UPS = (
    "Nog steeds niet opgelost hoor",
    "Dank voor de snelle reactie! Nog een vraag: geldt dat ook voor mijn buren?",
    "Ik heb het formulier ingevuld maar krijg geen bevestiging",
    "Oké, en hoe lang duurt dat ongeveer?",
    "Het gaat om {straat} {nummer}",
    "Top, dank je!",
)
FOLLOW_UP_ANSWERS = (
    "Het duurt meestal twee tot drie werkdagen. We houden je op de hoogte!",
    "Dank je voor de aanvulling, we hebben het doorgegeven.",
    "Graag gedaan! Laat het weten als er nog iets is.",
    "Ja, dat geldt voor de hele straat.",
)
REOPENINGS = (
    "Het is weer hetzelfde probleem als vorige week",
    "Ik had jullie eerder gemeld, maar er is nog niemand geweest",
    "Nog een vraag over hetzelfde onderwerp",
)
# Internal notes between colleagues (never sent); a mention adds "@colleague …".
NOTE_TEXTS = (
    "Doorgezet naar de buitendienst, meldingnummer {nummer}.",
    "Deze burger heeft eerder gebeld over hetzelfde, zie het vorige gesprek.",
    "Wacht op antwoord van de vakafdeling, morgen nog eens nakijken.",
    "Gevoelig onderwerp: antwoord afgestemd met communicatie.",
    "Adres gecontroleerd, klopt met de melding op de {straat}.",
    "Niet sluiten voordat de container is vervangen.",
    "Foto doorgestuurd naar de wijkbeheerder van {wijk}.",
)
NOTE_MENTIONS = (
    "@{username} kun jij hiernaar kijken?",
    "@{username} dit is jouw wijk, toch?",
    "@{username} ter info.",
)
FIRST_NAMES = (
    "Jan", "Piet", "Klaas", "Fatima", "Sanne", "Daan", "Emma", "Lucas", "Noah", "Julia",
    "Tess", "Sem", "Lieke", "Fleur", "Ruben", "Mila", "Mohammed", "Sara", "Thijs", "Eva",
)  # fmt: skip
LAST_NAMES = (
    "Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos",
    "Peters", "Hendriks", "Dekker", "van Leeuwen", "Dijkstra", "Yilmaz", "de Boer",
)  # fmt: skip


@dataclass(frozen=True)
class HistoryResult:
    conversations: int
    inbound_messages: int
    replies: int
    care_cycles: int
    first_at: datetime | None
    last_at: datetime | None
    contacts: int = 0
    notes: int = 0
    mentions: int = 0

    @property
    def messages(self) -> int:
        return self.inbound_messages + self.replies


def history_exists() -> bool:
    return AuditEvent.objects.filter(action=HISTORY_ACTION).exists()


# --- planning: what happens in one conversation, as a list of events ------------------------


@dataclass(frozen=True)
class _Event:
    at: datetime
    kind: str  # "in", "assign", "reply", "pending", "resolve"
    text: str = ""
    delivered_at: datetime | None = None
    agent_id: int | None = None


@dataclass
class _Staff:
    """Who answers: the agents per team, with each agent's capacity and signature."""

    by_team: dict[int, list[int]]
    everyone: list[int]
    capacity: dict[int, int]
    signature: dict[int, str]
    username: dict[int, str] = field(default_factory=dict)


class _Planner:
    def __init__(
        self,
        rng: random.Random,
        calendars: dict[int | None, WorkingCalendar],
        staff: _Staff,
        teams: Sequence[Team],
    ) -> None:
        self.rng = rng
        # Calendars cache their days, so asking them hundreds of thousands of times is cheap.
        self.clocks = calendars
        self.staff = staff
        default = next((team for team in teams if team.is_default), teams[0] if teams else None)
        self.team_for_hint: dict[str, int | None] = {}
        for topic in (*TOPICS, STORM):
            match = next((team for team in teams if topic.team_hint in team.name.lower()), default)
            self.team_for_hint[topic.team_hint] = match.pk if match else None

    def fill(self, template: str) -> str:
        rng = self.rng
        return template.format(
            straat=rng.choice(STREETS), wijk=rng.choice(WIJKEN), nummer=rng.randint(1, 120)
        )

    def citizen_text(self, topic: _Topic) -> str:
        text = self.fill(self.rng.choice(topic.questions))
        if topic.hashtag not in text and self.rng.random() < 0.3:
            text += " " + topic.hashtag
        if self.rng.random() < 0.08:
            text += " #demodorp" if "#demodorp" not in text else ""
        return text

    def agent_for(self, team_id: int | None) -> int:
        members = self.staff.by_team.get(team_id or 0) or self.staff.everyone
        return self.rng.choice(members)

    def answer_time(self, moment: datetime, team_id: int | None, priority: int) -> datetime:
        """When an agent sends an answer to a message of `moment`: a lognormal working-time
        delay (median 15 minutes, an hour or two in a busy stretch) on the team's clock, so
        that a message of the evening waits for the morning; some are answered by an evening
        or weekend shift in calendar time."""
        rng = self.rng
        calendar = self.clocks.get(team_id) or self.clocks[None]
        urgency = 3.0 if priority >= Conversation.Priority.URGENT else 1.0
        delay = min(max(rng.lognormvariate(math.log(900), 1.0) / urgency, 45), 5 * 3600)
        if not calendar.is_open_at(moment) and rng.random() < 0.25:
            return moment + timedelta(
                seconds=min(max(rng.lognormvariate(math.log(2400), 0.7), 120), 4 * 3600)
            )
        answered = calendar.add_working_seconds(moment, delay)
        return answered or moment + timedelta(seconds=delay)

    def conversation(
        self, start: datetime, topic: _Topic, priority: int, follow_up: float = 0.3
    ) -> tuple[int | None, list[_Event]]:
        """The events of one conversation from its first message, in time order; the team.
        After each answer the citizen writes again with probability `follow_up` (at most
        three rounds a cycle): the knob that sets the messages per conversation."""
        rng = self.rng
        team_id = self.team_for_hint[topic.team_hint]
        calendar = self.clocks.get(team_id) or self.clocks[None]
        events: list[_Event] = [_Event(start, "in", self.citizen_text(topic))]
        last_inbound = start
        if rng.random() < 0.15:
            # A second message right after the first: one wait, two messages.
            last_inbound = start + timedelta(seconds=rng.randint(20, 600))
            events.append(_Event(last_inbound, "in", self.fill(rng.choice(FOLLOW_UPS))))
        agent_id: int | None = None
        cycles = 2 if rng.random() < 0.07 else 1
        for cycle in range(cycles):
            if rng.random() < 0.04:
                # Never answered: a compliment liked on the platform, or noise, resolved later
                # without a reply (the reply rate shows it).
                resolved_at = calendar.add_working_seconds(
                    last_inbound, rng.uniform(1800, 4 * 3600)
                ) or last_inbound + timedelta(hours=3)
                if agent_id is None:
                    agent_id = self.agent_for(team_id)
                    events.append(
                        _Event(
                            resolved_at - timedelta(seconds=rng.randint(30, 300)),
                            "assign",
                            agent_id=agent_id,
                        )
                    )
                events.append(_Event(resolved_at, "resolve", agent_id=agent_id))
            else:
                answers = topic.answers
                for round_number in range(3):
                    composed = self.answer_time(last_inbound, team_id, priority)
                    if agent_id is None:
                        agent_id = self.agent_for(team_id)
                        assigned_at = max(
                            last_inbound + timedelta(seconds=5),
                            composed - timedelta(seconds=rng.randint(60, 900)),
                        )
                        events.append(_Event(assigned_at, "assign", agent_id=agent_id))
                    delivered = composed + timedelta(seconds=rng.randint(2, 15))
                    events.append(
                        _Event(
                            composed,
                            "reply",
                            self.fill(rng.choice(answers)),
                            delivered_at=delivered,
                            agent_id=agent_id,
                        )
                    )
                    answers = FOLLOW_UP_ANSWERS
                    if round_number == 2 or rng.random() >= follow_up:
                        break
                    # The citizen writes again: a next response is due.
                    if rng.random() < 0.5:
                        events.append(
                            _Event(
                                delivered + timedelta(seconds=rng.randint(60, 180)),
                                "pending",
                                agent_id=agent_id,
                            )
                        )
                    last_inbound = delivered + timedelta(
                        seconds=rng.lognormvariate(math.log(3600), 1.2) + 60
                    )
                    events.append(_Event(last_inbound, "in", self.fill(rng.choice(FOLLOW_UPS))))
                after = events[-1].delivered_at or events[-1].at
                if rng.random() < 0.2:
                    # Waiting for the citizen, who never answers: closed a few days later.
                    events.append(
                        _Event(
                            after + timedelta(seconds=rng.randint(60, 300)),
                            "pending",
                            agent_id=agent_id,
                        )
                    )
                    closes_at = calendar.add_working_seconds(
                        after + timedelta(days=rng.uniform(1, 3)), rng.uniform(60, 3600)
                    )
                else:
                    closes_at = calendar.add_working_seconds(
                        after, min(rng.lognormvariate(math.log(1200), 1.0), 8 * 3600)
                    )
                events.append(
                    _Event(closes_at or after + timedelta(hours=1), "resolve", agent_id=agent_id)
                )
            if cycle + 1 < cycles:
                # The citizen comes back after the resolution: a second care cycle.
                last_inbound = events[-1].at + timedelta(
                    seconds=rng.uniform(2 * 3600, 6 * 24 * 3600)
                )
                events.append(_Event(last_inbound, "in", rng.choice(REOPENINGS)))
        return team_id, events


# --- replay: the services' rules, applied to the planned events -----------------------------


@dataclass
class _Cycle:
    number: int
    started_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: int | None = None


@dataclass
class _Replay:
    """One conversation's rows as the services leave them after these events (ingest's
    `_conversation_note_inbound`, `replies.conversation_note_response`,
    `lifecycle.conversation_mark_pending` / `conversation_resolve`, assignment)."""

    status: str = Conversation.Status.OPEN
    first_inbound_at: datetime | None = None
    first_response_at: datetime | None = None
    waiting_since: datetime | None = None
    last_inbound_at: datetime | None = None
    last_activity_at: datetime | None = None
    assignee_id: int | None = None
    assigned_at: datetime | None = None
    read_at: datetime | None = None
    cycles: list[_Cycle] = field(default_factory=list)
    events: list[_Event] = field(default_factory=list)

    def apply(self, event: _Event) -> None:
        self.events.append(event)
        at = event.at
        if event.kind == "in":
            if self.first_inbound_at is None:
                self.first_inbound_at = self.last_inbound_at = self.last_activity_at = at
                self.cycles.append(_Cycle(1, at))
            elif self.status == Conversation.Status.RESOLVED:
                self.cycles.append(_Cycle(len(self.cycles) + 1, at))
            self.status = Conversation.Status.OPEN
            if self.waiting_since is None or at < self.waiting_since:
                self.waiting_since = at
            self.last_inbound_at = max(self.last_inbound_at or at, at)
            self.last_activity_at = max(self.last_activity_at or at, at)
        elif event.kind == "assign":
            self.assignee_id, self.assigned_at = event.agent_id, at
        elif event.kind == "reply":
            delivered = event.delivered_at or at
            self.last_activity_at = max(self.last_activity_at or at, at, delivered)
            if self.first_response_at is None:
                self.first_response_at = delivered
            current = self.cycles[-1]
            if (
                current.resolved_at is None
                and current.first_response_at is None
                and current.started_at <= at
            ):
                current.first_response_at = delivered
            if self.waiting_since is not None and (self.last_inbound_at or at) <= at:
                self.waiting_since = None
            self.read_at = at
        elif event.kind == "pending":
            self.status = Conversation.Status.PENDING
            self.read_at = at
        elif event.kind == "resolve":
            current = self.cycles[-1]
            current.resolved_at, current.resolved_by = at, event.agent_id
            self.status = Conversation.Status.RESOLVED
            self.waiting_since = None
            self.last_activity_at = max(self.last_activity_at or at, at)
            self.read_at = at

    @property
    def holds_capacity(self) -> bool:
        return self.status == Conversation.Status.OPEN and self.assignee_id is not None


def _replay(events: list[_Event], end: datetime, open_load: Counter[int], limit: int) -> _Replay:
    """The conversation as of `end`. One still open and assigned at `end` counts against its
    agent's capacity in the live assignment engine: past `limit` per agent, its history is
    cut short before the last events (still a history the services could have left), so
    that the demo's agents keep room for the sandbox's new conversations."""
    kept = [event for event in _until(events, end)]
    while True:
        replay = _Replay()
        for event in kept:
            replay.apply(event)
        if not replay.holds_capacity or open_load[replay.assignee_id or 0] < limit:
            break
        kept = kept[:-1]
    if replay.holds_capacity:
        open_load[replay.assignee_id or 0] += 1
    return replay


def _until(events: Iterable[_Event], end: datetime) -> Iterable[_Event]:
    for event in events:
        # A reply still on its way to the platform at `end` is left out with all after it.
        if event.at > end or (event.delivered_at is not None and event.delivered_at > end):
            return
        yield event


# --- writing --------------------------------------------------------------------------------


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


# COPY's text format, by Python type (a million messages: no isinstance chains).
_COPY_FORMATS: dict[type, Any] = {
    type(None): lambda value: "\\N",
    bool: lambda value: "t" if value else "f",
    int: str,
    str: _copy_text,
    datetime: datetime.isoformat,
    dict: lambda value: _copy_text(json.dumps(value)),
    list: lambda value: _copy_text(json.dumps(value)),
    uuid.UUID: str,
}


def _copy_value(value: Any) -> str:
    format_value = _COPY_FORMATS.get(type(value))
    if format_value is None:
        # Subclasses: a model's TextChoices and IntegerChoices.
        format_value = next(
            formatter for kind, formatter in _COPY_FORMATS.items() if isinstance(value, kind)
        )
    return format_value(value)


def _copy_job(
    table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> tuple[str, io.StringIO]:
    """A COPY statement and its rows in PostgreSQL's text format (COPY is PostgreSQL's
    fastest bulk path, through psycopg2's copy_expert)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join([_copy_value(value) for value in row]) + "\n")
    buffer.seek(0)
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer


class _Writer:
    """Runs the chunks' COPYs in a second thread, on the same connection (so in the same
    transaction), while this thread plans the next chunk: on two cores PostgreSQL's half of
    the work (taking the rows in, keeping the indexes, checking the foreign keys) overlaps
    the Python half instead of following it. psycopg2 lets go of the GIL while the server
    works. Nothing else uses the connection while a chunk is being written: callers wait
    for `idle()` first."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self._raw = connection.connection
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, jobs: list[tuple[str, io.StringIO]]) -> None:
        self.idle()
        self._thread = threading.Thread(target=self._write, args=(jobs,), daemon=True)
        self._thread.start()

    def idle(self) -> None:
        """Wait for the chunk being written; raise what went wrong writing it."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _write(self, jobs: list[tuple[str, io.StringIO]]) -> None:
        try:
            with self._raw.cursor() as cursor:
                for statement, buffer in jobs:
                    cursor.copy_expert(statement, buffer, size=1 << 20)
        except BaseException as error:  # handed to the planning thread by idle()
            self._error = error


class _Ids:
    """Ids taken ahead from the tables' sequences, so that planning a chunk needs no query
    while the writer holds the connection."""

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer
        self.free: dict[str, collections.deque[int]] = collections.defaultdict(collections.deque)

    def top_up(self, table: str, count: int) -> None:
        """Have at least `count` ids of `table` at hand (call while the writer is idle)."""
        missing = count - len(self.free[table])
        if missing > 0:
            self.free[table].extend(_reserve_ids(table, missing))

    def take(self, table: str, count: int) -> list[int]:
        free = self.free[table]
        if len(free) < count:
            self.writer.idle()
            self.top_up(table, count)
        return [free.popleft() for _ in range(count)]


def _idempotency_key(external_id: str) -> uuid.UUID:
    """The composer's key of a reply, unique like its platform id (a forced second history
    has other platform ids, so other keys)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"webcare-demo-history:{external_id}")


def _reserve_ids(table: str, count: int) -> list[int]:
    """Ids from the table's own sequence, so that rows can refer to each other before they
    are written, and later inserts by the services never collide with them."""
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]


MESSAGE_COLUMNS = (
    "conversation_id", "channel_id", "direction", "external_id", "in_reply_to_external_id",
    "author_contact_id", "author_user_id", "text", "is_private", "attachments", "sent_at", "raw",
    "delivery_status", "delivery_error", "delivery_attempts", "delivered_at", "next_attempt_at",
    "sending_started_at", "approval_reason", "reviewed_by_id", "reviewed_at", "review_feedback",
    "idempotency_key", "created_at",
)  # fmt: skip


@dataclass
class _Chunk:
    contacts: list[tuple[Any, ...]] = field(default_factory=list)
    conversations: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)
    cycles: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    audits: list[tuple[Any, ...]] = field(default_factory=list)
    read_states: list[tuple[Any, ...]] = field(default_factory=list)
    # (conversation id, author id, text, created_at, [(mentioned user id, read_at)]): ids
    # are taken from the sequence when the chunk is written.
    notes: list[tuple[int, int, str, datetime, list[tuple[int, datetime | None]]]] = field(
        default_factory=list
    )

    def copy_jobs(self, ids: _Ids, marked_at: datetime) -> list[tuple[str, io.StringIO]]:
        """The chunk's rows as COPY statements, in an order that satisfies the foreign keys
        row by row (the generation checks them immediately)."""
        note_rows: list[tuple[Any, ...]] = []
        mention_rows: list[tuple[Any, ...]] = []
        for note_id, (conversation_id, author_id, text, at, mentioned) in zip(
            ids.take("inbox_note", len(self.notes)), self.notes, strict=True
        ):
            note_rows.append((note_id, conversation_id, author_id, text, at))
            mention_rows.extend((note_id, user_id, read_at) for user_id, read_at in mentioned)
            # As services.note_create audits it.
            self.audits.append(
                (
                    at, author_id, "note.created", None, conversation_id, None,
                    {"note_id": note_id, "mentioned_ids": [user_id for user_id, _ in mentioned]},
                )
            )  # fmt: skip
        tables: list[tuple[str, Sequence[str], list[tuple[Any, ...]]]] = [
            (
                "inbox_contact",
                (
                    "id", "channel_id", "external_id", "username", "display_name", "avatar_url",
                    "category", "person_id", "created_at", "updated_at",
                ),
                self.contacts,
            ),
            (
                "inbox_conversation",
                (
                    "id", "channel_id", "contact_id", "external_thread_id", "is_private",
                    "status", "priority", "snoozed_until", "team_id", "merged_into_id",
                    "assignee_id", "assigned_at", "first_inbound_at", "first_response_at",
                    "waiting_since", "last_inbound_at", "last_activity_at", "created_at",
                ),
                self.conversations,
            ),
            ("inbox_message", MESSAGE_COLUMNS, self.messages),
            (
                "inbox_carecycle",
                (
                    "conversation_id", "number", "started_at", "first_response_at",
                    "resolved_at", "resolved_by_id",
                ),
                self.cycles,
            ),
            (
                "inbox_conversationtag",
                ("conversation_id", "tag_id", "added_by_id", "created_at"),
                self.tags,
            ),
            (
                "inbox_auditevent",
                (
                    "created_at", "actor_id", "action", "channel_id", "conversation_id",
                    "message_id", "data",
                ),
                self.audits,
            ),
            (
                "inbox_conversationreadstate",
                ("user_id", "conversation_id", "read_at"),
                self.read_states,
            ),
            ("inbox_note", ("id", "conversation_id", "author_id", "text", "created_at"), note_rows),
            ("inbox_notemention", ("note_id", "user_id", "read_at"), mention_rows),
            # Marked changed like every other change (services.metrics_mark_changed), so the
            # refresh derives their facts and rollups; in id order, which the refresh keeps.
            (
                "inbox_metricsdirtyconversation",
                ("conversation_id", "created_at"),
                [(row[0], marked_at) for row in self.conversations],
            ),
        ]  # fmt: skip
        return [_copy_job(table, columns, rows) for table, columns, rows in tables if rows]


def _staff(agents: Sequence[User], teams: Sequence[Team]) -> _Staff:
    agent_ids = [agent.pk for agent in agents]
    by_team: dict[int, list[int]] = {}
    for team_id, user_id in TeamMembership.objects.filter(
        team__in=teams, user_id__in=agent_ids
    ).values_list("team_id", "user_id"):
        by_team.setdefault(team_id, []).append(user_id)
    for members in by_team.values():
        members.sort()
    capacity = dict(
        AgentProfile.objects.filter(user_id__in=agent_ids).values_list("user_id", "capacity")
    )
    signature = {}
    for agent in agents:
        profile = AgentProfile.objects.filter(user=agent).only("signature").first()
        own = profile.signature if profile is not None else ""
        signature[agent.pk] = own or initials_signature(agent.first_name, agent.last_name)
    usernames = {agent.pk: agent.username for agent in agents}
    return _Staff(by_team, sorted(agent_ids), capacity, signature, usernames)


def _tags() -> dict[str, int]:
    wanted = {topic.tag for topic in (*TOPICS, STORM)}
    existing = {
        name: tag_id
        for name, tag_id in Tag.objects.annotate(lower=Lower("name")).values_list("lower", "id")
        if name in wanted
    }
    for name in sorted(wanted - set(existing)):
        existing[name] = Tag.objects.create(name=name).pk
    return existing


def _day_starts(start: datetime, days: int) -> list[datetime]:
    first = start.astimezone(AMSTERDAM).date()
    return [
        datetime.combine(first + timedelta(days=offset), datetime.min.time(), tzinfo=AMSTERDAM)
        for offset in range(days + 1)
    ]


# Messages per conversation when the caller asks for a number of messages only (the demo):
# the mix of follow-ups, replies and second cycles of the planner's default follow-up rate.
_MESSAGES_PER_CONVERSATION = 2.9
# How strongly the follow-up rate leans against the running difference between the messages
# written and the messages asked for (per message of difference).
_FOLLOW_UP_GAIN = 0.02


def _follow_up_rate(messages_per_conversation: float) -> float:
    """The planner's follow-up rate that gives about this many messages per conversation.

    Expected messages of a conversation (see _Planner.conversation): 1 + 0.15 follow-up
    + 0.96 answered cycles x (1 + 2q + 2q²) rounds, + 7 % second cycles of 1 + the same.
    Solved for q; the generator corrects the rest (cut-off at `end`) as it goes."""
    rounds = max(1.0, (messages_per_conversation - 1.22) / 1.0272)
    return min(0.9, (-2 + math.sqrt(max(0.0, 4 - 8 * (1 - rounds)))) / 4)


def _day_weights(
    rng: random.Random, midnights: Sequence[datetime], start: datetime, end: datetime
) -> list[float]:
    """How much of the period's traffic each Amsterdam day gets: the weekday's rhythm, a
    slow growth of the channels over the period, a day-to-day spread, the storm day, and
    only the part of the first and last day inside [start, end]."""
    mean_weight = sum(WEEKDAY_WEIGHTS) / 7
    days = len(midnights) - 1
    storm_day = days * 2 // 3 if days >= 14 else None
    weights = []
    for index, midnight in enumerate(midnights):
        following = midnight + timedelta(days=1)  # wall-clock: 23 or 25 hours at DST changes
        inside = (min(following, end) - max(midnight, start)) / (following - midnight)
        growth = 0.85 + 0.3 * index / max(1, days)
        spread = rng.lognormvariate(0, 0.15)
        storm = 1.6 if index == storm_day else 1.0
        weights.append(
            max(0.0, inside) * WEEKDAY_WEIGHTS[midnight.weekday()] / mean_weight
            * growth * spread * storm
        )  # fmt: skip
    return weights


@transaction.atomic
def generate_history(
    *,
    channels: Sequence[Channel],
    agents: Sequence[User],
    teams: Sequence[Team],
    days: int,
    seed: int,
    messages_per_day: int | None = None,
    end: datetime | None = None,
    conversations: int | None = None,
    messages: int | None = None,
    contacts: int | None = None,
    note_share: float = 0.0,
    note_mentions: bool = False,
) -> HistoryResult:
    """Write `days` of history up to `end` (default now), the same rows for the same seed
    and end.

    Sizes: `conversations` exactly (default: about `messages_per_day` x days / 2.9), messages
    within a few of `messages` (default `messages_per_day` x days), `contacts` new citizens
    exactly (give or take one per channel; default: four in five conversations start with a
    new one). `note_share` of the assigned conversations get an internal note (some two),
    with an @mention of a team colleague in a third of them when `note_mentions`.

    Conversations that would still go on after `end` are written as they stand at `end`:
    waiting, pending or open. One audit event (HISTORY_ACTION) records the run.
    """
    if not channels or not agents:
        raise ValueError("A history needs at least one channel and one agent.")
    if messages is None and messages_per_day is None and conversations is None:
        raise ValueError("Give messages_per_day, messages or conversations.")
    rng = random.Random(seed)  # noqa: S311 - made-up demo rows, no secret in them
    end = end or timezone.now()
    end = end.astimezone(UTC)
    start = end - timedelta(days=days)
    if messages is None:
        messages = (
            messages_per_day * days
            if messages_per_day is not None
            else round((conversations or 0) * _MESSAGES_PER_CONVERSATION)
        )
    if conversations is None:
        conversations = max(1, round(messages / _MESSAGES_PER_CONVERSATION))
    messages_per_conversation = messages / conversations
    base_follow_up = _follow_up_rate(messages_per_conversation)
    run = AuditEvent.objects.filter(action=HISTORY_ACTION).count() + 1
    prefix = f"hist-{run}-"
    staff = _staff(agents, teams)
    calendars = calendars_for_teams(team.pk for team in teams)
    planner = _Planner(rng, calendars, staff, teams)
    tag_ids = _tags()
    open_load: Counter[int] = Counter()
    limit = max(1, min(staff.capacity.values(), default=6) // 2)
    channel_weights = [3.0 / (index + 1) for index in range(len(channels))]
    midnights = _day_starts(start, days)
    storm_day = days * 2 // 3 if days >= 14 else None

    counters = Counter[str]()
    contact_pool: dict[int, list[tuple[int, str]]] = {channel.pk: [] for channel in channels}
    first_at: datetime | None = None
    last_at: datetime | None = None
    chunk = _Chunk()
    planned: list[tuple[datetime, _Topic, Channel, bool]] = []

    def add_notes(
        conversation_id: int, replay: _Replay, team_id: int | None, moment: datetime
    ) -> None:
        author_id = replay.assignee_id
        if author_id is None or not note_share or rng.random() >= note_share:
            return
        anchors = [event.at for event in replay.events if event.kind != "in"] or [moment]
        colleagues = [
            user_id for user_id in staff.by_team.get(team_id or 0, []) if user_id != author_id
        ]
        for _ in range(2 if rng.random() < 0.2 else 1):
            at = min(rng.choice(anchors) + timedelta(seconds=rng.uniform(20, 1800)), end)
            text = planner.fill(rng.choice(NOTE_TEXTS))
            mentioned: list[tuple[int, datetime | None]] = []
            if note_mentions and colleagues and rng.random() < 0.35:
                colleague = rng.choice(colleagues)
                text += " " + rng.choice(NOTE_MENTIONS).format(username=staff.username[colleague])
                read_at: datetime | None = at + timedelta(seconds=rng.uniform(300, 3 * 86400))
                mentioned.append((colleague, read_at if read_at and read_at <= end else None))
            chunk.notes.append((conversation_id, author_id, text, at, mentioned))
            counters["notes"] += 1
            counters["mentions"] += len(mentioned)

    def flush(planned: list[tuple[datetime, _Topic, Channel, bool]]) -> None:
        nonlocal chunk, first_at, last_at
        planned.sort(key=lambda item: item[0])
        conversation_ids = ids.take("inbox_conversation", len(planned))
        new_contacts = sum(1 for item in planned if item[3])
        contact_ids = iter(ids.take("inbox_contact", new_contacts))
        for conversation_id, (moment, topic, channel, new_contact) in zip(
            conversation_ids, planned, strict=True
        ):
            # Steer the messages per conversation towards the asked number: lean the
            # follow-up rate against the difference so far.
            behind = messages_per_conversation * counters["n"] - (
                counters["inbound"] + counters["replies"]
            )
            follow_up = min(0.9, max(0.0, base_follow_up + _FOLLOW_UP_GAIN * behind))
            counters["n"] += 1
            n = counters["n"]
            pool = contact_pool[channel.pk]
            created_at = min(moment + timedelta(seconds=rng.randint(1, 8)), end)
            if new_contact or not pool:
                contact_id = next(contact_ids, None) or ids.take("inbox_contact", 1)[0]
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                username = f"{first.lower()}{last.replace(' ', '').lower()}{n % 997}"
                category = rng.choices(["citizen", "press", "council"], weights=[0.98, 0.01, 0.01])[
                    0
                ]
                chunk.contacts.append(
                    (
                        contact_id, channel.pk, f"{prefix}c{n}", username, f"{first} {last}",
                        "", category, None, created_at, created_at,
                    )
                )  # fmt: skip
                pool.append((contact_id, category))
                counters["contacts"] += 1
            else:
                contact_id, category = rng.choice(pool)
            priority = Conversation.Priority.NORMAL
            if category in ("press", "council"):
                priority = Conversation.Priority.URGENT
            else:
                roll = rng.random()
                if roll < 0.05:
                    priority = Conversation.Priority.LOW
                elif roll > 0.94:
                    priority = Conversation.Priority.HIGH
            team_id, events = planner.conversation(moment, topic, priority, follow_up)
            replay = _replay(events, end, open_load, limit)
            is_private = rng.random() < 0.2
            thread = f"{prefix}t{n}"
            last_inbound_external = ""
            for index, event in enumerate(replay.events):
                if event.kind == "in":
                    external_id = f"{prefix}{n}-{index}"
                    last_inbound_external = external_id
                    chunk.messages.append(
                        (
                            conversation_id, channel.pk, "inbound", external_id, "", contact_id,
                            None, event.text, is_private, "[]", event.at, "{}", None, "", 0, None,
                            None, None, "", None, None, "", None,
                            min(event.at + timedelta(seconds=rng.randint(1, 12)), end),
                        )
                    )  # fmt: skip
                    counters["inbound"] += 1
                elif event.kind == "reply":
                    text = event.text
                    if channel.append_signature and event.agent_id is not None:
                        text = signed(text, staff.signature[event.agent_id])
                    chunk.messages.append(
                        (
                            conversation_id, channel.pk, "outbound", f"{prefix}{n}-{index}",
                            last_inbound_external, None, event.agent_id, text, is_private, "[]",
                            event.at, "{}", "sent", "", 1, event.delivered_at, event.at,
                            event.at + timedelta(seconds=1), "", None, None, "",
                            _idempotency_key(f"{prefix}{n}-{index}"), event.at,
                        )
                    )  # fmt: skip
                    counters["replies"] += 1
                elif event.kind == "assign":
                    chunk.audits.append(
                        (
                            event.at, None, "conversation.assigned", None, conversation_id,
                            None,
                            {
                                "assignee_id": event.agent_id,
                                "previous_assignee_id": None,
                                "team_id": team_id,
                                "reason": "history",
                            },
                        )
                    )  # fmt: skip
            last_activity = replay.last_activity_at
            if last_activity is None:
                continue  # never: every plan starts with the citizen's message
            chunk.conversations.append(
                (
                    conversation_id, channel.pk, contact_id, thread, is_private, replay.status,
                    priority, None, team_id, None, replay.assignee_id, replay.assigned_at,
                    replay.first_inbound_at, replay.first_response_at, replay.waiting_since,
                    replay.last_inbound_at, replay.last_activity_at, created_at,
                )
            )  # fmt: skip
            for cycle in replay.cycles:
                chunk.cycles.append(
                    (
                        conversation_id, cycle.number, cycle.started_at, cycle.first_response_at,
                        cycle.resolved_at, cycle.resolved_by,
                    )
                )  # fmt: skip
                counters["cycles"] += 1
            if replay.assignee_id is not None and rng.random() < 0.75:
                tag_at = replay.assigned_at or moment
                chunk.tags.append((conversation_id, tag_ids[topic.tag], replay.assignee_id, tag_at))
            if replay.assignee_id is not None and replay.read_at is not None:
                chunk.read_states.append((replay.assignee_id, conversation_id, replay.read_at))
            add_notes(conversation_id, replay, team_id, moment)
            first_at = min(first_at or moment, moment)
            last_at = max(last_at or last_activity, last_activity)
        jobs = chunk.copy_jobs(ids, marked_at)
        chunk = _Chunk()
        writer.idle()
        # The next chunk's ids while the connection is free: planning it then needs none.
        following = min(_CHUNK_CONVERSATIONS, conversations - counters["n"])
        ids.top_up("inbox_conversation", following)
        ids.top_up("inbox_contact", following)
        ids.top_up("inbox_note", math.ceil(following * note_share * 1.5))
        writer.submit(jobs)

    writer = _Writer()
    ids = _Ids(writer)
    marked_at = timezone.now()
    with connection.cursor() as cursor:
        # Checked as each chunk is written, by the writer, rather than all at the commit.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    try:
        # Exactly `conversations` first messages over the days, by the days' weights (rounded
        # along the running total, so that the parts add up).
        weights = _day_weights(rng, midnights, start, end)
        total_weight = sum(weights) or 1.0
        running = 0.0
        placed = 0
        new_contacts_planned = 0
        for day_index, (midnight, weight) in enumerate(zip(midnights, weights, strict=True)):
            running += weight
            count = round(running * conversations / total_weight) - placed
            storm = day_index == storm_day
            for _ in range(count):
                moment = end
                for _attempt in range(100):
                    hour = rng.choices(range(24), cum_weights=HOUR_CUMULATIVE)[0]
                    local = midnight.replace(hour=hour) + timedelta(seconds=rng.uniform(0, 3600))
                    moment = local.astimezone(UTC)
                    if start <= moment <= end:
                        break
                moment = min(max(moment, start), end)
                if storm and rng.random() < 0.4:
                    topic = STORM
                else:
                    topic = rng.choices(TOPICS, weights=[topic.weight for topic in TOPICS])[0]
                channel = rng.choices(channels, weights=channel_weights)[0]
                if contacts is None:
                    new_contact = rng.random() < 0.8
                else:
                    # Selection sampling: exactly `contacts` of the conversations start with a
                    # new citizen, spread evenly over the period.
                    new_contact = rng.random() * (conversations - placed) < (
                        contacts - new_contacts_planned
                    )
                new_contacts_planned += new_contact
                placed += 1
                planned.append((moment, topic, channel, new_contact))
                if len(planned) >= _CHUNK_CONVERSATIONS:
                    flush(planned)
                    planned = []
        if planned:
            flush(planned)
        writer.idle()
    finally:
        # On an error in this thread, the writer must let go of the connection before the
        # transaction is rolled back on it.
        with contextlib.suppress(BaseException):
            writer.idle()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    result = HistoryResult(
        conversations=counters["n"],
        inbound_messages=counters["inbound"],
        replies=counters["replies"],
        care_cycles=counters["cycles"],
        first_at=first_at,
        last_at=last_at,
        contacts=counters["contacts"],
        notes=counters["notes"],
        mentions=counters["mentions"],
    )
    AuditEvent.objects.create(
        action=HISTORY_ACTION,
        data={
            "days": days,
            "messages_per_day": messages_per_day,
            "seed": seed,
            "end": end.isoformat(),
            "prefix": prefix,
            "conversations": result.conversations,
            "messages": result.messages,
            "contacts": result.contacts,
            "notes": result.notes,
        },
    )
    with connection.cursor() as cursor:
        # Fresh rows have no statistics; a live database is analysed by autovacuum.
        cursor.execute(
            "ANALYZE inbox_contact, inbox_conversation, inbox_message, inbox_carecycle,"
            " inbox_auditevent, inbox_metricsdirtyconversation, inbox_note"
        )
    return result
