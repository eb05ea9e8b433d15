"""A channel is one account of the municipality on one platform (e.g. @gemeentedemodorp on X)."""

from django.db import models
from django.db.models import Q

# The platforms' real API hosts. A channel stores its own base URL so that it can point at
# the local sandbox platform (development, tests) or a self-hosted Mastodon instance.
DEFAULT_API_BASE_URLS = {
    "twitter": "https://api.twitter.com",
    "facebook": "https://graph.facebook.com",
    "mastodon": "https://social.overheid.nl",
}


class Channel(models.Model):
    class Kind(models.TextChoices):
        TWITTER = "twitter", "X (Twitter)"
        FACEBOOK = "facebook", "Facebook"
        MASTODON = "mastodon", "Mastodon"

    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Not polled yet"
        OK = "ok", "OK"
        # A temporary problem (rate limit, outage, timeout): polling goes on by itself.
        FAILING = "failing", "Failing"
        # Credentials rejected or unreadable: polling stops until an admin fixes them.
        NEEDS_ATTENTION = "needs_attention", "Needs attention"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Stable, script-friendly name used by `manage.py channels poll NAME`.
    name = models.SlugField(max_length=64, unique=True)
    account_id = models.CharField(max_length=64)
    account_handle = models.CharField(max_length=100, blank=True)
    api_base_url = models.URLField(max_length=300)
    # Fernet token of a JSON object with the client library's own parameter names
    # (channels/credentials.py); never stored or logged in plain text.
    credentials_encrypted = models.TextField(blank=True)
    # Connector-owned position in the platform's timeline, e.g. {"mentions_since_id": "…"}.
    # Advanced only in the transaction that stores the messages it covers.
    cursor = models.JSONField(default=dict, blank=True)
    # What the connector learnt about the account that shapes replies, e.g. a Mastodon
    # instance's character limit or whether a Facebook page may use the HUMAN_AGENT tag.
    # Not secret; written by the connector's `check()` and by admins.
    platform_settings = models.JSONField(default=dict, blank=True)
    poll_interval_seconds = models.PositiveIntegerField(default=60)
    history_days = models.PositiveSmallIntegerField(default=7)
    is_active = models.BooleanField(default=True)
    # Whether replies on this channel end with the agent's signature ("^JdV"), the team's
    # convention per channel; counted in the platform's limit like the rest of the text.
    append_signature = models.BooleanField(default=False)

    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Set when the platform told us to back off (rate limit); polls wait until then.
    paused_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="channel_kind_valid", condition=Q(kind__in=["twitter", "facebook", "mastodon"])
            ),
            models.CheckConstraint(
                name="channel_health_valid",
                condition=Q(health__in=["unknown", "ok", "failing", "needs_attention"]),
            ),
            # Platforms rate-limit; polling faster than every 10 s only burns the quota.
            models.CheckConstraint(
                name="channel_poll_interval_min_10s", condition=Q(poll_interval_seconds__gte=10)
            ),
            models.CheckConstraint(
                name="channel_history_days_1_to_30",
                condition=Q(history_days__gte=1, history_days__lte=30),
            ),
            # One Webcare channel per platform account: two would import every message twice.
            models.UniqueConstraint(fields=["kind", "account_id"], name="channel_unique_account"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class QuarantinedItem(models.Model):
    """A platform item the connector could not read, kept with its raw payload for an admin.

    The poll that met it goes on with the rest; nothing is silently dropped.
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="quarantine")
    # The platform's id of the item, or a digest of its raw payload when it has none: an
    # item read again (overlapping polls, a webhook and a poll) is kept once.
    item_key = models.CharField(max_length=128, blank=True, default="")
    reason = models.TextField()
    raw = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by an admin once handled (e.g. answered by hand on the platform).
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Items kept before keys existed have none; every later one has one.
            models.UniqueConstraint(
                fields=["channel", "item_key"],
                condition=~Q(item_key=""),
                name="quarantine_unique_item",
            ),
        ]
        indexes = [
            # The channel health table counts open items per channel.
            models.Index(
                fields=["channel"],
                name="quarantine_open_idx",
                condition=Q(resolved_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel.name}: {self.reason[:60]}"


class ReceivedWebhook(models.Model):
    """The SHA-256 of every signed webhook body we accepted, so that a replayed body (the
    same bytes sent again, by an attacker who captured it or by a confused proxy) is
    answered without being processed a second time. Meta's own redeliveries of a delivery we
    did not acknowledge were never recorded here, so they are processed. Pruned after
    `WEBCARE_WEBHOOK_REPLAY_WINDOW_SECONDS`; older bodies are refused by their age."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    body_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "body_sha256"], name="receivedwebhook_unique_body"
            ),
        ]
        indexes = [models.Index(fields=["received_at"], name="receivedwebhook_age_idx")]

    def __str__(self) -> str:
        return f"webhook body {self.body_sha256[:12]} on channel {self.channel_id}"
