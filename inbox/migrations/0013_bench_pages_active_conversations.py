"""The inbox's queues read only the conversations that are still work: an index of just those.

Without it every inbox page scanned the whole conversation table twice (the queues' counts
and the page of rows): 2 × 345,000 rows at a million messages, for the few thousand open
ones (docs/plans/inbox-all.txt, bench/pages.py).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0012_erased_platform_message"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                fields=["assignee", "team"],
                name="conversation_active_idx",
                condition=models.Q(status__in=["open", "pending", "snoozed"]),
            ),
        ),
    ]
