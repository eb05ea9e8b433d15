"""Channel endpoints of /api/v1/ (inbox/api/permissions.py, IsChannelAdmin: superusers and
team leads): list with health, connect a new account, poll now, health of one.

Creating reuses `channel_create`, the service behind `manage.py channels add`; credentials
go in and are never given back out.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels.services import channel_create
from inbox.api import serializers as api
from inbox.api.permissions import IsChannelAdmin
from inbox.selectors import api as selectors


@extend_schema_view(
    get=extend_schema(tags=["channels"], summary="Channels with their health (admins)"),
    post=extend_schema(
        tags=["channels"],
        summary="Connect a platform account (admins); its first poll starts at once",
        request=api.ChannelCreateSerializer,
        responses={201: api.ChannelSerializer},
    ),
)
class ChannelList(generics.ListAPIView):
    permission_classes = [IsChannelAdmin]
    serializer_class = api.ChannelSerializer

    def get_queryset(self) -> Any:
        return selectors.channels_with_quarantine()

    def post(self, request: Request) -> Response:
        serializer = api.ChannelCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel = channel_create(actor=request.user, **serializer.validated_data)  # type: ignore[arg-type]
        return Response(
            api.ChannelSerializer(selectors.channel_with_quarantine(channel.id)).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema(
    tags=["channels"],
    summary="Poll this channel now (admins)",
    request=None,
    responses={202: api.QueuedSerializer},
)
class ChannelPoll(APIView):
    permission_classes = [IsChannelAdmin]

    def post(self, request: Request, channel_id: int) -> Response:
        from channels.tasks import poll

        channel = selectors.channel_with_quarantine(channel_id)
        # The task takes the channel's poll lock: a poll already running makes this a no-op.
        poll.delay(channel.id)
        return Response(
            {"detail": _("A poll of %(name)s is queued.") % {"name": channel.name}},
            status=status.HTTP_202_ACCEPTED,
        )


@extend_schema(tags=["channels"], summary="Health of one channel (admins)")
class ChannelHealth(generics.RetrieveAPIView):
    permission_classes = [IsChannelAdmin]
    serializer_class = api.ChannelHealthSerializer

    def get_object(self) -> Any:
        return selectors.channel_with_quarantine(self.kwargs["channel_id"])
