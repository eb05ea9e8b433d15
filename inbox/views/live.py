"""Live updates: the cheap "anything new since X" check the browser polls, and the
"Team on duty" panel it refreshes (docs/architecture.md, "Live updates").

Polling rather than server-sent events: gunicorn's sync workers would each be held for as
long as an agent keeps a tab open, while a poll that finds nothing costs one query of two
index lookups and answers 204 without a body; it works through every proxy and fits htmx.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from inbox.selectors import live as live_selectors
from inbox.views import _staff_user, staff_required


@require_GET
@never_cache
@staff_required
def live_changes(request: HttpRequest) -> HttpResponse:
    """204 while nothing changed after `?since=<cursor>`; otherwise the new cursor and what
    the agent should see and hear (inbox.selectors.live.LiveChanges). Without a cursor the
    answer is the starting point: the cursor and the counts, nothing counted as new."""
    since = live_selectors.LiveCursor.parse(request.GET.get("since", ""))
    current = live_selectors.live_cursor_current()
    if since == current:
        return HttpResponse(status=204)
    changes = live_selectors.live_changes_between(
        user=_staff_user(request), since=since, until=current
    )
    return JsonResponse(changes.as_json())


@require_GET
@never_cache
@staff_required
def team_presence(request: HttpRequest) -> HttpResponse:
    """The body of templates/inbox/_team_presence.html, which loads and refreshes itself."""
    presence = live_selectors.team_presence_for(_staff_user(request))
    return render(request, "inbox/_live_team_presence_list.html", {"team_presence": presence})


urlpatterns: list[URLPattern] = [
    path("live/changes/", live_changes, name="live_changes"),
    path("live/team-presence/", team_presence, name="live_team_presence"),
]
