"""Weeks of past webcare for the dashboard: `manage.py seed_history --days 30 --per-day 100`.

Written in bulk by inbox/demo_history.py, as the services would have left the rows; the
metrics refresh (Celery beat, every 15 s) then derives the dashboard's facts and rollups.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels.models import Channel
from inbox.demo_history import generate_history, history_exists
from inbox.models import AgentProfile, Team


class Command(BaseCommand):
    help = (
        "Generate past conversations (citizens' messages, replies, care cycles, assignments) "
        "on every channel, for the dashboard. Development and benchmarks only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=30, help="Days of history up to now.")
        parser.add_argument(
            "--per-day", type=int, default=100, help="Messages a day on average (in and out)."
        )
        parser.add_argument(
            "--conversations",
            type=int,
            help="Exactly this many conversations (then --messages sets the messages).",
        )
        parser.add_argument("--messages", type=int, help="About this many messages in all.")
        parser.add_argument("--contacts", type=int, help="Exactly this many new citizens.")
        parser.add_argument(
            "--notes", type=float, default=0.0, help="Share of conversations with a note (0-1)."
        )
        parser.add_argument(
            "--mentions", action="store_true", help="Some notes @mention a team colleague."
        )
        parser.add_argument("--seed", type=int, default=1, help="The same seed, the same rows.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Also when DEBUG is off, and again on a database that has a history already.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("seed_history writes made-up conversations; it runs with DEBUG=1.")
        if history_exists() and not options["force"]:
            raise CommandError(
                "This database has a generated history already; --force adds another one."
            )
        if options["days"] < 1 or options["per_day"] < 1:
            raise CommandError("--days and --per-day must be at least 1.")
        channels = list(Channel.objects.order_by("id"))
        agents = list(
            get_user_model()
            .objects.filter(
                is_active=True,
                agent_profile__role=AgentProfile.Role.AGENT,
            )
            .order_by("id")
        )
        if not channels or not agents:
            raise CommandError("Create a channel and an agent first (seed_demo does both).")
        started = time.perf_counter()
        result = generate_history(
            channels=channels,
            agents=agents,
            teams=list(Team.objects.order_by("id")),
            days=options["days"],
            messages_per_day=options["per_day"],
            seed=options["seed"],
            conversations=options["conversations"],
            messages=options["messages"],
            contacts=options["contacts"],
            note_share=options["notes"],
            note_mentions=options["mentions"],
        )
        self.stdout.write(
            f"History of {options['days']} days: {result.conversations} conversations, "
            f"{result.messages} messages ({result.inbound_messages} from citizens, "
            f"{result.replies} replies), {result.contacts} new contacts, {result.notes} notes "
            f"in {time.perf_counter() - started:.1f} s. "
            "The metrics refresh builds the dashboard's figures from them."
        )
