"""What several benchmark sections need: the dataset's people and the sandbox's address."""

from __future__ import annotations

from typing import Any


def agent_usernames() -> list[str]:
    """Active agents (not team leads, trainees or administrators), by username."""
    from django.contrib.auth import get_user_model

    from inbox.models import AgentProfile

    return list(
        get_user_model()
        .objects.filter(is_active=True, agent_profile__role=AgentProfile.Role.AGENT)
        .order_by("username")
        .values_list("username", flat=True)
    )


def team_lead_username() -> str:
    from django.contrib.auth import get_user_model

    from inbox.models import AgentProfile

    username = (
        get_user_model()
        .objects.filter(is_active=True, agent_profile__role=AgentProfile.Role.TEAM_LEAD)
        .order_by("username")
        .values_list("username", flat=True)
        .first()
    )
    if username is None:
        raise LookupError("the benchmark database has no active team lead")
    return username


def describe_dataset() -> dict[str, Any]:
    """The counts and people of the dataset already in the database (--reuse, --from-template)."""
    from channels.models import Channel
    from inbox.models import Contact, Conversation, ConversationTag, Message, Note, Team

    return {
        "summary": {
            "messages": Message.objects.count(),
            "conversations": Conversation.objects.count(),
            "contacts": Contact.objects.count(),
            "notes": Note.objects.count(),
            "tags": ConversationTag.objects.count(),
            "channels": Channel.objects.count(),
            "agents": len(agent_usernames()),
            "teams": Team.objects.count(),
        },
        "agents": agent_usernames(),
        "team_lead": team_lead_username(),
    }


def point_channels_at_sandbox(port: int) -> int:
    """Point every channel at the sandbox platform this section started on `port`.

    A bench-only shortcut past the services: the dataset's channels were created for a
    sandbox of an earlier process (and maybe under another credentials key), so their
    address and the sandbox's public credentials are stored again; no audit event for a
    throw-away database. Returns the number of channels.
    """
    from channels.credentials import encrypt_credentials
    from channels.models import Channel
    from channels.sandbox.accounts import DEMO_CREDENTIALS, MASTODON_CREDENTIALS
    from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS

    credentials: dict[str, dict[str, str]] = {
        Channel.Kind.TWITTER: DEMO_CREDENTIALS,
        Channel.Kind.FACEBOOK: FACEBOOK_CREDENTIALS,
        Channel.Kind.MASTODON: MASTODON_CREDENTIALS,
    }
    channels = list(Channel.objects.all())
    for channel in channels:
        channel.api_base_url = f"http://127.0.0.1:{port}"
        channel.credentials_encrypted = encrypt_credentials(dict(credentials[channel.kind]))
    Channel.objects.bulk_update(channels, ["api_base_url", "credentials_encrypted"])
    return len(channels)
