"""Linking one citizen's accounts on several channels (Person).

Only an agent links: a matching name is no proof of the same person (AVG), so nothing is
linked automatically. Linking two accounts of which each already belongs to a Person merges
the two Persons into one; unlinking the last but one account dissolves the Person.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from inbox.models import Contact, Person
from inbox.services.common import ServiceError, audit

__all__ = ["contact_unlink", "contacts_link"]


@transaction.atomic
def contacts_link(*, actor: User, contact_id: int, other_contact_id: int) -> Person:
    """Say that `contact_id` and `other_contact_id` are the same citizen. Returns their
    Person. Raises Contact.DoesNotExist for an unknown contact."""
    if contact_id == other_contact_id:
        raise ServiceError(_("A contact cannot be linked to itself."))
    # Both rows locked, in id order, so that two agents linking at once cannot deadlock
    # or leave three Persons where there should be one.
    contacts = {
        contact.id: contact
        for contact in Contact.objects.select_for_update()
        .filter(id__in=[contact_id, other_contact_id])
        .order_by("id")
    }
    if len(contacts) != 2:
        raise Contact.DoesNotExist
    contact, other = contacts[contact_id], contacts[other_contact_id]
    if contact.person_id is not None and contact.person_id == other.person_id:
        raise ServiceError(_("These contacts are already linked as the same citizen."))

    merged_person_id = None
    if contact.person_id is None and other.person_id is None:
        person = Person.objects.create(created_by=actor)
        Contact.objects.filter(id__in=[contact.id, other.id]).update(person=person)
    elif contact.person_id is None or other.person_id is None:
        linked, unlinked = (contact, other) if contact.person_id else (other, contact)
        person = Person.objects.select_for_update().get(contacts=linked)
        Contact.objects.filter(id=unlinked.id).update(person=person)
    else:
        # Both already belong to someone: one Person keeps every account, the other goes.
        kept_id, merged_person_id = sorted([contact.person_id, other.person_id])
        persons = {
            person.id: person
            for person in Person.objects.select_for_update()
            .filter(id__in=[kept_id, merged_person_id])
            .order_by("id")
        }
        person = persons[kept_id]
        Contact.objects.select_for_update().filter(person_id=merged_person_id).update(person=person)
        persons[merged_person_id].delete()
    audit(
        "contact.linked",
        actor=actor,
        channel_id=contact.channel_id,
        contact_id=contact.id,
        other_contact_id=other.id,
        person_id=person.id,
        merged_person_id=merged_person_id,
    )
    return person


@transaction.atomic
def contact_unlink(*, actor: User, contact_id: int) -> None:
    """Take `contact_id` out of its Person: it is no longer said to be the same citizen as
    the others. A Person left with one account is dissolved."""
    contact = Contact.objects.select_for_update().get(id=contact_id)
    if contact.person_id is None:
        raise ServiceError(_("This contact is not linked to another one."))
    person_id = contact.person_id
    Person.objects.select_for_update().filter(id=person_id).first()
    contact.person = None
    contact.save(update_fields=["person", "updated_at"])
    remaining = list(
        Contact.objects.select_for_update()
        .filter(person_id=person_id)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if len(remaining) <= 1:
        Contact.objects.filter(id__in=remaining).update(person=None)
        Person.objects.filter(id=person_id).delete()
    audit(
        "contact.unlinked",
        actor=actor,
        channel_id=contact.channel_id,
        contact_id=contact.id,
        other_contact_ids=remaining,
        person_id=person_id,
        person_dissolved=len(remaining) <= 1,
    )
