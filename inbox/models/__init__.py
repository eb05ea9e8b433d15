"""The shared inbox: contacts, conversations, messages, agents and the audit trail.

docs/architecture.md ("Life of a message") explains how rows move through these tables.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from channels.models import Channel


class Person(models.Model):
    """One citizen as the agents know them: an agent links the citizen's accounts on several
    channels (services.contacts_link), so the citizen panel shows all their conversations.
    Nothing is linked automatically: a matching name is no proof of the same person (AVG)."""

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"person {self.pk}"


class Contact(models.Model):
    """A citizen's account on one platform. The same person on X and Mastodon is two rows,
    linked through `person` once an agent has said they are one citizen."""

    class Category(models.TextChoices):
        # Routing rules send press, council members and other VIPs to a team and priority.
        CITIZEN = "citizen", _("Citizen")
        PRESS = "press", _("Press")
        COUNCIL = "council", _("Council member")
        VIP = "vip", _("VIP")

    # No index of its own: contact_unique_per_channel starts with this column, and every index
    # costs each write.
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="contacts", db_index=False
    )
    external_id = models.CharField(max_length=64)
    username = models.CharField(max_length=100, blank=True)
    display_name = models.CharField(max_length=200, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.CITIZEN)
    # An erasure request or retention replaced the names, handle and platform id.
    anonymised_at = models.DateTimeField(null=True, blank=True)
    person = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="contact_unique_per_channel"
            ),
            models.CheckConstraint(
                name="contact_category_valid",
                condition=Q(category__in=["citizen", "press", "council", "vip"]),
            ),
        ]
        indexes = [
            # Search: contacts by word prefixes of name and @handle (inbox/selectors/search.py;
            # 'simple' keeps names unstemmed, and needs no database extension).
            GinIndex(
                SearchVector("display_name", "username", config="simple"),
                name="contact_search_idx",
            ),
        ]

    def __str__(self) -> str:
        if self.anonymised_at is not None:
            # Names, handle and platform id are gone (retention or an erasure request).
            return str(_("Anonymised citizen"))
        return f"@{self.username}" if self.username else self.display_name or self.external_id


class Team(models.Model):
    """A group of agents that handles one kind of question ("Afval & Reiniging").

    Routing rules send conversations to a team; assignment picks among its members.
    The default team catches every conversation no rule claims.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    is_default = models.BooleanField(default=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="webcare_teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="team_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="teammembership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class Tag(models.Model):
    """A label on conversations ("storing", "compliment"), shared by the whole team."""

    name = models.CharField(max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # "Storing" and "storing" are one tag.
            models.UniqueConstraint(Lower("name"), name="tag_unique_name_ci"),
        ]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    """One citizen's thread on one channel, handled as a unit by one agent."""

    class Status(models.TextChoices):
        # Being handled. Whether the citizen awaits our answer is `waiting_since`, not this.
        OPEN = "open", _("Open")
        # The agent waits for the citizen; their next message makes it open again.
        PENDING = "pending", _("Pending")
        # Until `snoozed_until`, when it opens again by itself (or earlier, by a message).
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")

    class Priority(models.IntegerChoices):
        # Integers, so that the queue orders by urgency with a plain ORDER BY.
        LOW = 1, _("Low")
        NORMAL = 2, _("Normal")
        HIGH = 3, _("High")
        URGENT = 4, _("Urgent")

    # No index of its own: conversation_unique_thread starts with this column, and every index
    # costs each write.
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="conversations", db_index=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="conversations")
    # Platform thread key; for X "<conversation_id>:<author id>" (see channels/twitter.py).
    external_thread_id = models.CharField(max_length=200)
    # A direct-message conversation (X DM, Messenger, Mastodon direct): answered privately.
    is_private = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # Set by routing when the conversation starts; transfers change it.
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    # A conversation merged into another one of the same citizen: its thread's new messages
    # go to the other conversation (inbox/services/ingest.py follows this link).
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_from"
    )
    tags = models.ManyToManyField(Tag, through="ConversationTag", related_name="conversations")
    # No index of its own: conversation_agent_inbox_idx starts with this column, and every index
    # costs each write.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        related_name="assigned_conversations",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_inbound_at = models.DateTimeField()
    # When our first reply reached the platform; per care cycle in CareCycle.
    first_response_at = models.DateTimeField(null=True, blank=True)
    # Since when the citizen has been waiting for our answer (oldest unanswered message);
    # null when they are not.
    waiting_since = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField()
    last_activity_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Retention or an erasure request removed its text, names and raw payloads; what the
    # figures need (times, channel, team, tags) stays (inbox/services/privacy.py).
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_thread_id"], name="conversation_unique_thread"
            ),
            models.CheckConstraint(
                name="conversation_status_valid",
                condition=Q(status__in=["open", "pending", "snoozed", "resolved"]),
            ),
            models.CheckConstraint(
                name="conversation_priority_valid", condition=Q(priority__gte=1, priority__lte=4)
            ),
            # The wake-up sweep finds snoozed conversations by their time.
            models.CheckConstraint(
                name="conversation_snoozed_has_until",
                condition=Q(status="snoozed", snoozed_until__isnull=False)
                | (~Q(status="snoozed") & Q(snoozed_until__isnull=True)),
            ),
            models.CheckConstraint(
                name="conversation_not_merged_into_itself", condition=~Q(merged_into=F("id"))
            ),
            models.CheckConstraint(
                name="conversation_assigned_at_with_assignee",
                condition=Q(assignee__isnull=True) | Q(assigned_at__isnull=False),
            ),
        ]
        indexes = [
            # The unassigned queue and the assignment task: most urgent, then longest waiting.
            models.Index(
                F("priority").desc(),
                F("waiting_since"),
                name="conversation_queue_idx",
                condition=Q(status="open", assignee__isnull=True),
            ),
            # The wake-up sweep of snoozed conversations.
            models.Index(
                fields=["snoozed_until"],
                name="conversation_snoozed_idx",
                condition=Q(status="snoozed"),
            ),
            # Capacity: each agent's open conversations are counted on every assignment.
            models.Index(
                fields=["assignee"], name="conversation_open_load_idx", condition=Q(status="open")
            ),
            # An agent's inbox: newest activity first.
            models.Index(
                F("assignee"), F("last_activity_at").desc(), name="conversation_agent_inbox_idx"
            ),
            # Dashboard: conversations that started in the reporting window, per channel.
            models.Index(fields=["channel", "first_inbound_at"], name="conversation_dashboard_idx"),
            # The inbox's queues and their counts read only the conversations that are still
            # work, a few thousand among hundreds of thousands (docs/plans/inbox-all.txt).
            models.Index(
                fields=["assignee", "team"],
                name="conversation_active_idx",
                condition=Q(status__in=["open", "pending", "snoozed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk} with {self.contact}"


class CareCycle(models.Model):
    """One round of care: from the citizen's first message after the conversation was new or
    resolved, to its resolution. Response-time metrics are per cycle (docs/architecture.md,
    "Conversation lifecycle")."""

    # No index of its own: carecycle_unique starts with this column, and every index
    # costs each write.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="care_cycles", db_index=False
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "number"], name="carecycle_unique"),
            # At most one cycle in progress: a reopen while one runs cannot start a second.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(resolved_at__isnull=True),
                name="carecycle_one_current",
            ),
        ]
        indexes = [models.Index(fields=["started_at"], name="carecycle_started_idx")]

    def __str__(self) -> str:
        return f"Cycle {self.number} of conversation {self.conversation_id}"


