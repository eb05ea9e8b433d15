"""Logging in with a password: throttling against guessing, and the audit trail of every
login, failed login, lockout and logout (docs/architecture.md, "Logging in").

Throttling counts failed password logins per username and per IP address in Redis (Django's
cache): after WEBCARE_LOGIN_MAX_FAILURES for one username, or WEBCARE_LOGIN_MAX_FAILURES_PER_IP
from one address, within WEBCARE_LOGIN_LOCKOUT_MINUTES, further attempts are refused for that
time without looking at the password. The check sits in the authentication backend, so every
password login is throttled (the login page, the admin's login, `Client.login`); the login
page checks first as well, to answer with a clear message and HTTP 429.

The signal receivers below are connected when this module is imported, which happens before
any login: Django imports the backends (ThrottledModelBackend is one) on the first
`authenticate()`, and webcare/urls.py imports the views.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from django.conf import settings
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import user_logged_in, user_logged_out, user_login_failed
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import ngettext

from inbox.services.common import audit

# --- Throttling ---------------------------------------------------------------------------


def client_ip(request: HttpRequest | None) -> str | None:
    """The address the request came from. Behind the TLS proxy (BEHIND_TLS_PROXY) every
    request comes from the proxy, so the last X-Forwarded-For entry, the one the proxy
    added itself, is the client's; earlier entries are whatever the client sent."""
    if request is None:
        return None
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR") or None


def _lockout_seconds() -> int:
    return settings.WEBCARE_LOGIN_LOCKOUT_MINUTES * 60


def _keys(kind: str, value: str) -> tuple[str, str]:
    """Cache keys of one counter: hashed, so Redis holds no usernames or addresses."""
    digest = hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]
    return f"login-throttle:{digest}:failures", f"login-throttle:{digest}:locked-until"


def _subjects(username: str | None, ip: str | None) -> list[tuple[str, str, int]]:
    """(kind, value, limit) of every counter an attempt counts against."""
    subjects = []
    if username:
        # Case-insensitive: "Anouk" and "anouk" are guesses at the same account.
        subjects.append(("username", username.strip().lower(), settings.WEBCARE_LOGIN_MAX_FAILURES))
    if ip:
        subjects.append(("ip", ip, settings.WEBCARE_LOGIN_MAX_FAILURES_PER_IP))
    return subjects


def login_locked_for(*, username: str | None, ip: str | None) -> int | None:
    """Seconds the username or the address is still locked out for; None when it is not.

    The lock holds the time it ends, compared with `timezone.now()` (the cache entry's own
    expiry is only the clean-up), so tests can move the clock with time-machine."""
    now = timezone.now().timestamp()
    remaining: float = 0
    for kind, value, _limit in _subjects(username, ip):
        failures_key, locked_key = _keys(kind, value)
        locked_until = cache.get(locked_key)
        if locked_until is None:
            continue
        if locked_until > now:
            remaining = max(remaining, locked_until - now)
        else:
            cache.delete_many([failures_key, locked_key])
    return math.ceil(remaining) if remaining else None


def login_failure_count(*, username: str | None, ip: str | None) -> list[str]:
    """Counts a failed password login; returns the kinds ("username", "ip") it locked."""
    now = timezone.now().timestamp()
    window = _lockout_seconds()
    locked = []
    for kind, value, limit in _subjects(username, ip):
        failures_key, locked_key = _keys(kind, value)
        # The window starts at the first failure; add() keeps an existing counter and its
        # expiry, incr() is Redis's atomic INCR, so parallel guesses are all counted.
        cache.add(failures_key, 0, timeout=window)
        try:
            failures = cache.incr(failures_key)
        except ValueError:  # expired between add() and incr()
            cache.set(failures_key, 1, timeout=window)
            failures = 1
        # Exactly at the limit: later counts (a race) do not extend a running lock.
        if failures == limit:
            cache.set(locked_key, now + window, timeout=window + 60)
            locked.append(kind)
    return locked


def login_throttle_reset(*, username: str | None = None, ip: str | None = None) -> None:
    """Forgets the failures and lock of a username and/or address (tests; an administrator's
    unlock would call this)."""
    cache.delete_many(
        [key for kind, value, _limit in _subjects(username, ip) for key in _keys(kind, value)]
    )


def login_failures_clear(*, username: str) -> None:
    """A successful login: the username's failures are forgiven (the address's are not, or a
    guesser with one valid account could reset their own counter)."""
    failures_key, locked_key = _keys("username", username.strip().lower())
    cache.delete_many([failures_key, locked_key])


