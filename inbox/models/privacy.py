"""What the law asks of a municipality's webcare: retention (AVG storage limitation and the
municipality's selection list under the Archiefwet), data subject requests (AVG articles 15
and 17) and archive exports (Archiefwet). docs/architecture.md, "Privacy and archiving",
says how these tables are used; inbox/services/privacy.py and inbox/services/archive.py
write them.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from channels.models import Channel


class RetentionPolicy(models.Model):
    """How long resolved conversations of a channel are kept, and what happens then.

    At most one row per channel; the row without a channel is the default for every channel that
    has none of its own. The daily task `inbox.retention_apply` acts on conversations
    resolved more than `months_after_resolution` months ago (and not reopened since)."""

    class Action(models.TextChoices):
        # Text, names, handles, attachments and raw payloads go; times, channel, team and
        # tags stay, so the dashboard's figures do not change.
        ANONYMISE = "anonymise", _("Anonymise")
        # The conversation and its messages and notes are deleted; the figures lose them.
        DELETE = "delete", _("Delete")

    channel = models.ForeignKey(
        Channel,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="retention_policy",
    )
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.ANONYMISE)
    months_after_resolution = models.PositiveSmallIntegerField(default=12)
    # Only conversations whose resolution lies in a range an archive export has covered are
    # removed: the archive is the record that stays (Archiefwet).
    require_archive = models.BooleanField(default=True)
    # Where the term comes from, e.g. "Selectielijst gemeenten 2020, categorie 1.1".
    basis = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One policy per channel and one default (channel NULL, counted as 0).
            models.UniqueConstraint(
                Coalesce("channel", Value(0)), name="retentionpolicy_one_per_channel"
            ),
            models.CheckConstraint(
                name="retentionpolicy_action_valid",
                condition=Q(action__in=["anonymise", "delete"]),
            ),
            models.CheckConstraint(
                name="retentionpolicy_months_positive",
                condition=Q(months_after_resolution__gte=1),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} after {self.months_after_resolution} months ({self.channel_id})"


class RetentionRun(models.Model):
    """One application of the retention policies, or a dry run of it: what it removed (or
    would remove), per channel, so that administrators see it before and after."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # {"channels": [{"channel_id", "channel", "action", "conversations", "messages",
    #  "kept_unarchived", "cutoff"}], "conversations": n, "messages": n}
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["-started_at"], name="retentionrun_recent_idx")]

    def __str__(self) -> str:
        return f"retention {'dry run' if self.dry_run else 'run'} {self.started_at:%Y-%m-%d %H:%M}"


class DataSubjectRequest(models.Model):
    """A citizen's request about their personal data (AVG articles 15 and 17), registered
    and handled by an administrator; every step is audited."""

    class Kind(models.TextChoices):
        # Inzageverzoek: everything about the citizen, exported as JSON.
        ACCESS = "access", _("Access (inzage)")
        # Verwijderverzoek: the citizen's conversations anonymised or deleted.
        ERASURE = "erasure", _("Erasure (verwijdering)")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        COMPLETED = "completed", _("Completed")
        REJECTED = "rejected", _("Rejected")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # The municipality's own case number, so the request can be found in its case system.
    reference = models.CharField(max_length=100, blank=True)
    # How the citizen identified themselves, in the administrator's words; no copies of ID.
    subject_description = models.CharField(max_length=300)
    # The contacts the administrator confirmed to be this citizen.
    contact_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    received_at = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    # Counts of what was exported or erased; why a request was rejected.
    result = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="datasubjectrequest_kind_valid", condition=Q(kind__in=["access", "erasure"])
            ),
            models.CheckConstraint(
                name="datasubjectrequest_status_valid",
                condition=Q(status__in=["open", "completed", "rejected"]),
            ),
            models.CheckConstraint(
                name="datasubjectrequest_handled_when_closed",
                condition=Q(status="open") | Q(handled_at__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["status", "-received_at"], name="datasubjectrequest_idx")]

    def __str__(self) -> str:
        return f"{self.kind} request {self.pk} ({self.status})"


class ArchiveExport(models.Model):
    """One archive export (docs/archive-format.md): the range, who made it, and the manifest's
    checksum, so that the retention task knows which periods are safely archived and anyone
    can check a copy against what was produced."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    # Conversations with activity from `date_from` up to and including `date_to`
    # (Europe/Amsterdam dates).
    date_from = models.DateField()
    date_to = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Where the files are (a directory under WEBCARE_ARCHIVE_DIR, or the --out of the command).
    location = models.CharField(max_length=500, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    # {"conversations": n, "messages": n, "notes": n, "assignments": n, "audit_events": n}
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="archiveexport_status_valid",
                condition=Q(status__in=["running", "completed", "failed"]),
            ),
            models.CheckConstraint(
                name="archiveexport_range_ordered", condition=Q(date_from__lte=models.F("date_to"))
            ),
        ]
        indexes = [models.Index(fields=["-created_at"], name="archiveexport_recent_idx")]

    def __str__(self) -> str:
        return f"archive {self.date_from}..{self.date_to} ({self.status})"


class ErasedPlatformMessage(models.Model):
    """A platform message that was erased (retention or a data subject's erasure), kept only
    as a keyed digest of its platform id, so that a poll re-reading the last minutes, a
    re-added channel's history window, or a webhook redelivered or replayed does not import
    the citizen's words again. The digest (HMAC-SHA256 with a key derived from SECRET_KEY)
    cannot be turned back into the id without that key. Pruned once no platform would
    deliver the item again (inbox/services/privacy.py)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    external_id_digest = models.CharField(max_length=64)
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id_digest"], name="erasedplatformmessage_unique"
            ),
        ]
        indexes = [models.Index(fields=["erased_at"], name="erasedplatformmessage_age_idx")]

    def __str__(self) -> str:
        return f"erased message on channel {self.channel_id}"
