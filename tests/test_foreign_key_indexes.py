"""Every foreign key column has an index that starts with it, and none has two.

Without one, deleting a parent row (retention, a channel, a user) scans the whole child
table; with two, every write pays for an index no query needs (migration 0014 dropped
eight such duplicates: docs/performance.md, "Ingest").
"""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

# Foreign key columns of one column, and the full (not partial) indexes that start with them.
LEADING_INDEXES = """
SELECT c.conrelid::regclass::text, a.attname,
       array_remove(array_agg(ix.indexrelid::regclass::text), NULL)
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
LEFT JOIN pg_index ix
  ON ix.indrelid = c.conrelid AND ix.indkey[0] = c.conkey[1] AND ix.indpred IS NULL
WHERE c.contype = 'f' AND cardinality(c.conkey) = 1
GROUP BY 1, 2
ORDER BY 1, 2
"""


def _leading_indexes() -> list[tuple[str, str, list[str]]]:
    with connection.cursor() as cursor:
        cursor.execute(LEADING_INDEXES)
        return [(table, column, list(indexes)) for table, column, indexes in cursor.fetchall()]


def test_every_foreign_key_column_leads_an_index() -> None:
    rows = _leading_indexes()
    assert len(rows) > 40  # the query found the schema's foreign keys at all
    unindexed = [f"{table}.{column}" for table, column, indexes in rows if not indexes]
    assert unindexed == []


def test_the_big_tables_carry_no_single_column_duplicate() -> None:
    """A plain index on the column alone is redundant beside a composite that starts with it."""
    big_tables = {
        "inbox_auditevent", "inbox_carecycle", "inbox_contact", "inbox_conversation",
        "inbox_message",
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT ix.indrelid::regclass::text, ix.indexrelid::regclass::text
            FROM pg_index ix
            WHERE ix.indnatts = 1 AND ix.indpred IS NULL AND NOT ix.indisunique
              AND EXISTS (
                SELECT 1 FROM pg_index wider
                WHERE wider.indrelid = ix.indrelid AND wider.indnatts > 1
                  AND wider.indkey[0] = ix.indkey[0] AND wider.indpred IS NULL
                  AND wider.indexprs IS NULL
              )
            """
        )
        duplicates = [name for table, name in cursor.fetchall() if table in big_tables]
    assert duplicates == []