class ThrottledModelBackend(ModelBackend):
    """Django's password backend, refusing without checking the password while the username
    or the address is locked out."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is not None and login_locked_for(username=username, ip=client_ip(request)):
            # PermissionDenied stops Django from trying the other backends; it then sends
            # user_login_failed, which audits the refusal (_audit_login_failed).
            raise PermissionDenied
        return super().authenticate(request, username=username, password=password, **kwargs)


# --- Audit trail --------------------------------------------------------------------------
# Audit data holds ids and codes (rule of the audit trail): never the username typed, which
# may be a mistyped password; the account's id only when the username is an existing one.
# The IP address is the staff member's personal data, kept because it is what a security
# investigation needs (docs/architecture.md, "Logging in").


def _user_id_for(username: str | None) -> int | None:
    if not username:
        return None
    return (
        User.objects.filter(username__iexact=username.strip()).values_list("pk", flat=True).first()
    )


@transaction.atomic
def login_failure_record(*, username: str | None, ip: str | None) -> bool:
    """A password login failed: refused by the lock (True) or a wrong password, which is
    counted and may start a lock (False)."""
    user_id = _user_id_for(username)
    if login_locked_for(username=username, ip=ip):
        audit("auth.login_failed", user_id=user_id, ip=ip, method="password", reason="locked_out")
        return True
    audit("auth.login_failed", user_id=user_id, ip=ip, method="password", reason="credentials")
    for kind in login_failure_count(username=username, ip=ip):
        audit(
            "auth.locked_out",
            user_id=user_id if kind == "username" else None,
            ip=ip,
            scope=kind,
            minutes=settings.WEBCARE_LOGIN_LOCKOUT_MINUTES,
        )
    return False


def _audit_login_failed(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Single sign-on failures come without a username and are audited by webcare/oidc.py.
    if "username" not in credentials:
        return
    login_failure_record(username=credentials.get("username"), ip=client_ip(request))


@transaction.atomic
def _audit_logged_in(
    sender: object, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    backend = getattr(user, "backend", "") or ""
    method = "sso" if backend.endswith("OIDCBackend") else "password"
    if method == "password":
        login_failures_clear(username=user.get_username())
    audit("auth.login", actor=user, ip=client_ip(request), method=method)


@transaction.atomic
def _audit_logged_out(
    sender: object, request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    # Logging out without a session (an expired one) is no event.
    if user is not None and user.is_authenticated:
        audit("auth.logout", actor=user, ip=client_ip(request))


user_login_failed.connect(_audit_login_failed, dispatch_uid="webcare.login.audit_failed")
user_logged_in.connect(_audit_logged_in, dispatch_uid="webcare.login.audit_logged_in")
user_logged_out.connect(_audit_logged_out, dispatch_uid="webcare.login.audit_logged_out")


# --- Views --------------------------------------------------------------------------------


def locked_out_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed attempts. Try again in %(minutes)d minute or ask your administrator.",
        "Too many failed attempts. Try again in %(minutes)d minutes or ask your administrator.",
        minutes,
    ) % {"minutes": minutes}


class LoginForm(AuthenticationForm):
    # Seconds the lockout still lasts, when this attempt was refused by it.
    locked_for: int | None = None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        ip = client_ip(self.request)
        locked_for = login_locked_for(username=username, ip=ip)
        if locked_for:
            self.locked_for = locked_for
            login_failure_record(username=username, ip=ip)
            raise ValidationError(locked_out_message(locked_for), code="locked_out")
        return super().clean()


class LoginView(auth_views.LoginView):
    """The login page: the single sign-on button when it is configured, the password form
    unless WEBCARE_LOCAL_LOGIN is off."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.WEBCARE_LOCAL_LOGIN:
            return HttpResponseNotAllowed(["GET"])
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        locked_for = getattr(form, "locked_for", None)
        if locked_for:
            # 429 with Retry-After, as the API's rate limit: scripts guessing see it too.
            response.status_code = 429
            response["Retry-After"] = str(locked_for)
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = context.get("form")
        context["locked_out"] = bool(form and form.has_error("__all__", code="locked_out"))
        context["sso_enabled"] = settings.WEBCARE_OIDC_ENABLED
        context["sso_provider_name"] = settings.OIDC_PROVIDER_NAME
        context["local_login"] = settings.WEBCARE_LOCAL_LOGIN
        return context


class LogoutView(auth_views.LogoutView):
    """Django's logout (POST only); after single sign-on, and with OIDC_OP_LOGOUT_ENDPOINT
    set, it ends the session at the provider too."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from webcare.oidc import provider_logout_url

        provider_url = provider_logout_url(request) if request.user.is_authenticated else None
        if provider_url is None:
            return super().post(request, *args, **kwargs)
        auth_logout(request)
        return HttpResponseRedirect(provider_url)
