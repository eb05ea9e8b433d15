"""Full-text search indexes (docs/architecture.md, "Search").

Built CONCURRENTLY: on a production database with a million messages a plain CREATE INDEX
would block new messages and replies for as long as it takes. That needs a migration outside
a transaction (`atomic = False`); if one index fails half-way, PostgreSQL leaves it INVALID
and `DROP INDEX CONCURRENTLY <name>` before a rerun clears it.

The index expressions are those of the models' Meta.indexes, which inbox/selectors/search.py
filters on, so that the planner uses them.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("inbox", "0007_agent_screen"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="message",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector("text", config="dutch"),
                name="message_search_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="note",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector("text", config="dutch"),
                name="note_search_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="contact",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector(
                    "display_name", "username", config="simple"
                ),
                name="contact_search_idx",
            ),
        ),
    ]
