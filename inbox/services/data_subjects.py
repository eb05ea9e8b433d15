"""Data subject requests (AVG articles 15 and 17): register, export, erase; each audited.

docs/architecture.md, "Data subject requests". The audit events hold the request's id,
counts and codes, never what the citizen is called: the audit trail outlives retention and
erasure.
"""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.models import Contact, DataSubjectRequest
from inbox.selectors import data_subjects as selectors
from inbox.services import lifecycle, privacy
from inbox.services.common import ServiceError, audit

__all__ = [
    "ERASURE_METHODS",
    "data_subject_access_complete",
    "data_subject_contacts_select",
    "data_subject_erase",
    "data_subject_export_start",
    "data_subject_request_create",
    "data_subject_request_reject",
    "data_subject_search",
]

ANONYMISE = "anonymise"
DELETE = "delete"
ERASURE_METHODS = (ANONYMISE, DELETE)


def _open_request(request_id: int, *, kind: str | None = None) -> DataSubjectRequest:
    """The request, locked for this transaction; refused unless it is still open."""
    request = DataSubjectRequest.objects.select_for_update().get(id=request_id)
    if request.status != DataSubjectRequest.Status.OPEN:
        raise ServiceError(_("This request has been handled already."))
    if kind is not None and request.kind != kind:
        raise ServiceError(_("This is not possible for this kind of request."))
    return request


@transaction.atomic
def data_subject_request_create(
    *, actor: User, kind: str, reference: str, subject_description: str, received_at: date
) -> DataSubjectRequest:
    if kind not in DataSubjectRequest.Kind.values:
        raise ServiceError(_("Choose access or erasure."))
    subject_description = subject_description.strip()
    if not subject_description:
        raise ServiceError(_("Say how the citizen identified themselves."))
    if received_at > timezone.localdate():
        raise ServiceError(_("The date of receipt cannot lie in the future."))
    request = DataSubjectRequest.objects.create(
        kind=kind,
        reference=reference.strip(),
        subject_description=subject_description,
        received_at=received_at,
        created_by=actor,
    )
    audit("data_subject_request.created", actor=actor, request_id=request.id, kind=kind)
    return request


@transaction.atomic
def data_subject_search(*, actor: User, request_id: int, query: str) -> selectors.ContactSearch:
    """Contacts matching `query` for this request: a sensitive read, so audited.

    The audit keeps the length of the query, not the query nor a hash of it: the query is
    a name or handle, personal data that must not outlive the request in the audit trail,
    and a hash of a name is no protection (hashing the likely names finds it again, so it
    is still personal data, AVG recital 26). The length shows that a search was made and
    how specific it was, which is all an audit needs."""
    request = DataSubjectRequest.objects.get(id=request_id)
    found = selectors.contacts_find(query)
    audit(
        "data_subject.searched",
        actor=actor,
        request_id=request.id,
        query_length=len(selectors.normalised_query(query)),
        results=len(found.matches),
        linked=len(found.linked),
    )
    return found


@transaction.atomic
def data_subject_contacts_select(
    *, actor: User, request_id: int, contact_ids: list[int]
) -> DataSubjectRequest:
    """The contacts the administrator confirmed to be this citizen (replacing any earlier
    selection)."""
    request = _open_request(request_id)
    wanted = sorted(set(contact_ids))
    existing = set(Contact.objects.filter(id__in=wanted).values_list("id", flat=True))
    if existing != set(wanted):
        raise ServiceError(_("One of the chosen contacts no longer exists."))
    request.contact_ids = wanted
    request.save(update_fields=["contact_ids"])
    audit(
        "data_subject.contacts_selected",
        actor=actor,
        request_id=request.id,
        contact_ids=wanted,
        contacts=len(wanted),
    )
    return request


@transaction.atomic
def data_subject_export_start(*, actor: User, request_id: int) -> DataSubjectRequest:
    """Record and audit an access export before it is streamed (a sensitive read); the
    counts are kept on the request so that completing it can report them."""
    request = _open_request(request_id, kind=DataSubjectRequest.Kind.ACCESS)
    if not request.contact_ids:
        raise ServiceError(_("Choose the citizen's contacts first."))
    counts = selectors.export_counts(request.contact_ids).as_dict()
    request.result = {
        **request.result,
        "exported": counts,
        "exported_at": timezone.now().isoformat(),
    }
    request.save(update_fields=["result"])
    audit("data_subject.exported", actor=actor, request_id=request.id, **counts)
    return request


