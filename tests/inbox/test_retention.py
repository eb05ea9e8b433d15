"""Retention policies and runs (inbox/services/privacy.py, inbox/selectors/privacy.py), the
`retention` command and the administrators' page."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from inbox.models import (
    ArchiveExport,
    AuditEvent,
    Conversation,
    RetentionPolicy,
    RetentionRun,
)
from inbox.services import (
    ServiceError,
    conversation_resolve,
    retention_apply,
    retention_policy_set,
)
from inbox.services import privacy as privacy_services
from tests.inbox.helpers import citizen_writes
from tests.inbox.privacy_helpers import resolved_history

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=AMSTERDAM)
CUTOFF = datetime(2025, 11, 29, 12, 0, tzinfo=AMSTERDAM)


def _archived(date_from: date, date_to: date) -> ArchiveExport:
    return ArchiveExport.objects.create(
        date_from=date_from, date_to=date_to, status=ArchiveExport.Status.COMPLETED
    )


def _no_archive_needed(administrator, channel=None) -> None:  # type: ignore[no-untyped-def]
    retention_policy_set(
        actor=administrator.user,
        channel_id=channel.id if channel else None,
        action="anonymise",
        months_after_resolution=12,
        require_archive=False,
        basis="Selectielijst gemeenten 2020, 1.1",
        is_active=True,
    )


def _anonymised() -> set[int]:
    return set(
        Conversation.objects.filter(anonymised_at__isnull=False).values_list("id", flat=True)
    )


def test_a_conversation_resolved_exactly_twelve_months_ago_is_kept(channel, agent, administrator):
    _no_archive_needed(administrator)
    # Resolved twenty minutes after the first message (resolved_history).
    on_the_edge = resolved_history(
        channel, agent, at=CUTOFF - timedelta(minutes=20), username="rand"
    )
    just_before = resolved_history(
        channel, agent, at=CUTOFF - timedelta(minutes=20, seconds=1), username="ervoor"
    )

    run = retention_apply(dry_run=False, now=NOW)

    assert _anonymised() == {just_before.id}
    assert on_the_edge.id not in _anonymised()
    assert run.report["conversations"] == 1


def test_the_cutoff_counts_calendar_months_in_amsterdam(channel, agent, administrator):
    # 31 May minus 3 months is 28 February (not 3 March).
    now = datetime(2026, 5, 31, 12, 0, tzinfo=AMSTERDAM)
    retention_policy_set(
        actor=administrator.user,
        channel_id=None,
        action="anonymise",
        months_after_resolution=3,
        require_archive=False,
        basis="",
        is_active=True,
    )
    due = resolved_history(channel, agent, at=datetime(2026, 2, 28, 11, 0, tzinfo=AMSTERDAM))
    kept = resolved_history(
        channel, agent, at=datetime(2026, 3, 1, 9, 0, tzinfo=AMSTERDAM), username="maart"
    )

    retention_apply(dry_run=False, now=now)

    assert due.id in _anonymised()
    assert kept.id not in _anonymised()


def test_a_reopened_conversation_counts_from_its_last_resolution(channel, agent, administrator):
    _no_archive_needed(administrator)
    conversation = resolved_history(channel, agent, at=NOW - timedelta(days=500), username="weer")
    with time_machine.travel(NOW - timedelta(days=200), tick=False):
        citizen_writes(channel, username="weer", thread=conversation.external_thread_id)
    with time_machine.travel(NOW - timedelta(days=199), tick=False):
        conversation_resolve(conversation_id=conversation.id, actor=agent.user)

    retention_apply(dry_run=False, now=NOW)

    assert _anonymised() == set()


def test_an_unresolved_conversation_is_never_removed(channel, agent, administrator):
    _no_archive_needed(administrator)
    with time_machine.travel(NOW - timedelta(days=900), tick=False):
        citizen_writes(channel, username="open")

    run = retention_apply(dry_run=False, now=NOW)

    assert _anonymised() == set()
    assert run.report["conversations"] == 0


def test_the_default_policy_keeps_what_no_archive_export_covers(channel, agent):
    covered = resolved_history(channel, agent, at=datetime(2024, 3, 5, 10, 0, tzinfo=AMSTERDAM))
    uncovered = resolved_history(
        channel, agent, at=datetime(2024, 9, 5, 10, 0, tzinfo=AMSTERDAM), username="later"
    )
    # The export whose range holds the first message counts; a failed one does not.
    _archived(date(2024, 1, 1), date(2024, 2, 29))
    _archived(date(2024, 3, 1), date(2024, 6, 30))
    ArchiveExport.objects.create(
        date_from=date(2024, 7, 1), date_to=date(2024, 12, 31), status="failed"
    )

    run = retention_apply(dry_run=False, now=NOW)

    assert _anonymised() == {covered.id}
    assert uncovered.id not in _anonymised()
    (report,) = run.report["channels"]
    assert (report["conversations"], report["kept_unarchived"]) == (1, 1)


def test_an_export_made_before_the_last_activity_does_not_count(channel, agent):
    conversation = resolved_history(
        channel, agent, at=datetime(2024, 3, 5, 10, 0, tzinfo=AMSTERDAM)
    )
    early = _archived(date(2024, 3, 1), date(2024, 3, 31))
    # Made before the conversation's last reply: the export lacks that reply.
    ArchiveExport.objects.filter(pk=early.pk).update(
        created_at=conversation.first_inbound_at + timedelta(minutes=1)
    )
    # The next range's export does not take it either: it started in March.
    _archived(date(2024, 4, 1), date(2024, 12, 31))

    run = retention_apply(dry_run=False, now=NOW)

    assert conversation.id not in _anonymised()
    (report,) = run.report["channels"]
    assert (report["conversations"], report["kept_unarchived"]) == (0, 1)

    _archived(date(2024, 3, 1), date(2024, 3, 31))
    retention_apply(dry_run=False, now=NOW)

    assert conversation.id in _anonymised()


def test_a_dry_run_changes_nothing_and_the_real_run_does_what_it_said(
    channel, agent, administrator
):
    _no_archive_needed(administrator)
    due = [
        resolved_history(channel, agent, at=NOW - timedelta(days=400 + n), username=f"d{n}")
        for n in range(3)
    ]
    resolved_history(channel, agent, at=NOW - timedelta(days=30), username="recent")

    dry = retention_apply(actor=administrator.user, dry_run=True, now=NOW)

    assert _anonymised() == set()
    assert dry.dry_run
    assert (dry.report["conversations"], dry.report["messages"]) == (3, 6)
    assert AuditEvent.objects.filter(action="retention.dry_run").count() == 1

    real = retention_apply(dry_run=False, now=NOW)

    assert _anonymised() == {c.id for c in due}
    assert real.report["conversations"] == dry.report["conversations"]
    assert real.report["done"] == 3
    assert real.error == ""
    assert AuditEvent.objects.get(action="retention.applied").data["done"] == 3


def test_a_run_that_fails_halfway_keeps_its_batches_and_the_next_run_continues(
    channel, agent, administrator, monkeypatch
):
    _no_archive_needed(administrator)
    for n in range(5):
        resolved_history(
            channel, agent, at=NOW - timedelta(days=400 + n), username=f"b{n}", answered=False
        )
    real_anonymise = privacy_services.conversations_anonymise
    calls = []

    def failing_second_batch(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_anonymise(**kwargs)

    monkeypatch.setattr(privacy_services, "conversations_anonymise", failing_second_batch)
    failed = retention_apply(dry_run=False, now=NOW, batch_size=2)
    monkeypatch.undo()

    assert "database went away" in failed.error
    assert failed.report["done"] == 2
    assert len(_anonymised()) == 2

    retention_apply(dry_run=False, now=NOW, batch_size=2)

    assert len(_anonymised()) == 5


def test_a_delete_policy_deletes_the_due_conversations(channel, agent, administrator):
    retention_policy_set(
        actor=administrator.user,
        channel_id=channel.id,
        action="delete",
        months_after_resolution=24,
        require_archive=False,
        basis="",
        is_active=True,
    )
    old = resolved_history(channel, agent, at=NOW - timedelta(days=800), username="oud")
    younger = resolved_history(channel, agent, at=NOW - timedelta(days=500), username="jong")

    run = retention_apply(dry_run=False, now=NOW)

    assert not Conversation.objects.filter(pk=old.pk).exists()
    assert Conversation.objects.filter(pk=younger.pk).exists()
    assert run.report["channels"][0]["action"] == "delete"


def test_a_channel_whose_own_policy_is_off_is_left_alone(channel, agent, administrator):
    _no_archive_needed(administrator)
    retention_policy_set(
        actor=administrator.user,
        channel_id=channel.id,
        action="anonymise",
        months_after_resolution=12,
        require_archive=False,
        basis="",
        is_active=False,
    )
    resolved_history(channel, agent, at=NOW - timedelta(days=900))

    run = retention_apply(dry_run=False, now=NOW)

    assert _anonymised() == set()
    assert run.report["channels"] == []


def test_changing_a_policy_is_audited_with_the_previous_values(administrator):
    _no_archive_needed(administrator)

    event = AuditEvent.objects.get(action="retention.policy_changed")
    assert event.data["previous"] == {
        "action": "anonymise",
        "months_after_resolution": 12,
        "require_archive": True,
        "basis": "",
        "is_active": True,
    }
    assert event.data["current"]["require_archive"] is False
    assert RetentionPolicy.objects.count() == 1


def test_a_policy_term_must_be_at_least_one_month(administrator):
    with pytest.raises(ServiceError):
        retention_policy_set(
            actor=administrator.user,
            channel_id=None,
            action="anonymise",
            months_after_resolution=0,
            require_archive=True,
            basis="",
            is_active=True,
        )


# --- the command ----------------------------------------------------------------------------


def test_the_command_prints_the_dry_run_and_applies_only_with_yes(channel, agent, administrator):
    _no_archive_needed(administrator)
    resolved_history(channel, agent, at=NOW - timedelta(days=500))
    out = io.StringIO()

    with time_machine.travel(NOW, tick=False):
        call_command("retention", "dry-run", stdout=out)
        assert "1" in out.getvalue() and channel.name in out.getvalue()
        call_command("retention", "apply", stdout=io.StringIO())
        assert _anonymised() == set()
        call_command("retention", "apply", "--yes", stdout=io.StringIO())
    assert len(_anonymised()) == 1
    policies = io.StringIO()
    call_command("retention", "policies", stdout=policies)
    assert "anonymise" in policies.getvalue()


# --- the page -------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["agent", "team_lead"])
def test_only_administrators_see_the_retention_page(persona, request, logged_in, client):
    logged_in(request.getfixturevalue(persona))

    assert client.get(reverse("inbox:retention")).status_code == 403
    assert client.post(reverse("inbox:retention"), {"form": "dry_run"}).status_code == 403
    assert RetentionRun.objects.count() == 0


def test_the_page_lists_the_policies_in_few_queries(
    channel, mastodon_channel, administrator, logged_in, client, django_assert_max_num_queries
):
    logged_in(administrator)
    retention_apply(dry_run=True, now=NOW)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("inbox:retention"))

    page = response.content.decode()
    assert response.status_code == 200
    assert channel.name in page and mastodon_channel.name in page


def test_after_a_run_the_page_does_not_show_the_dry_run_that_preceded_it(
    channel, administrator, logged_in, client
):
    logged_in(administrator)
    retention_apply(dry_run=True, now=NOW)
    before = client.get(reverse("inbox:retention")).context["latest_dry_run"]
    retention_apply(dry_run=False, now=NOW)

    after = client.get(reverse("inbox:retention"))

    assert before is not None
    assert after.context["latest_dry_run"] is None
    assert "Geen proefrun sinds de laatste run" in after.content.decode()


def test_an_administrator_sets_a_channel_policy_on_the_page(
    channel, administrator, logged_in, client
):
    logged_in(administrator)

    response = client.post(
        reverse("inbox:retention"),
        {
            "form": "policy",
            "channel": str(channel.id),
            "action": "delete",
            "months_after_resolution": "24",
            "basis": "Selectielijst 1.1",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    policy = RetentionPolicy.objects.get(channel=channel)
    assert (policy.action, policy.months_after_resolution, policy.require_archive) == (
        "delete",
        24,
        False,
    )


def test_a_wrong_term_shows_an_error_on_the_page(channel, administrator, logged_in, client):
    logged_in(administrator)

    response = client.post(
        reverse("inbox:retention"),
        {"form": "policy", "channel": "", "action": "anonymise", "months_after_resolution": "0"},
    )

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_apply_on_the_page_asks_for_confirmation_first(
    channel, agent, administrator, logged_in, client
):
    _no_archive_needed(administrator)
    logged_in(administrator)
    resolved_history(channel, agent, at=timedelta(days=-500) + datetime.now(tz=AMSTERDAM))

    dry = client.post(reverse("inbox:retention"), {"form": "dry_run"})
    assert dry.status_code == 302
    assert RetentionRun.objects.filter(dry_run=True).count() == 1
    confirm = client.post(reverse("inbox:retention"), {"form": "apply"})
    assert confirm.status_code == 200
    assert _anonymised() == set()
    assert "1" in confirm.content.decode()

    applied = client.post(reverse("inbox:retention"), {"form": "apply", "confirmed": "yes"})

    assert applied.status_code == 302
    assert len(_anonymised()) == 1
