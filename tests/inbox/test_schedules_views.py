"""A team's opening hours and closed days (services and the page at /teams/<id>/opening-hours/)
and the service norm pages at /dashboard/norms/: team leads only, every change audited, and a
change of hours marks exactly that team's conversations for the metrics refresh."""

from __future__ import annotations

from datetime import date

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import translation

from inbox.metrics.working_time import DEFAULT_PERIODS, calendar_for_team
from inbox.models import (
    AuditEvent,
    ClosedDay,
    MetricsDirtyConversation,
    OpeningPeriod,
    ServiceNorm,
    TeamSchedule,
)
from inbox.services import (
    ServiceError,
    opening_period_problems,
    team_closed_day_add,
    team_closed_day_remove,
    team_create,
    team_opening_hours_set,
    team_update,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

WEEKDAYS_08_30_17 = [(day, 510, 1020) for day in range(5)]
WITH_EVENING = [*WEEKDAYS_08_30_17, (3, 19 * 60, 21 * 60)]


@pytest.fixture
def team(team_lead):  # type: ignore[no-untyped-def]
    return team_create(actor=team_lead.user, name="Afval & Reiniging", is_default=True)


@pytest.fixture
def other_team(team_lead):  # type: ignore[no-untyped-def]
    return team_create(actor=team_lead.user, name="Parkeren")


# --- services -------------------------------------------------------------------------------


def test_setting_hours_creates_the_schedule_and_audits_old_and_new(team_lead, team) -> None:  # type: ignore[no-untyped-def]
    assert not TeamSchedule.objects.filter(team=team).exists()

    team_opening_hours_set(
        actor=team_lead.user, team_id=team.pk, periods=WITH_EVENING, observes_public_holidays=False
    )

    calendar = calendar_for_team(team.pk)
    assert calendar.periods == tuple(sorted(WITH_EVENING))
    assert calendar.observes_public_holidays is False
    event = AuditEvent.objects.get(action="team.opening_hours_changed")
    assert event.actor == team_lead.user
    assert event.data["team_id"] == team.pk
    assert event.data["previous_periods"] == [list(p) for p in DEFAULT_PERIODS]
    assert event.data["periods"] == [list(p) for p in sorted(WITH_EVENING)]
    assert event.data["previous_observes_public_holidays"] is True
    assert event.data["observes_public_holidays"] is False


def test_setting_hours_again_replaces_the_periods(team_lead, team) -> None:  # type: ignore[no-untyped-def]
    team_opening_hours_set(
        actor=team_lead.user, team_id=team.pk, periods=WITH_EVENING, observes_public_holidays=True
    )
    team_opening_hours_set(
        actor=team_lead.user,
        team_id=team.pk,
        periods=[(0, 600, 720)],
        observes_public_holidays=True,
    )
    assert calendar_for_team(team.pk).periods == ((0, 600, 720),)
    assert OpeningPeriod.objects.filter(schedule__team=team).count() == 1
    last = AuditEvent.objects.filter(action="team.opening_hours_changed").latest("id")
    assert last.data["previous_periods"] == [list(p) for p in sorted(WITH_EVENING)]


def test_a_period_closing_at_midnight_is_accepted(team_lead, team) -> None:  # type: ignore[no-untyped-def]
    team_opening_hours_set(
        actor=team_lead.user,
        team_id=team.pk,
        periods=[(4, 22 * 60, 1440), (5, 0, 120)],
        observes_public_holidays=True,
    )
    assert calendar_for_team(team.pk).periods == ((4, 1320, 1440), (5, 0, 120))


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        ([(0, 510, 1020), (0, 960, 1080)], "08:30-17:00 and 16:00-18:00 overlap"),
        ([(1, 1020, 510)], "closes before it opens"),
        ([(2, 600, 600)], "closes before it opens"),
        ([(3, 600, 1500)], "between 00:00 and 24:00"),
    ],
)
def test_invalid_hours_are_refused_and_nothing_changes(team_lead, team, periods, message) -> None:  # type: ignore[no-untyped-def]
    with translation.override("en"), pytest.raises(ServiceError, match=message):
        team_opening_hours_set(
            actor=team_lead.user, team_id=team.pk, periods=periods, observes_public_holidays=True
        )
    assert not TeamSchedule.objects.filter(team=team).exists()
    assert not AuditEvent.objects.filter(action="team.opening_hours_changed").exists()


