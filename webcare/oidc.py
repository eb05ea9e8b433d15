"""Single sign-on with OpenID Connect through mozilla-django-oidc (docs/architecture.md,
"Logging in"): Entra ID, ADFS, Keycloak or any provider with the authorization code flow.

On when OIDC_RP_CLIENT_ID is set (webcare/settings.py). The user is matched by username (the
OIDC_USERNAME_CLAIM claim), created at the first login when OIDC_CREATE_USERS, and gets the
highest role their groups map to (OIDC_ROLE_GROUPS) at every login. Someone in none of the
mapped groups is refused; an existing account then stays as it is (not deactivated), as the
administrator may have a reason for it, but it cannot log in through the provider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from inbox.services.common import audit
from inbox.services.sso import (
    sso_role_for_groups,
    sso_staff_member_create,
    sso_staff_member_update,
)
from webcare.login import client_ip

logger = logging.getLogger(__name__)

# Why a login through the provider was refused, kept on the request for the callback view's
# message. Codes, also the `reason` of the audit event.
_REFUSAL_ATTRIBUTE = "webcare_sso_refusal"
_REFUSAL_MESSAGES = {
    "no_role": gettext_lazy(
        "You are not in any of the Webcare groups of your organisation. Ask your "
        "administrator for access."
    ),
    "unknown_user": gettext_lazy("You have no Webcare account yet. Ask your administrator."),
    "inactive": gettext_lazy("Your Webcare account is switched off. Ask your administrator."),
}


class SingleSignOnRefused(Exception):
    def __init__(self, reason: str, *, user_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user_id = user_id


@transaction.atomic
def sso_login_failure_record(
    request: HttpRequest, *, reason: str, user_id: int | None = None
) -> None:
    setattr(request, _REFUSAL_ATTRIBUTE, reason)
    audit("auth.login_failed", user_id=user_id, ip=client_ip(request), method="sso", reason=reason)


def _claim_str(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


class OIDCBackend(OIDCAuthenticationBackend):
    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        if request is None or not request.GET.get("code"):
            # A password login, or no request at all: not ours.
            return None
        try:
            return super().authenticate(request, **kwargs)
        except SingleSignOnRefused as refusal:
            sso_login_failure_record(request, reason=refusal.reason, user_id=refusal.user_id)
        except (SuspiciousOperation, jwt.PyJWTError) as error:
            # A forged or replayed token: wrong signature, nonce, audience, issuer, expired.
            logger.warning("Single sign-on token refused: %s", error)
            sso_login_failure_record(request, reason="invalid_token")
        except requests.RequestException as error:
            logger.warning("Single sign-on provider unreachable or refused the code: %s", error)
            sso_login_failure_record(request, reason="provider_error")
        return None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        if "nonce" in kwargs:
            # The id_token (not a signed userinfo answer): mozilla-django-oidc checks neither
            # its audience nor its issuer, so a token issued for another application of the
            # same provider would pass.
            audience = payload.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if self.OIDC_RP_CLIENT_ID not in audiences:
                raise SuspiciousOperation("id_token is for another audience")
            issuer = self.get_settings("OIDC_OP_ISSUER", "")
            if issuer and payload.get("iss") != issuer:
                raise SuspiciousOperation("id_token comes from another issuer")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        # Entra ID sends the groups in the id_token only, Keycloak in both: merge, with the
        # userinfo endpoint (when configured) winning for what it does send.
        if not self.OIDC_OP_USER_ENDPOINT:
            return dict(payload)
        userinfo = super().get_userinfo(access_token, id_token, payload)
        # OpenID Connect Core 5.3.2: an answer about someone else must not be used.
        if userinfo.get("sub") != payload.get("sub"):
            raise SingleSignOnRefused("invalid_token")
        return {**payload, **userinfo}

    def username_from(self, claims: dict[str, Any]) -> str:
        return _claim_str(claims, settings.OIDC_USERNAME_CLAIM) or _claim_str(claims, "email")

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(self.username_from(claims))

    def get_or_create_user(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> User | None:
        claims = self.get_userinfo(access_token, id_token, payload)
        if not self.verify_claims(claims):
            # Not SuspiciousOperation: mozilla-django-oidc would swallow that without a reason.
            raise SingleSignOnRefused("no_username")
        username = self.username_from(claims)
        existing = User.objects.filter(username__iexact=username).first()
        user_id = existing.pk if existing else None
        groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
        if isinstance(groups, str):
            groups = [groups]
        role = sso_role_for_groups([str(group) for group in groups], settings.OIDC_ROLE_GROUPS)
        if role is None:
            raise SingleSignOnRefused("no_role", user_id=user_id)
        names = {
            "first_name": _claim_str(claims, "given_name")[:150],
            "last_name": _claim_str(claims, "family_name")[:150],
            "email": _claim_str(claims, "email")[:254],
        }
        if existing is None:
            if not settings.OIDC_CREATE_USERS:
                raise SingleSignOnRefused("unknown_user")
            return sso_staff_member_create(username=username, role=role, **names)
        if not existing.is_active:
            raise SingleSignOnRefused("inactive", user_id=user_id)
        return sso_staff_member_update(user_id=existing.pk, role=role, **names)


def sso_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The /oidc/ URLs exist only when single sign-on is configured."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.WEBCARE_OIDC_ENABLED:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


class AuthenticationRequestView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider (the "Log in with …" button)."""


class CallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back; a refusal returns to the login page with
    the reason."""

    @property
    def failure_url(self) -> str:
        # mozilla-django-oidc redirects to the setting as it is; ours is a URL name.
        return resolve_url(settings.LOGIN_REDIRECT_URL_FAILURE)

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            return super().get(request)
        except SuspiciousOperation as error:
            # A state this session never sent: a replayed or forged callback.
            logger.warning("Single sign-on callback refused: %s", error)
            sso_login_failure_record(request, reason="invalid_state")
            return self.login_failure()

    def login_failure(self) -> HttpResponse:
        reason = getattr(self.request, _REFUSAL_ATTRIBUTE, None)
        if reason is None:
            # Not through the backend: the provider answered with an error, or the callback
            # belongs to no login this session started.
            reason = "provider_error" if self.request.GET.get("error") else "invalid_state"
            sso_login_failure_record(self.request, reason=reason)
        messages.error(
            self.request,
            _REFUSAL_MESSAGES.get(reason)
            or _("Logging in through your organisation did not work. Please try again."),
        )
        return super().login_failure()


def provider_logout_url(request: HttpRequest) -> str | None:
    """The provider's end-session URL for a user who logged in through it (RP-initiated
    logout), or None: then only the Webcare session ends."""
    endpoint = settings.OIDC_OP_LOGOUT_ENDPOINT
    if not (settings.WEBCARE_OIDC_ENABLED and endpoint):
        return None
    if request.session.get(BACKEND_SESSION_KEY) != f"{__name__}.OIDCBackend":
        return None
    params = {
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
    }
    id_token = request.session.get("oidc_id_token")
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}?{urlencode(params)}"
