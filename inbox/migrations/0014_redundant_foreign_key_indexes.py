"""Drop eight single-column foreign key indexes that a composite index already starts with.

Each costs every insert and update of its table (the message table had fifteen indexes) and
serves no query the composite cannot (docs/performance.md, "Ingest"). Written by hand, not
as Django's AlterField: for `db_index=False` Django drops and re-adds each foreign key
constraint (re-validating every row of the table under lock) and, matching by column, also
dropped the partial unique index `carecycle_one_current`. Here the state changes as the
AlterFields say and the database only loses the indexes, by the names Django gave them.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, column, index name as Django's migrations created it)
REDUNDANT_INDEXES = (
    ("inbox_auditevent", "actor_id", "inbox_auditevent_actor_id_c34b3674"),
    ("inbox_auditevent", "conversation_id", "inbox_auditevent_conversation_id_697c0528"),
    ("inbox_carecycle", "conversation_id", "inbox_carecycle_conversation_id_587f1022"),
    ("inbox_contact", "channel_id", "inbox_contact_channel_id_ae0091e6"),
    ("inbox_conversation", "assignee_id", "inbox_conversation_assignee_id_4bf0d3a6"),
    ("inbox_conversation", "channel_id", "inbox_conversation_channel_id_8b41ed11"),
    ("inbox_message", "channel_id", "inbox_message_channel_id_5102d250"),
    ("inbox_message", "conversation_id", "inbox_message_conversation_id_37bc0d72"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0006_received_webhook"),
        ("inbox", "0013_bench_pages_active_conversations"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="conversation",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="audit_events",
                        to="inbox.conversation",
                    ),
                ),
                migrations.AlterField(
                    model_name="carecycle",
                    name="conversation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="care_cycles",
                        to="inbox.conversation",
                    ),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="channel",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="contacts",
                        to="channels.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="conversation",
                    name="assignee",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="assigned_conversations",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="conversation",
                    name="channel",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="conversations",
                        to="channels.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="channel",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="messages",
                        to="channels.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="conversation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="inbox.conversation",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")',
                )
                for table, column, name in REDUNDANT_INDEXES
            ],
        ),
    ]
