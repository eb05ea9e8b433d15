"""Every URL pattern of the project with the permission it declares (inbox/permissions.py).

Read by tests/test_url_permissions.py, which requests each URL as every role that must be
refused, and by `manage.py permissions_matrix`, which prints docs/permissions.md. Walking
the URL resolver (not a hand-kept list) is what makes a new view without a declared
permission fail the test the day it is added.

Where a URL's permission comes from:
- a page view: the decorator in inbox/views/__init__.py (`staff_required`,
  `team_lead_required`, `administrator_required`, `permission_required`) sets
  `view.required_permission`;
- an API view (Django REST framework): the `required_permission` of its permission classes
  (inbox/api/permissions.py), asked per HTTP method through `get_permissions()` because a
  view may ask more for writing than for reading (AgentDetail: PATCH is for team leads).
  A view without `permission_classes` gets REST_FRAMEWORK's default, IsStaff: that counts as
  declaring WORK_INBOX (the test checks the default is still IsStaff);
- Django's own admin (`/admin/`): `is_staff`, which no webcare role has;
- the few URLs that are public on purpose: PUBLIC below, each with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import (
    IntConverter,
    PathConverter,
    SlugConverter,
    StringConverter,
    UUIDConverter,
)
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.regex_helper import normalize
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from inbox.permissions import Permission, roles_with

# Public on purpose, by URL name (or the view's dotted path for a pattern without a name).
# Anything not here and without a declared permission fails tests/test_url_permissions.py.
PUBLIC: dict[str, str] = {
    "login": "The login form.",
    "logout": "Logging out (POST); ends whatever session there is.",
    "set_language": "Choosing the language, also on the login page.",
    "healthz": (
        "Liveness probe for the orchestrator, without an account; says only that the "
        "process answers."
    ),
    "readyz": (
        "Readiness probe for the orchestrator and load balancer, without an account; says "
        "only which of database, migrations and Redis is not ready."
    ),
    "facebook_webhook": (
        "Called by Meta, which cannot log in: the signature over the body with the app "
        "secret is the check (channels/views.py)."
    ),
    "inbox:accessibility": "The accessibility statement must be public (Dutch law, Bdto).",
    "inbox:accessibility_en": "The accessibility statement, English address.",
    "api:schema": "The OpenAPI description of the API: the contract, no data.",
    "api:docs": "Swagger UI over that description: no data.",
    "inbox.api.exceptions.api_not_found": (
        "Any other address under /api/: a JSON 404 instead of the HTML page."
    ),
    "oidc_authentication_init": (
        "Starts single sign-on: redirects to the identity provider (webcare/oidc.py)."
    ),
    "oidc_authentication_callback": (
        "The identity provider sends the user back here; the signed token and the state "
        "saved in the session are the check."
    ),
    "admin:login": "Django admin's own login form.",
    "admin:logout": "Logging out of Django's admin.",
}

ADMIN_NAMESPACE = "admin"

# Values for URL parameters. Ids that exist nowhere: a view must refuse before it loads
# the object, or a 404 for a missing id and a 403 for an existing one would tell an
# outsider which ids exist.
MISSING_ID = "999999999"
_CONVERTER_SAMPLES: dict[type, str] = {
    IntConverter: MISSING_ID,
    SlugConverter: "no-such-thing",
    StringConverter: "no-such-thing",
    PathConverter: "no-such-thing",
    UUIDConverter: "00000000-0000-4000-8000-000000000000",
}
# Regex patterns (Django's admin) name their groups; values that match those regexes.
_REGEX_GROUP_SAMPLES: dict[str, str] = {
    "app_label": "auth",
    "object_id": MISSING_ID,
    "content_type_id": MISSING_ID,
    "url": "no-such-thing/",
}
_ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")

# Methods a request can be refused on; OPTIONS and HEAD answer what GET would.
API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PAGE_METHODS = ("GET", "POST")


class UnbuildableURL(Exception):
    """A URL parameter without a sample value: add one to _CONVERTER_SAMPLES."""


@dataclass(frozen=True)
class Endpoint:
    route: str  # as written in the URLconfs, e.g. "conversations/<int:conversation_id>/"
    name: str | None  # namespaced, e.g. "inbox:conversation"
    callback: Callable[..., Any]
    # A concrete URL for it, with ids that exist nowhere; "" if a parameter has no sample.
    path: str
    # Per HTTP method; pages have one for all methods, under "*".
    permissions: dict[str, Permission] = field(default_factory=dict)
    # Methods whose permission classes declare nothing (a bug unless public).
    undeclared_methods: tuple[str, ...] = ()
    is_api: bool = False
    unbuildable: str = ""  # why `path` could not be built
    namespace: str = ""

    @property
    def key(self) -> str:
        """The name PUBLIC uses: the URL name, else the view's dotted path (its class for
        class-based views, whose `as_view()` functions are all called "view")."""
        if self.name:
            return self.name
        view = getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None)
        view = view or self.callback
        return f"{view.__module__}.{view.__qualname__}"

    @property
    def is_admin(self) -> bool:
        return self.namespace.split(":")[0] == ADMIN_NAMESPACE

    @property
    def public_reason(self) -> str | None:
        return PUBLIC.get(self.key)

    @property
    def is_declared(self) -> bool:
        return bool(self.permissions) and not self.undeclared_methods

    @property
    def methods(self) -> tuple[str, ...]:
        if not self.is_api:
            return PAGE_METHODS
        return tuple(self.permissions) + self.undeclared_methods

    def permission_for(self, method: str) -> Permission:
        return self.permissions["*"] if "*" in self.permissions else self.permissions[method]


def _sample_for_route(route: RoutePattern) -> str:
    def fill(match: re.Match[str]) -> str:
        converter = route.converters[match["parameter"]]
        try:
            return _CONVERTER_SAMPLES[type(converter)]
        except KeyError as error:
            raise UnbuildableURL(f"no sample for converter {type(converter).__name__}") from error

    return _ROUTE_PARAMETER.sub(fill, str(route))


def _sample_for_regex(pattern: RegexPattern) -> str:
    template, parameters = normalize(pattern.regex.pattern)[0]
    try:
        return template % {name: _REGEX_GROUP_SAMPLES[name] for name in parameters}
    except KeyError as error:
        raise UnbuildableURL(f"no sample for regex group {error}") from error


def _sample_path(pieces: list[RoutePattern | RegexPattern]) -> str:
    parts = []
    for piece in pieces:
        if isinstance(piece, RoutePattern):
            parts.append(_sample_for_route(piece))
        else:
            parts.append(_sample_for_regex(piece))
    return "/" + "".join(parts)


def _walk(
    resolver: URLResolver, pieces: list[Any], namespace: str
) -> Iterator[tuple[list[Any], str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, [*pieces, entry.pattern], inner)
        else:
            yield [*pieces, entry.pattern], namespace, entry


def _api_view_class(callback: Callable[..., Any]) -> type[APIView] | None:
    view_class = getattr(callback, "cls", None)
    if isinstance(view_class, type) and issubclass(view_class, APIView):
        return view_class
    return None


def _strongest(declared: list[Permission]) -> Permission:
    # With several classes all must pass: the one fewest roles have is what counts.
    return min(declared, key=lambda permission: len(roles_with(permission)))


def _api_permissions(
    callback: Callable[..., Any], view_class: type[APIView]
) -> tuple[dict[str, Permission], tuple[str, ...]]:
    declared: dict[str, Permission] = {}
    undeclared: list[str] = []
    for method in API_METHODS:
        if not hasattr(view_class, method.lower()):
            continue
        view = view_class(**getattr(callback, "initkwargs", {}))
        view.request = Request(RequestFactory().generic(method, "/"))
        view.args, view.kwargs = (), {}
        checks = view.get_permissions()
        permissions = [
            Permission(required)
            for check in checks
            if (required := getattr(check, "required_permission", None))
        ]
        if permissions and not any(isinstance(check, AllowAny) for check in checks):
            declared[method] = _strongest(permissions)
        else:
            undeclared.append(method)
    return declared, tuple(undeclared)


def endpoints() -> list[Endpoint]:
    """Every URL pattern in the project, in URLconf order."""
    found = []
    for pieces, namespace, pattern in _walk(get_resolver(), [], ""):
        name = None
        if pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        callback = pattern.callback
        route = "".join(str(piece) for piece in pieces)
        try:
            path, unbuildable = _sample_path(pieces), ""
        except UnbuildableURL as error:
            path, unbuildable = "", str(error)
        view_class = _api_view_class(callback)
        if view_class is not None:
            declared, undeclared = _api_permissions(callback, view_class)
            found.append(
                Endpoint(
                    route, name, callback, path, declared, undeclared, True, unbuildable, namespace
                )
            )
            continue
        permission = getattr(callback, "required_permission", None)
        declared = {"*": Permission(permission)} if permission else {}
        found.append(
            Endpoint(route, name, callback, path, declared, (), False, unbuildable, namespace)
        )
    return found


# --- docs/permissions.md, printed by `manage.py permissions_matrix` ------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _roles_text(permission: Permission) -> str:
    return ", ".join(str(role.label) for role in roles_with(permission))


def _endpoint_row(endpoint: Endpoint) -> str:
    if endpoint.public_reason is not None:
        permission_text, roles_text = "public", f"everyone: {endpoint.public_reason}"
    elif not endpoint.is_declared:
        permission_text, roles_text = "**none declared**", "(tests/test_url_permissions.py fails)"
    elif "*" in endpoint.permissions:
        permission = endpoint.permissions["*"]
        permission_text, roles_text = f"`{permission}`", _roles_text(permission)
    elif len(set(endpoint.permissions.values())) == 1:
        permission = next(iter(endpoint.permissions.values()))
        permission_text, roles_text = f"`{permission}`", _roles_text(permission)
    else:
        permission_text = "; ".join(
            f"{method}: `{permission}`" for method, permission in endpoint.permissions.items()
        )
        roles_text = "; ".join(
            f"{method}: {_roles_text(permission)}"
            for method, permission in endpoint.permissions.items()
        )
    kind = "API" if endpoint.is_api else "page"
    return (
        f"| `/{_cell(endpoint.route)}` | {_cell(endpoint.name or '')} | {kind} "
        f"| {permission_text} | {_cell(roles_text)} |"
    )


def matrix_markdown() -> str:
    """docs/permissions.md: generated, so it cannot drift from the code."""
    from django.utils import translation

    from inbox.permissions import PERMISSION_LABELS, ROLE_ORDER, ROLE_PERMISSIONS

    with translation.override("en"):
        role_names = [str(role.label) for role in ROLE_ORDER]
        lines = [
            "# Permissions: who may open what",
            "",
            "<!-- Generated by `python manage.py permissions_matrix > docs/permissions.md`;",
            "     tests/test_url_permissions.py fails when this file differs. Do not edit. -->",
            "",
            "Every staff account has one role. The roles are nested: each has everything the",
            "one before it has (inbox/permissions.py). Every page and API endpoint declares the",
            "one permission it needs, and tests/test_url_permissions.py walks every URL pattern",
            "of the project to prove that anonymous visitors, logged-in users who are not on",
            "the webcare team, and every role without that permission are refused, without",
            "changing anything. It asks with ids that exist nowhere and again with ids of real",
            "objects, and must get the same refusal: access is checked before anything is",
            "loaded, so a refusal never tells an outsider which ids exist.",
            "",
            "## Roles and permissions",
            "",
            "| Permission | What it covers | " + " | ".join(role_names) + " |",
            "| --- | --- | " + " | ".join("---" for _ in role_names) + " |",
        ]
        for permission in Permission:
            marks = " | ".join(
                "yes" if permission in ROLE_PERMISSIONS[role] else "no" for role in ROLE_ORDER
            )
            label = str(PERMISSION_LABELS[permission])
            lines.append(f"| `{permission}` | {_cell(label)} | {marks} |")
        lines += [
            "",
            "A trainee's replies wait for a team lead's approval (the four-eyes rule,",
            "inbox/services/approval.py); that is the only difference with an agent.",
            "",
            "## How a refusal looks",
            "",
            "- Not logged in: a page redirects to `/login/?next=…`; the API answers 401.",
            "- Logged in without a staff account (no agent profile), or with a role that lacks",
            "  the permission: 403, for pages and the API alike.",
            "- Django's own admin (`/admin/`) is for `is_staff` accounts (IT) only; no webcare",
            "  role has `is_staff`, so every role is sent to the admin's login page.",
            "",
            "## Every URL",
            "",
            "Ids in the URLs are placeholders. API endpoints without `permission_classes` get",
            "REST framework's default, `IsStaff` (`work_inbox`).",
            "",
            "| URL | Name | Kind | Permission | Roles allowed |",
            "| --- | --- | --- | --- | --- |",
        ]
        admin_count = 0
        for endpoint in endpoints():
            if endpoint.is_admin:
                admin_count += 1
                continue
            lines.append(_endpoint_row(endpoint))
        lines += [
            f"| `/admin/…` ({admin_count} URLs) | admin:… | Django admin | `is_staff` "
            "| none of the webcare roles (IT accounts only) |",
        ]
    return "\n".join(lines) + "\n"
