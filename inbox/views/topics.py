"""Topic rules for team leads: what citizens write about (docs/metrics.md, "Topics")."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from inbox import services
from inbox.models import Topic
from inbox.selectors import topics as topic_selectors
from inbox.views import _staff_user, team_lead_required


class TopicForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=60)
    keywords = forms.CharField(
        label=gettext_lazy("Keywords or #hashtags"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "One per line or separated by commas; a citizen message is about the topic when "
            "any of them occurs in it. Whole words, case and accents do not matter. A word "
            "also matches its #hashtag; a #hashtag only the hashtag."
        ),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    @classmethod
    def initial_for(cls, topic: Topic) -> dict[str, Any]:
        return {"name": topic.name, "keywords": topic.keywords, "is_active": topic.is_active}


def _topics_page(
    request: HttpRequest, *, form: TopicForm | None = None, status: int = 200
) -> HttpResponse:
    context = {"topics": topic_selectors.topics_list(), "form": form or TopicForm()}
    return render(request, "inbox/topics.html", context, status=status)


@require_http_methods(["GET", "POST"])
@team_lead_required
def topic_list(request: HttpRequest) -> HttpResponse:
    """The topic rules, and a form for a new one."""
    if request.method == "GET":
        return _topics_page(request)
    form = TopicForm(request.POST)
    if form.is_valid():
        try:
            services.topic_create(actor=_staff_user(request), **form.cleaned_data)
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            flash.success(
                request,
                _("The topic is saved. The messages of the last 90 days are counted again."),
            )
            return redirect("inbox:topics")
    return _topics_page(request, form=form, status=422)


@require_http_methods(["GET", "POST"])
@team_lead_required
def topic_edit(request: HttpRequest, topic_id: int) -> HttpResponse:
    try:
        topic = topic_selectors.topic_get(topic_id)
    except Topic.DoesNotExist as error:
        raise Http404(_("This topic does not exist.")) from error
    form = TopicForm(request.POST or None, initial=TopicForm.initial_for(topic))
    if request.method == "POST" and form.is_valid():
        try:
            services.topic_update(
                actor=_staff_user(request), topic_id=topic.pk, **form.cleaned_data
            )
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            flash.success(request, _("The topic is saved."))
            return redirect("inbox:topics")
    status = 422 if request.method == "POST" else 200
    return render(request, "inbox/topic_form.html", {"form": form, "topic": topic}, status=status)


@require_POST
@team_lead_required
def topic_delete(request: HttpRequest, topic_id: int) -> HttpResponse:
    services.topic_delete(actor=_staff_user(request), topic_id=topic_id)
    flash.success(request, _("The topic is deleted."))
    return redirect("inbox:topics")


urlpatterns: list[URLPattern] = [
    path("dashboard/topics/", topic_list, name="topics"),
    path("dashboard/topics/<int:topic_id>/", topic_edit, name="topic_edit"),
    path("dashboard/topics/<int:topic_id>/delete/", topic_delete, name="topic_delete"),
]
