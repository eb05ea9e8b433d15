"""Channels for administrators (`/administration/channels/`): their health, settings and
credentials, which are shown masked and replaced write-only (docs/architecture.md,
"Administration"). Connecting a new account stays with `manage.py channels add` and the API."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels.models import Channel
from channels.services import ChannelError, channel_replace_credentials, channel_set_active
from inbox.administration_forms import ChannelCredentialsForm
from inbox.selectors import channel_admin as channel_selectors
from inbox.views import _staff_user, administrator_required


@require_GET
@administrator_required
def channel_admin(request: HttpRequest) -> HttpResponse:
    context = {"channels": channel_selectors.channels_for_administration()}
    return render(request, "inbox/channel_admin.html", context)


def _credentials_form(channel: Channel, data: object = None) -> ChannelCredentialsForm:
    masked = channel_selectors.channel_credentials_masked(channel)
    required, _optional = channel_selectors.credential_names(channel.kind)
    return ChannelCredentialsForm(
        data,
        names=[credential.name for credential in masked.credentials],
        required=required,
        unreadable=masked.unreadable,
        prefix="credentials",
    )


def _channel_page(
    request: HttpRequest,
    channel: Channel,
    *,
    form: ChannelCredentialsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "channel": channel,
        "masked": channel_selectors.channel_credentials_masked(channel),
        "form": form or _credentials_form(channel),
    }
    return render(request, "inbox/channel_admin_detail.html", context, status=status)


@require_GET
@administrator_required
def channel_admin_detail(request: HttpRequest, channel_id: int) -> HttpResponse:
    return _channel_page(request, channel_selectors.channel_for_administration(channel_id))


@require_POST
@administrator_required
def channel_admin_credentials(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = channel_selectors.channel_for_administration(channel_id)
    form = _credentials_form(channel, request.POST)
    if form.is_valid():
        try:
            channel_replace_credentials(
                channel_id=channel.pk, credentials=form.credentials, actor=_staff_user(request)
            )
        except ChannelError as error:
            form.add_error(None, str(error))
        else:
            flash.success(
                request,
                _("The credentials of %(name)s are replaced; the channel is checked again.")
                % {"name": channel.name},
            )
            return redirect("inbox:channel_admin_detail", channel_id=channel.pk)
    # The submitted values are never rendered back (PasswordInput, render_value=False).
    return _channel_page(request, channel, form=form, status=422)


@require_POST
@administrator_required
def channel_admin_active(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = channel_selectors.channel_for_administration(channel_id)
    is_active = request.POST.get("is_active") == "1"
    channel_set_active(channel_id=channel.pk, is_active=is_active, actor=_staff_user(request))
    flash.success(
        request,
        (
            _("%(name)s is switched on and will be polled again.")
            if is_active
            else _("%(name)s is switched off: it is not polled until you switch it on.")
        )
        % {"name": channel.name},
    )
    return redirect("inbox:channel_admin_detail", channel_id=channel.pk)


urlpatterns = [
    path("administration/channels/", channel_admin, name="channel_admin"),
    path(
        "administration/channels/<int:channel_id>/",
        channel_admin_detail,
        name="channel_admin_detail",
    ),
    path(
        "administration/channels/<int:channel_id>/credentials/",
        channel_admin_credentials,
        name="channel_admin_credentials",
    ),
    path(
        "administration/channels/<int:channel_id>/active/",
        channel_admin_active,
        name="channel_admin_active",
    ),
]
