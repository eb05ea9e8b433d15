"""Views of the lifecycle slice (see inbox/services/lifecycle.py): status, snooze,
priority, tags, notes and merge. Every form posts here and comes back to the conversation
page with a message, so all of it works without JavaScript."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from inbox import services
from inbox.models import Conversation
from inbox.navigation import redirect_to_conversation
from inbox.selectors import lifecycle as lifecycle_selectors
from inbox.views import _staff_user, staff_required

# Where the team works: "tomorrow 08:30" means 08:30 in Amsterdam, summer or winter.
WORKPLACE_TIMEZONE = ZoneInfo("Europe/Amsterdam")
START_OF_WORKDAY = time(8, 30)
# What an <input type="datetime-local"> sends, with or without seconds.
DATETIME_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def snooze_presets(now: datetime) -> dict[str, datetime]:
    """The snooze buttons' moments: in an hour, tomorrow at the start of the workday, and
    next Monday at the start of the workday (a week ahead when it is Monday today)."""
    today = now.astimezone(WORKPLACE_TIMEZONE).date()
    days_to_monday = (7 - today.weekday()) % 7 or 7
    return {
        "hour": now + timedelta(hours=1),
        "tomorrow": datetime.combine(
            today + timedelta(days=1), START_OF_WORKDAY, tzinfo=WORKPLACE_TIMEZONE
        ),
        "monday": datetime.combine(
            today + timedelta(days=days_to_monday), START_OF_WORKDAY, tzinfo=WORKPLACE_TIMEZONE
        ),
    }


def parse_local_datetime(value: str) -> datetime | None:
    """A datetime-local value as Amsterdam time; None when it is not one."""
    for pattern in DATETIME_LOCAL_FORMATS:
        try:
            parsed = datetime.strptime(value.strip(), pattern)  # noqa: DTZ007 (zone set next)
        except ValueError:
            continue
        return parsed.replace(tzinfo=WORKPLACE_TIMEZONE)
    return None


def conversation_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    """What the conversation page needs from this slice."""
    now = timezone.now()
    return {
        "lifecycle_can_handle": services.may_handle(
            request.agent_profile,  # type: ignore[attr-defined]
            conversation,
        ),
        # Interleaved with the page's messages in the template (`thread|with_notes`); the
        # merge choices come from the page's `history` (`history|mergeable_for`).
        "thread_notes": lifecycle_selectors.conversation_notes(conversation),
        "tag_overview": lifecycle_selectors.tag_overview(conversation),
        "snooze_presets": snooze_presets(now),
        # The custom field's earliest value, in the browser's datetime-local format.
        "snooze_min": (now + timedelta(minutes=1)).astimezone(WORKPLACE_TIMEZONE),
        "snooze_max": (now + services.MAX_SNOOZE).astimezone(WORKPLACE_TIMEZONE),
        "priorities": Conversation.Priority.choices,
        "note_max_length": services.MAX_NOTE_LENGTH,
        "tag_max_length": services.MAX_TAG_LENGTH,
    }


def _back_to(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return redirect_to_conversation(request, conversation_id)


def _carry_out(
    request: HttpRequest, conversation_id: int, change: Callable[[], object], done: str
) -> HttpResponse:
    """Run one service; its refusal is shown on the conversation page, as is success.
    PermissionDenied is left to Django (403 with the reason)."""
    try:
        change()
    except Conversation.DoesNotExist as error:
        raise Http404(_("This conversation does not exist.")) from error
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, done)
    return _back_to(request, conversation_id)


@require_POST
@staff_required
def conversation_resolve(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _carry_out(
        request,
        conversation_id,
        lambda: services.conversation_resolve(
            conversation_id=conversation_id, actor=_staff_user(request)
        ),
        _("The conversation is resolved."),
    )


@require_POST
@staff_required
def conversation_mark_pending(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _carry_out(
        request,
        conversation_id,
        lambda: services.conversation_mark_pending(
            conversation_id=conversation_id, actor=_staff_user(request)
        ),
        _("The conversation is pending: it opens again when the citizen writes."),
    )


@require_POST
@staff_required
def conversation_reopen(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _carry_out(
        request,
        conversation_id,
        lambda: services.conversation_reopen(
            conversation_id=conversation_id, actor=_staff_user(request)
        ),
        _("The conversation is open again."),
    )


@require_POST
@staff_required
def conversation_snooze(request: HttpRequest, conversation_id: int) -> HttpResponse:
    preset = request.POST.get("preset", "")
    if preset == "custom":
        until = parse_local_datetime(request.POST.get("until", ""))
    else:
        until = snooze_presets(timezone.now()).get(preset)
    if until is None:
        flash.error(request, _("Choose when the conversation should come back."))
        return _back_to(request, conversation_id)
    local_until = until.astimezone(WORKPLACE_TIMEZONE)
    return _carry_out(
        request,
        conversation_id,
        lambda: services.conversation_snooze(
            conversation_id=conversation_id, actor=_staff_user(request), until=until
        ),
        _("The conversation is snoozed until %(until)s.")
        % {"until": local_until.strftime("%d-%m-%Y %H:%M")},
    )


@require_POST
@staff_required
def conversation_set_priority(request: HttpRequest, conversation_id: int) -> HttpResponse:
    priority = request.POST.get("priority", "")
    if not priority.isdigit():
        flash.error(request, _("Choose a priority."))
        return _back_to(request, conversation_id)
    return _carry_out(
        request,
        conversation_id,
        lambda: services.conversation_set_priority(
            conversation_id=conversation_id, actor=_staff_user(request), priority=int(priority)
        ),
        _("The priority is saved."),
    )


@require_POST
@staff_required
def conversation_tag(request: HttpRequest, conversation_id: int) -> HttpResponse:
    name = request.POST.get("name", "")
    return _carry_out(
        request,
        conversation_id,
        lambda: services.conversation_tag(
            conversation_id=conversation_id, actor=_staff_user(request), name=name
        ),
        _("The tag is added."),
    )


@require_POST
@staff_required
def conversation_untag(request: HttpRequest, conversation_id: int, tag_id: int) -> HttpResponse:
    return _carry_out(
        request,
        conversation_id,
        lambda: services.conversation_untag(
            conversation_id=conversation_id, actor=_staff_user(request), tag_id=tag_id
        ),
        _("The tag is removed."),
    )


@require_POST
@staff_required
def note_create(request: HttpRequest, conversation_id: int) -> HttpResponse:
    text = request.POST.get("text", "")
    return _carry_out(
        request,
        conversation_id,
        lambda: services.note_create(
            conversation_id=conversation_id, actor=_staff_user(request), text=text
        ),
        _("Your note is saved. Only colleagues can see it."),
    )


@require_POST
@staff_required
def conversations_merge(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Merge this conversation into the chosen one, then show that one."""
    target = request.POST.get("target", "")
    if not target.isdigit():
        flash.error(request, _("Choose the conversation to merge into."))
        return _back_to(request, conversation_id)
    try:
        merged = services.conversations_merge(
            source_id=conversation_id, target_id=int(target), actor=_staff_user(request)
        )
    except Conversation.DoesNotExist as error:
        raise Http404(_("This conversation does not exist.")) from error
    except services.ServiceError as error:
        flash.error(request, str(error))
        return _back_to(request, conversation_id)
    flash.success(request, _("The conversations are merged; this is where it continues."))
    return _back_to(request, merged.id)
