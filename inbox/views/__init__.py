"""Pages of the agents' workspace. Each view checks access, calls one service or selector,
and renders; htmx requests get only the partial they refresh."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels.registry import reply_rules
from inbox import canned, selectors, services
from inbox.forms import CannedResponseForm, ReplyForm
from inbox.models import AgentProfile, CannedResponse, Conversation, Message
from inbox.navigation import redirect_to_conversation
from inbox.permissions import Permission

View = Callable[..., HttpResponse]


def _staff_user(request: HttpRequest) -> User:
    """The logged-in staff member; only called behind `staff_required`."""
    return cast(User, request.user)


def permission_required(
    permission: Permission, refusal: str | Promise | None = None
) -> Callable[[View], View]:
    """Logged in (else to the login page), on the webcare team (has an agent profile) and
    with a role that grants `permission` (inbox/permissions.py); else 403 with `refusal`.

    The view keeps the permission as `required_permission`: tests/test_url_permissions.py
    reads it from every URL pattern and proves each role without it is refused."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            profile = selectors.agent_profile_for(request.user)
            if profile is None:
                raise PermissionDenied(_("Your account is not part of the webcare team."))
            if not profile.can(permission):
                raise PermissionDenied(refusal or _("Your role does not give access to this page."))
            request.agent_profile = profile  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped

    return decorator


def staff_required(view: View) -> View:
    """Every member of the webcare team: the inbox and everything an agent does."""
    return permission_required(Permission.WORK_INBOX)(view)


def team_lead_required(view: View) -> View:
    """Team leads and administrators."""
    return permission_required(
        Permission.LEAD_TEAMS, gettext_lazy("Only team leads can open this page.")
    )(view)


def administrator_required(view: View) -> View:
    """Administrators only: channels, accounts, retention, archive, privacy, audit log."""
    return permission_required(
        Permission.ADMINISTER, gettext_lazy("Only administrators can open this page.")
    )(view)


def _conversation_or_404(conversation_id: int) -> Conversation:
    try:
        return selectors.conversation_for_display(conversation_id)
    except Conversation.DoesNotExist as error:
        raise Http404(_("This conversation does not exist.")) from error


def conversation_page_context(
    request: HttpRequest,
    conversation: Conversation,
    form: ReplyForm,
    canned_query: str | None = None,
) -> dict[str, Any]:
    """Everything templates/inbox/_conversation_pane.html shows: used by the conversation's
    own page and by the inbox's third pane. A fixed number of queries, however long the
    thread or the citizen's history (tests/inbox/test_conversation_screen.py)."""
    from inbox.selectors import contacts as contact_selectors
    from inbox.selectors import conversation as conversation_selectors
    from inbox.signatures import signed

    user = _staff_user(request)
    # The notes come with the lifecycle slice's context (`thread_notes`).
    thread = conversation_selectors.thread_messages(conversation)
    signature = selectors.reply_signature(conversation, user)
    draft = form["text"].value() or ""
    context = {
        "canned_query": canned_query or "",
        # Without JavaScript the search form reloads this page with the results listed.
        "canned_choices": (
            selectors.canned_responses_rendered(
                conversation=conversation, user=user, query=canned_query
            )
            if canned_query is not None
            else None
        ),
        "conversation": conversation,
        "thread": thread,
        # The citizen's other conversations on every channel (linked accounts included).
        "history": contact_selectors.citizen_conversations(conversation),
        "linked_contacts": contact_selectors.linked_contacts(conversation.contact),
        "profile_url": contact_selectors.citizen_profile_url(
            conversation.contact, conversation.channel, thread
        ),
        "link_query": "",
        "link_results": None,
        "form": form,
        "reply_rules": reply_rules(conversation.channel),
        "signature": signature,
        # What the citizen will see; static/js/webcare.js keeps it up to date while typing.
        "reply_preview": signed(str(draft), signature) if str(draft).strip() else "",
        "private_window": selectors.private_reply_window(conversation, now=timezone.now()),
        "move_to_private_text": MOVE_TO_PRIVATE_TEXT,
    }
    from inbox.views import approval, assignment, lifecycle

    for slice_view in (assignment, lifecycle, approval):
        context.update(slice_view.conversation_context(request, conversation))
    return context


