"""The load test's starting inbox: `python -m bench.load.seed --agents 50`.

Runs in a child process with DATABASE_URL pointing at the load test's own database (never
the developer's), after `migrate`. It creates what `make run` creates (`seed_demo`: the demo
staff, teams, routing rules, canned responses and the three channels on the sandbox, with a
month of history), then the simulated agents (`load-agent-NN`, available, in the default
team and one topic team each) and more weeks of history answered by them, so that every
agent starts the shift with a "Mine" queue and the inbox has a few thousand conversations.
The generated rows' "changed" markers for the dashboard are dropped, so the metrics refresh
during the run works on live changes only, as on a normal day, not on a generated backlog.

The usernames and the password are printed as one JSON line on stdout (the runner reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import django

AGENT_USERNAME_PREFIX = "load-agent-"
# Only ever on the load test's own throw-away database, reachable on loopback only.
AGENT_PASSWORD = "load-test-password-not-secret"  # noqa: S105
AGENT_CAPACITY = 8
# Topic teams of seed_demo (DEMO_TEAMS); every agent is also in the default team.
TOPIC_TEAMS = ("Afval & Reiniging", "Burgerzaken", "Parkeren")


def agent_usernames(count: int) -> list[str]:
    return [f"{AGENT_USERNAME_PREFIX}{number:02d}" for number in range(1, count + 1)]


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load.seed")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--history-days", type=int, default=14)
    parser.add_argument("--per-day", type=int, default=400, help="history messages a day")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def seed(arguments: argparse.Namespace) -> dict[str, object]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from channels.models import Channel
    from inbox.demo_history import generate_history
    from inbox.models import AgentProfile, Conversation, Team
    from inbox.models.metrics import MetricsDirtyConversation
    from inbox.services import staff_member_create, team_member_add

    started = time.monotonic()
    timings: dict[str, float] = {}

    def lap(step: str) -> None:
        timings[step] = round(time.monotonic() - started - sum(timings.values()), 1)

    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", force=True, stdout=quiet)
    lap("seed_demo")
    user_model = get_user_model()
    team_lead = user_model.objects.get(username="lotte")
    default_team = Team.objects.get(is_default=True)
    topic_teams = [Team.objects.get(name=name) for name in TOPIC_TEAMS]
    usernames = agent_usernames(arguments.agents)
    for index, username in enumerate(usernames):
        if user_model.objects.filter(username=username).exists():
            continue
        profile = staff_member_create(
            username=username,
            # Hashed once below for all: PBKDF2 per account would add a second per five.
            password=None,
            role=AgentProfile.Role.AGENT,
            first_name="Agent",
            last_name=username.removeprefix(AGENT_USERNAME_PREFIX),
            presence=AgentProfile.Presence.AVAILABLE,
            capacity=AGENT_CAPACITY,
        )
        for team in (default_team, topic_teams[index % len(topic_teams)]):
            team_member_add(actor=team_lead, team_id=team.pk, user_id=profile.user_id)
    user_model.objects.filter(username__in=usernames).update(password=make_password(AGENT_PASSWORD))
    lap("agents")
    agents = list(user_model.objects.filter(username__in=usernames).order_by("id"))
    history = generate_history(
        channels=list(Channel.objects.order_by("id")),
        agents=agents,
        teams=list(Team.objects.order_by("id")),
        days=arguments.history_days,
        messages_per_day=arguments.per_day,
        seed=arguments.seed,
    )
    lap("history")
    # The generated conversations are all marked changed for the dashboard's facts. Nobody
    # opens the dashboard in the load test, and refreshing them (about ten seconds of
    # worker time) would be a backlog no normal day starts with: only the changes made
    # during the run are refreshed, as on a normal day.
    MetricsDirtyConversation.objects.all().delete()
    lap("metrics")
    return {
        "usernames": usernames,
        "password": AGENT_PASSWORD,
        "conversations": Conversation.objects.count(),
        "open_conversations": Conversation.objects.exclude(
            status=Conversation.Status.RESOLVED
        ).count(),
        "history_messages": history.messages,
        "seconds": round(time.monotonic() - started, 1),
        "timings": timings,
    }


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webcare.settings")
    django.setup()
    print(json.dumps(seed(arguments)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
