"""Creates the demo staff, teams and channels for `make run`, and once a month of past
conversations for the dashboard (inbox/demo_history.py). Safe to run repeatedly."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels.models import Channel
from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS, DEMO_USERNAME
from channels.sandbox.accounts import MASTODON_ACCOUNT_ID, MASTODON_CREDENTIALS
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
from channels.services import channel_create
from inbox.demo_history import generate_history, history_exists
from inbox.models import (
    AgentProfile,
    CannedResponse,
    Conversation,
    FlaggedWord,
    RoutingRule,
    Team,
    Topic,
)
from inbox.services import (
    canned_response_create,
    flagged_word_add,
    routing_rule_create,
    staff_member_create,
    team_create,
    team_member_add,
    topic_create,
)

DEMO_PASSWORD = "webcare-demo"  # noqa: S105 - a published demo login, never in production
# (username, first name, last name, role)
DEMO_STAFF = [
    ("lotte", "Lotte", "de Vries", AgentProfile.Role.TEAM_LEAD),
    ("anouk", "Anouk", "Jansen", AgentProfile.Role.AGENT),
    ("bram", "Bram", "Bakker", AgentProfile.Role.AGENT),
    # A new colleague: her replies wait for Lotte's approval (four-eyes).
    ("sanne", "Sanne", "Smit", AgentProfile.Role.TRAINEE),
    # The functional administrator: channels, accounts, retention, archive, privacy requests.
    ("femke", "Femke", "Visser", AgentProfile.Role.ADMINISTRATOR),
]
DEMO_ROLE_LABELS = {
    AgentProfile.Role.TRAINEE: "trainee: replies need approval",
    AgentProfile.Role.AGENT: "agent",
    AgentProfile.Role.TEAM_LEAD: "team lead",
    AgentProfile.Role.ADMINISTRATOR: "administrator",
}
# (name, description, members, is_default). Everyone is in the default team, so a
# question no rule recognises still reaches someone.
DEMO_TEAMS = [
    ("Algemeen", "Alles wat geen ander team oppakt", ("anouk", "bram", "sanne"), True),
    ("Afval & Reiniging", "Containers, ophaaldagen, grofvuil", ("anouk", "sanne"), False),
    ("Burgerzaken", "Paspoort, ID-kaart, rijbewijs, verhuizen, WOZ", ("bram", "anouk"), False),
    ("Parkeren", "Vergunningen, automaten en boetes", ("bram",), False),
]
# (name, team, keywords, contact category, priority): the sandbox's topics find their team.
DEMO_ROUTING_RULES = [
    ("Pers en raadsleden eerst", "Algemeen", "", "press", Conversation.Priority.URGENT),
    ("Raadsleden", "Algemeen", "", "council", Conversation.Priority.HIGH),
    (
        "Afval",
        "Afval & Reiniging",
        "afval, container, minicontainer, grofvuil, afvalkalender, afvalapp, #afval",
        "",
        Conversation.Priority.NORMAL,
    ),
    (
        "Documenten en belastingen",
        "Burgerzaken",
        "paspoort, id-kaart, rijbewijs, verhuizen, woz, #burgerzaken",
        "",
        Conversation.Priority.NORMAL,
    ),
    (
        "Parkeren",
        "Parkeren",
        "parkeren, parkeervergunning, parkeerboete, parkeerautomaat, boete, bekeuring",
        "",
        Conversation.Priority.NORMAL,
    ),
]
# Replies that promise money or admit liability are read by a team lead first.
DEMO_FLAGGED_WORDS = ["schadevergoeding", "aansprakelijk", "advocaat", "vergoeden"]
# Shared canned responses of the demo municipality: (shortcut, title, text).
DEMO_CANNED_RESPONSES = [
    (
        "afval-ophaaldag",
        "Afval: ophaaldag opzoeken",
        "Hoi {{ naam }}, vervelend dat je container niet is geleegd! Je ophaaldagen vind je "
        "met je postcode in de afvalkalender op onze website of in de app. Is hij op de "
        "ophaaldag niet geleegd? Laat het ons weten, dan komen we alsnog langs. "
        "Groet, {{ agent_voornaam }}",
    ),
    (
        "paspoort-afspraak",
        "Paspoort of ID-kaart: afspraak maken",
        "Hoi {{ naam }}, voor een paspoort of ID-kaart maak je online een afspraak bij "
        "{{ gemeente }}. Neem je oude document en een goedgekeurde pasfoto mee. "
        "Groet, {{ agent_voornaam }}",
    ),
    (
        "lantaarnpaal-melden",
        "Kapotte lantaarnpaal melden",
        "Dank je voor je melding, {{ naam }}! Wil je het nummer op de paal en de straat "
        "doorgeven via Melding openbare ruimte op onze website? Dan sturen we een monteur. "
        "Groet, {{ agent_voornaam }}",
    ),
    (
        "verder-via-dm",
        "Verder via privébericht",
        "Hoi {{ naam }}, om je te helpen hebben we wat persoonlijke gegevens nodig. Deel die "
        "niet hier in het openbaar: stuur ons een privébericht, dan gaan we daar verder. "
        "Groet, {{ agent_voornaam }}",
    ),
    (
        "parkeervergunning",
        "Parkeervergunning aanvragen",
        "Hoi {{ naam }}, een parkeervergunning vraag je aan met DigiD op de website van "
        "{{ gemeente }}. Je krijgt binnen vijf werkdagen bericht. Groet, {{ agent_voornaam }}",
    ),
]
# What the communications team follows on the dashboard: (name, keywords).
DEMO_TOPICS = [
    ("Afval", "afval, container, minicontainer, grofvuil, afvalkalender, #afval"),
    ("Parkeren", "parkeren, parkeervergunning, parkeerboete, parkeerautomaat, #parkeren"),
    ("Paspoort en ID-kaart", "paspoort, id-kaart, rijbewijs, #burgerzaken"),
    ("Storm en wateroverlast", "storm, omgewaaid, boom, wateroverlast, #storm"),
    ("Straatverlichting", "lantaarnpaal, straatverlichting, lantaarn"),
]
# The past the dashboard shows on the first start: a month of a small municipality.
DEMO_HISTORY_DAYS = 30
DEMO_HISTORY_MESSAGES_PER_DAY = 100
DEMO_CHANNEL_NAME = "demodorp-x"
DEMO_MASTODON_CHANNEL_NAME = "demodorp-mastodon"
DEMO_FACEBOOK_CHANNEL_NAME = "demodorp-facebook"


class Command(BaseCommand):
    help = "Create demo staff and the demo channels, pointing at the local sandbox platform."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Also when DEBUG is off (never in production)."
        )
        parser.add_argument(
            "--no-history",
            action="store_true",
            help="Without the month of past conversations (the benchmark writes its own).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("seed_demo creates well-known logins; it only runs with DEBUG=1.")
        user_model = get_user_model()
        for username, first_name, last_name, role in DEMO_STAFF:
            if not user_model.objects.filter(username=username).exists():
                staff_member_create(
                    username=username,
                    password=DEMO_PASSWORD,
                    role=role,
                    first_name=first_name,
                    last_name=last_name,
                    presence=AgentProfile.Presence.AVAILABLE
                    if role in (AgentProfile.Role.AGENT, AgentProfile.Role.TRAINEE)
                    else AgentProfile.Presence.OFFLINE,
                    # Small enough that fair sharing and the queue show within minutes.
                    capacity=3 if role == AgentProfile.Role.TRAINEE else 6,
                )
        team_lead = user_model.objects.get(username="lotte")
        self._seed_teams(team_lead)
        for shortcut, title, text in DEMO_CANNED_RESPONSES:
            if not CannedResponse.objects.filter(owner=None, shortcut=shortcut).exists():
                canned_response_create(
                    actor=team_lead, shortcut=shortcut, title=title, text=text, shared=True
                )
        sandbox_url = f"http://127.0.0.1:{settings.WEBCARE_SANDBOX_PORT}"
        # One sandbox server speaks every platform's API, each under its own paths.
        demo_channels = [
            (Channel.Kind.TWITTER, DEMO_CHANNEL_NAME, DEMO_ACCOUNT_ID, DEMO_CREDENTIALS),
            (
                Channel.Kind.FACEBOOK,
                DEMO_FACEBOOK_CHANNEL_NAME,
                FACEBOOK_PAGE_ID,
                FACEBOOK_CREDENTIALS,
            ),
            (
                Channel.Kind.MASTODON,
                DEMO_MASTODON_CHANNEL_NAME,
                MASTODON_ACCOUNT_ID,
                MASTODON_CREDENTIALS,
            ),
        ]
        for kind, name, account_id, credentials in demo_channels:
            if not Channel.objects.filter(name=name).exists():
                channel_create(
                    kind=kind,
                    name=name,
                    account_id=account_id,
                    account_handle=DEMO_USERNAME,
                    api_base_url=sandbox_url,
                    credentials=dict(credentials),
                    poll_interval_seconds=10,
                    # Signed, as webcare teams on X do (^AJ); elsewhere the name is shown.
                    append_signature=kind == Channel.Kind.TWITTER,
                )
        for name, keywords in DEMO_TOPICS:
            if not Topic.objects.filter(name__iexact=name).exists():
                topic_create(actor=team_lead, name=name, keywords=keywords)
        if not options["no_history"]:
            self._seed_history([name for _kind, name, _account, _credentials in demo_channels])
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, first_name, _last_name, role in DEMO_STAFF:
            self.stdout.write(f"  {username:<6} {first_name} ({DEMO_ROLE_LABELS[role]})")

    def _seed_history(self, channel_names: list[str]) -> None:
        """Weeks of past conversations, once, so that the team lead's dashboard has figures
        to show from the first start (inbox/demo_history.py; about a second)."""
        if history_exists():
            return
        agent_names = [
            username
            for username, _first, _last, role in DEMO_STAFF
            if role == AgentProfile.Role.AGENT
        ]
        result = generate_history(
            channels=list(Channel.objects.filter(name__in=channel_names).order_by("id")),
            agents=list(get_user_model().objects.filter(username__in=agent_names).order_by("id")),
            teams=list(Team.objects.filter(name__in=[team[0] for team in DEMO_TEAMS])),
            days=DEMO_HISTORY_DAYS,
            messages_per_day=DEMO_HISTORY_MESSAGES_PER_DAY,
            seed=1,
        )
        self.stdout.write(
            f"Demo history: {result.messages} messages in {result.conversations} "
            f"conversations over the last {DEMO_HISTORY_DAYS} days."
        )

    def _seed_teams(self, team_lead: User) -> None:
        users = {user.username: user for user in get_user_model().objects.all()}
        teams = {team.name: team for team in Team.objects.all()}
        for name, description, members, is_default in DEMO_TEAMS:
            if name not in teams:
                teams[name] = team_create(
                    actor=team_lead, name=name, description=description, is_default=is_default
                )
                for username in members:
                    team_member_add(
                        actor=team_lead, team_id=teams[name].pk, user_id=users[username].pk
                    )
        if not RoutingRule.objects.exists():
            for position, (name, team, keywords, category, priority) in enumerate(
                DEMO_ROUTING_RULES, start=1
            ):
                routing_rule_create(
                    actor=team_lead,
                    name=name,
                    team_id=teams[team].pk,
                    position=position * 10,
                    keywords=keywords,
                    contact_category=category,
                    priority=priority,
                )
        if not FlaggedWord.objects.exists():
            for word in DEMO_FLAGGED_WORDS:
                flagged_word_add(actor=team_lead, word=word)
