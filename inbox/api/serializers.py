"""The API's JSON shapes. Output serializers are read-only views of rows the selectors
loaded; input serializers only check the request's shape (400), the services decide the
rest (409, 403)."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from channels.models import Channel
from inbox import formal_requests, personal_data
from inbox.models import (
    AgentProfile,
    CannedResponse,
    CareCycle,
    Contact,
    Conversation,
    Message,
    Note,
    Tag,
    Team,
)
from inbox.selectors.channel_admin import last_error_masked
from inbox.services.assignment import MAX_CAPACITY

# Ids are PostgreSQL bigints: a larger number cannot name a row.
MAX_ID = 2**63 - 1

PRIORITY_NAMES = {
    Conversation.Priority.LOW: "low",
    Conversation.Priority.NORMAL: "normal",
    Conversation.Priority.HIGH: "high",
    Conversation.Priority.URGENT: "urgent",
}
PRIORITY_BY_NAME = {name: value for value, name in PRIORITY_NAMES.items()}


def id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class PriorityField(serializers.ChoiceField):
    """Priorities by name ("urgent"), stored as the integers the queue orders by."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=list(PRIORITY_BY_NAME), **kwargs)

    def to_representation(self, value: Any) -> str:
        return PRIORITY_NAMES[Conversation.Priority(value)]

    def to_internal_value(self, data: Any) -> int:  # type: ignore[override]
        return int(PRIORITY_BY_NAME[super().to_internal_value(data)])


# The JSON type each kind of field takes. DRF coerces (5 for "5", "true" for true, 12 for
# "12"); the schema promises one type, and a client sending another has a bug worth a 400.
_JSON_TYPES: tuple[tuple[type[serializers.Field], type | tuple[type, ...], str], ...] = (
    (serializers.BooleanField, bool, "boolean"),
    (serializers.IntegerField, int, "integer"),
    (serializers.DictField, dict, "object"),
    (serializers.ListField, list, "array"),
    (serializers.CharField, str, "string"),
    (serializers.ChoiceField, str, "string"),
    (serializers.DateTimeField, str, "string"),
    (serializers.DateField, str, "string"),
)


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    for field_class, python_type, name in _JSON_TYPES:
        if isinstance(field, field_class):
            is_bool = isinstance(value, bool)
            if not isinstance(value, python_type) or (is_bool and python_type is not bool):
                return str(_("Expected a JSON %(type)s.") % {"type": name})
            child = getattr(field, "child", None)
            if isinstance(value, dict) and child is not None:
                for item in value.values():
                    error = _json_type_error(child, item)
                    if error:
                        return error
            return None
    return None


