"""The team lead's figures: opening hours, service norms, topics, and the derived tables the
dashboard reads (docs/metrics.md defines every figure; docs/architecture.md, "Dashboard and
metrics", says how these tables are kept up to date).

Three kinds of table live here:
- settings people edit: TeamSchedule, OpeningPeriod, ClosedDay, ServiceNorm, Topic;
- facts, derived from a conversation's history by inbox/metrics/facts.py and rebuilt (never
  edited) whenever the conversation changes: WaitFact, CycleFact, MessageTopic;
- rollups, counts per hour (or day) rebuilt from messages and facts: Metrics*Hour,
  MetricsTermDay. The dashboard reads these, never the whole message table.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from channels.models import Channel

# --- settings people edit -------------------------------------------------------------------


class TeamSchedule(models.Model):
    """A team's opening hours. Working-time figures and service norms on the working-time clock
    count only these hours (inbox/metrics/working_time.py). A team without a schedule, and a
    conversation without a team, use the default hours (Monday to Friday 08:30-17:00, Dutch
    public holidays closed)."""

    team = models.OneToOneField("inbox.Team", on_delete=models.CASCADE, related_name="schedule")
    # Closed on the Dutch public holidays of the `holidays` package (NL): New Year, Good
    # Friday, Easter, King's Day, Liberation Day in lustrum years, Ascension, Whitsun, Christmas.
    observes_public_holidays = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"Opening hours of team {self.team_id}"


class OpeningPeriod(models.Model):
    """One opening stretch on a weekday, in Europe/Amsterdam wall-clock time, as minutes since
    midnight: 08:30-17:00 is 510-1020. A day may have several (an evening shift 19:00-21:00);
    a shift past midnight is two periods, one on each day. 1440 closes at midnight."""

    schedule = models.ForeignKey(TeamSchedule, on_delete=models.CASCADE, related_name="periods")
    # 0 = Monday, as date.weekday().
    weekday = models.PositiveSmallIntegerField()
    opens_minute = models.PositiveSmallIntegerField()
    closes_minute = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["weekday", "opens_minute"]
        constraints = [
            models.CheckConstraint(
                name="openingperiod_weekday_valid", condition=Q(weekday__gte=0, weekday__lte=6)
            ),
            models.CheckConstraint(
                name="openingperiod_times_valid",
                condition=Q(opens_minute__gte=0)
                & Q(closes_minute__lte=1440)
                & Q(opens_minute__lt=models.F("closes_minute")),
            ),
        ]

    def __str__(self) -> str:
        return f"day {self.weekday} {self.opens_minute}-{self.closes_minute}"


class ClosedDay(models.Model):
    """A day the team is closed besides the public holidays (the day after Ascension, a
    municipal 'brugdag')."""

    schedule = models.ForeignKey(TeamSchedule, on_delete=models.CASCADE, related_name="closed_days")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "date"], name="closedday_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.date} closed"


class ServiceNorm(models.Model):
    """A service level the municipality promises, "first response within 1 working hour".

    A figure (a wait or a care cycle) is measured against the first active norm, by
    `position`, for its metric whose every set condition matches (inbox/metrics/norms.py).
    """

    class Metric(models.TextChoices):
        FIRST_RESPONSE = "first_response", _("First response")
        NEXT_RESPONSE = "next_response", _("Next response")
        RESOLUTION = "resolution", _("Resolution")

    class Clock(models.TextChoices):
        WORKING = "working", _("Working time")
        CALENDAR = "calendar", _("Calendar time")

    class Visibility(models.TextChoices):
        ANY = "any", _("Public and private")
        PUBLIC = "public", _("Public only")
        PRIVATE = "private", _("Private messages only")

    name = models.CharField(max_length=100)
    metric = models.CharField(max_length=20, choices=Metric.choices)
    position = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    # Conditions; empty matches everything.
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, null=True, blank=True, related_name="service_norms"
    )
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.ANY)
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    # The promise.
    target_minutes = models.PositiveIntegerField()
    clock = models.CharField(max_length=8, choices=Clock.choices, default=Clock.WORKING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                name="servicenorm_metric_valid",
                condition=Q(metric__in=["first_response", "next_response", "resolution"]),
            ),
            models.CheckConstraint(
                name="servicenorm_clock_valid", condition=Q(clock__in=["working", "calendar"])
            ),
            models.CheckConstraint(
                name="servicenorm_visibility_valid",
                condition=Q(visibility__in=["any", "public", "private"]),
            ),
            models.CheckConstraint(
                name="servicenorm_priority_valid",
                condition=Q(priority__isnull=True) | Q(priority__gte=1, priority__lte=4),
            ),
            models.CheckConstraint(
                name="servicenorm_target_positive", condition=Q(target_minutes__gte=1)
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Topic(models.Model):
    """What citizens write about ("afval", "parkeren"): a citizen message is about a topic when
    any of its keywords occurs in it (whole words, case and accents ignored, the matching of
    routing rules). Only counted, never used to look at one citizen."""

    name = models.CharField(max_length=60)
    # Words or #hashtags, one per line or separated by commas.
    keywords = models.TextField()
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="topic_unique_name_ci"),
        ]

    def __str__(self) -> str:
        return self.name


# --- facts: derived per conversation, rebuilt whenever it changes ---------------------------


class WaitFact(models.Model):
    """One stretch in which a citizen waited for us: from their oldest unanswered message to
    our reply that reached the platform (answered), or to the end of the care cycle without a
    reply (closed), or still going (waiting). docs/metrics.md, "Waits"."""

    class Outcome(models.TextChoices):
        ANSWERED = "answered", _("Answered")
        CLOSED = "closed", _("Closed without reply")
        WAITING = "waiting", _("Still waiting")

    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    cycle_number = models.PositiveIntegerField()
    # Denormalised from the conversation, so the dashboard groups without joins.
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        "inbox.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    priority = models.PositiveSmallIntegerField()
    is_private = models.BooleanField()
    # The first wait of a care cycle: its answer is the cycle's first response.
    is_first_in_cycle = models.BooleanField()
    started_at = models.DateTimeField()
    # Citizen messages sent up to this moment are answered by the reply (the moment the
    # agent pressed send); null unless answered.
    answers_until = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    # Null for a reply made outside Webcare, or an unanswered wait.
    responder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reply_is_private = models.BooleanField(default=False)
    # Citizen messages in this wait.
    messages = models.PositiveIntegerField(default=1)
    calendar_seconds = models.PositiveIntegerField(null=True, blank=True)
    working_seconds = models.PositiveIntegerField(null=True, blank=True)
    # From the later of the wait's start and the responder's assignment, to the reply.
    handling_started_at = models.DateTimeField(null=True, blank=True)
    handling_calendar_seconds = models.PositiveIntegerField(null=True, blank=True)
    handling_working_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="waitfact_outcome_valid",
                condition=Q(outcome__in=["answered", "closed", "waiting"]),
            ),
            models.CheckConstraint(
                name="waitfact_ended_unless_waiting",
                condition=Q(outcome="waiting", ended_at__isnull=True)
                | (~Q(outcome="waiting") & Q(ended_at__isnull=False)),
            ),
        ]
        indexes = [
            # Response times of a period: waits that ended in it.
            models.Index(fields=["ended_at"], name="waitfact_ended_idx"),
            # Backlog: waits running at the start of a period.
            models.Index(fields=["started_at"], name="waitfact_started_idx"),
            # Rebuilding one conversation's facts.
            models.Index(fields=["conversation"], name="waitfact_conversation_idx"),
        ]

    def __str__(self) -> str:
        return f"Wait from {self.started_at} in conversation {self.conversation_id}"


class CycleFact(models.Model):
    """One care cycle's figures: first response and resolution, in calendar and working time.
    docs/metrics.md, "Care cycles"."""

    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    number = models.PositiveIntegerField()
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        "inbox.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    priority = models.PositiveSmallIntegerField()
    is_private = models.BooleanField()
    started_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_responder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_response_calendar_seconds = models.PositiveIntegerField(null=True, blank=True)
    first_response_working_seconds = models.PositiveIntegerField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution_calendar_seconds = models.PositiveIntegerField(null=True, blank=True)
    resolution_working_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "number"], name="cyclefact_unique"),
        ]
        indexes = [
            models.Index(fields=["started_at"], name="cyclefact_started_idx"),
            models.Index(fields=["resolved_at"], name="cyclefact_resolved_idx"),
            models.Index(fields=["first_response_at"], name="cyclefact_first_response_idx"),
        ]

    def __str__(self) -> str:
        return f"Cycle {self.number} of conversation {self.conversation_id}"


class MessageTopic(models.Model):
    """A citizen message is about a topic (derived from Topic.keywords; rebuilt when a topic
    changes)."""

    message = models.ForeignKey("inbox.Message", on_delete=models.CASCADE, related_name="+")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    # Denormalised from the message, so topic counts need no join.
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "topic"], name="messagetopic_unique"),
        ]
        indexes = [
            models.Index(fields=["topic", "sent_at"], name="messagetopic_topic_time_idx"),
            models.Index(fields=["sent_at"], name="messagetopic_time_idx"),
        ]

    def __str__(self) -> str:
        return f"Message {self.message_id} about topic {self.topic_id}"


# --- rollups: counts per hour, rebuilt from messages and facts ------------------------------


class MetricsHour(models.Model):
    """Counts per UTC hour, channel and team (docs/metrics.md, "Counts")."""

    hour = models.DateTimeField()
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        "inbox.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    messages_in = models.PositiveIntegerField(default=0)
    messages_in_private = models.PositiveIntegerField(default=0)
    # Of messages_in: answered by a reply (whenever it came).
    messages_answered = models.PositiveIntegerField(default=0)
    replies_sent = models.PositiveIntegerField(default=0)
    replies_sent_private = models.PositiveIntegerField(default=0)
    conversations_new = models.PositiveIntegerField(default=0)
    cycles_started = models.PositiveIntegerField(default=0)
    cycles_resolved = models.PositiveIntegerField(default=0)
    # Backlog over time: waits started and ended in this hour.
    waits_started = models.PositiveIntegerField(default=0)
    waits_ended = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "channel", "team"],
                name="metricshour_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="metricshour_hour_idx")]

    def __str__(self) -> str:
        return f"{self.hour} channel {self.channel_id} team {self.team_id}"


class MetricsAgentHour(models.Model):
    """Per UTC hour and agent: replies that reached the platform and cycles resolved."""

    hour = models.DateTimeField()
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    replies_sent = models.PositiveIntegerField(default=0)
    replies_sent_private = models.PositiveIntegerField(default=0)
    cycles_resolved = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "agent", "channel"], name="metricsagenthour_unique"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="metricsagenthour_hour_idx")]

    def __str__(self) -> str:
        return f"{self.hour} agent {self.agent_id}"


class MetricsTagHour(models.Model):
    """Per UTC hour, tag and channel: citizen messages in conversations with the tag, and care
    cycles started in them."""

    hour = models.DateTimeField()
    tag = models.ForeignKey("inbox.Tag", on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    messages_in = models.PositiveIntegerField(default=0)
    cycles_started = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "tag", "channel"], name="metricstaghour_unique"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="metricstaghour_hour_idx")]

    def __str__(self) -> str:
        return f"{self.hour} tag {self.tag_id}"


class MetricsTopicHour(models.Model):
    """Per UTC hour, topic and channel: citizen messages about the topic."""

    hour = models.DateTimeField()
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    messages_in = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "topic", "channel"], name="metricstopichour_unique"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="metricstopichour_hour_idx")]

    def __str__(self) -> str:
        return f"{self.hour} topic {self.topic_id}"


class MetricsTermDay(models.Model):
    """Per Amsterdam day: how many citizen messages, from how many citizens, used a word or
    #hashtag (inbox/metrics/terms.py says which words count). Only aggregates: a term used by
    fewer than WEBCARE_TERM_MIN_CITIZENS citizens in a period is never shown."""

    day = models.DateField()
    term = models.CharField(max_length=100)
    is_hashtag = models.BooleanField(default=False)
    messages = models.PositiveIntegerField()
    citizens = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "term"], name="metricstermday_unique"),
        ]
        indexes = [models.Index(fields=["day"], name="metricstermday_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.term}"


class MetricsDirtyConversation(models.Model):
    """A change log: this conversation changed, so its facts and the rollup hours it touches
    must be rebuilt. Appended in the transaction of the change (services.audit and ingest);
    the refresh task deletes the rows it has handled in the transaction that rebuilds them.
    No uniqueness on purpose: an insert never waits for, or is swallowed by, a row the
    refresh is deleting (docs/architecture.md, "Dashboard and metrics")."""

    id = models.BigAutoField(primary_key=True)
    # No foreign key: the mark outlives a deleted conversation, whose facts then go.
    conversation_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"conversation {self.conversation_id} changed"
