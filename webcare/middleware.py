"""Dutch unless the user chose otherwise.

Django's LocaleMiddleware follows the browser's Accept-Language, but many municipal
workstations run an English browser; the municipality's working language is Dutch. So only
an explicit choice changes it: for a logged-in staff member the language stored in their
profile (the settings page, or the header's language switch, which stores it there too), for
anyone else the language switch's cookie.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import user_logged_in
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone, translation

# The staff member's own language, read from their profile once per session (at login, or
# on the first request of a session that predates this), as [user id, language]; "" when
# they never chose. Kept in the session so that a request costs no query for it.
STAFF_LANGUAGE_SESSION_KEY = "webcare_staff_language"


def staff_language_remember(request: HttpRequest, *, user_id: int, language: str) -> None:
    """The language the staff member chose: every following request of this session
    speaks it (the settings page and the language switch call this after saving)."""
    request.session[STAFF_LANGUAGE_SESSION_KEY] = [user_id, language]


def _staff_language_stored(user_id: int) -> str:
    from inbox.models import AgentProfile

    stored = AgentProfile.objects.filter(user_id=user_id).values_list("language", flat=True)
    return stored.first() or ""


def _remember_at_login(
    sender: object, request: HttpRequest, user: object, **kwargs: object
) -> None:
    user_id = getattr(user, "pk", None)
    if isinstance(user_id, int) and hasattr(request, "session"):
        staff_language_remember(request, user_id=user_id, language=_staff_language_stored(user_id))


# Not business logic: it reads the stored choice into the new session, so the first page
# after logging in costs no extra query. Connected when Django loads the middleware.
user_logged_in.connect(_remember_at_login, dispatch_uid="webcare.staff_language_at_login")


class ChosenLanguageMiddleware:
    """Activates the chosen language. Runs after AuthenticationMiddleware: a logged-in
    staff member's own language wins over the cookie."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        staff_language = self._staff_language(request)
        cookie_language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if staff_language in self.supported:
            language = staff_language
        elif cookie_language in self.supported:
            language = cookie_language
        else:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        switched = response.cookies.get(settings.LANGUAGE_COOKIE_NAME)
        if switched is not None and request.path == reverse("set_language"):
            self._store_switch(request, switched.value)
        elif staff_language in self.supported and cookie_language != staff_language:
            # Keep the cookie in step with the profile, so that after logging out the login
            # page still speaks the agent's language.
            _set_language_cookie(response, staff_language)
        response.headers.setdefault("Content-Language", language)
        return response

    def _staff_language(self, request: HttpRequest) -> str:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return ""
        remembered = request.session.get(STAFF_LANGUAGE_SESSION_KEY)
        if isinstance(remembered, list) and len(remembered) == 2 and remembered[0] == user.pk:
            return str(remembered[1])
        language = _staff_language_stored(user.pk)
        staff_language_remember(request, user_id=user.pk, language=language)
        return language

    def _store_switch(self, request: HttpRequest, language: str) -> None:
        """The header's language switch, used by a logged-in staff member: it is their
        choice from now on, on every device (the profile), not only in this browser."""
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or language not in self.supported:
            return
        from inbox.services.common import ServiceError
        from inbox.services.preferences import agent_set_language

        try:
            agent_set_language(actor=user, language=language)
        except (ServiceError, PermissionDenied):
            # Not on the webcare team (an admin): the cookie alone carries the choice.
            return
        staff_language_remember(request, user_id=user.pk, language=language)


def _set_language_cookie(response: HttpResponse, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


class AgentSeenMiddleware:
    """Records when a staff member last used Webcare (AgentProfile.last_seen_at), which the
    presence sweep uses to set idle agents away.

    Reads the profile that `staff_required` already loaded on the request, so a request
    costs no query unless the last write is over a minute old; the write itself is a
    conditional update (one per minute per agent however many processes serve them).
    It never changes presence: an agent set away comes back away and chooses.
    Background requests (live polling, self-refreshing panes: header X-Webcare-Poll, sent by
    static/js/live.js) are no sign of a person at the screen and are not counted.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        profile = getattr(request, "agent_profile", None)
        if profile is not None and not request.headers.get("X-Webcare-Poll"):
            from inbox.services.assignment import SEEN_WRITE_INTERVAL, agent_record_seen

            now = timezone.now()
            if profile.last_seen_at is None or now - profile.last_seen_at >= SEEN_WRITE_INTERVAL:
                agent_record_seen(user_id=profile.user_id, now=now)
        return response


# No inline scripts or styles anywhere: everything comes from our own static files, so
# injected citizen text can never run even if escaping failed somewhere. Images may come
# from the platforms (attachments and avatars are shown from their https URLs, never
# downloaded). htmx is configured in base.html not to evaluate code (allowEval false).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Sends the strict Content-Security-Policy above with every response that has none."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
