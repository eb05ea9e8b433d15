"""/api/: the versioned API, its OpenAPI schema and Swagger UI.

The paths are a contract (README, "REST API"): add, never rename, within v1.
"""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from channels import api as channel_views
from inbox.api import archive as archive_views
from inbox.api import metrics as metrics_views
from inbox.api import views
from inbox.api.exceptions import api_not_found

conversation = "v1/conversations/<int:conversation_id>/"

v1 = [
    path("v1/conversations/", views.ConversationList.as_view(), name="conversations"),
    path(conversation, views.ConversationDetail.as_view(), name="conversation"),
    path(f"{conversation}replies/", views.ReplyCreate.as_view(), name="replies"),
    path(f"{conversation}take/", views.ConversationTake.as_view(), name="take"),
    path(f"{conversation}assign/", views.ConversationAssign.as_view(), name="assign"),
    path(f"{conversation}transfer/", views.ConversationTransfer.as_view(), name="transfer"),
    path(f"{conversation}unassign/", views.ConversationUnassign.as_view(), name="unassign"),
    path(f"{conversation}resolve/", views.ConversationResolve.as_view(), name="resolve"),
    path(f"{conversation}pending/", views.ConversationPending.as_view(), name="pending"),
    path(f"{conversation}reopen/", views.ConversationReopen.as_view(), name="reopen"),
    path(f"{conversation}snooze/", views.ConversationSnooze.as_view(), name="snooze"),
    path(f"{conversation}priority/", views.ConversationPriority.as_view(), name="priority"),
    path(f"{conversation}merge/", views.ConversationMerge.as_view(), name="merge"),
    path(f"{conversation}notes/", views.ConversationNotes.as_view(), name="notes"),
    path(f"{conversation}tags/", views.ConversationTagAdd.as_view(), name="tags"),
    path(f"{conversation}tags/<int:tag_id>/", views.ConversationTagRemove.as_view(), name="tag"),
    path("v1/messages/<int:message_id>/", views.MessageDetail.as_view(), name="message"),
    path(
        "v1/replies/awaiting-approval/",
        views.RepliesAwaitingApproval.as_view(),
        name="replies_awaiting_approval",
    ),
    path("v1/replies/<int:message_id>/approve/", views.ReplyApprove.as_view(), name="approve"),
    path("v1/replies/<int:message_id>/reject/", views.ReplyReject.as_view(), name="reject"),
    path("v1/canned-responses/", views.CannedResponseList.as_view(), name="canned_responses"),
    path(
        "v1/canned-responses/<int:canned_response_id>/",
        views.CannedResponseDetail.as_view(),
        name="canned_response",
    ),
    path("v1/agents/", views.AgentList.as_view(), name="agents"),
    path("v1/agents/me/presence/", views.MyPresence.as_view(), name="presence"),
    path("v1/agents/<int:user_id>/", views.AgentDetail.as_view(), name="agent"),
    path("v1/teams/", views.TeamList.as_view(), name="teams"),
    path("v1/channels/", channel_views.ChannelList.as_view(), name="channels"),
    path("v1/channels/<int:channel_id>/poll/", channel_views.ChannelPoll.as_view(), name="poll"),
    path(
        "v1/channels/<int:channel_id>/health/",
        channel_views.ChannelHealth.as_view(),
        name="channel_health",
    ),
    # The dashboard's figures (issue 6): paths under v1/metrics/.
    *metrics_views.urlpatterns,
    # Archive exports for administrators (issue 7).
    *archive_views.urlpatterns,
]

app_name = "api"

urlpatterns = [
    *v1,
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Anything else under /api/ is a JSON 404, not the HTML page.
    re_path(r"^.*$", api_not_found),
]