class ConversationTag(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "tag"], name="conversationtag_unique"),
        ]

    def __str__(self) -> str:
        return f"Tag {self.tag_id} on conversation {self.conversation_id}"


class Note(models.Model):
    """A private note between colleagues on a conversation; never sent to the platform."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = models.TextField(max_length=5000)
    mentioned = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="NoteMention", related_name="mentioned_in_notes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="note_thread_idx"),
            # Search: Dutch full text of internal notes (inbox/selectors/search.py).
            GinIndex(SearchVector("text", config="dutch"), name="note_search_idx"),
        ]

    def __str__(self) -> str:
        return f"Note {self.pk} on conversation {self.conversation_id}"


class NoteMention(models.Model):
    """@username in a note: the colleague sees it under "Mentions" until they read it."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="note_mentions"
    )
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["note", "user"], name="notemention_unique"),
        ]

        indexes = [
            # "Mentions of me" in the inbox: the unread ones.
            models.Index(fields=["user"], name="notemention_unread_idx", condition=Q(read_at=None)),
        ]

    def __str__(self) -> str:
        return f"Mention of {self.user_id} in note {self.note_id}"


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", "From citizen"
        OUTBOUND = "outbound", "From municipality"

    class DeliveryStatus(models.TextChoices):
        # Four-eyes: a trainee's reply, or one with a flagged word, waits for a team lead.
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        # Refused by the team lead, with feedback; never sent.
        REJECTED = "rejected", _("Rejected")
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    # Neither key has an index of its own: message_thread_idx starts with the conversation
    # and message_dashboard_idx with the channel, and every index of this, the biggest
    # table, costs each ingest (docs/performance.md, "Ingest").
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # Denormalised from the conversation so that uniqueness of platform ids is per channel.
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    direction = models.CharField(max_length=16, choices=Direction.choices)
    # The platform's id; null for an outbound reply until the platform has accepted it.
    # NULL, not "", so that the unique constraint lets many unsent replies coexist.
    external_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # The platform id of the message this one answers (outbound replies thread under it).
    in_reply_to_external_id = models.CharField(max_length=64, blank=True)
    author_contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sent_messages",
    )
    text = models.TextField()
    # Sent or received as a private message rather than in public.
    is_private = models.BooleanField(default=False)
    # Media references: [{"url", "kind", "preview_url", "description"}] (inbox/text.py checks
    # that every URL is http(s) before it is stored).
    attachments = models.JSONField(default=list, blank=True)
    # Platform time for inbound; the moment the agent pressed send for outbound.
    sent_at = models.DateTimeField()
    raw = models.JSONField(default=dict, blank=True)

    # NULL for inbound messages, which have no delivery (enforced by message_inbound_shape).
    delivery_status = models.CharField(  # noqa: DJ001
        max_length=20, choices=DeliveryStatus.choices, null=True, blank=True
    )
    delivery_error = models.TextField(blank=True)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # When the queued reply's next attempt is due; a queued row long past it lost its task.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the current delivery attempt was claimed; stuck `sending` rows are found by it.
    sending_started_at = models.DateTimeField(null=True, blank=True)
    # Four-eyes approval (inbox/services/approval.py): why it needed approval, and the review.
    approval_reason = models.CharField(max_length=200, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_feedback = models.TextField(blank=True)
    # Generated by the composer form: a double-submitted form creates one reply, not two.
    idempotency_key = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # What the guards found in an inbound message, set once at ingest: personal data in a
    # public message (inbox/personal_data.py kinds: "bsn", "phone", …) and words of a formal
    # request (inbox/formal_requests.py kinds: "objection", "application", …). Shown in the
    # thread and the inbox, with the matching canned answer offered.
    personal_data_kinds = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    formal_request_kinds = ArrayField(models.CharField(max_length=16), default=list, blank=True)

    class Meta:
        constraints = [
            # Exactly once: a platform message is stored once, however often it is read.
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                name="message_unique_external_id",
                condition=Q(external_id__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                name="message_unique_idempotency_key",
                condition=Q(idempotency_key__isnull=False),
            ),
            models.CheckConstraint(
                name="message_direction_valid", condition=Q(direction__in=["inbound", "outbound"])
            ),
            # Inbound messages come from the platform: they have its id and no delivery state.
            models.CheckConstraint(
                name="message_inbound_shape",
                condition=~Q(direction="inbound")
                | Q(external_id__isnull=False, delivery_status__isnull=True),
            ),
            models.CheckConstraint(
                name="message_outbound_has_delivery_status",
                condition=~Q(direction="outbound")
                | Q(
                    delivery_status__in=[
                        "awaiting_approval",
                        "rejected",
                        "queued",
                        "sending",
                        "sent",
                        "failed",
                    ]
                ),
            ),
            models.CheckConstraint(
                name="message_sent_has_external_id",
                condition=~Q(delivery_status="sent") | Q(external_id__isnull=False),
            ),
            # The dashboard counts replies by the hour they reached the platform.
            models.CheckConstraint(
                name="message_sent_has_delivered_at",
                condition=~Q(delivery_status="sent") | Q(delivered_at__isnull=False),
            ),
        ]
        indexes = [
            # The conversation page reads its thread in order.
            models.Index(fields=["conversation", "sent_at"], name="message_thread_idx"),
            # Dashboard counts of inbound messages per channel in a window.
            models.Index(fields=["channel", "direction", "sent_at"], name="message_dashboard_idx"),
            # The metrics refresh counts replies that reached the platform per hour.
            models.Index(
                fields=["delivered_at"],
                name="message_delivered_idx",
                condition=Q(delivery_status="sent"),
            ),
            # The recovery sweep looks for replies stuck in `sending` or forgotten in `queued`.
            models.Index(
                fields=["sending_started_at"],
                name="message_stuck_sending_idx",
                condition=Q(delivery_status="sending"),
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="message_queued_idx",
                condition=Q(delivery_status="queued"),
            ),
            # The team lead's approval queue.
            models.Index(
                fields=["created_at"],
                name="message_awaiting_approval_idx",
                condition=Q(delivery_status="awaiting_approval"),
            ),
            # The inbox's "formal requests" filter and the dashboard's count of them.
            models.Index(
                fields=["sent_at"],
                name="message_formal_request_idx",
                condition=~Q(formal_request_kinds=[]),
            ),
            # Search: Dutch full text; the selector filters on this very expression
            # (inbox/selectors/search.py).
            GinIndex(SearchVector("text", config="dutch"), name="message_search_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} message {self.pk}"

    @property
    def is_pending_delivery(self) -> bool:
        return self.delivery_status in {self.DeliveryStatus.QUEUED, self.DeliveryStatus.SENDING}


class AgentProfile(models.Model):
    """Webcare-specific facts about a staff member: role, presence and capacity."""

    class Role(models.TextChoices):
        # Nested: each has everything the one before has (inbox/permissions.py).
        # A trainee's replies wait for a team lead's approval (four-eyes).
        TRAINEE = "trainee", _("Trainee")
        AGENT = "agent", _("Agent")
        TEAM_LEAD = "team_lead", _("Team lead")
        ADMINISTRATOR = "administrator", _("Administrator")

    class Presence(models.TextChoices):
        # Takes new conversations.
        AVAILABLE = "available", _("Available")
        # Keeps their conversations but gets no new ones; set after inactivity, too.
        AWAY = "away", _("Away")
        # Gets nothing; their unanswered conversations went back to the queue.
        OFFLINE = "offline", _("Offline")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    presence = models.CharField(max_length=16, choices=Presence.choices, default=Presence.OFFLINE)
    presence_changed_at = models.DateTimeField(null=True, blank=True)
    # Last request in the web UI or API; an available agent idle for longer than
    # WEBCARE_AUTO_AWAY_MINUTES is set away by the presence sweep.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # The most open conversations the agent is assigned automatically.
    capacity = models.PositiveSmallIntegerField(default=8)
    # Ties in free capacity go to the agent assigned to least recently (round robin).
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # Put under replies on channels that sign them (Channel.append_signature); empty means
    # the initials of the name, "^JdV" style (inbox/signatures.py).
    signature = models.CharField(max_length=20, blank=True)
    # The agent's own choices (settings page). Empty language: the browser's, else Dutch.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, blank=True)
    # Newly assigned conversations and @mentions are always shown in the page and counted in
    # the tab title; a sound and a desktop notification are each the agent's own choice.
    notify_on_assignment = models.BooleanField(default=True)
    notify_on_mention = models.BooleanField(default=True)
    notify_sound = models.BooleanField(default=False)
    notify_desktop = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="agentprofile_role_valid",
                condition=Q(role__in=["trainee", "agent", "team_lead", "administrator"]),
            ),
            models.CheckConstraint(
                name="agentprofile_presence_valid",
                condition=Q(presence__in=["available", "away", "offline"]),
            ),
        ]
        indexes = [
            models.Index(
                fields=["last_assigned_at"],
                name="agentprofile_available_idx",
                condition=Q(presence="available"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"

    @property
    def is_available(self) -> bool:
        return self.presence == self.Presence.AVAILABLE

    @property
    def in_training(self) -> bool:
        """A trainee's replies wait for a team lead's approval (four-eyes)."""
        return self.role == self.Role.TRAINEE

    @property
    def is_team_lead(self) -> bool:
        """Team leads and administrators (who have everything a team lead has) lead teams:
        they see every queue and the dashboard, and are assigned only their teams' work."""
        return self.role in (self.Role.TEAM_LEAD, self.Role.ADMINISTRATOR)

    @property
    def is_administrator(self) -> bool:
        return self.role == self.Role.ADMINISTRATOR

    def can(self, permission: str) -> bool:
        """Whether this staff member's role grants `permission` (inbox/permissions.py)."""
        from inbox.permissions import role_has

        return role_has(self.role, permission)


class ConversationReadState(models.Model):
    """When a staff member last opened a conversation: it is unread for them while a citizen
    message arrived after `read_at` (the inbox's unread marker). One row per pair."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "Conversation", on_delete=models.CASCADE, related_name="read_states"
    )
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "conversation"], name="conversationreadstate_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.conversation_id} at {self.read_at}"


class AuditEvent(models.Model):
    """Append-only record of every state change and every sensitive read, written in the
    same transaction as it. A database trigger (migration 0011) refuses UPDATE and DELETE,
    except the SET NULL of a deleted conversation, message, channel or user: the event stays,
    its `data` says what it was about. `data` holds ids, codes and counts, never message
    text, so the trail may outlive the conversations retention removes."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Null when the system acted (poller, assignment task, delivery worker). No index of its
    # own, nor the conversation's: auditevent_actor_idx and auditevent_conversation_idx
    # start with them, and every index costs each of the many writes.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    channel = models.ForeignKey(
        Channel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
        db_index=False,
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="auditevent_conversation_idx"),
            # The audit log viewer's filters (inbox/views/audit_log.py).
            models.Index(fields=["action", "created_at"], name="auditevent_action_idx"),
            models.Index(fields=["actor", "created_at"], name="auditevent_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"


class CannedResponse(models.Model):
    """A standard answer the agent inserts into the composer and can still edit.

    `owner` null: shared (team leads manage it), with everyone or, when `team` is set, with
    that team's members; `owner` set: the owner's own.
    The text may hold the variables of `inbox/canned.py` (`{{ naam }}` …).
    """

    shortcut = models.SlugField(max_length=50)
    title = models.CharField(max_length=100)
    text = models.TextField(max_length=5000)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_responses",
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="canned_responses"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut"]
        constraints = [
            # `/afval-ophaaldag` must name one shared response for the whole team …
            models.UniqueConstraint(
                fields=["shortcut"],
                condition=Q(owner__isnull=True),
                name="cannedresponse_unique_shared_shortcut",
            ),
            # A personal response belongs to its owner, not to a team.
            models.CheckConstraint(
                name="cannedresponse_personal_without_team",
                condition=Q(owner__isnull=True) | Q(team__isnull=True),
            ),
            # … and one personal response per agent (it may shadow a shared one).
            models.UniqueConstraint(
                fields=["owner", "shortcut"],
                condition=Q(owner__isnull=False),
                name="cannedresponse_unique_personal_shortcut",
            ),
        ]

    def __str__(self) -> str:
        return self.shortcut

    @property
    def is_shared(self) -> bool:
        return self.owner_id is None


class RoutingRule(models.Model):
    """Sends a new conversation to a team, with a priority. Rules are tried in `position`
    order; the first whose every set condition matches wins (inbox/routing.py)."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    # Conditions; an empty one matches everything.
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, null=True, blank=True, related_name="routing_rules"
    )
    # Words or #hashtags, one per line or separated by commas; any of them in the first
    # message matches (whole words, case and accents ignored).
    keywords = models.TextField(blank=True)
    contact_category = models.CharField(max_length=16, choices=Contact.Category.choices, blank=True)
    # Outcome.
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="routing_rules")
    priority = models.PositiveSmallIntegerField(
        choices=Conversation.Priority.choices, default=Conversation.Priority.NORMAL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                name="routingrule_priority_valid", condition=Q(priority__gte=1, priority__lte=4)
            ),
        ]

    def __str__(self) -> str:
        return self.name


class FlaggedWord(models.Model):
    """A word that sends any reply containing it to a team lead for approval first."""

    word = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["word"]
        constraints = [
            models.UniqueConstraint(Lower("word"), name="flaggedword_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.word


# The dashboard's settings, facts and rollups (issue 6) live in their own module.
from inbox.models.metrics import (  # noqa: E402
    ClosedDay,
    CycleFact,
    MessageTopic,
    MetricsAgentHour,
    MetricsDirtyConversation,
    MetricsHour,
    MetricsTagHour,
    MetricsTermDay,
    MetricsTopicHour,
    OpeningPeriod,
    ServiceNorm,
    TeamSchedule,
    Topic,
    WaitFact,
)

# Retention, data subject requests and archive exports (issue 7).
from inbox.models.privacy import (  # noqa: E402
    ArchiveExport,
    DataSubjectRequest,
    ErasedPlatformMessage,
    RetentionPolicy,
    RetentionRun,
)

__all__ = [
    "AgentProfile",
    "ArchiveExport",
    "AuditEvent",
    "CannedResponse",
    "CareCycle",
    "ClosedDay",
    "Contact",
    "Conversation",
    "ConversationReadState",
    "ConversationTag",
    "CycleFact",
    "DataSubjectRequest",
    "ErasedPlatformMessage",
    "FlaggedWord",
    "Message",
    "MessageTopic",
    "MetricsAgentHour",
    "MetricsDirtyConversation",
    "MetricsHour",
    "MetricsTagHour",
    "MetricsTermDay",
    "MetricsTopicHour",
    "Note",
    "NoteMention",
    "OpeningPeriod",
    "Person",
    "RetentionPolicy",
    "RetentionRun",
    "RoutingRule",
    "ServiceNorm",
    "Tag",
    "Team",
    "TeamMembership",
    "TeamSchedule",
    "Topic",
    "WaitFact",
]
