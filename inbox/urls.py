from django.urls import path

from inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox, name="inbox"),
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
    path("dashboard/", views.dashboard, name="dashboard"),
    # --- assignment: presence, teams, routing, take / transfer / unassign
    # --- lifecycle: status, snooze, priority, tags, notes, merge
    # --- approval and collision detection
]