def test_touching_periods_do_not_overlap() -> None:
    assert opening_period_problems([(0, 510, 720), (0, 720, 1020)]) == []
    assert opening_period_problems([(0, 510, 720), (1, 600, 700)]) == []


def test_an_agent_cannot_change_hours_or_closed_days(agent, team) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        team_opening_hours_set(
            actor=agent.user, team_id=team.pk, periods=[], observes_public_holidays=True
        )
    with pytest.raises(PermissionDenied):
        team_closed_day_add(actor=agent.user, team_id=team.pk, day=date(2026, 12, 24))
    assert not TeamSchedule.objects.filter(team=team).exists()
    assert (
        not AuditEvent.objects.filter(action__startswith="team.")
        .exclude(action="team.created")
        .exists()
    )


def test_a_change_of_hours_marks_exactly_that_teams_conversations(
    team_lead, team, other_team, channel
) -> None:  # type: ignore[no-untyped-def]
    ours = [citizen_writes(channel, username=f"burger{n}") for n in range(3)]
    team_update(
        actor=team_lead.user,
        team_id=other_team.pk,
        name=other_team.name,
        description="",
        is_default=True,
    )
    theirs = citizen_writes(channel, username="andere")
    assert {c.team_id for c in ours} == {team.pk}
    assert theirs.team_id == other_team.pk
    MetricsDirtyConversation.objects.all().delete()

    team_opening_hours_set(
        actor=team_lead.user, team_id=team.pk, periods=WITH_EVENING, observes_public_holidays=True
    )

    marked = list(MetricsDirtyConversation.objects.values_list("conversation_id", flat=True))
    assert sorted(marked) == sorted(c.pk for c in ours)


def test_adding_and_removing_a_closed_day_is_audited_and_marks_conversations(
    team_lead, team, channel
) -> None:  # type: ignore[no-untyped-def]
    conversation = citizen_writes(channel)
    MetricsDirtyConversation.objects.all().delete()

    closed = team_closed_day_add(
        actor=team_lead.user, team_id=team.pk, day=date(2026, 5, 15), name="  Brugdag "
    )

    assert closed.name == "Brugdag"
    assert date(2026, 5, 15) in calendar_for_team(team.pk).closed_days
    # The schedule it created has the default hours.
    assert calendar_for_team(team.pk).periods == DEFAULT_PERIODS
    added = AuditEvent.objects.get(action="team.closed_day_added")
    assert added.data == {
        "team_id": team.pk,
        "closed_day_id": closed.pk,
        "date": "2026-05-15",
        "name": "Brugdag",
    }
    assert list(MetricsDirtyConversation.objects.values_list("conversation_id", flat=True)) == [
        conversation.pk
    ]

    team_closed_day_remove(actor=team_lead.user, team_id=team.pk, closed_day_id=closed.pk)

    assert not ClosedDay.objects.exists()
    removed = AuditEvent.objects.get(action="team.closed_day_removed")
    assert removed.data["date"] == "2026-05-15"
    assert MetricsDirtyConversation.objects.count() == 2


def test_the_same_closed_day_twice_is_refused(team_lead, team) -> None:  # type: ignore[no-untyped-def]
    team_closed_day_add(actor=team_lead.user, team_id=team.pk, day=date(2026, 12, 24))
    with pytest.raises(ServiceError):
        team_closed_day_add(actor=team_lead.user, team_id=team.pk, day=date(2026, 12, 24))
    assert ClosedDay.objects.count() == 1


def test_a_closed_day_of_another_team_cannot_be_removed_through_this_one(
    team_lead, team, other_team
) -> None:  # type: ignore[no-untyped-def]
    theirs = team_closed_day_add(
        actor=team_lead.user, team_id=other_team.pk, day=date(2026, 12, 24)
    )
    with pytest.raises(ServiceError):
        team_closed_day_remove(actor=team_lead.user, team_id=team.pk, closed_day_id=theirs.pk)
    assert ClosedDay.objects.filter(pk=theirs.pk).exists()


# --- the opening hours page -----------------------------------------------------------------


def _hours_post(**days: list[tuple[str, str]]) -> dict[str, str]:
    """Form data: `mon=[("08:30", "17:00")]`; days not given are closed."""
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    data: dict[str, str] = {"observes_public_holidays": "on"}
    for weekday, name in enumerate(names):
        periods = days.get(name, [])
        if periods:
            data[f"day{weekday}_open"] = "on"
        for index, (opens, closes) in enumerate([*periods, ("", "")]):
            data[f"day{weekday}_opens{index}"] = opens
            data[f"day{weekday}_closes{index}"] = closes
    return data


