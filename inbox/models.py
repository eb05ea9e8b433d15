"""The shared inbox: contacts, conversations, messages, agents and the audit trail.

docs/architecture.md ("Life of a message") explains how rows move through these tables.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from channels.models import Channel


class Contact(models.Model):
    """A citizen's account on one platform. The same person on X and Mastodon is two rows."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="contacts")
    external_id = models.CharField(max_length=64)
    username = models.CharField(max_length=100, blank=True)
    display_name = models.CharField(max_length=200, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="contact_unique_per_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else self.display_name or self.external_id


class Conversation(models.Model):
    """One citizen's thread on one channel, handled as a unit by one agent."""

    class Status(models.TextChoices):
        # The citizen wrote and has not had an answer since.
        WAITING = "waiting", "Waiting"
        # Our last reply reached the platform after the citizen's last message.
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="conversations")
    # Platform thread key; for X "<conversation_id>:<author id>" (see channels/twitter.py).
    external_thread_id = models.CharField(max_length=200)
    # A direct-message conversation (X DM, Messenger, Mastodon direct): answered privately.
    is_private = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_inbound_at = models.DateTimeField()
    # When our first reply reached the platform; the basis of first-response-time metrics.
    first_response_at = models.DateTimeField(null=True, blank=True)
    # Since when the citizen has been waiting (oldest unanswered message); null when not waiting.
    waiting_since = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField()
    last_activity_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_thread_id"], name="conversation_unique_thread"
            ),
            models.CheckConstraint(
                name="conversation_status_valid",
                condition=Q(status__in=["waiting", "answered", "closed"]),
            ),
            # The queue orders by waiting_since: a waiting conversation must have one.
            models.CheckConstraint(
                name="conversation_waiting_has_since",
                condition=~Q(status="waiting") | Q(waiting_since__isnull=False),
            ),
            models.CheckConstraint(
                name="conversation_assigned_at_with_assignee",
                condition=Q(assignee__isnull=True) | Q(assigned_at__isnull=False),
            ),
        ]
        indexes = [
            # The unassigned queue and the assignment task: oldest waiting first.
            models.Index(
                fields=["waiting_since"],
                name="conversation_queue_idx",
                condition=Q(status="waiting", assignee__isnull=True),
            ),
            # An agent's inbox: newest activity first.
            models.Index(
                F("assignee"), F("last_activity_at").desc(), name="conversation_agent_inbox_idx"
            ),
            # Dashboard: conversations that started in the reporting window, per channel.
            models.Index(fields=["channel", "first_inbound_at"], name="conversation_dashboard_idx"),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk} with {self.contact}"


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", "From citizen"
        OUTBOUND = "outbound", "From municipality"

    class DeliveryStatus(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    # Denormalised from the conversation so that uniqueness of platform ids is per channel.
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="messages")
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
        max_length=16, choices=DeliveryStatus.choices, null=True, blank=True
    )
    delivery_error = models.TextField(blank=True)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # When the queued reply's next attempt is due; a queued row long past it lost its task.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the current delivery attempt was claimed; stuck `sending` rows are found by it.
    sending_started_at = models.DateTimeField(null=True, blank=True)
    # Generated by the composer form: a double-submitted form creates one reply, not two.
    idempotency_key = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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
                | Q(delivery_status__in=["queued", "sending", "sent", "failed"]),
            ),
            models.CheckConstraint(
                name="message_sent_has_external_id",
                condition=~Q(delivery_status="sent") | Q(external_id__isnull=False),
            ),
        ]
        indexes = [
            # The conversation page reads its thread in order.
            models.Index(fields=["conversation", "sent_at"], name="message_thread_idx"),
            # Dashboard counts of inbound messages per channel in a window.
            models.Index(fields=["channel", "direction", "sent_at"], name="message_dashboard_idx"),
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
        ]

    def __str__(self) -> str:
        return f"{self.direction} message {self.pk}"

    @property
    def is_pending_delivery(self) -> bool:
        return self.delivery_status in {self.DeliveryStatus.QUEUED, self.DeliveryStatus.SENDING}


class AgentProfile(models.Model):
    """Webcare-specific facts about a staff member: role and whether they take work now."""

    class Role(models.TextChoices):
        AGENT = "agent", "Agent"
        TEAM_LEAD = "team_lead", "Team lead"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    is_on_duty = models.BooleanField(default=False)
    # Round robin: the on-duty agent who was assigned to least recently goes next.
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # Put under replies on channels that sign them (Channel.append_signature); empty means
    # the initials of the name, "^JdV" style (inbox/signatures.py).
    signature = models.CharField(max_length=20, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="agentprofile_role_valid", condition=Q(role__in=["agent", "team_lead"])
            ),
        ]
        indexes = [
            models.Index(
                fields=["last_assigned_at"],
                name="agentprofile_on_duty_idx",
                condition=Q(is_on_duty=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class AuditEvent(models.Model):
    """Append-only record of every state change, written in the same transaction as it."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Null when the system acted (poller, assignment task, delivery worker).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    channel = models.ForeignKey(
        Channel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="auditevent_conversation_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"


class CannedResponse(models.Model):
    """A standard answer the agent inserts into the composer and can still edit.

    `owner` null: shared with the whole team (team leads manage it); set: the owner's own.
    Team-scoped responses come with teams (issue 4); there is no team field yet.
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
