from django.urls import path

from inbox import views
from inbox.views import (
    administration,
    archive,
    audit_log,
    channel_admin,
    dashboard,
    data_subjects,
    live,
    metrics_export,
    metrics_settings,
    preferences,
    retention,
    screen,
    search,
    staff_admin,
    topics,
)
from inbox.views import approval as approval_views
from inbox.views import assignment as assignment_views
from inbox.views import conversation as conversation_views
from inbox.views import lifecycle as lifecycle_views

app_name = "inbox"

urlpatterns = [
    path("", screen.inbox, name="inbox"),
    path("conversations/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("conversations/<int:conversation_id>/reply/", views.reply_send, name="reply_send"),
    path("conversations/<int:conversation_id>/take/", views.conversation_take, name="take"),
    path("replies/<int:message_id>/status/", views.reply_status, name="reply_status"),
    path("replies/<int:message_id>/retry/", views.reply_retry, name="reply_retry"),
    path("conversations/<int:conversation_id>/canned/", views.canned_search, name="canned_search"),
    path("canned/", views.canned_list, name="canned_list"),
    path("canned/new/", views.canned_create, name="canned_create"),
    path("canned/<int:canned_response_id>/", views.canned_edit, name="canned_edit"),
    path("canned/<int:canned_response_id>/delete/", views.canned_delete, name="canned_delete"),
    path("presence/", views.presence_set, name="presence"),
    # --- assignment: presence, teams, routing, take / transfer / unassign
    path(
        "conversations/<int:conversation_id>/transfer/",
        assignment_views.conversation_transfer,
        name="transfer",
    ),
    path(
        "conversations/<int:conversation_id>/unassign/",
        assignment_views.conversation_unassign,
        name="unassign",
    ),
    path(
        "conversations/<int:conversation_id>/contact-category/",
        assignment_views.contact_category_set,
        name="contact_category",
    ),
    path("teams/", assignment_views.team_list, name="team_list"),
    path("teams/new/", assignment_views.team_create, name="team_create"),
    path("teams/<int:team_id>/", assignment_views.team_update, name="team_update"),
    path("teams/<int:team_id>/members/", assignment_views.team_member_add, name="team_member_add"),
    path(
        "teams/<int:team_id>/members/remove/",
        assignment_views.team_member_remove,
        name="team_member_remove",
    ),
    path("agents/<int:user_id>/settings/", assignment_views.agent_settings, name="agent_settings"),
    path("routing/", assignment_views.routing_rule_list, name="routing_rules"),
    path(
        "routing/<int:routing_rule_id>/",
        assignment_views.routing_rule_edit,
        name="routing_rule_edit",
    ),
    path(
        "routing/<int:routing_rule_id>/delete/",
        assignment_views.routing_rule_delete,
        name="routing_rule_delete",
    ),
    # --- lifecycle: status, snooze, priority, tags, notes, merge
    path(
        "conversations/<int:conversation_id>/resolve/",
        lifecycle_views.conversation_resolve,
        name="conversation_resolve",
    ),
    path(
        "conversations/<int:conversation_id>/pending/",
        lifecycle_views.conversation_mark_pending,
        name="conversation_pending",
    ),
    path(
        "conversations/<int:conversation_id>/reopen/",
        lifecycle_views.conversation_reopen,
        name="conversation_reopen",
    ),
    path(
        "conversations/<int:conversation_id>/snooze/",
        lifecycle_views.conversation_snooze,
        name="conversation_snooze",
    ),
    path(
        "conversations/<int:conversation_id>/priority/",
        lifecycle_views.conversation_set_priority,
        name="conversation_priority",
    ),
    path(
        "conversations/<int:conversation_id>/tags/",
        lifecycle_views.conversation_tag,
        name="conversation_tag",
    ),
    path(
        "conversations/<int:conversation_id>/tags/<int:tag_id>/remove/",
        lifecycle_views.conversation_untag,
        name="conversation_untag",
    ),
    path(
        "conversations/<int:conversation_id>/notes/",
        lifecycle_views.note_create,
        name="note_create",
    ),
    path(
        "conversations/<int:conversation_id>/merge/",
        lifecycle_views.conversations_merge,
        name="conversation_merge",
    ),
    # --- approval and collision detection
    path(
        "conversations/<int:conversation_id>/activity/",
        approval_views.conversation_activity,
        name="conversation_activity",
    ),
    path(
        "conversations/<int:conversation_id>/typing/",
        approval_views.conversation_typing,
        name="conversation_typing",
    ),
    path("approvals/", approval_views.approvals, name="approvals"),
    path("approvals/<int:message_id>/approve/", approval_views.reply_approve, name="reply_approve"),
    path("approvals/<int:message_id>/reject/", approval_views.reply_reject, name="reply_reject"),
    path("approvals/flagged-words/", approval_views.flagged_word_add, name="flagged_word_add"),
    path(
        "approvals/flagged-words/<int:flagged_word_id>/remove/",
        approval_views.flagged_word_remove,
        name="flagged_word_remove",
    ),
]

# The agent's screen (issue 5): each module lists its own patterns, in this namespace.
urlpatterns += screen.urlpatterns
urlpatterns += live.urlpatterns
urlpatterns += search.urlpatterns
urlpatterns += preferences.urlpatterns
urlpatterns += conversation_views.urlpatterns

# The team lead's dashboard and its settings (issue 6).
urlpatterns += dashboard.urlpatterns
urlpatterns += metrics_settings.urlpatterns
urlpatterns += topics.urlpatterns
urlpatterns += metrics_export.urlpatterns

# What the law asks (issue 7): the administrators' section.
urlpatterns += administration.urlpatterns
urlpatterns += staff_admin.urlpatterns
urlpatterns += channel_admin.urlpatterns
urlpatterns += audit_log.urlpatterns
urlpatterns += retention.urlpatterns
urlpatterns += data_subjects.urlpatterns
urlpatterns += archive.urlpatterns
