"""Property-based runs of the whole API against its own OpenAPI schema (schemathesis):
generated requests never get a 5xx and every answer conforms to the schema (status code,
content type, body, headers).

- With an **administrator's** token, the one role every operation allows, so channels and
  archive exports are exercised past their 403; positive and negative generation. Every
  operation must answer at least one 2xx: proof that the requests reach the services.
- With a **trainee's** token, a few positive examples per operation: refusals (403) keep
  to the schema too.
- A **stateful** run: schemathesis chains operations along the links it infers (create a
  canned response, then read, change and delete it; add a tag, then remove it …).

Ids in paths are drawn from rows that exist in the states worth trying (resolved,
anonymised, merged conversations; a reply awaiting approval and a sent one; completed,
running and failed archive exports; each kind of channel) and one that does not.
Each example runs inside a savepoint that is rolled back, so examples are independent and
Hypothesis can replay a failure. Bounded and derandomized: reproducible; about 35 s of CPU,
2 min 15 s wall time measured on a 2-core machine shared with other test runs.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import ComponentInfo
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from channels.models import Channel
from channels.services import channel_create, channel_record_poll_failure
from inbox.metrics.export import metrics_tables_load
from inbox.models import AgentProfile, ArchiveExport, Team, TeamMembership
from inbox.services import (
    agent_update_settings,
    api_token_issue,
    archive_export_create,
    archive_export_start,
    canned_response_create,
    conversation_resolve,
    conversation_tag,
    conversation_take,
    conversations_anonymise,
    conversations_merge,
    note_create,
    reply_create,
    staff_member_create,
)
from tests.figures import report_figures
from tests.inbox.helpers import citizen_writes

MISSING_ID = 2_000_000_000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
_POSITIVE = ComponentInfo(mode=GenerationMode.POSITIVE)
# A request the schema calls invalid must be refused (4xx), not carried out.
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
# What succeeded with the token must be refused without it (401).
POSITIVE_CHECKS = [*CHECKS, ignored_auth]


@pytest.fixture
def api_data(
    db,
    channel,
    agent,
    second_agent,
    team_lead,
    administrator,
    trainee,
    settings,
    tmp_path,
    monkeypatch,
):  # type: ignore[no-untyped-def]
    """Real rows for every id in the paths, in the states worth trying."""
    from channels import tasks

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    settings.WEBCARE_ARCHIVE_DIR = tmp_path / "archive"
    monkeypatch.setattr(tasks.poll, "delay", lambda channel_id: None)
    monkeypatch.setattr(tasks.poll, "apply_async", lambda *args, **kwargs: None)
    admin = administrator.user
    team = Team.objects.create(name="Afval & Reiniging")
    TeamMembership.objects.create(team=team, user=agent.user)
    facebook = channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id="1234567890",
        credentials={"access_token": "EAAB-page-token", "app_secret": "app-secret"},
    )
    channel_record_poll_failure(
        channel_id=facebook.id,
        error="Error validating access token https://graph.example/x?access_token=EAAB-secret",
        needs_attention=True,
    )
    first = citizen_writes(channel, username="burger", text="Container niet geleegd")
    second = citizen_writes(channel, username="burger", text="Nog een vraag")
    resolved = citizen_writes(channel, username="buurman", text="Bedankt!")
    conversation_take(conversation_id=resolved.id, actor=admin)
    conversation_resolve(conversation_id=resolved.id, actor=admin)
    anonymised = citizen_writes(channel, username="oud", text="Oude vraag")
    conversations_anonymise(actor=None, conversation_ids=[anonymised.id], reason="test")
    merged_away = citizen_writes(channel, username="burger", text="Dubbele vraag")
    conversations_merge(source_id=merged_away.id, target_id=second.id, actor=admin)
    agent_update_settings(actor=team_lead.user, user_id=agent.user.pk, in_training=True)
    awaiting = reply_create(
        conversation_id=first.id, actor=agent.user, text="Komt goed", idempotency_key=uuid.uuid4()
    )
    sent = reply_create(
        conversation_id=resolved.id, actor=admin, text="Graag gedaan", idempotency_key=uuid.uuid4()
    )
    tag = conversation_tag(conversation_id=first.id, actor=team_lead.user, name="afval")
    note_create(conversation_id=first.id, actor=team_lead.user, text="@anouk kijk je even?")
    shared = canned_response_create(
        actor=team_lead.user, shortcut="afval", title="Afval", text="Hoi {{ naam }}", shared=True
    )
    personal = canned_response_create(
        actor=admin,
        shortcut="mijn",
        title="Mijn tekst",
        text="Groet, {{ agent_voornaam }}",
        shared=False,
    )
    yesterday = timezone.localdate() - timedelta(days=1)
    completed = archive_export_create(
        actor=admin, date_from=yesterday, date_to=yesterday, out_dir=tmp_path / "completed"
    )
    running = archive_export_start(actor=admin, date_from=date(2026, 1, 1), date_to=yesterday)
    failed = archive_export_start(actor=admin, date_from=date(2025, 1, 1), date_to=yesterday)
    ArchiveExport.objects.filter(pk=failed.pk).update(
        status=ArchiveExport.Status.FAILED, error="disk full"
    )
    outsider = staff_member_create(
        username="oud-collega", password="x" * 12, role=AgentProfile.Role.AGENT
    )
    return {
        "conversation_id": [
            first.id,
            second.id,
            resolved.id,
            anonymised.id,
            merged_away.id,
            MISSING_ID,
        ],
        "message_id": [
            awaiting.id,
            sent.id,
            first.messages.filter(direction="inbound").first().id,
            anonymised.messages.first().id,
            MISSING_ID,
        ],
        "canned_response_id": [shared.id, personal.id, MISSING_ID],
        "tag_id": [tag.id, MISSING_ID],
        "user_id": [
            agent.user.pk,
            second_agent.user.pk,
            admin.pk,
            trainee.user.pk,
            outsider.user.pk,
            MISSING_ID,
        ],
        "channel_id": [channel.id, facebook.id, MISSING_ID],
        "export_id": [completed.id, running.id, failed.id, MISSING_ID],
        "slug": [*sorted(metrics_tables_load()), "no-such-table"],
        "team_id": team.id,
        "administrator": api_token_issue(user_id=admin.pk).key,
        "trainee": api_token_issue(user_id=trainee.user.pk).key,
    }


@pytest.fixture
def api_schema(api_data, client):  # type: ignore[no-untyped-def]
    raw = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path_item in raw["paths"].values():
        for parameter in path_item.get("parameters", []):
            _pin_ids(parameter, api_data)
        for operation in path_item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                _pin_ids(parameter, api_data)
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = get_wsgi_application()
    schema.location = "/api/schema/"
    # Requests go straight to the WSGI handler, which closes the database connection after
    # each one; that connection holds the test's transaction. Django's test client avoids
    # this the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schema
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _pin_ids(parameter: dict, api_data: dict) -> None:
    if parameter.get("in") != "path" or parameter["name"] not in api_data:
        return
    values = api_data[parameter["name"]]
    kind = "integer" if isinstance(values[0], int) else "string"
    parameter["schema"] = {"type": kind, "enum": values}


def _run(schema, *, token, modes, max_examples, explicit_cases=None):  # type: ignore[no-untyped-def]
    """Every operation in every mode; returns (failures, statuses per operation)."""
    # Driven through Hypothesis directly: schemathesis' pytest plugin does not run under
    # pytest 9 (it sets a node attribute pytest 9 no longer has).
    headers = {"Authorization": f"Token {token}"}
    explicit_cases = explicit_cases or {}
    failures: dict[str, str] = {}
    statuses: dict[str, set[int]] = defaultdict(set)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes:
            checks = NEGATIVE_CHECKS if mode == GenerationMode.NEGATIVE else POSITIVE_CHECKS
            seen = statuses[operation.label]
            explicit = explicit_cases.get(operation.label) if mode.is_positive else None
            if explicit is not None:
                case = operation.Case(media_type="application/json", **explicit)
                response = _call_isolated(case, headers)
                seen.add(response.status_code)
                try:
                    case.validate_response(response, checks=checks, headers=headers)
                except (Exception, BaseExceptionGroup) as error:
                    failures[f"{operation.label} (explicit)"] = str(error)[:2000]
            try:
                _examples(operation, mode, max_examples, headers, checks, seen)()
            except Unsatisfiable:
                # Nothing to make invalid: an operation without parameters or body.
                assert mode == GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as error:
                failures[f"{operation.label} ({mode.value})"] = str(error)[:2000]
    return failures, statuses


def _examples(operation, mode, max_examples, headers, checks, seen):  # type: ignore[no-untyped-def]
    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def request_conforms(case):  # type: ignore[no-untyped-def]
        response = _call_isolated(case, headers)
        seen.add(response.status_code)
        # Ids are pinned to rows that exist; "outside the enum" is just another id, which the
        # API may well accept.
        path_mutated = (
            case.meta is not None
            and not case.meta.components.get(ParameterLocation.PATH, _POSITIVE).mode.is_positive
        )
        case.validate_response(response, checks=CHECKS if path_mutated else checks, headers=headers)

    return request_conforms


# Requests made, by status class ("2xx", "4xx", …): the run's figures.
REQUESTS: Counter[str] = Counter()


def _call_isolated(case, headers):  # type: ignore[no-untyped-def]
    """Each example starts from the same rows (rolled back to a savepoint afterwards): an
    example that deletes the canned response does not turn every later one into a 404, and
    Hypothesis can replay a failure exactly."""
    savepoint = transaction.savepoint()
    try:
        response = case.call(headers=headers)
    finally:
        transaction.savepoint_rollback(savepoint)
    REQUESTS[f"{response.status_code // 100}xx"] += 1
    return response


def _figures(request, name: str, title: str, operations: int, failures: dict) -> None:  # type: ignore[no-untyped-def]
    requests = dict(sorted(REQUESTS.items()))
    report_figures(
        request.config,
        name,
        [
            f"{title}: {operations} operations, {sum(requests.values())} requests "
            f"{requests}, {len(failures)} failing checks"
        ],
        {"operations": operations, "requests": requests, "failures": sorted(failures)},
    )


def _explicit_cases(api_data):  # type: ignore[no-untyped-def]
    """One request per operation that should succeed, tried before the generated ones:
    random values rarely hit what a service accepts (a channel's credential names, a moment
    in the near future)."""
    conversation, other, resolved = api_data["conversation_id"][:3]
    awaiting = api_data["message_id"][0]
    agent_id = api_data["user_id"][0]
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()
    return {
        "POST /api/v1/channels/": {
            "body": {
                "kind": "mastodon",
                "name": "nieuw-kanaal",
                "account_id": "424242",
                "credentials": {"access_token": "a-new-token"},
            }
        },
        "POST /api/v1/conversations/{conversation_id}/snooze/": {
            "path_parameters": {"conversation_id": conversation},
            "body": {"until": tomorrow},
        },
        "POST /api/v1/conversations/{conversation_id}/transfer/": {
            "path_parameters": {"conversation_id": conversation},
            "body": {"team_id": api_data["team_id"], "note": "Voor jullie"},
        },
        "POST /api/v1/conversations/{conversation_id}/assign/": {
            "path_parameters": {"conversation_id": other},
            "body": {"user_id": agent_id},
        },
        "POST /api/v1/conversations/{conversation_id}/reopen/": {
            "path_parameters": {"conversation_id": resolved},
        },
        "POST /api/v1/conversations/{conversation_id}/merge/": {
            "path_parameters": {"conversation_id": other},
            "body": {"into_id": conversation},
        },
        "POST /api/v1/replies/{message_id}/reject/": {
            "path_parameters": {"message_id": awaiting},
            "body": {"feedback": "Iets vriendelijker graag"},
        },
        "POST /api/v1/replies/{message_id}/approve/": {
            "path_parameters": {"message_id": awaiting},
            "body": {},
        },
        "POST /api/v1/archive-exports/": {
            "body": {"date_from": "2026-01-01", "date_to": "2026-01-31"},
        },
    }


def _report(failures: dict[str, str]) -> str:
    return "\n\n".join(f"{label}: {error}" for label, error in failures.items())


def test_every_operation_as_an_administrator_never_fails_and_keeps_to_its_schema(
    api_schema, api_data, request
):  # type: ignore[no-untyped-def]
    REQUESTS.clear()
    failures, statuses = _run(
        api_schema,
        token=api_data["administrator"],
        modes=(GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
        max_examples=15,
        explicit_cases=_explicit_cases(api_data),
    )
    _figures(
        request,
        "schemathesis-administrator",
        "schemathesis as an administrator (positive and negative)",
        len(statuses),
        failures,
    )

    assert len(statuses) == len(list(api_schema.get_all_operations())) >= 42
    assert not failures, _report(failures)
    # An administrator may call everything: each operation got past its permission check
    # to a real answer at least once (a 2xx), so the run tested the services, not the 403.
    never_succeeded = sorted(
        label for label, seen in statuses.items() if not any(200 <= code < 300 for code in seen)
    )
    assert not never_succeeded, {label: sorted(statuses[label]) for label in never_succeeded}


def test_refusals_keep_to_the_schema_too(api_schema, api_data, request):  # type: ignore[no-untyped-def]
    REQUESTS.clear()
    failures, statuses = _run(
        api_schema, token=api_data["trainee"], modes=(GenerationMode.POSITIVE,), max_examples=3
    )
    _figures(request, "schemathesis-trainee", "schemathesis as a trainee", len(statuses), failures)

    assert not failures, _report(failures)
    assert 403 in statuses["POST /api/v1/channels/"]
    assert 403 in statuses["GET /api/v1/archive-exports/"]


def test_chained_operations_never_fail(api_schema, api_data, request):  # type: ignore[no-untyped-def]
    """Stateful: sequences of calls along the links schemathesis infers from the schema
    (an id one answer returns used in the next request)."""
    machine = api_schema.as_state_machine()
    headers = {"Authorization": f"Token {api_data['administrator']}"}
    calls: list[tuple[str, int]] = []

    class AsAdministrator(machine):  # type: ignore[misc, valid-type]
        # Every scenario starts from the same rows, so Hypothesis can replay one exactly.
        def setup(self) -> None:
            self.savepoint = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case):  # type: ignore[no-untyped-def]
            return {"headers": headers}

        def after_call(self, response, case):  # type: ignore[no-untyped-def]
            super().after_call(response, case)
            calls.append((case.operation.label, response.status_code))

        def validate_response(self, response, case, additional_checks=(), **kwargs):  # type: ignore[no-untyped-def]
            case.validate_response(
                response,
                checks=[*CHECKS, use_after_free, ensure_resource_availability],
                headers=headers,
                recorder=getattr(self, "recorder", None),
            )

    run_state_machine_as_test(
        AsAdministrator,
        settings=settings(
            max_examples=25,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )

    by_class = Counter(f"{status // 100}xx" for _label, status in calls)
    report_figures(
        request.config,
        "schemathesis-stateful",
        [
            f"schemathesis stateful: {len(calls)} chained calls over "
            f"{len({label for label, _status in calls})} operations "
            f"{dict(sorted(by_class.items()))}"
        ],
        {"calls": len(calls), "by_status_class": dict(by_class)},
    )
    # The scenarios went beyond one step and past the permission checks.
    assert len(calls) > 50
    assert sum(200 <= status < 300 for _label, status in calls) > 20
    assert len({label for label, _status in calls}) > 15
