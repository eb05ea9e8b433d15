"""Every URL of the project refuses anonymous visitors and every role without the permission
it declares (issue 7: "an automated test enumerates all URL patterns").

The URLs come from Django's resolver (inbox/url_permissions.py), not from a list kept by
hand: a view added tomorrow is tested tomorrow, and one without a declared permission fails
`test_every_url_declares_a_permission_or_is_public_on_purpose` until it gets a decorator
(inbox/views/__init__.py), permission classes (inbox/api/permissions.py), or a place with a
reason in PUBLIC. Ids in the URLs exist nowhere, which also proves access is checked before
the object is loaded (else the answer would be 404, telling an outsider which ids exist);
URLs about conversations, messages, staff and channels are asked again with real objects.

`pytest -s tests/test_url_permissions.py` prints the matrix; docs/permissions.md is it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.management import call_command
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.test import Client
from django.urls import resolve, reverse
from rest_framework.settings import api_settings

from channels.models import Channel
from inbox.api.permissions import IsStaff
from inbox.permissions import ROLE_ORDER, Permission, Role, roles_with, roles_without
from inbox.services import staff_member_create
from inbox.url_permissions import PUBLIC, Endpoint, endpoints, matrix_markdown
from tests.inbox.helpers import citizen_writes

ENDPOINTS = endpoints()
# What the webcare roles must be refused on; public URLs and Django's admin are tested apart.
GUARDED = [e for e in ENDPOINTS if not e.is_admin and e.public_reason is None]
ADMIN = [e for e in ENDPOINTS if e.is_admin and e.public_reason is None]
DOC = Path(settings.BASE_DIR) / "docs" / "permissions.md"
# Apps whose rows a refused request must leave alone.
GUARDED_APPS = ("inbox", "channels", "auth", "authtoken")


def _id(endpoint: Endpoint) -> str:
    return f"{endpoint.name or endpoint.key} /{endpoint.route}"


@pytest.fixture(scope="module", autouse=True)
def _print_matrix(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.config.getoption("capture") == "no":  # `pytest -s`
        print("\n" + matrix_markdown())
    yield


@pytest.fixture(autouse=True)
def _fast(settings: Any) -> None:
    # Five accounts per test: the real password hasher would take most of the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Hundreds of API requests per account; the per-user budget is tested elsewhere.
    settings.WEBCARE_API_RATE_LIMIT = 1_000_000


@pytest.fixture
def people(db: None) -> dict[str, User]:
    """One account per role, and one with a login but not on the webcare team."""
    accounts = {
        str(role): staff_member_create(
            username=f"perm-{role}", password="not-used-here", role=role
        ).user
        for role in ROLE_ORDER
    }
    accounts["no profile"] = User.objects.create_user(username="perm-outsider")
    return accounts


def _client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _request(
    client: Client, method: str, endpoint: Endpoint, path: str | None = None
) -> HttpResponse:
    path = path or endpoint.path
    if method == "GET":
        return client.get(path)  # type: ignore[return-value]
    # An empty body: a refusal must come before the body is read; an allowed role gets a
    # validation error, never a change.
    content_type = "application/json" if endpoint.is_api else "application/x-www-form-urlencoded"
    data = "{}" if endpoint.is_api else ""
    return client.generic(method, path, data, content_type=content_type)  # type: ignore[return-value]


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for app_label in GUARDED_APPS
        for model in apps.get_app_config(app_label).get_models()
    }


def _is_login_redirect(response: HttpResponseBase) -> bool:
    login_url = reverse(settings.LOGIN_URL)
    return response.status_code == 302 and response["Location"].startswith(login_url)


# --- every URL declares a permission --------------------------------------------------------


def test_every_url_declares_a_permission_or_is_public_on_purpose() -> None:
    undeclared = [
        f"/{e.route} ({e.key}: {', '.join(e.undeclared_methods) or 'no decorator'})"
        for e in GUARDED
        if not e.is_declared
    ]
    assert not undeclared, (
        "These URLs declare no permission: give the view staff_required / team_lead_required"
        " / administrator_required (inbox/views/__init__.py) or permission_classes "
        "(inbox/api/permissions.py), or, if public on purpose, add it to PUBLIC in "
        "inbox/url_permissions.py with the reason:\n  " + "\n  ".join(undeclared)
    )


def test_the_public_list_names_only_urls_that_exist() -> None:
    keys = {endpoint.key for endpoint in ENDPOINTS}
    assert set(PUBLIC) <= keys, f"PUBLIC names URLs that are gone: {set(PUBLIC) - keys}"


def test_every_url_can_be_requested_with_sample_values() -> None:
    wrong = [
        f"/{e.route}: {e.unbuildable or f'{e.path} resolves to another view'}"
        for e in ENDPOINTS
        if not e.path or resolve(e.path).func is not e.callback
    ]
    assert not wrong, "Add sample values in inbox/url_permissions.py:\n  " + "\n  ".join(wrong)


def test_api_views_without_permission_classes_get_is_staff() -> None:
    # inbox/url_permissions.py counts REST framework's default as declaring WORK_INBOX.
    default = api_settings.DEFAULT_PERMISSION_CLASSES
    assert default == [IsStaff]
    assert IsStaff.required_permission == Permission.WORK_INBOX


def test_no_webcare_role_opens_django_admin(db: None) -> None:
    # /admin/ is guarded by is_staff alone; the roles must never set it.
    assert not any(
        staff_member_create(username=f"admin-check-{role}", password="x", role=role).user.is_staff
        for role in ROLE_ORDER
    )


# --- refusals -------------------------------------------------------------------------------


def _methods_answered(
    client: Client, endpoint: Endpoint, path: str
) -> Iterator[tuple[str, HttpResponse]]:
    """Each method the view takes; a 405 (require_POST and the like) is not a refusal."""
    for method in endpoint.methods:
        response = _request(client, method, endpoint, path)
        if response.status_code != 405:
            yield method, response


def _assert_refused(endpoint: Endpoint, path: str, people: dict[str, User]) -> None:
    """Anonymous: to the login page (401 for the API); no profile, or a role without the
    permission: 403; and nothing changed."""
    assert endpoint.is_declared, f"/{endpoint.route} declares no permission"
    clients = {name: _client_for(user) for name, user in people.items()}
    rows_before = _row_counts()  # after logging in, which is audited
    answered = 0

    for method, response in _methods_answered(Client(), endpoint, path):
        answered += 1
        if endpoint.is_api:
            assert response.status_code == 401, f"anonymous {method}: {response.status_code}"
        else:
            expected = redirect_to_login(path)["Location"]
            assert response.status_code == 302, f"anonymous {method}: {response.status_code}"
            assert response["Location"] == expected, f"anonymous {method}"

    for method, response in _methods_answered(clients["no profile"], endpoint, path):
        assert response.status_code == 403, f"no profile, {method}: {response.status_code}"

    for method in endpoint.methods:
        for role in roles_without(endpoint.permission_for(method)):
            response = _request(clients[str(role)], method, endpoint, path)
            if response.status_code == 405:
                continue
            assert response.status_code == 403, f"{role}, {method}: {response.status_code}"

    assert answered, f"{path} answered 405 to {', '.join(endpoint.methods)}"
    assert _row_counts() == rows_before, "a refused request changed something"


@pytest.mark.parametrize("endpoint", GUARDED, ids=_id)
def test_it_refuses_anonymous_visitors_and_every_role_without_the_permission(
    endpoint: Endpoint, people: dict[str, User]
) -> None:
    # With ids that exist nowhere: refused all the same, so access is checked first.
    _assert_refused(endpoint, endpoint.path, people)


# URL parameters that can name an object that exists (see `existing`).
_EXISTING_KINDS = ("conversation_id", "message_id", "user_id", "channel_id")
_INT_PARAMETER = re.compile(r"<int:(?P<name>[a-z_]+)>")


def _takes_only_existing_kinds(endpoint: Endpoint) -> bool:
    if "<" not in endpoint.route or "(?P" in endpoint.route or "^" in endpoint.route:
        return False
    names = re.findall(r"<[^>]*?:?([a-z_]+)>", endpoint.route)
    return all(name in _EXISTING_KINDS for name in names)


@pytest.fixture
def existing(people: dict[str, User], channel: Channel) -> dict[str, str]:
    """A real conversation with its message, a real staff member and a real channel."""
    conversation = citizen_writes(channel)
    return {
        "conversation_id": str(conversation.pk),
        "message_id": str(conversation.messages.values_list("pk", flat=True).first()),
        "user_id": str(people[str(Role.AGENT)].pk),
        "channel_id": str(channel.pk),
    }


@pytest.mark.parametrize("endpoint", [e for e in GUARDED if _takes_only_existing_kinds(e)], ids=_id)
def test_it_refuses_the_same_way_when_the_object_exists(
    endpoint: Endpoint, people: dict[str, User], existing: dict[str, str]
) -> None:
    # The same answers as for missing ids: a refusal tells nobody whether the id exists.
    path = "/" + _INT_PARAMETER.sub(lambda match: existing[match["name"]], endpoint.route)
    assert resolve(path).func is endpoint.callback
    _assert_refused(endpoint, path, people)


@pytest.mark.parametrize("endpoint", [e for e in GUARDED if e.is_declared], ids=_id)
def test_it_lets_the_least_trusted_role_with_the_permission_through(
    endpoint: Endpoint, people: dict[str, User]
) -> None:
    """The declared permission is the one the view enforces: a view that declares WORK_INBOX
    but refuses agents further in declares too little, and the matrix would be wrong."""
    for method in endpoint.methods:
        role: Role = roles_with(endpoint.permission_for(method))[0]
        response = _request(_client_for(people[str(role)]), method, endpoint)
        assert response.status_code not in (401, 403), (
            f"{role} may {method} /{endpoint.route} by its declared permission "
            f"({endpoint.permission_for(method)}), but got {response.status_code}"
        )
        assert not _is_login_redirect(response), f"{role}, {method}: sent to log in"
        no_ids = endpoint.path == "/" + endpoint.route
        if method == "GET" and no_ids and response.status_code != 405:
            # A page without ids in its URL (a list, a form): it must open.
            assert response.status_code < 400, f"{role}, GET: {response.status_code}"


@pytest.mark.parametrize("endpoint", ADMIN, ids=_id)
def test_django_admin_sends_every_webcare_role_to_its_login(
    endpoint: Endpoint, people: dict[str, User]
) -> None:
    admin_login = reverse("admin:login")
    clients = {"anonymous": Client()} | {name: _client_for(user) for name, user in people.items()}
    rows_before = _row_counts()  # after logging in, which is audited
    for name, client in clients.items():
        response = client.get(endpoint.path)
        assert response.status_code == 302, f"{name}: {response.status_code}"
        assert response["Location"].startswith(admin_login + "?next="), name
    assert _row_counts() == rows_before


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if e.public_reason and not e.is_admin], ids=_id
)
def test_public_urls_answer_without_logging_in(endpoint: Endpoint, db: None) -> None:
    response = Client().get(endpoint.path)
    assert response.status_code not in (401, 403), response.status_code
    assert not _is_login_redirect(response)


# --- the matrix in docs/permissions.md ------------------------------------------------------


def test_docs_permissions_md_is_the_output_of_the_permissions_matrix_command() -> None:
    output = io.StringIO()
    call_command("permissions_matrix", stdout=output)
    assert DOC.read_text(encoding="utf-8") == output.getvalue(), (
        "docs/permissions.md is out of date: run "
        "`python manage.py permissions_matrix > docs/permissions.md`"
    )
