"""Staff accounts for administrators (`/administration/staff/`): who has an account, their
role, and switching accounts off and on (docs/architecture.md, "Administration")."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from inbox.administration_forms import StaffCreateForm, StaffFilterForm, StaffRoleForm
from inbox.selectors import staff as staff_selectors
from inbox.services import staff as staff_services
from inbox.services.common import ServiceError
from inbox.views import _staff_user, administrator_required


def _staff_page(
    request: HttpRequest, *, create_form: StaffCreateForm | None = None, status: int = 200
) -> HttpResponse:
    filter_form = StaffFilterForm(request.GET)
    role = filter_form.cleaned_data["role"] if filter_form.is_valid() else ""
    context = {
        "filter_form": filter_form,
        "role_filter": role,
        "profiles": staff_selectors.staff_accounts(role=role),
        "create_form": create_form or StaffCreateForm(),
        "role_choices": StaffRoleForm.base_fields["role"].choices,  # type: ignore[attr-defined]
    }
    return render(request, "inbox/staff_admin.html", context, status=status)


@require_GET
@administrator_required
def staff_admin(request: HttpRequest) -> HttpResponse:
    return _staff_page(request)


@require_POST
@administrator_required
def staff_create(request: HttpRequest) -> HttpResponse:
    form = StaffCreateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            profile = staff_services.staff_account_create(
                actor=_staff_user(request),
                username=data["username"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                role=data["role"],
                password=data["password"],
            )
        except ValidationError as error:
            form.add_error("password", error)
        except ServiceError as error:
            form.add_error("username", str(error))
        else:
            flash.success(
                request,
                _("The account %(username)s is created.") % {"username": profile.user.username},
            )
            return redirect("inbox:staff_admin")
    return _staff_page(request, create_form=form, status=422)


def _after_change(request: HttpRequest) -> HttpResponse:
    # Back to the list as it was filtered.
    role = request.POST.get("return_role", "")
    response = redirect("inbox:staff_admin")
    if role in dict(StaffFilterForm.base_fields["role"].choices):  # type: ignore[attr-defined]
        response["Location"] += f"?role={role}" if role else ""
    return response


@require_POST
@administrator_required
def staff_role_change(request: HttpRequest, user_id: int) -> HttpResponse:
    form = StaffRoleForm(request.POST)
    if not form.is_valid():
        flash.error(request, _("Choose one of the roles."))
        return _after_change(request)
    try:
        profile = staff_services.staff_role_set(
            actor=_staff_user(request), user_id=user_id, role=form.cleaned_data["role"]
        )
    except ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(
            request,
            _("%(username)s is now %(role)s.")
            % {"username": profile.user.username, "role": profile.get_role_display().lower()},
        )
    return _after_change(request)


@require_POST
@administrator_required
def staff_deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        profile = staff_services.staff_deactivate(actor=_staff_user(request), user_id=user_id)
    except ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(
            request,
            _(
                "%(username)s can no longer sign in. Their waiting conversations are back in "
                "the queue."
            )
            % {"username": profile.user.username},
        )
    return _after_change(request)


@require_POST
@administrator_required
def staff_reactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        profile = staff_services.staff_reactivate(actor=_staff_user(request), user_id=user_id)
    except ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(
            request,
            _("%(username)s can sign in again.") % {"username": profile.user.username},
        )
    return _after_change(request)


urlpatterns = [
    path("administration/staff/", staff_admin, name="staff_admin"),
    path("administration/staff/new/", staff_create, name="staff_create"),
    path("administration/staff/<int:user_id>/role/", staff_role_change, name="staff_role_change"),
    path(
        "administration/staff/<int:user_id>/deactivate/",
        staff_deactivate,
        name="staff_deactivate",
    ),
    path(
        "administration/staff/<int:user_id>/reactivate/",
        staff_reactivate,
        name="staff_reactivate",
    ),
]
