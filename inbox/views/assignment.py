"""Views of the assignment slice (inbox/services/assignment.py, teams.py, routing.py):
transfer, unassign and the contact's category on the conversation page; teams, agents'
capacity and routing rules for team leads. Every form posts and comes back with a
message, so all of it works without JavaScript."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox import services
from inbox.assignment_forms import (
    AgentSettingsForm,
    ContactCategoryForm,
    MemberForm,
    RoutingRuleForm,
    TeamForm,
    TransferForm,
)
from inbox.models import AgentProfile, Contact, Conversation, RoutingRule
from inbox.navigation import redirect_to_conversation
from inbox.selectors import assignment as assignment_selectors
from inbox.views import _staff_user, staff_required, team_lead_required


def conversation_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    """What the conversation page needs from this slice: two queries (colleagues with their
    load, teams)."""
    profile: AgentProfile = request.agent_profile  # type: ignore[attr-defined]
    is_team_lead = profile.is_team_lead
    colleagues = assignment_selectors.colleagues()
    teams = assignment_selectors.teams()
    mine = conversation.assignee_id == profile.user_id
    return {
        "assignment_team": next((t for t in teams if t.pk == conversation.team_id), None),
        "assignment_assignee": next(
            (c for c in colleagues if c.user_id == conversation.assignee_id), None
        ),
        # The assignee or a team lead; anyone for a conversation still in the queue.
        "assignment_can_transfer": is_team_lead or mine or conversation.assignee_id is None,
        "assignment_can_unassign": conversation.assignee_id is not None and (is_team_lead or mine),
        "assignment_colleagues": [c for c in colleagues if c.user_id != conversation.assignee_id],
        "assignment_teams": teams,
        "contact_categories": Contact.Category.choices,
    }


def _back_to(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return redirect_to_conversation(request, conversation_id)


@require_POST
@staff_required
def conversation_transfer(request: HttpRequest, conversation_id: int) -> HttpResponse:
    form = TransferForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            flash.error(request, " ".join(str(error) for error in errors))
        return _back_to(request, conversation_id)
    kind, target_id = form.cleaned_data["to"]
    try:
        services.conversation_transfer(
            conversation_id=conversation_id,
            actor=_staff_user(request),
            to_user_id=target_id if kind == "user" else None,
            to_team_id=target_id if kind == "team" else None,
            note=form.cleaned_data["note"],
        )
    except Conversation.DoesNotExist as error:
        raise Http404(_("This conversation does not exist.")) from error
    except services.ServiceError as error:
        flash.error(request, str(error))
        return _back_to(request, conversation_id)
    flash.success(request, _transfer_confirmation(kind, target_id))
    return _back_to(request, conversation_id)


def _transfer_confirmation(kind: str, target_id: int) -> str:
    if kind == "team":
        return _("Transferred to %(team)s: it goes to an available member of the team.") % {
            "team": assignment_selectors.team_name(target_id)
        }
    colleague = assignment_selectors.colleague(target_id)
    if colleague is None or colleague.is_available:
        name = colleague.name if colleague else ""
        return _("Transferred to %(name)s.") % {"name": name}
    # Allowed, but the citizen may wait: say so.
    return _(
        "Transferred to %(name)s, who is %(presence)s: they will see it when they are back."
    ) % {"name": colleague.name, "presence": colleague.presence_label.lower()}


@require_POST
@staff_required
def conversation_unassign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        services.conversation_unassign(conversation_id=conversation_id, actor=_staff_user(request))
    except Conversation.DoesNotExist as error:
        raise Http404(_("This conversation does not exist.")) from error
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(
            request, _("The conversation is back in the queue; it will go to a colleague.")
        )
    return _back_to(request, conversation_id)


@require_POST
@staff_required
def contact_category_set(request: HttpRequest, conversation_id: int) -> HttpResponse:
    contact_id = assignment_selectors.conversation_contact_id(conversation_id)
    if contact_id is None:
        raise Http404(_("This conversation does not exist."))
    form = ContactCategoryForm(request.POST)
    if not form.is_valid():
        flash.error(request, _("Choose one of the listed categories."))
        return _back_to(request, conversation_id)
    contact = services.contact_set_category(
        actor=_staff_user(request),
        contact_id=contact_id,
        category=form.cleaned_data["category"],
    )
    flash.success(
        request,
        _(
            "Saved: %(contact)s is marked as %(category)s. Routing rules use it for new "
            "conversations."
        )
        % {"contact": contact, "category": contact.get_category_display().lower()},
    )
    return _back_to(request, conversation_id)


# --- team leads: teams and agents -------------------------------------------------------------


def _teams_page(
    request: HttpRequest, *, create_form: TeamForm | None = None, status: int = 200
) -> HttpResponse:
    staff = assignment_selectors.colleagues()
    context = {
        "overview": assignment_selectors.teams_overview(staff),
        "colleagues": staff,
        "create_form": create_form or TeamForm(),
    }
    return render(request, "inbox/team_list.html", context, status=status)


@require_GET
@team_lead_required
def team_list(request: HttpRequest) -> HttpResponse:
    return _teams_page(request)


@require_POST
@team_lead_required
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            team = services.team_create(actor=_staff_user(request), **form.cleaned_data)
        except services.ServiceError as error:
            form.add_error("name", str(error))
        else:
            flash.success(request, _("Team %(team)s is created.") % {"team": team.name})
            return redirect("inbox:team_list")
    return _teams_page(request, create_form=form, status=422)


@require_POST
@team_lead_required
def team_update(request: HttpRequest, team_id: int) -> HttpResponse:
    form = TeamForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            flash.error(request, " ".join(str(error) for error in errors))
        return redirect("inbox:team_list")
    try:
        team = services.team_update(
            actor=_staff_user(request), team_id=team_id, **form.cleaned_data
        )
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, _("Team %(team)s is saved.") % {"team": team.name})
    return redirect("inbox:team_list")


def _member_change(request: HttpRequest, team_id: int, *, add: bool) -> HttpResponse:
    form = MemberForm(request.POST)
    if not form.is_valid():
        flash.error(request, _("Choose a colleague."))
        return redirect("inbox:team_list")
    service = services.team_member_add if add else services.team_member_remove
    try:
        service(actor=_staff_user(request), team_id=team_id, user_id=form.cleaned_data["user_id"])
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, _("Team members saved."))
    return redirect("inbox:team_list")


@require_POST
@team_lead_required
def team_member_add(request: HttpRequest, team_id: int) -> HttpResponse:
    return _member_change(request, team_id, add=True)


@require_POST
@team_lead_required
def team_member_remove(request: HttpRequest, team_id: int) -> HttpResponse:
    return _member_change(request, team_id, add=False)


@require_POST
@team_lead_required
def agent_settings(request: HttpRequest, user_id: int) -> HttpResponse:
    form = AgentSettingsForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            flash.error(request, " ".join(str(error) for error in errors))
        return redirect("inbox:team_list")
    try:
        services.agent_update_settings(
            actor=_staff_user(request), user_id=user_id, **form.cleaned_data
        )
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, _("Capacity and training saved."))
    return redirect("inbox:team_list")


# --- team leads: routing rules ----------------------------------------------------------------


def _rules_page(
    request: HttpRequest, *, form: RoutingRuleForm | None = None, status: int = 200
) -> HttpResponse:
    context = {"rules": assignment_selectors.routing_rules(), "form": form or RoutingRuleForm()}
    return render(request, "inbox/routing_rules.html", context, status=status)


@require_http_methods(["GET", "POST"])
@team_lead_required
def routing_rule_list(request: HttpRequest) -> HttpResponse:
    """The rules in order, and a form for a new one."""
    if request.method == "GET":
        return _rules_page(request)
    form = RoutingRuleForm(request.POST)
    if form.is_valid():
        try:
            services.routing_rule_create(actor=_staff_user(request), **form.service_arguments())
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            flash.success(request, _("The routing rule is saved."))
            return redirect("inbox:routing_rules")
    return _rules_page(request, form=form, status=422)


@require_http_methods(["GET", "POST"])
@team_lead_required
def routing_rule_edit(request: HttpRequest, routing_rule_id: int) -> HttpResponse:
    try:
        rule = assignment_selectors.routing_rule_get(routing_rule_id)
    except RoutingRule.DoesNotExist as error:
        raise Http404(_("This routing rule does not exist.")) from error
    form = RoutingRuleForm(request.POST or None, initial=RoutingRuleForm.initial_for(rule))
    if request.method == "POST" and form.is_valid():
        try:
            services.routing_rule_update(
                actor=_staff_user(request), routing_rule_id=rule.pk, **form.service_arguments()
            )
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            flash.success(request, _("The routing rule is saved."))
            return redirect("inbox:routing_rules")
    status = 422 if request.method == "POST" else 200
    return render(
        request, "inbox/routing_rule_form.html", {"form": form, "rule": rule}, status=status
    )


@require_POST
@team_lead_required
def routing_rule_delete(request: HttpRequest, routing_rule_id: int) -> HttpResponse:
    services.routing_rule_delete(actor=_staff_user(request), routing_rule_id=routing_rule_id)
    flash.success(request, _("The routing rule is deleted."))
    return redirect("inbox:routing_rules")
