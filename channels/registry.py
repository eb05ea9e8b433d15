"""Picks the connector for a channel. The only place that knows every platform module."""

from channels.base import Connector, ConnectorError
from channels.models import Channel


def get_connector(channel: Channel) -> Connector:
    if channel.kind == Channel.Kind.TWITTER:
        from channels.twitter import TwitterConnector

        return TwitterConnector(channel)
    raise ConnectorError(
        f"The {channel.get_kind_display()} connector is not available yet in this version."
    )
