"""reply_create: personal data in a public reply needs a confirmation and a reason, and the
municipality's own contact details are no personal data."""

from __future__ import annotations

import uuid

import pytest

from inbox import services
from inbox.models import AuditEvent, Message
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def _reply(conversation, agent, text, **options):  # type: ignore[no-untyped-def]
    return services.reply_create(
        conversation_id=conversation.id,
        actor=agent.user,
        text=text,
        idempotency_key=uuid.uuid4(),
        **options,
    )


@pytest.mark.parametrize("reason", ["", "ok", "   ja   "])
def test_a_confirmation_without_a_real_reason_is_refused(agent, channel, sandbox, reason):
    conversation = citizen_writes(channel, username="els")

    with pytest.raises(services.PersonalDataReasonMissing):
        _reply(
            conversation,
            agent,
            "Bel ons op 06-12345678",
            confirmed_personal_data=True,
            personal_data_reason=reason,
        )
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_the_reason_is_audited_but_never_the_data_found(agent, channel, sandbox):
    conversation = citizen_writes(channel, username="els")

    reply = _reply(
        conversation,
        agent,
        "Je BSN 111222333 staat goed",
        confirmed_personal_data=True,
        personal_data_reason="  de inwoner publiceerde het zelf ",
    )

    event = AuditEvent.objects.get(action="reply.queued", message=reply)
    assert event.data["personal_data_confirmed"] == ["bsn"]
    assert event.data["personal_data_reason"] == "de inwoner publiceerde het zelf"
    assert "111222333" not in str(event.data)


def test_the_municipalitys_own_number_needs_no_confirmation(agent, channel, sandbox, settings):
    settings.WEBCARE_PUBLIC_CONTACT_DETAILS = ["020-5550000", "info@demodorp.nl"]
    conversation = citizen_writes(channel, username="els")

    reply = _reply(conversation, agent, "Bel 14 020, +31 20 555 0000 of mail INFO@demodorp.nl")

    event = AuditEvent.objects.get(action="reply.queued", message=reply)
    assert "personal_data_confirmed" not in event.data
