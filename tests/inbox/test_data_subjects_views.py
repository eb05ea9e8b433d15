"""The data subject requests pages (inbox/views/data_subjects.py): administrators only, and
the whole flow through the test client: register, search, select, export, complete, erase,
reject."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from inbox.models import AuditEvent, Contact, DataSubjectRequest
from inbox.services import data_subject_request_create
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def _request(administrator, kind: str = "access") -> DataSubjectRequest:
    return data_subject_request_create(
        actor=administrator.user,
        kind=kind,
        reference="Z/24/0002",
        subject_description="Identified by phone with date of birth",
        received_at=timezone.localdate(),
    )


@pytest.mark.parametrize("persona", ["agent", "team_lead"])
def test_agents_and_team_leads_are_refused_every_page(persona, request, logged_in, administrator):
    client = logged_in(request.getfixturevalue(persona))
    dsr = _request(administrator)
    urls = [
        ("get", reverse("inbox:data_subject_requests")),
        ("get", reverse("inbox:data_subject_request", args=[dsr.id]) + "?q=jan"),
        ("get", reverse("inbox:data_subject_export", args=[dsr.id])),
        ("get", reverse("inbox:data_subject_erase", args=[dsr.id])),
        ("post", reverse("inbox:data_subject_contacts", args=[dsr.id])),
        ("post", reverse("inbox:data_subject_complete", args=[dsr.id])),
        ("post", reverse("inbox:data_subject_reject", args=[dsr.id])),
    ]
    for method, url in urls:
        assert getattr(client, method)(url).status_code == 403, url
    assert not AuditEvent.objects.filter(action__startswith="data_subject.").exists()


def test_the_register_lists_requests_in_a_bounded_number_of_queries(
    logged_in, administrator, django_assert_max_num_queries
):
    for _ in range(5):
        _request(administrator)
    client = logged_in(administrator)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("inbox:data_subject_requests"))

    assert response.status_code == 200
    assert response.content.decode().count("Z/24/0002") == 5


def test_an_administrator_registers_finds_selects_exports_and_completes_an_access_request(
    logged_in, administrator, channel, mastodon_channel
):
    on_x = citizen_writes(channel, username="jdevries", text="Waar blijft mijn pas?").contact
    on_mastodon = citizen_writes(mastodon_channel, username="jdevries@social.example").contact
    other = citizen_writes(channel, username="pbakker", text="Iets anders").contact
    client = logged_in(administrator)

    response = client.post(
        reverse("inbox:data_subject_requests"),
        {
            "kind": "access",
            "reference": "Z/24/0003",
            "subject_description": "At the desk, passport shown",
            "received_at": timezone.localdate().isoformat(),
        },
    )
    dsr = DataSubjectRequest.objects.get(reference="Z/24/0003")
    detail = reverse("inbox:data_subject_request", args=[dsr.id])
    assert response.status_code == 302
    assert response["Location"] == detail

    page = client.get(detail, {"q": "@jdevries"}).content.decode()
    assert f'value="{on_x.id}"' in page
    assert f'value="{on_mastodon.id}"' in page
    assert f'value="{other.id}"' not in page

    response = client.post(
        reverse("inbox:data_subject_contacts", args=[dsr.id]),
        {"contact": [str(on_x.id), str(on_mastodon.id)]},
    )
    assert response.status_code == 302
    dsr.refresh_from_db()
    assert sorted(dsr.contact_ids) == sorted([on_x.id, on_mastodon.id])

    response = client.get(reverse("inbox:data_subject_export", args=[dsr.id]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment;")
    export = json.loads(b"".join(response.streaming_content))
    assert export["request"]["id"] == dsr.id
    assert "Waar blijft mijn pas?" in json.dumps(export, ensure_ascii=False)
    assert "Iets anders" not in json.dumps(export, ensure_ascii=False)

    response = client.post(reverse("inbox:data_subject_complete", args=[dsr.id]))
    dsr.refresh_from_db()
    assert dsr.status == DataSubjectRequest.Status.COMPLETED
    assert dsr.result["counts"]["messages"] == 2
    assert set(
        AuditEvent.objects.filter(action__startswith="data_subject").values_list(
            "action", flat=True
        )
    ) == {
        "data_subject_request.created",
        "data_subject.searched",
        "data_subject.contacts_selected",
        "data_subject.exported",
        "data_subject_request.completed",
    }


def test_a_request_without_a_description_comes_back_with_the_error(logged_in, administrator):
    response = logged_in(administrator).post(
        reverse("inbox:data_subject_requests"),
        {"kind": "access", "received_at": timezone.localdate().isoformat()},
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


def test_the_erasure_page_warns_about_unresolved_conversations_and_needs_the_tick(
    logged_in, administrator, channel
):
    contact = citizen_writes(channel, username="jdevries").contact
    dsr = _request(administrator, kind="erasure")
    client = logged_in(administrator)
    client.post(reverse("inbox:data_subject_contacts", args=[dsr.id]), {"contact": [contact.id]})
    erase = reverse("inbox:data_subject_erase", args=[dsr.id])

    page = client.get(erase).content.decode()
    assert "nog niet afgehandeld" in page
    assert 'name="confirmed_unresolved"' in page

    response = client.post(erase, {"method": "anonymise"})
    assert response.status_code == 422
    dsr.refresh_from_db()
    assert dsr.status == DataSubjectRequest.Status.OPEN

    response = client.post(erase, {"method": "anonymise", "confirmed_unresolved": "on"})
    assert response.status_code == 302
    dsr.refresh_from_db()
    assert dsr.status == DataSubjectRequest.Status.COMPLETED
    assert Contact.objects.get(id=contact.id).anonymised_at is not None


def test_rejecting_needs_a_reason(logged_in, administrator):
    dsr = _request(administrator)
    client = logged_in(administrator)
    reject = reverse("inbox:data_subject_reject", args=[dsr.id])

    client.post(reject, {"reason": ""})
    dsr.refresh_from_db()
    assert dsr.status == DataSubjectRequest.Status.OPEN

    client.post(reject, {"reason": "Could not be identified"})
    dsr.refresh_from_db()
    assert dsr.status == DataSubjectRequest.Status.REJECTED
    page = client.get(reverse("inbox:data_subject_request", args=[dsr.id])).content.decode()
    assert "Could not be identified" in page


def test_the_request_page_with_search_results_reads_a_bounded_number_of_queries(
    logged_in, administrator, agent, channel, mastodon_channel, django_assert_max_num_queries
):
    from inbox.services import contacts_link, data_subject_contacts_select

    contacts = [citizen_writes(channel, username=f"jansen{index}").contact for index in range(6)]
    linked = citizen_writes(mastodon_channel, username="andere@social.example").contact
    contacts_link(actor=agent.user, contact_id=contacts[0].id, other_contact_id=linked.id)
    dsr = _request(administrator)
    data_subject_contacts_select(
        actor=administrator.user, request_id=dsr.id, contact_ids=[contacts[1].id]
    )
    client = logged_in(administrator)

    with django_assert_max_num_queries(16):
        response = client.get(reverse("inbox:data_subject_request", args=[dsr.id]), {"q": "jansen"})

    page = response.content.decode()
    assert page.count('name="contact"') == 7
    assert 'id="linked-contacts"' in page
