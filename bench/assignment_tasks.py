"""The assignment section's baseline as a Celery task: registered only in the benchmark's own
workers (`celery worker --include bench.assignment_tasks`, bench/assignment.py), never in
production's.

The least work one assignment can be in PostgreSQL: lock the first waiting conversation
with SKIP LOCKED, set its assignee (round robin, no capacity, teams or history), commit;
or the same for `batch` conversations per transaction, as the engine batches.
"""

from __future__ import annotations

from celery import shared_task
from django.db import connection, transaction

from inbox.models import Conversation

# The engine's queue order on its partial index (conversation_queue_idx), limited to the
# section's own rows: the other waiting conversations of the dataset stay untouched.
LOCK_NEXT = f"""
    SELECT id FROM {Conversation._meta.db_table}
    WHERE status = 'open' AND assignee_id IS NULL AND waiting_since IS NOT NULL
      AND id BETWEEN %s AND %s
    ORDER BY priority DESC, waiting_since, id
    LIMIT %s
    FOR UPDATE SKIP LOCKED
"""  # noqa: S608 - a table name from the model, no input
ASSIGN = f"""
    UPDATE {Conversation._meta.db_table} AS conversation
    SET assignee_id = batch.assignee_id, assigned_at = now()
    FROM unnest(%s::bigint[], %s::integer[]) AS batch (id, assignee_id)
    WHERE conversation.id = batch.id
"""  # noqa: S608 - a table name from the model, no input


@shared_task(name="bench.assignment_baseline", ignore_result=True)
def assignment_baseline(
    first_id: int, last_id: int, agent_ids: list[int], offset: int, step: int, batch: int = 1
) -> int:
    """Assign waiting conversations with ids first_id…last_id, `batch` per transaction,
    until none is left; worker number `offset` of `step` starts the round robin there and
    goes on `step` agents at a time, so that the workers together take turns."""
    turn = offset
    assigned = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(LOCK_NEXT, [first_id, last_id, batch])
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return assigned
            assignees = [agent_ids[(turn + step * n) % len(agent_ids)] for n in range(len(ids))]
            cursor.execute(ASSIGN, [ids, assignees])
        turn += step * len(ids)
        assigned += len(ids)
