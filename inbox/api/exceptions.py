"""Every API error as `{"detail": "…", "code": "…"}` (plus `errors` per field for invalid
input), with the status that says who has to act (docs/architecture.md, "REST API").

- 400 `invalid` / `parse_error`: the request itself is wrong (a missing field, a bad value);
- 401: no or an unknown token; 403 `permission_denied`: not allowed to do this;
- 404 `not_found`: no such object (or not one the user may see);
- 409: a well-formed request the inbox refuses in its current state, e.g. a conversation a
  colleague took already (every `ServiceError`; `newer_messages` when the citizen wrote
  after the agent opened the conversation, see `confirm_newer`);
- 429 `throttled`, with Retry-After.

Anything else is a bug and stays a 500 with a traceback in the log.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from channels.services import ChannelError
from inbox.services import ServiceError
from inbox.services.replies import NewerMessagesSinceOpened


def _first_message(errors: Any) -> str:
    """The first message of a validation error's nested detail, with its field's name."""
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            if field in ("non_field_errors", "__all__"):
                return message
            return f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def _code_of(exc: Exception) -> str:
    if isinstance(exc, NewerMessagesSinceOpened):
        return "newer_messages"
    # Other refusals may name their own code in the future.
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code else "conflict"


def _translate(exc: Exception) -> Exception:
    """Django's and the services' exceptions as DRF's, keeping their messages."""
    if isinstance(exc, ServiceError | ChannelError):
        conflict = exceptions.APIException(str(exc), code=_code_of(exc))
        conflict.status_code = status.HTTP_409_CONFLICT
        return conflict
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, ObjectDoesNotExist | Http404):
        return exceptions.NotFound(_not_found_message(exc))
    return exc


def _not_found_message(exc: Exception) -> str:
    model = type(exc).__qualname__.removesuffix(".DoesNotExist")
    messages = {
        "Conversation": _("This conversation does not exist."),
        "Message": _("This message does not exist."),
        "CannedResponse": _("This canned response does not exist."),
        "Channel": _("This channel does not exist."),
        "User": _("This user does not exist."),
        "AgentProfile": _("This agent does not exist."),
        "Team": _("This team does not exist."),
        "Tag": _("This tag does not exist."),
    }
    return messages.get(model, _("Not found."))


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _translate(exc)
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": _first_message(exc.detail) or _("Invalid input."),
            "code": "invalid",
            "errors": exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail},
        }
        return response
    codes = exc.get_codes()
    response.data = {
        "detail": str(exc.detail),
        "code": codes if isinstance(codes, str) else exc.default_code,
    }
    return response


# Exempt: for a POST to an unknown address the answer is 404, not a CSRF page.
@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """An address under /api/ that is not in the API: JSON like every other error."""
    return JsonResponse(
        {"detail": _("There is no such address in the API."), "code": "not_found"}, status=404
    )
