"""Reads for the administrators' channel pages (inbox/views/channel_admin.py): a channel's
settings, and its credentials masked so that no page ever shows one back in full
(docs/architecture.md, "Administration")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from channels.credentials import CredentialsError, decrypt_credentials
from channels.models import Channel
from channels.services import OPTIONAL_CREDENTIALS, REQUIRED_CREDENTIALS

MASK = "••••••••"
# Secrets shorter than this show no characters at all: four of eleven would give too much
# of it away.
MASK_SHOWS_TAIL_FROM = 12
MASK_TAIL = 4


def mask_secret(value: str) -> str:
    """`••••••••3f9a` for a long secret, only dots for a short one: enough to recognise
    which token is stored, never enough to use it."""
    if len(value) >= MASK_SHOWS_TAIL_FROM:
        return MASK + value[-MASK_TAIL:]
    return MASK


@dataclass(frozen=True)
class MaskedCredential:
    name: str
    masked: str  # empty when not set
    required: bool


@dataclass(frozen=True)
class MaskedCredentials:
    credentials: list[MaskedCredential]
    # The stored blob cannot be decrypted (a rotated-out key): every field must be given anew.
    unreadable: bool


def credential_names(kind: str) -> tuple[list[str], list[str]]:
    """The required and the optional credential names of a platform."""
    channel_kind = Channel.Kind(kind)
    return (
        list(REQUIRED_CREDENTIALS.get(channel_kind, ())),
        list(OPTIONAL_CREDENTIALS.get(channel_kind, ())),
    )


def channel_credentials_masked(channel: Channel) -> MaskedCredentials:
    required, optional = credential_names(channel.kind)
    try:
        stored = decrypt_credentials(channel.credentials_encrypted)
    except CredentialsError:
        stored, unreadable = {}, True
    else:
        unreadable = False
    names = [*required, *optional, *sorted(set(stored) - set(required) - set(optional))]
    return MaskedCredentials(
        credentials=[
            MaskedCredential(
                name=name,
                masked=mask_secret(stored[name]) if stored.get(name) else "",
                required=name in required,
            )
            for name in names
        ],
        unreadable=unreadable,
    )


# Secrets a platform or client library may put in an error text, whether or not we stored
# them: query parameters of URLs (Graph's access_token, appsecret_proof) and bearer tokens.
_SECRET_IN_ERROR = re.compile(
    r"(?i)(?P<name>\b(?:access_token|appsecret_proof|app_secret|client_secret|secret|token|"
    r"password|api_key|key|signature|oauth_[a-z_]+)=)(?P<value>[^&\s\"'#<>]+)"
)
_BEARER_IN_ERROR = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")


def last_error_masked(channel: Channel) -> str:
    """The channel's last error with every stored credential masked, and any other secret in
    a URL's query or an Authorization value: an error text comes from a platform or a
    client library, and we do not trust it to leave tokens out."""
    text = channel.last_error
    if not text:
        return text
    try:
        stored = decrypt_credentials(channel.credentials_encrypted)
    except CredentialsError:
        stored = {}
    for value in sorted(stored.values(), key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, mask_secret(value))
    text = _SECRET_IN_ERROR.sub(lambda match: match["name"] + MASK, text)
    return _BEARER_IN_ERROR.sub(lambda match: f"{match[1]} {MASK}", text)


def _with_health() -> QuerySet[Channel]:
    return Channel.objects.annotate(
        open_quarantine=Count("quarantine", filter=Q(quarantine__resolved_at__isnull=True))
    ).defer("cursor")


def channels_for_administration() -> list[Channel]:
    """Every channel with its health, `open_quarantine` and `last_error_shown`; one query."""
    channels = list(_with_health().order_by("name"))
    for channel in channels:
        channel.last_error_shown = last_error_masked(channel)  # type: ignore[attr-defined]
    return channels


def channel_for_administration(channel_id: int) -> Channel:
    channel = get_object_or_404(_with_health(), pk=channel_id)
    channel.last_error_shown = last_error_masked(channel)  # type: ignore[attr-defined]
    return channel
