"""Retention (administrators): the policies per channel, what the next run will remove, and
the runs so far. Every form posts and comes back with a message; the services decide
(inbox/services/privacy.py). docs/architecture.md, "Privacy and archiving"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from inbox import services
from inbox.models import RetentionRun
from inbox.retention_forms import RetentionPolicyForm
from inbox.selectors.privacy import retention_policy_rows, retention_runs_recent
from inbox.views import _staff_user, administrator_required


def _page(
    request: HttpRequest,
    *,
    bound: RetentionPolicyForm | None = None,
    confirm: bool = False,
    status: int = 200,
) -> HttpResponse:
    rows: list[dict[str, Any]] = []
    for row in retention_policy_rows():
        channel_id = row["channel"].pk if row["channel"] else None
        form = (
            bound
            if bound is not None and bound.prefix_key() == str(channel_id or "default")
            else RetentionPolicyForm.for_policy(row["policy"], channel_id)
        )
        rows.append({**row, "form": form})
    runs = list(retention_runs_recent())
    # A dry run older than the last real run describes what that run has since done.
    latest_dry_run = runs[0] if runs and runs[0].dry_run else None
    return render(
        request,
        "inbox/retention.html",
        {
            "rows": rows,
            "runs": runs,
            "latest_dry_run": latest_dry_run,
            "dry_run_channels": _report_channels(latest_dry_run),
            "confirm": confirm,
        },
        status=status,
    )


def _report_channels(run: RetentionRun | None) -> list[dict[str, Any]]:
    """The run's per-channel report with its moments as datetimes, for the template."""
    if run is None:
        return []
    return [
        {
            **report,
            **{
                key: datetime.fromisoformat(report[key]) if report.get(key) else None
                for key in ("cutoff", "oldest", "newest")
            },
        }
        for report in run.report.get("channels", [])
    ]


@require_http_methods(["GET", "POST"])
@administrator_required
def retention(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    actor = _staff_user(request)
    action = request.POST.get("form")
    if action == "policy":
        form = RetentionPolicyForm(request.POST)
        if not form.is_valid():
            return _page(request, bound=form, status=400)
        try:
            services.retention_policy_set(
                actor=actor,
                channel_id=form.cleaned_data["channel"],
                action=form.cleaned_data["action"],
                months_after_resolution=form.cleaned_data["months_after_resolution"],
                require_archive=form.cleaned_data["require_archive"],
                basis=form.cleaned_data["basis"],
                is_active=form.cleaned_data["is_active"],
            )
        except services.ServiceError as error:
            form.add_error(None, str(error))
            return _page(request, bound=form, status=400)
        flash.success(request, _("The retention policy has been saved."))
    elif action == "dry_run":
        services.retention_apply(actor=actor, dry_run=True)
        flash.success(request, _("The dry run has been calculated."))
    elif action == "apply":
        if request.POST.get("confirmed") != "yes":
            # The confirmation shows what a dry run says now, so the numbers are current.
            services.retention_apply(actor=actor, dry_run=True)
            return _page(request, confirm=True)
        run = services.retention_apply(actor=actor, dry_run=False)
        if run.error:
            flash.error(request, _("The run stopped with an error; what was done is kept."))
        else:
            flash.success(request, _("The retention policies have been applied."))
    return redirect("inbox:retention")


urlpatterns = [
    path("administration/retention/", retention, name="retention"),
]
