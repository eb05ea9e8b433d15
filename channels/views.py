"""Platform webhooks: thin views that check the platform's signature and call one service."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels.credentials import CredentialsError, decrypt_credentials
from channels.facebook_webhooks import (
    SIGNATURE_HEADER,
    signature_is_valid,
    subscription_challenge,
)
from channels.models import Channel
from channels.services import channel_receive_facebook_webhook

logger = logging.getLogger(__name__)

# Graph batches events, but a delivery is a few kilobytes; anything near this is not Graph.
WEBHOOK_MAX_BYTES = 1024 * 1024


# Meta signs with the app secret and cannot send a session or CSRF token; the signature
# over the raw body is the authentication (docs/architecture.md, "Webhooks").
@csrf_exempt
@require_http_methods(["GET", "POST"])
def facebook_webhook(request: HttpRequest, channel_name: str) -> HttpResponse:
    """Graph's subscription handshake (GET) and event deliveries (POST) for one Page channel.

    A channel that needs attention (its page token was refused) still takes deliveries:
    they are signed with the app secret, not the token, and citizens' messages should reach
    the inbox while an admin renews the token. An inactive channel answers 200 and stores
    nothing (channel_receive_facebook_webhook).
    """
    channel = get_object_or_404(Channel, name=channel_name, kind=Channel.Kind.FACEBOOK)
    try:
        credentials = decrypt_credentials(channel.credentials_encrypted)
    except CredentialsError:
        logger.exception("webhook credentials unreadable", extra={"channel": channel.name})
        # Our configuration, not Meta's fault: a 5xx makes Meta deliver again once fixed.
        return HttpResponse(status=503)

    if request.method == "GET":
        challenge = subscription_challenge(
            request.GET, verify_token=credentials.get("verify_token", "")
        )
        if challenge is None:
            logger.warning("webhook handshake refused", extra={"channel": channel.name})
            return HttpResponse(status=403)
        return HttpResponse(challenge, content_type="text/plain")

    # The raw bytes: the signature covers them exactly, not any re-serialisation of them.
    body = _body_within_cap(request)
    if body is None:
        logger.warning("webhook body too large", extra={"channel": channel.name})
        return HttpResponse(status=413)
    if not signature_is_valid(
        app_secret=credentials.get("app_secret", ""),
        body=body,
        header=request.headers.get(SIGNATURE_HEADER),
    ):
        logger.warning("webhook signature missing or invalid", extra={"channel": channel.name})
        return HttpResponse(status=403)
    try:
        outcome = channel_receive_facebook_webhook(channel_id=channel.id, body=body)
    except DatabaseError:
        # Nothing was stored (one transaction); Meta delivers again on a non-2xx answer.
        logger.exception("webhook not stored", extra={"channel": channel.name})
        return HttpResponse(status=503)
    if outcome.stale:
        # Only a captured delivery sent again looks like this (Meta stops retrying after 36
        # hours, the window is at least 48): refused, so it shows as a failure wherever it
        # came from, and Meta, if it were Meta, would not retry past 36 hours anyway.
        return HttpResponse(status=403)
    logger.info(
        "webhook received",
        extra={
            "channel": channel.name,
            "new_messages": outcome.new_messages,
            "rejected": outcome.rejected,
        },
    )
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")


def _body_within_cap(request: HttpRequest) -> bytes | None:
    """The raw body, or None when it is over WEBHOOK_MAX_BYTES. A declared Content-Length
    over the cap is refused before reading; a body without one (chunked) is read up to one
    byte past the cap and no further, so a huge body never sits in memory."""
    declared = request.META.get("CONTENT_LENGTH")
    if declared:
        try:
            length = int(declared)
        except ValueError:
            return None
        if length > WEBHOOK_MAX_BYTES:
            return None
        body = request.read(WEBHOOK_MAX_BYTES + 1)
    else:
        # Django reads nothing without a Content-Length; the server (gunicorn) has decoded
        # the chunks in wsgi.input.
        stream = request.META.get("wsgi.input")
        body = stream.read(WEBHOOK_MAX_BYTES + 1) if stream is not None else b""
    return body if len(body) <= WEBHOOK_MAX_BYTES else None
