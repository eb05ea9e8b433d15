"""Picks the connector for a channel. The only place that knows every platform module."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from channels import mastodon_text, tweet_text
from channels.base import Connector, ConnectorError
from channels.models import Channel


@dataclass(frozen=True)
class ReplyRules:
    """What a platform accepts as a reply; needs no credentials, so views can use it."""

    max_length: int
    # The platform's own way of counting (X counts emoji as 2 and every URL as 23).
    measure: Callable[[str], int]
    # Whether a public conversation can be answered privately (DM) on this platform.
    supports_private: bool = False
    # Limit for private replies, when it differs from the public one.
    private_max_length: int | None = None
    # The text as the platform must receive it, given the citizen's username (Mastodon
    # delivers only to mentioned accounts). Applied before counting and storing.
    addressed: Callable[[str, str], str] | None = None
    # How long after the citizen's last message a private reply may be sent (Messenger:
    # 24 hours); None for no limit.
    private_reply_window: timedelta | None = None
    # A longer window for replies by a person, sent with the platform's tag (Messenger's
    # HUMAN_AGENT, 7 days), when the account may use it; None otherwise.
    extended_private_reply_window: timedelta | None = None
    extended_private_reply_tag: str = ""
    # How long after a public message it may be answered privately, when that differs
    # (Facebook's "private reply" to a comment: 7 days after the comment, no tag needed).
    private_reply_to_public_window: timedelta | None = None

    def limit(self, *, private: bool) -> int:
        if private and self.private_max_length is not None:
            return self.private_max_length
        return self.max_length


def reply_rules(channel: Channel) -> ReplyRules:
    """The reply rules of this channel: per platform, refined by its `platform_settings`."""
    kind = channel.kind
    if kind == Channel.Kind.TWITTER:
        # A public mention can be answered by DM to its author; DMs hold 10,000 characters.
        return ReplyRules(
            tweet_text.MAX_TWEET_LENGTH,
            tweet_text.weighted_length,
            supports_private=True,
            private_max_length=10_000,
        )
    if kind == Channel.Kind.MASTODON:
        # The instance's own limit, learnt by the connector (500 on most instances). A
        # direct status is a status too: the same limit applies. The "@username " a reply
        # needs is part of the text, so it is counted like the rest.
        max_characters = channel.platform_settings.get(
            "max_characters", mastodon_text.DEFAULT_MAX_CHARACTERS
        )
        return ReplyRules(
            max_characters,
            mastodon_text.status_length,
            supports_private=True,
            addressed=mastodon_text.addressed,
        )
    if kind == Channel.Kind.FACEBOOK:
        # Comments hold 8,000 characters, Messenger texts 2,000. Messenger answers must go
        # out within 24 hours of the citizen's last message, or within 7 days with the
        # HUMAN_AGENT tag if the page has that permission (learnt by `channels test`).
        human_agent = bool(channel.platform_settings.get("human_agent_tag"))
        return ReplyRules(
            8000,
            len,
            supports_private=True,
            private_max_length=2000,
            private_reply_window=timedelta(hours=24),
            extended_private_reply_window=timedelta(days=7) if human_agent else None,
            extended_private_reply_tag="HUMAN_AGENT" if human_agent else "",
            private_reply_to_public_window=timedelta(days=7),
        )
    raise ConnectorError(f"Replies on {kind} are not available yet in this version.")


def get_connector(channel: Channel) -> Connector:
    if channel.kind == Channel.Kind.TWITTER:
        from channels.twitter import TwitterConnector

        return TwitterConnector(channel)
    if channel.kind == Channel.Kind.MASTODON:
        from channels.mastodon import MastodonConnector

        return MastodonConnector(channel)
    if channel.kind == Channel.Kind.FACEBOOK:
        from channels.facebook import FacebookConnector

        return FacebookConnector(channel)
    raise ConnectorError(
        f"The {channel.get_kind_display()} connector is not available yet in this version."
    )


def learned_settings(connector: Connector) -> dict[str, Any]:
    """What a connector learnt about its account in `fetch_new` or `check` (e.g. Mastodon's
    character limit), for `Channel.platform_settings`; {} for connectors that learn nothing."""
    learned = getattr(connector, "learned_settings", None)
    return dict(learned) if isinstance(learned, dict) else {}