@transaction.atomic
def data_subject_access_complete(*, actor: User, request_id: int) -> DataSubjectRequest:
    """The citizen has their export: the request is completed with what it held."""
    request = _open_request(request_id, kind=DataSubjectRequest.Kind.ACCESS)
    if "exported" not in request.result:
        raise ServiceError(_("Download the export before completing the request."))
    request.status = DataSubjectRequest.Status.COMPLETED
    request.handled_by = actor
    request.handled_at = timezone.now()
    request.result = {**request.result, "counts": request.result["exported"]}
    request.save(update_fields=["status", "handled_by", "handled_at", "result"])
    audit(
        "data_subject_request.completed",
        actor=actor,
        request_id=request.id,
        kind=request.kind,
        **request.result["counts"],
    )
    return request


@transaction.atomic
def data_subject_erase(
    *, actor: User, request_id: int, method: str, confirmed_unresolved: bool = False
) -> DataSubjectRequest:
    """Erase everything about the request's contacts: anonymise (the figures keep their
    conversations) or delete their conversations; the contacts themselves are anonymised
    either way. inbox/services/privacy.py does the removing.

    A conversation still being handled is not erased silently: the administrator must
    confirm that it is closed or dealt with (`confirmed_unresolved`); it is then resolved.
    Refusing outright would make the administrator resolve colleagues' cases first, or keep
    a citizen's data longer than the law allows; erasing without a word could end an ongoing
    case."""
    if method not in ERASURE_METHODS:
        raise ServiceError(_("Choose anonymise or delete."))
    request = _open_request(request_id, kind=DataSubjectRequest.Kind.ERASURE)
    if not request.contact_ids:
        raise ServiceError(_("Choose the citizen's contacts first."))
    preview = selectors.erasure_preview(request.contact_ids)
    if preview.unresolved and not confirmed_unresolved:
        raise ServiceError(
            _(
                "The citizen has conversations that are not resolved. Confirm that they are "
                "dealt with before erasing."
            )
        )
    reason = f"data subject request {request.id}"
    # Confirmed as dealt with: resolved, so that they leave the queues rather than wait
    # there, emptied, for an answer nobody can give.
    for conversation in preview.unresolved:
        lifecycle.conversation_resolve(conversation_id=conversation.id, actor=actor)
    if method == DELETE:
        privacy.conversations_delete(
            actor=actor,
            conversation_ids=selectors.conversation_ids_of(request.contact_ids),
            reason=reason,
        )
    privacy.contacts_anonymise(actor=actor, contact_ids=list(request.contact_ids), reason=reason)
    counts = {
        "contacts": preview.contacts,
        "conversations": preview.conversations,
        "messages": preview.messages,
        "notes": preview.notes,
        "unresolved": len(preview.unresolved),
    }
    request.status = DataSubjectRequest.Status.COMPLETED
    request.handled_by = actor
    request.handled_at = timezone.now()
    request.result = {"method": method, "counts": counts}
    request.save(update_fields=["status", "handled_by", "handled_at", "result"])
    audit("data_subject.erased", actor=actor, request_id=request.id, method=method, **counts)
    return request


@transaction.atomic
def data_subject_request_reject(*, actor: User, request_id: int, reason: str) -> DataSubjectRequest:
    """Refused (e.g. the requester could not be identified); the reason stays on the
    request, not in the audit trail, as it may name the citizen."""
    reason = reason.strip()
    if not reason:
        raise ServiceError(_("Give the reason for rejecting the request."))
    request = _open_request(request_id)
    request.status = DataSubjectRequest.Status.REJECTED
    request.handled_by = actor
    request.handled_at = timezone.now()
    request.notes = reason
    request.result = {**request.result, "rejected": True}
    request.save(update_fields=["status", "handled_by", "handled_at", "notes", "result"])
    audit("data_subject_request.rejected", actor=actor, request_id=request.id, kind=request.kind)
    return request
