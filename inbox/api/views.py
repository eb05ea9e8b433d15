"""Endpoints of /api/v1/ for the inbox. Like the pages: check access (permissions.py),
call one service or selector, answer. Every write goes through `inbox.services`; their
refusals become 409, their PermissionDenied 403 (exceptions.py)."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox import canned, services
from inbox.api import serializers as api
from inbox.api.pagination import AgentCursorPagination, OldestFirstCursorPagination
from inbox.api.permissions import IsStaff, IsTeamLead, staff_profile, staff_user
from inbox.selectors import api as selectors


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _query_params(request: Request) -> dict[str, str]:
    """The query parameters as the filter serializers should see them: each given once, and
    an empty value kept (a QueryDict makes DRF skip `?status=` as if it were absent)."""
    repeated = sorted(name for name, values in request.query_params.lists() if len(values) > 1)
    if repeated:
        raise ValidationError(
            {name: [_("Give each parameter once, with a value.")] for name in repeated}
        )
    return request.query_params.dict()


def _conversation(conversation_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
    conversation = selectors.conversation_summary(conversation_id)
    return Response(api.ConversationSerializer(conversation).data, status=status_code)


def _message(message_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(
        api.MessageSerializer(selectors.message_get(message_id)).data, status=status_code
    )


# --- conversations -------------------------------------------------------------------------


@extend_schema(
    tags=["conversations"],
    summary="Conversations, newest first, filtered",
    parameters=[api.ConversationFilterSerializer],
)
class ConversationList(generics.ListAPIView):
    """Conversations, newest first, filtered by the query parameters."""

    serializer_class = api.ConversationSerializer

    def get_queryset(self) -> Any:
        filters = _valid(api.ConversationFilterSerializer, _query_params(self.request))
        return selectors.conversations_filtered(
            user=staff_user(self.request),
            filters=selectors.ConversationFilters(
                status=filters.get("status"),
                assignee=filters.get("assignee"),
                team_id=filters.get("team"),
                channel_id=filters.get("channel"),
                priority=filters.get("priority"),
                tag=filters.get("tag"),
                waiting=filters.get("waiting"),
                query=filters.get("q"),
            ),
        )


@extend_schema(
    tags=["conversations"],
    summary="One conversation with messages, notes, tags and care cycles",
    responses=api.ConversationDetailSerializer,
)
class ConversationDetail(APIView):
    """One conversation with its messages (oldest first), notes, tags and care cycles."""

    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = selectors.conversation_in_full(conversation_id)
        return Response(api.ConversationDetailSerializer(conversation).data)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.UUID,
    OpenApiParameter.HEADER,
    required=False,
    description="Sending the same key again returns the first reply instead of a second one.",
)


@extend_schema(
    tags=["replies"],
    summary="Reply to the citizen (public or private)",
    request=api.ReplyCreateSerializer,
    responses={201: api.MessageSerializer},
    parameters=[IDEMPOTENCY_KEY],
)
class ReplyCreate(APIView):
    """Queue a reply. The answer is the outbound message with its delivery_status
    (`queued`, or `awaiting_approval` for a trainee's reply); poll /messages/{id}/ for
    `sent` or `failed`."""

    def post(self, request: Request, conversation_id: int) -> Response:
        data = _valid(api.ReplyCreateSerializer, request.data)
        message = services.reply_create(
            conversation_id=conversation_id,
            actor=staff_user(request),
            text=data["text"],
            idempotency_key=_idempotency_key(request),
            private=data["visibility"] == "private",
            seen_message_id=data.get("seen_message_id"),
            confirmed_despite_newer=data["confirm_newer"],
            confirmed_personal_data=data["confirmed_personal_data"],
            personal_data_reason=data["personal_data_reason"],
        )
        return _message(message.id, status_code=status.HTTP_201_CREATED)


def _idempotency_key(request: Request) -> uuid.UUID:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        # Without a key every request is a new reply, as the caller asked.
        return uuid.uuid4()
    try:
        return uuid.UUID(raw.strip())
    except ValueError as error:
        raise ValidationError(
            {"Idempotency-Key": [_("The Idempotency-Key header must be a UUID.")]}
        ) from error


@extend_schema(
    tags=["replies"],
    summary="One message (poll its delivery_status)",
    responses=api.MessageSerializer,
)
class MessageDetail(APIView):
    """One message; poll it for an outbound reply's delivery_status."""

    def get(self, request: Request, message_id: int) -> Response:
        return _message(message_id)


class _ConversationAction(APIView):
    """POST an action on a conversation; the answer is the conversation afterwards."""

    input_serializer: type[serializers.Serializer] | None = None

    def perform(self, request: Request, conversation_id: int, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def post(self, request: Request, conversation_id: int) -> Response:
        data = _valid(self.input_serializer, request.data) if self.input_serializer else {}
        self.perform(request, conversation_id, data)
        return _conversation(conversation_id)


def _action_schema(summary: str, request: type[serializers.Serializer] | None = None) -> Any:
    return extend_schema_view(
        post=extend_schema(
            tags=["conversations"],
            summary=summary,
            request=request,
            responses=api.ConversationSerializer,
        )
    )


@_action_schema("Take an unassigned conversation")
class ConversationTake(_ConversationAction):
    def perform(self, request: Request, conversation_id: int, data: dict[str, Any]) -> None:
        services.conversation_take(conversation_id=conversation_id, actor=staff_user(request))


@_action_schema("Assign to a colleague (team leads)", api.UserIdSerializer)
class ConversationAssign(_ConversationAction):
    permission_classes = [IsTeamLead]
    input_serializer = api.UserIdSerializer

    def perform(self, request: Request, conversation_id: int, data: dict[str, Any]) -> None:
        services.conversation_transfer(
            conversation_id=conversation_id, actor=staff_user(request), to_user_id=data["user_id"]
        )


@_action_schema("Transfer to a colleague or a team, with a note", api.TransferSerializer)
class ConversationTransfer(_ConversationAction):
    input_serializer = api.TransferSerializer

    def perform(self, request: Request, conversation_id: int, data: dict[str, Any]) -> None:
        services.conversation_transfer(
            conversation_id=conversation_id,
            actor=staff_user(request),
            to_user_id=data.get("user_id"),
            to_team_id=data.get("team_id"),
            note=data.get("note", ""),
        )


@_action_schema("Put back in the queue")
class ConversationUnassign(_ConversationAction):
    def perform(self, request: Request, conversation_id: int, data: dict[str, Any]) -> None:
        services.conversation_unassign(conversation_id=conversation_id, actor=staff_user(request))


@_action_schema("Resolve (ends the care cycle)")
class ConversationResolve(_ConversationAction):
    def perform(self, request: Request, conversation_id: int, data: dict[str, Any]) -> None:
        services.conversation_resolve(conversation_id=conversation_id, actor=staff_user(request))


@_action_schema("Pending: waiting for the citizen")
class ConversationPending(_ConversationAction):
    def perform(self, request: Request, conversation_id: int, data: dict[str, Any]) -> None:
        services.conversation_mark_pending(
            conversation_id=conversation_id, actor=staff_user(request)
        )


@_action_schema("Reopen")
class ConversationReopen(_ConversationAction):
    def perform(self, request: Request, conversation_id: int, data: dict[str, Any]) -> None:
        services.conversation_reopen(conversation_id=conversation_id, actor=staff_user(request))


@_action_schema("Snooze until a moment (opens again by itself)", api.SnoozeSerializer)
class ConversationSnooze(_ConversationAction):
    input_serializer = api.SnoozeSerializer

    def perform(self, request: Request, conversation_id: int, data: dict[str, Any]) -> None:
        services.conversation_snooze(
            conversation_id=conversation_id, actor=staff_user(request), until=data["until"]
        )


@_action_schema("Set the priority", api.PrioritySerializer)
class ConversationPriority(_ConversationAction):
    input_serializer = api.PrioritySerializer

    def perform(self, request: Request, conversation_id: int, data: dict[str, Any]) -> None:
        services.conversation_set_priority(
            conversation_id=conversation_id, actor=staff_user(request), priority=data["priority"]
        )


@extend_schema_view(
    post=extend_schema(
        tags=["conversations"],
        summary="Merge into another conversation of the same citizen",
        request=api.MergeSerializer,
        responses=api.ConversationSerializer,
    )
)
class ConversationMerge(APIView):
    """The answer is the conversation merged into (where the thread continues)."""

    def post(self, request: Request, conversation_id: int) -> Response:
        data = _valid(api.MergeSerializer, request.data)
        target = services.conversations_merge(
            source_id=conversation_id, target_id=data["into_id"], actor=staff_user(request)
        )
        return _conversation(target.id)


@extend_schema_view(
    get=extend_schema(tags=["notes"], summary="The conversation's internal notes"),
    post=extend_schema(
        tags=["notes"],
        summary="Add an internal note (@username mentions a colleague)",
        request=api.NoteCreateSerializer,
        responses={201: api.NoteSerializer},
    ),
)
class ConversationNotes(generics.ListAPIView):
    serializer_class = api.NoteSerializer
    pagination_class = OldestFirstCursorPagination

    def get_queryset(self) -> Any:
        return selectors.conversation_notes(self.kwargs["conversation_id"])

    def post(self, request: Request, conversation_id: int) -> Response:
        data = _valid(api.NoteCreateSerializer, request.data)
        note = services.note_create(
            conversation_id=conversation_id, actor=staff_user(request), text=data["text"]
        )
        return Response(
            api.NoteSerializer(selectors.note_get(note.pk)).data, status=status.HTTP_201_CREATED
        )


@extend_schema(
    tags=["conversations"],
    summary="Tag the conversation (the tag is created if it is new)",
    request=api.TagAddSerializer,
    responses={201: api.TagSerializer},
)
class ConversationTagAdd(APIView):
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _valid(api.TagAddSerializer, request.data)
        tag = services.conversation_tag(
            conversation_id=conversation_id, actor=staff_user(request), name=data["name"]
        )
        return Response(api.TagSerializer(tag).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["conversations"], summary="Remove a tag", responses={204: None})
class ConversationTagRemove(APIView):
    def delete(self, request: Request, conversation_id: int, tag_id: int) -> Response:
        services.conversation_untag(
            conversation_id=conversation_id, actor=staff_user(request), tag_id=tag_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- four-eyes approval --------------------------------------------------------------------


@extend_schema(tags=["replies"], summary="Replies waiting for a team lead (team leads)")
class RepliesAwaitingApproval(generics.ListAPIView):
    permission_classes = [IsTeamLead]
    serializer_class = api.MessageSerializer
    pagination_class = OldestFirstCursorPagination

    def get_queryset(self) -> Any:
        return selectors.replies_awaiting_approval()


@extend_schema(
    tags=["replies"],
    summary="Approve a reply, possibly edited; it is queued (team leads)",
    request=api.ReplyApproveSerializer,
    responses=api.MessageSerializer,
)
class ReplyApprove(APIView):
    permission_classes = [IsTeamLead]

    def post(self, request: Request, message_id: int) -> Response:
        data = _valid(api.ReplyApproveSerializer, request.data)
        services.reply_approve(
            message_id=message_id, actor=staff_user(request), text=data.get("text")
        )
        return _message(message_id)


@extend_schema(
    tags=["replies"],
    summary="Reject a reply with feedback for its author (team leads)",
    request=api.ReplyRejectSerializer,
    responses=api.MessageSerializer,
)
class ReplyReject(APIView):
    permission_classes = [IsTeamLead]

    def post(self, request: Request, message_id: int) -> Response:
        data = _valid(api.ReplyRejectSerializer, request.data)
        services.reply_reject(
            message_id=message_id, actor=staff_user(request), feedback=data["feedback"]
        )
        return _message(message_id)


# --- canned responses ----------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        tags=["canned responses"],
        summary="Canned responses you may use (team leads: every shared one)",
        parameters=[api.CannedFilterSerializer],
    ),
    post=extend_schema(
        tags=["canned responses"],
        summary="Create a personal one, or a shared one (team leads)",
        request=api.CannedResponseCreateSerializer,
        responses={201: api.CannedResponseSerializer},
    ),
)
class CannedResponseList(generics.ListAPIView):
    serializer_class = api.CannedResponseSerializer

    def get_queryset(self) -> Any:
        filters = _valid(api.CannedFilterSerializer, _query_params(self.request))
        return selectors.canned_responses_listed(
            user=staff_user(self.request),
            role=staff_profile(self.request).role,
            query=filters.get("q", ""),
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        conversation_id = self.request.query_params.get("conversation")
        if conversation_id is not None:
            # Validated in get_queryset, which runs first.
            conversation = selectors.conversation_summary(int(conversation_id))
            context["canned_values"] = canned.variables_for(
                contact=conversation.contact, agent=staff_user(self.request)
            )
        return context

    def post(self, request: Request) -> Response:
        data = _valid(api.CannedResponseCreateSerializer, request.data)
        response = services.canned_response_create(
            actor=staff_user(request),
            shortcut=data["shortcut"],
            title=data["title"],
            text=data["text"],
            shared=data["shared"],
            team_id=data.get("team_id"),
        )
        return Response(api.CannedResponseSerializer(response).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(tags=["canned responses"], summary="One canned response"),
    patch=extend_schema(
        tags=["canned responses"],
        summary="Change shortcut, title, text or team",
        request=api.CannedResponseUpdateSerializer,
        responses=api.CannedResponseSerializer,
    ),
    delete=extend_schema(
        tags=["canned responses"], summary="Delete a canned response", responses={204: None}
    ),
)
class CannedResponseDetail(APIView):
    """One canned response you may see; another's personal one is a 404."""

    def _visible(self, request: Request, canned_response_id: int) -> Any:
        return (
            selectors.canned_responses_listed(
                user=staff_user(request), role=staff_profile(request).role
            )
            .filter(pk=canned_response_id)
            .get()
        )

    @extend_schema(responses=api.CannedResponseSerializer)
    def get(self, request: Request, canned_response_id: int) -> Response:
        return Response(
            api.CannedResponseSerializer(self._visible(request, canned_response_id)).data
        )

    def patch(self, request: Request, canned_response_id: int) -> Response:
        current = self._visible(request, canned_response_id)
        data = _valid(api.CannedResponseUpdateSerializer, request.data)
        team_change = {"team_id": data["team_id"]} if "team_id" in data else {}
        response = services.canned_response_update(
            actor=staff_user(request),
            canned_response_id=current.pk,
            shortcut=data.get("shortcut", current.shortcut),
            title=data.get("title", current.title),
            text=data.get("text", current.text),
            **team_change,
        )
        return Response(api.CannedResponseSerializer(response).data)

    def delete(self, request: Request, canned_response_id: int) -> Response:
        current = self._visible(request, canned_response_id)
        services.canned_response_delete(actor=staff_user(request), canned_response_id=current.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- agents and teams ----------------------------------------------------------------------


@extend_schema(tags=["agents"], summary="The team: presence, capacity, load, teams")
class AgentList(generics.ListAPIView):
    serializer_class = api.AgentSerializer
    pagination_class = AgentCursorPagination

    def get_queryset(self) -> Any:
        return selectors.agents_with_load()


@extend_schema_view(
    get=extend_schema(tags=["agents"], summary="One team member", responses=api.AgentSerializer),
    patch=extend_schema(
        tags=["agents"],
        summary="Set capacity and training (team leads)",
        request=api.AgentUpdateSerializer,
        responses=api.AgentSerializer,
    ),
)
class AgentDetail(APIView):
    def get_permissions(self) -> list[Any]:
        if self.request.method == "PATCH":
            return [IsTeamLead()]
        return [IsStaff()]

    def get(self, request: Request, user_id: int) -> Response:
        return Response(api.AgentSerializer(selectors.agent_with_load(user_id)).data)

    def patch(self, request: Request, user_id: int) -> Response:
        selectors.agent_with_load(user_id)  # 404 for someone not on the team
        data = _valid(api.AgentUpdateSerializer, request.data)
        services.agent_update_settings(
            actor=staff_user(request),
            user_id=user_id,
            capacity=data.get("capacity"),
            in_training=data.get("in_training"),
        )
        return Response(api.AgentSerializer(selectors.agent_with_load(user_id)).data)


@extend_schema_view(
    get=extend_schema(tags=["agents"], summary="Your presence", responses=api.PresenceSerializer),
    put=extend_schema(
        tags=["agents"],
        summary="Set your presence (offline returns your unanswered conversations)",
        request=api.PresenceSerializer,
        responses=api.PresenceSerializer,
    ),
)
class MyPresence(APIView):
    def get(self, request: Request) -> Response:
        return Response(api.PresenceSerializer(staff_profile(request)).data)

    def put(self, request: Request) -> Response:
        data = _valid(api.PresenceSerializer, request.data)
        profile = services.agent_set_presence(actor=staff_user(request), presence=data["presence"])
        return Response(api.PresenceSerializer(profile).data)


@extend_schema(tags=["agents"], summary="Teams and their members' user ids")
class TeamList(generics.ListAPIView):
    serializer_class = api.TeamSerializer
    pagination_class = OldestFirstCursorPagination

    def get_queryset(self) -> Any:
        return selectors.teams_with_members()
