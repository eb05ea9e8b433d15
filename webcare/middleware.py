"""Dutch unless the user chose otherwise.

Django's LocaleMiddleware follows the browser's Accept-Language, but many municipal
workstations run an English browser; the municipality's working language is Dutch. So only
an explicit choice (the language switch, which sets Django's language cookie) changes it.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation


class ChosenLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


class AgentSeenMiddleware:
    """Records when a staff member last used Webcare (AgentProfile.last_seen_at), which the
    presence sweep uses to set idle agents away.

    Reads the profile that `staff_required` already loaded on the request, so a request
    costs no query unless the last write is over a minute old; the write itself is a
    conditional update (one per minute per agent however many processes serve them).
    It never changes presence: an agent set away comes back away and chooses.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        profile = getattr(request, "agent_profile", None)
        if profile is not None:
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
