from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built CONCURRENTLY, outside a transaction: the message table keeps taking writes while
    # a large inbox builds it (as 0008 does for the search indexes).
    atomic = False

    dependencies = [
        ("inbox", "0009_metrics"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="message",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("delivery_status", "sent"), _negated=True),
                    ("delivered_at__isnull", False),
                    _connector="OR",
                ),
                name="message_sent_has_delivered_at",
            ),
        ),
        AddIndexConcurrently(
            model_name="message",
            index=models.Index(
                condition=models.Q(("delivery_status", "sent")),
                fields=["delivered_at"],
                name="message_delivered_idx",
            ),
        ),
    ]