def _render_conversation(
    request: HttpRequest,
    conversation: Conversation,
    form: ReplyForm,
    status: int = 200,
    canned_query: str | None = None,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    context = conversation_page_context(request, conversation, form, canned_query)
    context.update(extra or {})
    return render(request, "inbox/conversation.html", context, status=status)


# The "move to DM" answer: never ask for personal data in public (AVG/GDPR).
MOVE_TO_PRIVATE_TEXT = gettext_lazy(
    "Thank you for your message. To help you we need some personal details. Please do not "
    "share them here in public: send us a private message and we will continue there."
)


def _reply_max_length(conversation: Conversation) -> int:
    # A private conversation is always answered privately (Messenger 2000, X DM 10,000).
    return reply_rules(conversation.channel).limit(private=conversation.is_private)


def new_reply_form(request: HttpRequest, conversation: Conversation) -> ReplyForm:
    """The composer as a conversation opens: addressed the way the platform needs, or
    started with the canned response picked without JavaScript (?canned=ID)."""
    rules = reply_rules(conversation.channel)
    initial = {}
    if rules.addressed is not None:
        # Start the reply the way the platform will receive it ("@citizen "), so the
        # live count is the platform's count from the first keystroke.
        initial["text"] = rules.addressed("", conversation.contact.username)
    canned_id = request.GET.get("canned", "")
    if canned_id.isdigit():
        # Picked from the canned results without JavaScript: start the reply with it.
        choice = selectors.canned_response_rendered(
            conversation=conversation, user=_staff_user(request), canned_response_id=int(canned_id)
        )
        if choice is not None:
            initial["text"] = choice.text
    return ReplyForm(max_length=_reply_max_length(conversation), initial=initial)


@require_GET
@staff_required
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(conversation_id)
    services.conversation_mark_read(actor=_staff_user(request), conversation_id=conversation.id)
    services.mentions_mark_read(actor=_staff_user(request), conversation_id=conversation.id)
    return _render_conversation(request, conversation, new_reply_form(request, conversation))


@require_POST
@staff_required
def reply_send(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(conversation_id)
    max_length = _reply_max_length(conversation)
    form = ReplyForm(request.POST, max_length=max_length)
    if form.is_valid():
        try:
            message = services.reply_create(
                conversation_id=conversation.id,
                actor=_staff_user(request),
                text=form.cleaned_data["text"],
                idempotency_key=form.cleaned_data["idempotency_key"],
                private=form.cleaned_data["private"],
                seen_message_id=form.cleaned_data["seen_message_id"],
                confirmed_despite_newer=form.cleaned_data["confirmed_despite_newer"],
                confirmed_personal_data=form.cleaned_data["confirmed_personal_data"],
                personal_data_reason=form.cleaned_data["personal_data_reason"],
            )
        except services.PersonalDataReasonMissing as error:
            # Confirmed, but without a reason: the reason field says what is missing.
            form.add_error("personal_data_reason", str(error))
        except services.PersonalDataInPublicReply as error:
            # The composer comes back with the text, what was found, and the "Send anyway"
            # checkbox with its reason (templates/inbox/_conversation_personal_data.html).
            form.add_error("confirmed_personal_data", str(error))
        except services.NewerMessagesSinceOpened as error:
            # The composer comes back with the text, the messages that arrived and a
            # "Send anyway" checkbox (templates/inbox/conversation.html, composer).
            form.add_error("confirmed_despite_newer", str(error))
        except services.ServiceError as error:
            form.add_error("text", str(error))
        else:
            from inbox import collision

            collision.typing_stopped(
                conversation_id=conversation.id, user_id=_staff_user(request).pk
            )
            if message.delivery_status == Message.DeliveryStatus.AWAITING_APPROVAL:
                flash.info(request, _("Your reply waits for a team lead's approval."))
            else:
                flash.success(request, _("Your reply is queued for sending."))
            return redirect_to_conversation(request, conversation.id)
    # Keep the key: resubmitting the corrected form must still be one reply.
    return _render_conversation(request, conversation, form, status=422)


@require_GET
@staff_required
def reply_status(request: HttpRequest, message_id: int) -> HttpResponse:
    try:
        message = selectors.reply_for_status(message_id)
    except Message.DoesNotExist as error:
        raise Http404(_("This reply does not exist.")) from error
    context = {"message": message, "refresh_conversation_status": request.htmx}  # type: ignore[attr-defined]
    return render(request, "inbox/_delivery_status.html", context)


@require_POST
@staff_required
def reply_retry(request: HttpRequest, message_id: int) -> HttpResponse:
    try:
        message = services.reply_retry(message_id=message_id, actor=_staff_user(request))
    except Message.DoesNotExist as error:
        raise Http404(_("This reply does not exist.")) from error
    except services.ServiceError as error:
        flash.error(request, str(error))
        message = selectors.reply_for_status(message_id)
    return redirect_to_conversation(request, message.conversation_id)


@require_POST
@staff_required
def conversation_take(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        services.conversation_take(conversation_id=conversation_id, actor=_staff_user(request))
    except Conversation.DoesNotExist as error:
        raise Http404(_("This conversation does not exist.")) from error
    except services.ServiceError as error:
        flash.error(request, str(error))
        return redirect("inbox:inbox")
    return redirect_to_conversation(request, conversation_id)


PRESENCE_CONFIRMATIONS = {
    AgentProfile.Presence.AVAILABLE: gettext_lazy(
        "You are available: new conversations will be assigned to you."
    ),
    AgentProfile.Presence.AWAY: gettext_lazy(
        "You are away: you keep your conversations, but get no new ones."
    ),
    AgentProfile.Presence.OFFLINE: gettext_lazy(
        "You are offline: your unanswered conversations went back to the queue."
    ),
}


@require_POST
@staff_required
def presence_set(request: HttpRequest) -> HttpResponse:
    presence = request.POST.get("presence", "")
    try:
        services.agent_set_presence(actor=_staff_user(request), presence=presence)
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.info(request, str(PRESENCE_CONFIRMATIONS[AgentProfile.Presence(presence)]))
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("inbox:inbox")


# --- canned responses ----------------------------------------------------------------------


@require_GET
@staff_required
def canned_search(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Canned responses matching `q`, filled in for this conversation. htmx gets the list;
    without JavaScript the conversation page comes back with the list in it."""
    conversation = _conversation_or_404(conversation_id)
    query = request.GET.get("q", "")[:100]
    if request.htmx:  # type: ignore[attr-defined]
        context = {
            "conversation": conversation,
            "canned_query": query,
            "canned_choices": selectors.canned_responses_rendered(
                conversation=conversation, user=_staff_user(request), query=query
            ),
            "oob_count": True,
            "target_id": "id_text",
        }
        return render(request, "inbox/_canned_results.html", context)
    form = ReplyForm(max_length=_reply_max_length(conversation))
    return _render_conversation(request, conversation, form, canned_query=query)


def _is_team_lead(request: HttpRequest) -> bool:
    return request.agent_profile.is_team_lead  # type: ignore[attr-defined]


@require_GET
@staff_required
def canned_list(request: HttpRequest) -> HttpResponse:
    shared, personal = selectors.canned_responses_manageable(_staff_user(request))
    context = {"shared": shared, "personal": personal, "is_team_lead": _is_team_lead(request)}
    return render(request, "inbox/canned_list.html", context)


def _canned_form_page(
    request: HttpRequest, form: CannedResponseForm, response: CannedResponse | None, status: int
) -> HttpResponse:
    context = {"form": form, "response": response, "is_team_lead": _is_team_lead(request)}
    return render(request, "inbox/canned_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@staff_required
def canned_create(request: HttpRequest) -> HttpResponse:
    form = CannedResponseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.canned_response_create(
                actor=_staff_user(request),
                shortcut=form.cleaned_data["shortcut"],
                title=form.cleaned_data["title"],
                text=form.cleaned_data["text"],
                shared=form.cleaned_data["shared"],
                team_id=_team_id(form) if form.cleaned_data["shared"] else None,
            )
        except services.ServiceError as error:
            form.add_error("shortcut", str(error))
        else:
            flash.success(request, _("The canned response is saved."))
            return redirect("inbox:canned_list")
    status = 422 if request.method == "POST" else 200
    return _canned_form_page(request, form, None, status)


def _team_id(form: CannedResponseForm) -> int | None:
    team = form.cleaned_data.get("team")
    return team.pk if team is not None else None


def _canned_or_404(canned_response_id: int) -> CannedResponse:
    try:
        return selectors.canned_response_get(canned_response_id)
    except CannedResponse.DoesNotExist as error:
        raise Http404(_("This canned response does not exist.")) from error


@require_http_methods(["GET", "POST"])
@staff_required
def canned_edit(request: HttpRequest, canned_response_id: int) -> HttpResponse:
    response = _canned_or_404(canned_response_id)
    initial = {
        "shortcut": response.shortcut,
        "title": response.title,
        "text": response.text,
        "shared": response.is_shared,
        "team": response.team_id,
    }
    form = CannedResponseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.canned_response_update(
                actor=_staff_user(request),
                canned_response_id=response.pk,
                shortcut=form.cleaned_data["shortcut"],
                title=form.cleaned_data["title"],
                text=form.cleaned_data["text"],
                team_id=_team_id(form) if response.is_shared else None,
            )
        except services.ServiceError as error:
            form.add_error("shortcut", str(error))
        else:
            flash.success(request, _("The canned response is saved."))
            return redirect("inbox:canned_list")
    elif request.method == "GET":
        refusal = canned.access_refusal(
            role=request.agent_profile.role,  # type: ignore[attr-defined]
            actor_id=_staff_user(request).pk,
            owner_id=response.owner_id,
        )
        if refusal:
            raise PermissionDenied(refusal)
    status = 422 if request.method == "POST" else 200
    return _canned_form_page(request, form, response, status)


@require_POST
@staff_required
def canned_delete(request: HttpRequest, canned_response_id: int) -> HttpResponse:
    _canned_or_404(canned_response_id)
    services.canned_response_delete(
        actor=_staff_user(request), canned_response_id=canned_response_id
    )
    flash.success(request, _("The canned response is deleted."))
    return redirect("inbox:canned_list")