def test_the_page_shows_the_default_hours_and_the_coming_holidays(
    logged_in, team_lead, team, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    client = logged_in(team_lead)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    url = reverse("inbox:opening_hours", args=[team.pk])
    with translation.override("en"), django_assert_max_num_queries(10):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="08:30"' in html
    assert 'value="17:00"' in html
    assert "Eerste kerstdag" in html
    assert "Open 42 hours and 30 minutes a week." in html


def test_an_agent_gets_403_and_a_visitor_the_login_page(client, logged_in, agent, team) -> None:  # type: ignore[no-untyped-def]
    url = reverse("inbox:opening_hours", args=[team.pk])
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]
    assert logged_in(agent).get(url).status_code == 403
    assert logged_in(agent).post(url, _hours_post(mon=[("09:00", "17:00")])).status_code == 403
    assert not TeamSchedule.objects.exists()


def test_saving_the_form_sets_the_hours_and_says_figures_are_recalculated(
    logged_in, team_lead, team
) -> None:  # type: ignore[no-untyped-def]
    client = logged_in(team_lead)
    url = reverse("inbox:opening_hours", args=[team.pk])
    data = _hours_post(
        mon=[("8:30", "17:00")],
        thu=[("08:30", "17:00"), ("19:00", "21:00")],
        fri=[("22:00", "24:00")],
    )
    response = client.post(url, data, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert calendar_for_team(team.pk).periods == (
        (0, 510, 1020),
        (3, 510, 1020),
        (3, 1140, 1260),
        (4, 1320, 1440),
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("recalculated" in m or "herberekend" in m for m in messages)


def test_an_overlap_in_the_form_is_shown_for_that_day_and_nothing_is_saved(
    logged_in, team_lead, team
) -> None:  # type: ignore[no-untyped-def]
    client = logged_in(team_lead)
    url = reverse("inbox:opening_hours", args=[team.pk])
    with translation.override("en"):
        response = client.post(
            url,
            _hours_post(tue=[("08:30", "17:00"), ("16:00", "18:00")]),
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code == 422
    html = response.content.decode()
    assert "overlap" in html or "overlappen" in html
    assert 'id="day1-errors"' in html
    assert not TeamSchedule.objects.exists()


@pytest.mark.parametrize("bad", ["25:00", "8:75", "half negen", "24:30"])
def test_a_time_that_is_no_time_is_refused(logged_in, team_lead, team, bad: str) -> None:  # type: ignore[no-untyped-def]
    response = logged_in(team_lead).post(
        reverse("inbox:opening_hours", args=[team.pk]), _hours_post(wed=[("08:30", bad)])
    )
    assert response.status_code == 422
    assert 'id="day2-errors"' in response.content.decode()
    assert not TeamSchedule.objects.exists()


def test_a_day_ticked_open_without_hours_is_refused(logged_in, team_lead, team) -> None:  # type: ignore[no-untyped-def]
    data = _hours_post(mon=[("08:30", "17:00")])
    data["day6_open"] = "on"
    response = logged_in(team_lead).post(reverse("inbox:opening_hours", args=[team.pk]), data)
    assert response.status_code == 422
    assert 'id="day6-errors"' in response.content.decode()


def test_periods_of_a_day_not_ticked_open_are_dropped(logged_in, team_lead, team) -> None:  # type: ignore[no-untyped-def]
    data = _hours_post(mon=[("08:30", "17:00")], sat=[("10:00", "12:00")])
    del data["day5_open"]
    logged_in(team_lead).post(reverse("inbox:opening_hours", args=[team.pk]), data)
    assert calendar_for_team(team.pk).periods == ((0, 510, 1020),)


def test_closed_days_are_added_and_removed_on_the_page(
    logged_in, team_lead, team, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    client = logged_in(team_lead)
    add_url = reverse("inbox:closed_day_add", args=[team.pk])
    response = client.post(add_url, {"date": "2026-12-24", "name": "Kerstavond"})
    assert response.status_code == 302
    closed = ClosedDay.objects.get()
    assert closed.name == "Kerstavond"
    with django_assert_max_num_queries(10):
        page = client.get(reverse("inbox:opening_hours", args=[team.pk]))
    assert "Kerstavond" in page.content.decode()

    again = client.post(add_url, {"date": "2026-12-24"})
    assert again.status_code == 422

    client.post(reverse("inbox:closed_day_remove", args=[team.pk, closed.pk]))
    assert not ClosedDay.objects.exists()


def test_the_team_list_links_to_the_opening_hours(logged_in, team_lead, team) -> None:  # type: ignore[no-untyped-def]
    response = logged_in(team_lead).get(reverse("inbox:team_list"))
    assert reverse("inbox:opening_hours", args=[team.pk]) in response.content.decode()


# --- the norm pages -------------------------------------------------------------------------


def test_the_norms_page_lists_norms_in_order_with_their_promise(
    logged_in, team_lead, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    client = logged_in(team_lead)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    # Six today, whatever the number of norms (their channels come in the same query).
    with django_assert_max_num_queries(8):
        response = client.get(reverse("inbox:service_norms"))
    assert response.status_code == 200
    html = response.content.decode()
    names = list(ServiceNorm.objects.order_by("position").values_list("name", flat=True))
    positions = [html.index(name) for name in names]
    assert positions == sorted(positions)
    assert "First response within 1 working day on private messages, every channel." in html


def test_norm_pages_are_for_team_leads_only(client, logged_in, agent) -> None:  # type: ignore[no-untyped-def]
    norm = ServiceNorm.objects.first()
    assert norm is not None
    urls = [
        reverse("inbox:service_norms"),
        reverse("inbox:service_norm_create"),
        reverse("inbox:service_norm_edit", args=[norm.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    agent_client = logged_in(agent)
    for url in urls:
        assert agent_client.get(url).status_code == 403, url
    delete = agent_client.post(reverse("inbox:service_norm_delete", args=[norm.pk]))
    assert delete.status_code == 403
    assert ServiceNorm.objects.filter(pk=norm.pk).exists()


def test_creating_a_norm_on_the_page(logged_in, team_lead, channel) -> None:  # type: ignore[no-untyped-def]
    client = logged_in(team_lead)
    response = client.post(
        reverse("inbox:service_norm_create"),
        {
            "name": "Urgent binnen een half uur",
            "metric": "first_response",
            "target_hours": "0",
            "target_minutes": "30",
            "clock": "calendar",
            "channel": str(channel.pk),
            "visibility": "any",
            "priority": "4",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    created = ServiceNorm.objects.get(name="Urgent binnen een half uur")
    assert (created.target_minutes, created.clock, created.channel_id, created.priority) == (
        30,
        "calendar",
        channel.pk,
        4,
    )
    assert created.position == max(ServiceNorm.objects.values_list("position", flat=True))


def test_a_zero_target_is_refused_on_the_page(logged_in, team_lead) -> None:  # type: ignore[no-untyped-def]
    count = ServiceNorm.objects.count()
    response = logged_in(team_lead).post(
        reverse("inbox:service_norm_create"),
        {
            "name": "Nul",
            "metric": "first_response",
            "target_hours": "0",
            "target_minutes": "0",
            "clock": "working",
            "visibility": "any",
        },
    )
    assert response.status_code == 422
    assert ServiceNorm.objects.count() == count


def test_editing_moving_and_deleting_a_norm_on_the_page(logged_in, team_lead) -> None:  # type: ignore[no-untyped-def]
    client = logged_in(team_lead)
    first, second, third = ServiceNorm.objects.order_by("position")
    edit_url = reverse("inbox:service_norm_edit", args=[second.pk])
    assert 'value="1"' in client.get(edit_url).content.decode()  # 60 minutes = 1 h 0 min
    response = client.post(
        edit_url,
        {
            "name": second.name,
            "metric": "first_response",
            "target_hours": "2",
            "target_minutes": "15",
            "clock": "working",
            "visibility": "public",
        },
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert (second.target_minutes, second.visibility, second.is_active) == (135, "public", False)

    client.post(reverse("inbox:service_norm_move", args=[third.pk]), {"direction": "up"})
    assert list(ServiceNorm.objects.order_by("position").values_list("id", flat=True)) == [
        first.pk,
        third.pk,
        second.pk,
    ]

    client.post(reverse("inbox:service_norm_delete", args=[first.pk]))
    assert not ServiceNorm.objects.filter(pk=first.pk).exists()