class JsonBodySerializer(serializers.Serializer):
    """A request body's shape, with JSON types checked as the schema states them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            errors = {
                name: [error]
                for name, field in self.fields.items()
                if not field.read_only
                and data.get(name) is not None
                and (error := _json_type_error(field, data[name]))
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


# --- output -------------------------------------------------------------------------------


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)


class TeamBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]
        read_only_fields = fields


class ChannelBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Channel
        fields = ["id", "name", "kind"]
        read_only_fields = fields


class ContactSerializer(serializers.ModelSerializer):
    # Empty when the platform gave none, so not declared as a URI.
    avatar_url = serializers.CharField(read_only=True)

    class Meta:
        model = Contact
        fields = ["id", "username", "display_name", "avatar_url", "category"]
        read_only_fields = fields


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name"]
        read_only_fields = fields


class AuthorSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["citizen", "agent", "municipality"],
        read_only=True,
        help_text="municipality: posted on the platform outside Webcare.",
    )
    user_id = serializers.IntegerField(read_only=True, allow_null=True)
    contact_id = serializers.IntegerField(read_only=True, allow_null=True)
    name = serializers.CharField(read_only=True)


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    # The guards' findings, stored at ingest (docs/architecture.md, "Guards on incoming
    # messages"): kinds only, never the data found.
    personal_data_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=list(personal_data.KINDS)),
        read_only=True,
        help_text="For a citizen's public message: the kinds of personal data it seems to "
        "contain (BSN, phone, e-mail …), so that a reply does not repeat them. Empty for "
        "private messages and our own replies.",
    )
    formal_request_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=list(formal_requests.KINDS)),
        read_only=True,
        help_text="For a citizen's message: the kinds of formal request (objection, "
        "application, Woo request, complaint) it looks like; those have an official route.",
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation_id",
            "direction",
            "text",
            "is_private",
            "attachments",
            "sent_at",
            "author",
            "delivery_status",
            "delivery_error",
            "delivered_at",
            "approval_reason",
            "review_feedback",
            "reviewed_at",
            "personal_data_kinds",
            "formal_request_kinds",
        ]
        read_only_fields = fields

    @extend_schema_field(AuthorSerializer)
    def get_author(self, message: Message) -> dict[str, Any]:
        if message.direction == Message.Direction.INBOUND:
            contact = message.author_contact
            return {
                "kind": "citizen",
                "user_id": None,
                "contact_id": message.author_contact_id,
                "name": str(contact) if contact is not None else "",
            }
        user = message.author_user
        if user is None:
            return {"kind": "municipality", "user_id": None, "contact_id": None, "name": ""}
        return {
            "kind": "agent",
            "user_id": user.pk,
            "contact_id": None,
            "name": user.get_full_name() or user.username,
        }


class NoteSerializer(serializers.ModelSerializer):
    author = UserBriefSerializer(read_only=True, allow_null=True)
    mentioned_user_ids = serializers.SerializerMethodField()

    class Meta:
        model = Note
        fields = ["id", "conversation_id", "author", "text", "mentioned_user_ids", "created_at"]
        read_only_fields = fields

    def get_mentioned_user_ids(self, note: Note) -> list[int]:
        return sorted(mention.user_id for mention in note.mentions.all())


class CareCycleSerializer(serializers.ModelSerializer):
    class Meta:
        model = CareCycle
        fields = ["number", "started_at", "first_response_at", "resolved_at", "resolved_by_id"]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    channel = ChannelBriefSerializer(read_only=True)
    contact = ContactSerializer(read_only=True)
    assignee = UserBriefSerializer(read_only=True, allow_null=True)
    team = TeamBriefSerializer(read_only=True, allow_null=True)
    priority = PriorityField(read_only=True)
    tags = TagSerializer(many=True, read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "channel",
            "contact",
            "is_private",
            "status",
            "priority",
            "snoozed_until",
            "assignee",
            "assigned_at",
            "team",
            "tags",
            "waiting_since",
            "first_inbound_at",
            "first_response_at",
            "last_inbound_at",
            "last_activity_at",
            "merged_into_id",
        ]
        read_only_fields = fields


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, read_only=True)
    notes = NoteSerializer(many=True, read_only=True)
    care_cycles = CareCycleSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages", "notes", "care_cycles"]
        read_only_fields = fields


class CannedResponseSerializer(serializers.ModelSerializer):
    shared = serializers.BooleanField(source="is_shared", read_only=True)
    team = TeamBriefSerializer(read_only=True, allow_null=True)
    rendered_text = serializers.SerializerMethodField(
        help_text="With ?conversation=: the text with that conversation's variables filled in."
    )
    unknown_variables = serializers.SerializerMethodField()

    class Meta:
        model = CannedResponse
        fields = [
            "id",
            "shortcut",
            "title",
            "text",
            "shared",
            "team",
            "owner_id",
            "rendered_text",
            "unknown_variables",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _rendered(self, response: CannedResponse) -> Any:
        values = self.context.get("canned_values")
        if values is None:
            return None
        from inbox import canned

        return canned.render_text(response.text, values)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_rendered_text(self, response: CannedResponse) -> str | None:
        rendered = self._rendered(response)
        return rendered.text if rendered is not None else None

    def get_unknown_variables(self, response: CannedResponse) -> list[str]:
        rendered = self._rendered(response)
        return list(rendered.unknown) if rendered is not None else []


class AgentSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="user_id", read_only=True, help_text="The user id.")
    username = serializers.CharField(source="user.username", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    load = serializers.IntegerField(read_only=True, help_text="Open conversations assigned.")
    teams = serializers.SerializerMethodField()

    class Meta:
        model = AgentProfile
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "role",
            "presence",
            "presence_changed_at",
            "last_seen_at",
            "capacity",
            "load",
            "in_training",
            "teams",
        ]
        read_only_fields = fields

    @extend_schema_field(TeamBriefSerializer(many=True))
    def get_teams(self, profile: AgentProfile) -> list[dict[str, Any]]:
        return [
            {"id": membership.team_id, "name": membership.team.name}
            for membership in profile.user.team_memberships.all()
        ]


class TeamSerializer(serializers.ModelSerializer):
    member_ids = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "description", "is_default", "member_ids"]
        read_only_fields = fields

    def get_member_ids(self, team: Team) -> list[int]:
        return [membership.user_id for membership in team.memberships.all()]


class PresenceSerializer(JsonBodySerializer):
    presence = serializers.ChoiceField(choices=AgentProfile.Presence.choices)
    presence_changed_at = serializers.DateTimeField(read_only=True, allow_null=True)


class _MaskedLastErrorMixin(serializers.Serializer):
    last_error = serializers.SerializerMethodField(
        help_text="The last poll error, with tokens and secrets masked (••••••••)."
    )

    def get_last_error(self, channel: Channel) -> str:
        return last_error_masked(channel)


class ChannelSerializer(_MaskedLastErrorMixin, serializers.ModelSerializer):
    open_quarantine = serializers.IntegerField(
        read_only=True, help_text="Unreadable platform items waiting for an admin."
    )

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "kind",
            "account_id",
            "account_handle",
            "api_base_url",
            "is_active",
            "poll_interval_seconds",
            "history_days",
            "append_signature",
            "health",
            "last_error",
            "last_error_at",
            "last_polled_at",
            "last_success_at",
            "paused_until",
            "open_quarantine",
            "created_at",
        ]
        read_only_fields = fields


class ChannelHealthSerializer(_MaskedLastErrorMixin, serializers.ModelSerializer):
    open_quarantine = serializers.IntegerField(read_only=True)

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "is_active",
            "health",
            "last_error",
            "last_error_at",
            "last_polled_at",
            "last_success_at",
            "paused_until",
            "open_quarantine",
        ]
        read_only_fields = fields


class QueuedSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)


# --- input --------------------------------------------------------------------------------


def _text(max_length: int, **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, trim_whitespace=True, **kwargs)


class ConversationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    assignee = serializers.RegexField(
        r"^(me|none|[1-9][0-9]{0,17})$",
        required=False,
        help_text="me, none (unassigned) or a user id.",
    )
    team = id_field(required=False)
    channel = id_field(required=False)
    priority = PriorityField(required=False)
    tag = _text(50, required=False, help_text="A tag's name (case does not matter).")
    waiting = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Whether the citizen awaits our answer.",
    )
    q = _text(200, required=False, help_text="Text in the messages, or the contact's name.")


class ReplyCreateSerializer(JsonBodySerializer):
    text = _text(10_000)
    visibility = serializers.ChoiceField(choices=["public", "private"], default="public")
    seen_message_id = id_field(
        required=False,
        allow_null=True,
        help_text="The newest message the agent has seen; newer ones make this a 409.",
    )
    confirm_newer = serializers.BooleanField(
        default=False, help_text="Send even though messages arrived after seen_message_id."
    )
    confirmed_personal_data = serializers.BooleanField(
        default=False,
        help_text=(
            "Send a public reply even though its text looks like personal data (BSN, phone, "
            "e-mail, address, IBAN): it is not personal, or the citizen published it. Without "
            "it such a reply is a 409 with code `personal_data`."
        ),
    )
    personal_data_reason = _text(
        300,
        allow_blank=True,
        default="",
        help_text=(
            'Why the personal data may be public (at least 5 characters, e.g. "the citizen '
            'published it themselves"); required with confirmed_personal_data, kept in the '
            "audit trail. Without it such a reply is a 409 with code `personal_data`."
        ),
    )


class ReplyApproveSerializer(JsonBodySerializer):
    text = _text(10_000, required=False, help_text="The reply edited by the team lead.")


class ReplyRejectSerializer(JsonBodySerializer):
    feedback = _text(2000)


class UserIdSerializer(JsonBodySerializer):
    user_id = id_field()


class TransferSerializer(JsonBodySerializer):
    user_id = id_field(required=False, allow_null=True)
    team_id = id_field(required=False, allow_null=True)
    note = _text(5000, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("user_id") is None and attrs.get("team_id") is None:
            raise serializers.ValidationError(_("Give a user_id or a team_id to transfer to."))
        return attrs


class SnoozeSerializer(JsonBodySerializer):
    until = serializers.DateTimeField()


class PrioritySerializer(JsonBodySerializer):
    priority = PriorityField()


class MergeSerializer(JsonBodySerializer):
    into_id = id_field(help_text="The conversation this one is merged into.")


class NoteCreateSerializer(JsonBodySerializer):
    text = _text(5000)


class TagAddSerializer(JsonBodySerializer):
    name = _text(50)


class CannedResponseCreateSerializer(JsonBodySerializer):
    shortcut = serializers.SlugField(max_length=50)
    title = _text(100)
    text = _text(5000)
    shared = serializers.BooleanField(default=False)
    team_id = id_field(required=False, allow_null=True)


class CannedResponseUpdateSerializer(JsonBodySerializer):
    shortcut = serializers.SlugField(max_length=50, required=False)
    title = _text(100, required=False)
    text = _text(5000, required=False)
    team_id = id_field(required=False, allow_null=True)


class CannedFilterSerializer(serializers.Serializer):
    q = _text(100, required=False, allow_blank=True)
    conversation = id_field(
        required=False, help_text="Fill in the variables for this conversation."
    )


class AgentUpdateSerializer(JsonBodySerializer):
    capacity = serializers.IntegerField(min_value=0, max_value=MAX_CAPACITY, required=False)
    in_training = serializers.BooleanField(required=False)


class ChannelCreateSerializer(JsonBodySerializer):
    kind = serializers.ChoiceField(choices=Channel.Kind.choices)
    name = serializers.SlugField(max_length=64)
    account_id = _text(64)
    account_handle = _text(100, required=False, allow_blank=True, default="")
    api_base_url = serializers.URLField(
        max_length=300,
        required=False,
        allow_blank=True,
        default="",
        help_text="Empty: the platform's own API.",
    )
    credentials = serializers.DictField(
        child=serializers.CharField(max_length=2000, trim_whitespace=False),
        help_text="The client library's parameter names, e.g. access_token.",
    )
    poll_interval_seconds = serializers.IntegerField(min_value=10, max_value=86_400, default=60)
    history_days = serializers.IntegerField(min_value=1, max_value=30, default=7)
    append_signature = serializers.BooleanField(default=False)

    def validate_credentials(self, credentials: dict[str, str]) -> dict[str, str]:
        # Names go into the audit trail; the service says which ones the platform needs.
        for name in credentials:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", name):
                raise serializers.ValidationError(
                    _("Credential names are lowercase words like access_token.")
                )
        return credentials
