"""inbox/services/contacts.py: an agent links one citizen's accounts on several channels
(Person), merges Persons when both sides had one, and unlinks again; always audited."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from channels.models import Channel
from channels.services import channel_create
from inbox.models import AuditEvent, Contact, Person
from inbox.services import ServiceError, contact_unlink, contacts_link
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def facebook(db: None) -> Channel:
    return channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id="page-1",
        credentials={"access_token": "not-used-here", "app_secret": "not-used-here"},
    )


def _contact(channel: Channel, username: str) -> Contact:
    return citizen_writes(channel, username=username).contact


def test_linking_two_unlinked_contacts_makes_one_person_and_audits_both_ids(
    agent, channel, mastodon_channel
):
    on_x, on_mastodon = _contact(channel, "els"), _contact(mastodon_channel, "els@social.example")

    person = contacts_link(actor=agent.user, contact_id=on_x.id, other_contact_id=on_mastodon.id)

    assert set(person.contacts.values_list("id", flat=True)) == {on_x.id, on_mastodon.id}
    assert person.created_by == agent.user
    event = AuditEvent.objects.get(action="contact.linked")
    assert event.actor == agent.user
    assert event.data["contact_id"] == on_x.id
    assert event.data["other_contact_id"] == on_mastodon.id
    assert event.data["person_id"] == person.id


def test_linking_a_third_account_joins_the_existing_person(
    agent, channel, mastodon_channel, facebook
):
    on_x, on_mastodon = _contact(channel, "els"), _contact(mastodon_channel, "els@social.example")
    on_facebook = _contact(facebook, "els.fb")
    person = contacts_link(actor=agent.user, contact_id=on_x.id, other_contact_id=on_mastodon.id)

    joined = contacts_link(actor=agent.user, contact_id=on_facebook.id, other_contact_id=on_x.id)

    assert joined.id == person.id
    assert Person.objects.count() == 1
    assert person.contacts.count() == 3


def test_linking_two_persons_merges_them_into_one(agent, channel, mastodon_channel, facebook):
    on_x, on_mastodon = _contact(channel, "els"), _contact(mastodon_channel, "els@social.example")
    on_facebook, second_x = _contact(facebook, "els.fb"), _contact(channel, "els_werk")
    first = contacts_link(actor=agent.user, contact_id=on_x.id, other_contact_id=on_mastodon.id)
    second = contacts_link(
        actor=agent.user, contact_id=on_facebook.id, other_contact_id=second_x.id
    )

    merged = contacts_link(
        actor=agent.user, contact_id=on_mastodon.id, other_contact_id=second_x.id
    )

    assert Person.objects.count() == 1
    assert merged.id == min(first.id, second.id)
    assert merged.contacts.count() == 4
    event = AuditEvent.objects.filter(action="contact.linked").latest("id")
    assert event.data["merged_person_id"] == max(first.id, second.id)


def test_linking_to_itself_or_twice_is_refused(agent, channel, mastodon_channel):
    on_x, on_mastodon = _contact(channel, "els"), _contact(mastodon_channel, "els@social.example")

    with pytest.raises(ServiceError):
        contacts_link(actor=agent.user, contact_id=on_x.id, other_contact_id=on_x.id)
    contacts_link(actor=agent.user, contact_id=on_x.id, other_contact_id=on_mastodon.id)
    with pytest.raises(ServiceError):
        contacts_link(actor=agent.user, contact_id=on_mastodon.id, other_contact_id=on_x.id)
    assert AuditEvent.objects.filter(action="contact.linked").count() == 1


def test_linking_an_unknown_contact_raises_does_not_exist(agent, channel):
    on_x = _contact(channel, "els")

    with pytest.raises(Contact.DoesNotExist):
        contacts_link(actor=agent.user, contact_id=on_x.id, other_contact_id=on_x.id + 999)
    assert Person.objects.count() == 0


def test_unlinking_the_last_but_one_account_dissolves_the_person(agent, channel, mastodon_channel):
    on_x, on_mastodon = _contact(channel, "els"), _contact(mastodon_channel, "els@social.example")
    person = contacts_link(actor=agent.user, contact_id=on_x.id, other_contact_id=on_mastodon.id)

    contact_unlink(actor=agent.user, contact_id=on_mastodon.id)

    assert not Person.objects.exists()
    assert Contact.objects.filter(person__isnull=False).count() == 0
    event = AuditEvent.objects.get(action="contact.unlinked")
    assert event.data["contact_id"] == on_mastodon.id
    assert event.data["other_contact_ids"] == [on_x.id]
    assert event.data["person_id"] == person.id
    assert event.data["person_dissolved"] is True


def test_unlinking_one_of_three_keeps_the_other_two_linked(
    agent, channel, mastodon_channel, facebook
):
    on_x, on_mastodon = _contact(channel, "els"), _contact(mastodon_channel, "els@social.example")
    on_facebook = _contact(facebook, "els.fb")
    person = contacts_link(actor=agent.user, contact_id=on_x.id, other_contact_id=on_mastodon.id)
    contacts_link(actor=agent.user, contact_id=on_x.id, other_contact_id=on_facebook.id)

    contact_unlink(actor=agent.user, contact_id=on_facebook.id)

    assert set(person.contacts.values_list("id", flat=True)) == {on_x.id, on_mastodon.id}


def test_unlinking_a_contact_that_is_not_linked_is_refused(agent, channel):
    with pytest.raises(ServiceError):
        contact_unlink(actor=agent.user, contact_id=_contact(channel, "els").id)


@pytest.mark.django_db(transaction=True)
def test_two_agents_linking_at_once_end_with_one_person(
    agent, second_agent, channel, mastodon_channel, facebook
):
    """A–B and B–C linked at the same moment: the locks serialise them, so all three end
    up as one citizen, not as two Persons."""
    on_x, on_mastodon = _contact(channel, "els"), _contact(mastodon_channel, "els@social.example")
    on_facebook = _contact(facebook, "els.fb")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def link(actor, contact_id, other_contact_id):  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            contacts_link(actor=actor, contact_id=contact_id, other_contact_id=other_contact_id)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=link, args=(agent.user, on_x.id, on_mastodon.id)),
        threading.Thread(target=link, args=(second_agent.user, on_mastodon.id, on_facebook.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert Person.objects.count() == 1
    assert Person.objects.get().contacts.count() == 3
