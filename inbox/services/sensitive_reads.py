"""Reads that are recorded in the audit log because of what they reveal: the audit log's
own export, and the agents' searches ("who searched what, when": issue 7, listening stays
on topics). See docs/architecture.md, "Administration"."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from inbox.selectors.audit import AuditFilters
from inbox.services.common import audit


@transaction.atomic
def audit_log_export_record(*, actor: User, filters: AuditFilters) -> None:
    """Written before the first row is streamed: an export that breaks off halfway was
    still a read of what it sent."""
    audit("audit_log.exported", actor=actor, **filters.as_audit_data())


@transaction.atomic
def search_record(
    *, actor: User, query: str, kind: str, filters: dict[str, Any], result_count: int
) -> None:
    """An agent's search, with its words. Unlike other events this one keeps text: the
    search terms are what the log exists for, and they may hold a citizen's name. How long
    the audit log is kept is the municipality's decision (docs/architecture.md)."""
    audit(
        "search.performed",
        actor=actor,
        query=query,
        kind=kind,
        filters=filters,
        result_count=result_count,
    )
